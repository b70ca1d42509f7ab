"""Idempotency keys expire by themselves: each write that claims keys removes a few spent
ones, so the key table holds about one day of keyed traffic on every store."""

from __future__ import annotations

import pytest

from meterlib import DuplicateIdempotencyKey, Ledger, ManualClock
from meterlib.effects import KEYS_SWEPT_PER_CLAIM

DAY_MS = 86_400_000


def stored_keys(ledger: Ledger) -> list[tuple[str, int]]:
    """Every key row the store holds, spent ones included."""
    with ledger.store.transaction(write=False) as session:
        return session.list_idempotency_keys(-1)  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def metered(ledger: Ledger) -> Ledger:
    ledger.create("c1", "messages", included=1_000_000)
    return ledger


def test_the_table_holds_one_day_of_keys(metered: Ledger, clock: ManualClock) -> None:
    """Three days of a keyed track every 30 minutes leave the last day's 48 keys."""
    for n in range(3 * 48):
        metered.track("c1", "messages", idempotency_key=f"k{n}")
        clock.advance(minutes=30)
    keys = stored_keys(metered)
    assert len(keys) == 48
    assert {k for k, _ in keys} == {f"track:k{n}" for n in range(2 * 48, 3 * 48)}


def test_a_backlog_drains_a_few_keys_per_claim(metered: Ledger, clock: ManualClock) -> None:
    """Keys spent long ago go KEYS_SWEPT_PER_CLAIM per claim, never all in one write."""
    metered.batch_track(
        [
            {"customer_id": "c1", "feature_id": "messages", "idempotency_key": f"old{n}"}
            for n in range(20)
        ]
    )
    clock.advance(days=2)
    metered.track("c1", "messages", idempotency_key="new0")
    assert len(stored_keys(metered)) == 20 - KEYS_SWEPT_PER_CLAIM + 1
    for n in range(1, 10):
        metered.track("c1", "messages", idempotency_key=f"new{n}")
    assert sorted(k for k, _ in stored_keys(metered)) == sorted(f"track:new{n}" for n in range(10))


def test_a_batch_sweeps_for_each_claim(metered: Ledger, clock: ManualClock) -> None:
    for n in range(12):
        metered.claim_idempotency_key(f"r{n}")
    clock.advance(days=1)
    items = [
        {"customer_id": "c1", "feature_id": "messages", "idempotency_key": f"b{n}"}
        for n in range(6)
    ]
    metered.batch_track(items)
    assert sorted(k for k, _ in stored_keys(metered)) == sorted(f"track:b{n}" for n in range(6))


def test_live_keys_are_never_swept(metered: Ledger, clock: ManualClock) -> None:
    """A key one millisecond short of its day stays, and still refuses a repeat."""
    metered.track("c1", "messages", idempotency_key="held")
    clock.advance(milliseconds=DAY_MS - 1)
    metered.track("c1", "messages", idempotency_key="other")
    with pytest.raises(DuplicateIdempotencyKey):
        metered.track("c1", "messages", idempotency_key="held")
    assert len(stored_keys(metered)) == 2


def test_a_failed_write_sweeps_nothing(metered: Ledger, clock: ManualClock) -> None:
    """The sweep is part of the write: a rolled-back track leaves the spent keys there."""
    metered.track("c1", "messages", idempotency_key="old")
    metered.track("c1", "messages", idempotency_key="dup")
    clock.advance(days=1, milliseconds=-1)
    metered.track("c1", "messages", idempotency_key="dup2")  # sweeps nothing yet: none spent
    clock.advance(milliseconds=1)
    items = [
        {"customer_id": "c1", "feature_id": "messages", "idempotency_key": "fresh"},
        {"customer_id": "c1", "feature_id": "messages", "idempotency_key": "dup2"},
    ]
    with pytest.raises(DuplicateIdempotencyKey):
        metered.batch_track(items)
    assert len(stored_keys(metered)) == 3
    metered.track("c1", "messages", idempotency_key="fresh")
    assert sorted(k for k, _ in stored_keys(metered)) == ["track:dup2", "track:fresh"]
