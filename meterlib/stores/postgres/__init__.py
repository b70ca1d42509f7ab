"""The PostgreSQL store (psycopg 3 + psycopg-pool; `pip install 'meterlib[postgres]'`):
`PostgresStore` in `store`, its unit of work in `tx`, statements and spellings in `rows`,
`migrations`, `errors`. Users import `PostgresStore` from here."""

from __future__ import annotations

from meterlib.stores.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
