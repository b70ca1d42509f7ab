"""Shared fixtures: every behaviour test takes `ledger`, which runs it over every store."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from postgres_server import MODE_VARIABLE, URL_VARIABLE, throwaway_store

from meterlib import Ledger, ManualClock, MemoryStore
from meterlib.stores import SQLiteStore, Store

StoreFactory = Callable[[Path], Store]

# A new store is one more line here; the whole behaviour suite then runs against it.
STORES: list[object] = [
    pytest.param(lambda tmp_path: MemoryStore(), id="memory"),
    pytest.param(lambda tmp_path: SQLiteStore(":memory:"), id="sqlite-memory"),
    pytest.param(lambda tmp_path: SQLiteStore(tmp_path / "meter.db"), id="sqlite-file"),
]
if os.environ.get(MODE_VARIABLE) == "require" or os.environ.get(URL_VARIABLE):
    # PostgreSQL: METERLIB_TEST_POSTGRES_URL, else a throwaway cluster (tests/postgres.sh).
    # Opt-in, so the default run stays fast: `METERLIB_TEST_POSTGRES=require pytest -k postgres`
    STORES.append(pytest.param(lambda tmp_path: throwaway_store(), id="postgres"))

START = datetime(2025, 1, 31, 12, tzinfo=UTC)


@pytest.fixture(params=STORES)
def store_factory(request: pytest.FixtureRequest) -> StoreFactory:
    """Builds a fresh store of the parametrised kind in a temporary folder."""
    factory: StoreFactory = request.param
    return factory


@pytest.fixture
def store(store_factory: StoreFactory, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store of every kind."""
    store = store_factory(tmp_path)
    yield store
    store.close()


@pytest.fixture
def clock() -> ManualClock:
    """A clock that only moves when the test says so, starting 2025-01-31 12:00 UTC."""
    return ManualClock(START)


@pytest.fixture
def ledger(store: Store, clock: ManualClock) -> Iterator[Ledger]:
    """A Ledger over every store, on the manual clock."""
    with Ledger(store, clock=clock) as ledger:
        yield ledger
