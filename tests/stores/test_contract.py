"""The store contract (`meterlib.testing.StoreContract`) against every store meterlib ships."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterlib.stores import MemoryStore, SQLiteStore, Store
from meterlib.testing import StoreContract


class TestMemoryStore(StoreContract):
    """The contract on the in-memory store."""

    def make_store(self) -> Store:
        """A fresh MemoryStore."""
        return MemoryStore()


class TestSQLiteMemory(StoreContract):
    """The contract on SQLite's ":memory:" database."""

    def make_store(self) -> Store:
        """A fresh in-memory SQLiteStore."""
        return SQLiteStore(":memory:")


class TestSQLiteFile(StoreContract):
    """The contract on a SQLite file in a temporary folder."""

    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        """Keeps the test's temporary folder for make_store."""
        self.folder = tmp_path

    def make_store(self) -> Store:
        """A fresh SQLiteStore on a new file."""
        return SQLiteStore(self.folder / "meter.db")
