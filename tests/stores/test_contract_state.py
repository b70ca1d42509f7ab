"""The state seam of the store contract (`meterlib.testing.contract_state`) on every store."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterlib.stores import MemoryStore, SQLiteStore, Store
from meterlib.testing.contract_state import StateContract


class TestMemoryState(StateContract):
    """The state seam on the in-memory store."""

    def make_store(self) -> Store:
        """A fresh MemoryStore."""
        return MemoryStore()


class TestSQLiteMemoryState(StateContract):
    """The state seam on SQLite's ":memory:" database."""

    def make_store(self) -> Store:
        """A fresh in-memory SQLiteStore."""
        return SQLiteStore(":memory:")


class TestSQLiteFileState(StateContract):
    """The state seam on a SQLite file in a temporary folder."""

    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        """Keeps the test's temporary folder for make_store."""
        self.folder = tmp_path

    def make_store(self) -> Store:
        """A fresh SQLiteStore on a new file."""
        return SQLiteStore(self.folder / "meter.db")
