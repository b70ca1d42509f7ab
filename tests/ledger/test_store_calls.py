"""The hot paths touch the store through the state seam only: a track is one `load` and one
`apply`, a plain check one `Store.read`, with nothing else asked of the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from meterlib import Ledger, ManualClock
from meterlib.state import CustomerState, Want
from meterlib.stores import Store


class Recording:
    """A store that records every call made on it and on its sessions, by name."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: list[str] = []

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Any]:
        self.calls.append("transaction")
        with self.inner.transaction(write=write) as session:
            yield _RecordingSession(session, self.calls)

    def read(self, want: Want) -> CustomerState:
        self.calls.append("read")
        return self.inner.read(want)

    def close(self) -> None:
        self.inner.close()


class _RecordingSession:
    def __init__(self, inner: Any, calls: list[str]) -> None:
        self._inner = inner
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        self._calls.append(name)
        return getattr(self._inner, name)


@pytest.fixture
def recorded(store: Store, clock: ManualClock) -> Iterator[tuple[Ledger, Recording]]:
    """Every store of the suite (tests/conftest.py), its calls recorded."""
    recording = Recording(store)
    ledger = Ledger(recording, clock=clock)  # type: ignore[arg-type]
    ledger.create("c1", "api_calls", included=10, reset="month")
    ledger.create("c1", "seats", included=5)
    recording.calls.clear()
    yield ledger, recording
    ledger.close()


def test_a_track_is_one_load_and_one_apply(recorded: tuple[Ledger, Recording]) -> None:
    ledger, store = recorded
    ledger.track("c1", "api_calls", value=2, idempotency_key="k1")
    assert store.calls == ["transaction", "load", "apply"]


def test_a_batch_loads_each_customer_once_and_applies_once(
    recorded: tuple[Ledger, Recording],
) -> None:
    ledger, store = recorded
    ledger.create("c2", "api_calls", included=10)
    store.calls.clear()
    ledger.batch_track(
        [
            {"customer_id": "c2", "feature_id": "api_calls"},
            {"customer_id": "c1", "feature_id": "api_calls"},
            {"customer_id": "c2", "feature_id": "api_calls"},
        ]
    )
    assert store.calls == ["transaction", "load", "load", "apply"]


def test_a_plain_check_is_one_read(recorded: tuple[Ledger, Recording]) -> None:
    ledger, store = recorded
    assert ledger.check("c1", "api_calls", required_balance=3).allowed
    assert not ledger.check("c1", "seats", required_balance=99).allowed
    assert store.calls == ["read", "read"]  # no `revision`: nothing is answered again


def test_the_reads_are_one_read_each(recorded: tuple[Ledger, Recording]) -> None:
    ledger, store = recorded
    ledger.balance("c1", "api_calls")
    ledger.balances("c1")
    ledger.flags("c1")
    ledger.grants("c1")
    ledger.usage_limits("c1")
    assert store.calls == ["read"] * 5


def test_a_top_up_reserves_its_grant_number_in_the_same_transaction(
    recorded: tuple[Ledger, Recording],
) -> None:
    ledger, store = recorded
    ledger.create("c1", "credits", included=3)
    ledger.update_customer(
        "c1",
        billing_controls={
            "auto_topups": [
                {"feature_id": "credits", "enabled": True, "threshold": 1, "quantity": 5}
            ]
        },
    )
    store.calls.clear()
    ledger.track("c1", "credits", value=2)
    assert store.calls == ["transaction", "load", "reserve", "apply"]
