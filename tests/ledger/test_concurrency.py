"""Thread safety: concurrent calls on one ledger lose no update (check-track §8)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest

from meterlib import AlreadyExists, DuplicateIdempotencyKey, Ledger

D = Decimal
THREADS = 8


def run_together(work: Callable[[int], object], threads: int = THREADS) -> list[object]:
    """Run work(i) in `threads` threads released at once; return each outcome (or exception)."""
    barrier = threading.Barrier(threads)
    outcomes: list[object] = [None] * threads

    def body(i: int) -> None:
        try:
            barrier.wait()
            outcomes[i] = work(i)
        except BaseException as exc:
            outcomes[i] = exc

    pool = [threading.Thread(target=body, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)  # a guard against a deadlock, not a wait for time to pass
        assert not t.is_alive(), "a worker thread deadlocked"
    return outcomes


def count_events(ledger: Ledger, customer_id: str) -> int:
    total, cursor = 0, None
    while True:
        page = ledger.events(customer_id, limit=100, cursor=cursor)
        total += len(page.events)
        cursor = page.next_cursor
        if cursor is None:
            return total


def tracks(ledger: Ledger, n: int, value: object = 1) -> Callable[[int], object]:
    def work(i: int) -> None:
        for _ in range(n):
            ledger.track("c1", "messages", value=value)

    return work


class TestConcurrentTracks:
    """8 threads tracking on one ledger lose no update."""

    def test_eight_threads_times_fifty(self, ledger: Ledger) -> None:
        """8 × 50 tracks of 1: usage exactly 400 and 400 events."""
        ledger.create("c1", "messages", included=10_000)
        outcomes = run_together(tracks(ledger, 50))
        assert outcomes == [None] * THREADS
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert (b.remaining, b.usage) == (D(9_600), D(400))
        assert count_events(ledger, "c1") == 400

    def test_fractions(self, ledger: Ledger) -> None:
        """8 × 25 tracks of 0.1: usage exactly 20."""
        ledger.create("c1", "messages", included=100)
        assert run_together(tracks(ledger, 25, 0.1)) == [None] * THREADS
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.usage == D("20")

    def test_cap_is_never_overshot(self, ledger: Ledger) -> None:
        """8 × 50 tracks of 1 against 100: exactly 100 used, never more."""
        ledger.create("c1", "messages", included=100)
        assert run_together(tracks(ledger, 50)) == [None] * THREADS
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert (b.remaining, b.usage) == (D(0), D(100))

    def test_batches(self, ledger: Ledger) -> None:
        """8 concurrent batches of 10 items: usage exactly 80."""
        ledger.create("c1", "messages", included=1_000)
        item = {"customer_id": "c1", "feature_id": "messages"}
        outcomes = run_together(lambda i: len(ledger.batch_track([item] * 10)))
        assert outcomes == [10] * THREADS
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.usage == D(80)

    @pytest.mark.slow
    def test_soak(self, ledger: Ledger) -> None:
        """8 × 1000 tracks of 0.01 across two customers: each exact."""
        ledger.create("c1", "messages", included=1_000)
        ledger.create("c2", "messages", included=1_000)

        def work(i: int) -> None:
            for _ in range(1_000):
                ledger.track(f"c{i % 2 + 1}", "messages", value="0.01")

        assert run_together(work) == [None] * THREADS
        for c in ("c1", "c2"):
            b = ledger.balance(c, "messages")
            assert b is not None
            assert b.usage == D(40)


class TestConcurrentClaims:
    """Exactly one of several racing claims wins; the losers change nothing."""

    def test_send_event_on_five(self, ledger: Ledger) -> None:
        """8 racing send_event checks on 5 units: exactly 5 allowed."""
        ledger.create("c1", "messages", included=5)
        outcomes = run_together(lambda i: ledger.check("c1", "messages", send_event=True).allowed)
        assert sorted(outcomes) == [False] * 3 + [True] * 5  # type: ignore[type-var]
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert (b.remaining, b.usage) == (D(0), D(5))
        assert count_events(ledger, "c1") == 5

    def test_one_idempotency_key(self, ledger: Ledger) -> None:
        """8 racing tracks with one key: one counts, seven are duplicates."""
        ledger.create("c1", "messages", included=100)
        outcomes = run_together(lambda i: ledger.track("c1", "messages", idempotency_key="k").value)
        assert sum(isinstance(o, DuplicateIdempotencyKey) for o in outcomes) == 7
        assert outcomes.count(D(1)) == 1
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.usage == D(1)

    def test_one_lock_id(self, ledger: Ledger) -> None:
        """8 racing locks with one lock_id: one holds, seven are AlreadyExists."""
        ledger.create("c1", "messages", included=100)
        outcomes = run_together(
            lambda i: (
                ledger.check("c1", "messages", required_balance=3, lock={"lock_id": "l"}).allowed
            )
        )
        assert sum(isinstance(o, AlreadyExists) for o in outcomes) == 7
        assert outcomes.count(True) == 1
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.remaining == D(97)

    def test_one_balance_id(self, ledger: Ledger) -> None:
        """8 racing creates with one balance_id: one grant, seven AlreadyExists."""
        ledger.create_customer("c1")
        outcomes = run_together(
            lambda i: ledger.create("c1", "messages", included=10, balance_id="b")
        )
        assert sum(isinstance(o, AlreadyExists) for o in outcomes) == 7
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert (b.granted, len(b.breakdown)) == (D(10), 1)
