"""MemoryStore: check and track against the `limits` rate limiters, and bytes per balance row."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from benchmarks.timing import compare
from meterlib import Ledger, MemoryStore

# large enough that neither side ever says no: both time their "allowed" path
PLENTY = 10**12


class _Forgetful(MemoryStore):
    """A MemoryStore without revisions: its Ledger works every check out, as it does for the
    first check after a change to the customer."""

    revision = None  # type: ignore[assignment]


def _ledger(store: MemoryStore | None = None) -> Ledger:
    ledger = Ledger(MemoryStore() if store is None else store)
    ledger.create("cus_1", "messages", included=PLENTY, reset="month")
    return ledger


def check_vs_fixed_window(*, number: int, rounds: int) -> dict[str, Any]:
    """`Ledger.check` on a MemoryStore beside limits' FixedWindowRateLimiter.hit: the same
    question again (answered as last time, nothing having changed), and, under "worked_out",
    a check that works its answer out (the first one after a change)."""
    limiter = FixedWindowRateLimiter(MemoryStorage())
    item = parse(f"{PLENTY}/day")

    def beside_limits(ledger: Ledger) -> dict[str, Any]:
        return compare(
            lambda: ledger.check("cus_1", "messages"),
            lambda: limiter.hit(item, "cus_1", "messages"),
            number=number,
            rounds=rounds,
        )

    result = beside_limits(_ledger())
    result["worked_out"] = beside_limits(_ledger(_Forgetful()))
    return result


def track_vs_moving_window(*, number: int, rounds: int) -> dict[str, Any]:
    """`Ledger.track` on a MemoryStore beside limits' MovingWindowRateLimiter.hit."""
    ledger = _ledger()
    limiter = MovingWindowRateLimiter(MemoryStorage())
    item = parse(f"{PLENTY}/day")
    return compare(
        lambda: ledger.track("cus_1", "messages"),
        lambda: limiter.hit(item, "cus_1", "messages"),
        number=number,
        rounds=rounds,
    )


def bytes_per_balance_row(*, customers: int) -> dict[str, Any]:
    """tracemalloc's growth of a MemoryStore per (customer, feature) balance row.

    Each customer gets one monthly grant of one feature through `Ledger.create`, so the
    figure carries the whole customer too (the worst case: one row per customer).
    """
    ledger = Ledger(MemoryStore(), clock=lambda: 1_750_000_000_000)
    ledger.create_feature("messages")
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for n in range(customers):
        ledger.create(f"cus_{n:07d}", "messages", included=100, reset="month")
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {"bytes_per_row": (after - before) / customers, "rows": customers}
