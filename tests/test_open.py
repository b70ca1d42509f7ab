"""Ledger.open: stores by URL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from meterlib import InvalidRequest, Ledger, MemoryStore, SQLiteStore


class TestOpen:
    """A URL names the store; a bad URL says what would be right."""

    def test_memory(self) -> None:
        """memory:// is a fresh MemoryStore."""
        with Ledger.open("memory://") as ledger:
            assert isinstance(ledger.store, MemoryStore)

    def test_relative_sqlite_path(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """sqlite:///name.db is relative to the working directory and survives a reopen."""
        monkeypatch.chdir(tmp_path)
        with Ledger.open("sqlite:///meter.db") as ledger:
            assert isinstance(ledger.store, SQLiteStore)
            ledger.create("c1", "messages", included=10)
        assert (tmp_path / "meter.db").exists()
        with Ledger.open("sqlite:///meter.db") as ledger:
            balance = ledger.balance("c1", "messages")
            assert balance is not None
            assert balance.remaining == 10

    def test_absolute_sqlite_path(self, tmp_path: Path) -> None:
        """sqlite:////abs/path.db is an absolute path."""
        path = tmp_path / "abs.db"
        with Ledger.open(f"sqlite:///{path}") as ledger:
            ledger.create_customer("c1")
        assert path.exists() and os.path.isabs(str(path))

    @pytest.mark.parametrize("url", ["redis://localhost", "meter.db", "sqlite://", "memory://x"])
    def test_bad_urls(self, url: str) -> None:
        """An unknown scheme or a malformed URL is InvalidRequest naming what is expected."""
        with pytest.raises(InvalidRequest, match=r"memory://|sqlite"):
            Ledger.open(url)
