"""MemoryStore: check and track beside the `limits` rate limiters, and bytes per balance row.

Both sides serve the same customers in turn. `limits` keeps a moving window as a list of
timestamps per key, inserted at the front and trimmed of expired entries by a timer: with a
limit nobody reaches and a window that never expires, that list only grows and a hit slows
down with it (3.3 µs fresh, 8.0 µs after 30 000 entries). So the track's baseline is a
realistic limit, 1 000 a second per customer, over `customers` customers: each list holds
what its customer was hit in the last second (its size is reported), far below the limit,
so every hit takes the "allowed" path. Its timer thread trims the lists every 10 ms while hits
come; a round of `window_number` calls is long enough (20 000) that nearly all of that work
falls in the baseline's own rounds, not in meterlib's. The check's baseline is
`FixedWindowRateLimiter.test`, the read-only question, on a daily quota of 1 000 000 each
customer has used once.
"""

from __future__ import annotations

import gc
import itertools
import statistics
import tracemalloc
from collections.abc import Callable
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from benchmarks.plan import Run
from benchmarks.report import Row
from benchmarks.timing import compare
from meterlib import Ledger, MemoryStore

# large enough that no grant is ever exhausted: meterlib times its "allowed" path
PLENTY = 10**12
TRACK_LIMIT = "1000/second"
CHECK_LIMIT = "1000000/day"


class Forgetful(MemoryStore):
    """A MemoryStore without revisions: its Ledger works every check out, as it does for the
    first check after a change to the customer."""

    revision = None  # type: ignore[assignment]


def customer_ids(count: int) -> list[str]:
    """The customers both sides serve, in turn."""
    return [f"cus_{n}" for n in range(count)]


def in_turn(ids: list[str]) -> Callable[[], str]:
    """The next customer on each call (both sides of a pair take theirs the same way)."""
    return itertools.cycle(ids).__next__


def ledger_of(ids: list[str], store: MemoryStore | None = None) -> Ledger:
    """A Ledger whose customers each hold a monthly grant nobody exhausts."""
    ledger = Ledger(MemoryStore() if store is None else store)
    for customer_id in ids:
        ledger.create(customer_id, "messages", included=PLENTY, reset="month")
    return ledger


class MovingWindow:
    """limits' moving window, 1 000 a second per customer, hit for each customer in turn."""

    def __init__(self, ids: list[str]) -> None:
        self.storage = MemoryStorage()
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.item: RateLimitItem = parse(TRACK_LIMIT)
        self.ids = ids

    def hit(self) -> Callable[[], object]:
        """The baseline op: one hit of the next customer."""
        hit, item, turn = self.limiter.hit, self.item, in_turn(self.ids)
        return lambda: hit(item, turn(), "messages")

    def lists(self) -> dict[str, Any]:
        """How long the lists are now, and that no customer has reached its limit."""
        sizes = [len(entries) for entries in self.storage.events.values()] or [0]
        return {
            "limit": TRACK_LIMIT,
            "customers": len(self.ids),
            "list_max": max(sizes),
            "list_mean": statistics.fmean(sizes),
            "all_allowed": all(self.limiter.test(self.item, c, "messages") for c in self.ids),
        }


def check_vs_fixed_window(*, customers: int, number: int, rounds: int) -> dict[str, Any]:
    """`Ledger.check` worked out on a MemoryStore beside `FixedWindowRateLimiter.test`, and
    (under "kept") the same question answered again from the kept answer."""
    ids = customer_ids(customers)
    limiter = FixedWindowRateLimiter(MemoryStorage())
    item = parse(CHECK_LIMIT)
    for customer_id in ids:
        limiter.hit(item, customer_id, "messages")

    def beside_limits(ledger: Ledger) -> dict[str, Any]:
        check, test = ledger.check, limiter.test
        ours, theirs = in_turn(ids), in_turn(ids)
        return compare(
            lambda: check(ours(), "messages"),
            lambda: test(item, theirs(), "messages"),
            number=number,
            rounds=rounds,
        )

    result = beside_limits(ledger_of(ids, Forgetful()))
    result["kept"] = beside_limits(ledger_of(ids))
    result["limit"] = CHECK_LIMIT
    return result


def track_vs_moving_window(*, customers: int, number: int, rounds: int) -> dict[str, Any]:
    """`Ledger.track` on a MemoryStore beside limits' MovingWindowRateLimiter.hit."""
    ids = customer_ids(customers)
    ledger, window = ledger_of(ids), MovingWindow(ids)
    track, turn = ledger.track, in_turn(ids)
    result = compare(lambda: track(turn(), "messages"), window.hit(), number=number, rounds=rounds)
    result["window"] = window.lists()
    return result


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


def window_note(window: dict[str, Any]) -> str:
    """What the moving window held: the sizes the baseline ran at."""
    allowed = "" if window["all_allowed"] else "; SOME CUSTOMER REACHED ITS LIMIT"
    return (
        f"; {window['customers']} customers in turn, limit {window['limit']}: lists of "
        f"≤ {window['list_max']} entries (mean {window['list_mean']:.0f}){allowed}"
    )


def rows(run: Run) -> list[Row]:
    """The MemoryStore rows: check, track, bytes per row."""
    p = run.settings
    timing = {"customers": p.customers, "number": p.number, "rounds": p.rounds}
    check = run.record("memory_check", check_vs_fixed_window(**timing))
    track = run.record(
        "memory_track",
        track_vs_moving_window(
            customers=p.customers, number=p.window_number, rounds=p.window_rounds
        ),
    )
    row_bytes = run.record("memory_per_row", bytes_per_balance_row(customers=p.memory_rows))
    test = f"limits FixedWindow test() ({CHECK_LIMIT}, each used once)"
    return [
        Row.ratio(
            "check, MemoryStore, worked out (every check computed)", test, check, "≤ 1.0×", 1.0
        ),
        Row.ratio(
            "check, MemoryStore, kept answer (the same question again, nothing changed)",
            test,
            check["kept"],
            "(info)",
            None,
        ),
        Row.ratio(
            "track, MemoryStore",
            f"limits MovingWindow hit() ({TRACK_LIMIT}, entries expire)",
            track,
            "≤ 1.0×",
            1.0,
            note=window_note(track["window"]),
        ),
        Row.bytes("memory per balance row, MemoryStore", row_bytes),
    ]
