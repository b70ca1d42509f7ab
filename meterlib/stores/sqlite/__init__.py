"""The SQLite store (sqlite-utils): `SQLiteStore` in `store`, its unit of work in `tx`, the
schema in `schema`, the per-connection caches in `caches`."""

from __future__ import annotations

from meterlib.stores.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
