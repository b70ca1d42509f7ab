"""Stores: where a Ledger keeps its state."""

from __future__ import annotations

from meterlib.stores.memory import MemoryStore
from meterlib.stores.protocol import Store, StoreSession
from meterlib.stores.sqlite.store import SQLiteStore

__all__ = ["MemoryStore", "SQLiteStore", "Store", "StoreSession"]
