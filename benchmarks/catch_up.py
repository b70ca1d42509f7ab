"""Catch-up cost: `check` on a balance nobody touched for a year, beside an ordinary `check`.

The balance is the worst case spec decision 1 allows: a minute-interval grant (525 600 boundaries
a year) with a capped rollover (max 25 of 10 a minute, lasting a month). Caught up naively that is
half a million resets; meterlib must answer in about the time of a check of a fresh grant.

Each round creates new customers with the grant, moves the clock a year on, creates as many fresh
customers with the same grant, and times one `check` of each, alternating idle and fresh, so every
timed idle check really catches up a year (a check persists nothing, and each customer is checked
once) and both sides see the same store, process and moment. Each round's figure is the median
of its calls (a stray slow call of another process does not decide a round); the ratio is of the
medians over rounds, for a MemoryStore and a SQLite file. Target: ≤ 2×.

    python -m benchmarks.catch_up [--quick]

`run_stores(quick)` returns the numbers; `python -m benchmarks` shows them as one row of its table.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: python benchmarks/catch_up.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.plan import Run
from benchmarks.report import Row
from meterlib import Ledger, ManualClock, MemoryStore
from meterlib.stores import SQLiteStore, Store

START = datetime(2025, 3, 10, 12, tzinfo=UTC)
FEATURE = "messages"
GRANT: dict[str, Any] = {
    "included": 10,
    "reset": "minute",
    "rollover": {"max": 25, "length": 1},
}
LIMIT = 2.0
SETTINGS = {
    # (rounds, customers per round): each round moves the clock a year on
    False: (15, 40),
    True: (5, 10),
}


def _idle_balance_is_right(ledger: Ledger, customer: str) -> None:
    """The caught-up balance: the three newest lots (5, 10, 10) beside a full row of 10."""
    balance = ledger.balance(customer, FEATURE)
    assert balance is not None
    assert [r.balance for r in balance.rollovers] == [5, 10, 10], balance.rollovers
    assert (balance.granted, balance.remaining) == (Decimal(35), Decimal(35))


def measure(store: Store, *, rounds: int, customers: int) -> dict[str, Any]:
    """Median µs per `check` of a year-idle balance and of a fresh one, and their ratio."""
    clock = ManualClock(START)
    ledger = Ledger(store, clock=clock)
    medians: dict[str, list[float]] = {"idle": [], "fresh": [], "caught_up": []}
    means: dict[str, list[float]] = {"idle": [], "fresh": [], "caught_up": []}
    try:
        # warm up: prepared statements, caches, the WAL; not measured
        ledger.create("warm", FEATURE, **GRANT)
        for _ in range(20):
            ledger.check("warm", FEATURE)
        for r in range(rounds):
            idle = [f"idle-{r}-{i}" for i in range(customers)]
            fresh = [f"fresh-{r}-{i}" for i in range(customers)]
            caught_up = [f"caught-up-{r}-{i}" for i in range(customers)]
            for customer in idle + caught_up:
                ledger.create(customer, FEATURE, **GRANT)
                ledger.track(customer, FEATURE, value=4)
            clock.advance(years=1, seconds=30)  # off the minute, mid-period
            for customer in fresh:
                ledger.create(customer, FEATURE, **GRANT)
            for customer in caught_up:
                ledger.track(customer, FEATURE, value=0)  # persists the year's catch-up
            spent: dict[str, list[float]] = {"idle": [], "fresh": [], "caught_up": []}
            gc.collect()
            gc.disable()
            try:
                for i in range(customers):
                    trio = [("idle", idle[i]), ("fresh", fresh[i]), ("caught_up", caught_up[i])]
                    for side, customer in trio if (r + i) % 2 == 0 else trio[::-1]:
                        begin = time.perf_counter_ns()
                        ledger.check(customer, FEATURE)
                        spent[side].append((time.perf_counter_ns() - begin) / 1000)
            finally:
                gc.enable()
            for side, times in spent.items():
                medians[side].append(statistics.median(times))
                means[side].append(statistics.fmean(times))
            _idle_balance_is_right(ledger, idle[0])
            clock.advance(seconds=30)
    finally:
        ledger.close()
    idle_us, fresh_us, caught_up_us = (
        statistics.median(medians[side]) for side in ("idle", "fresh", "caught_up")
    )
    return {
        "meterlib_us": idle_us,
        "baseline_us": fresh_us,
        "ratio": idle_us / fresh_us,
        # the same from each round's mean instead of its median (outliers weigh in)
        "ratio_of_means": statistics.median(means["idle"]) / statistics.median(means["fresh"]),
        # (info) beside a check of the same grant whose year was caught up and saved before:
        # what the catch-up itself costs, without the three lots every such check shows
        "caught_up_us": caught_up_us,
        "ratio_vs_caught_up": idle_us / caught_up_us,
        "rounds": rounds,
        "checks_per_round": customers,
    }


def run_stores(quick: bool) -> dict[str, Any]:
    """Measure both stores; the top-level numbers are the worse store's (a table row)."""
    rounds, customers = SETTINGS[quick]
    stores: dict[str, Callable[[Path], Store]] = {
        "MemoryStore": lambda folder: MemoryStore(),
        "SQLite file": lambda folder: SQLiteStore(folder / "catch_up.db"),
    }
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="meterlib-catch-up-") as tmp:
        for name, make in stores.items():
            results[name] = measure(make(Path(tmp)), rounds=rounds, customers=customers)
    worst_name = max(results, key=lambda name: results[name]["ratio"])
    worst = results[worst_name]
    return {
        "measure": f"check after a year idle (minute grant, capped rollover), worst: {worst_name}",
        "baseline": "check of a fresh grant, same store",
        "ratio": worst["ratio"],
        "limit": LIMIT,
        "meterlib_us": worst["meterlib_us"],
        "baseline_us": worst["baseline_us"],
        "stores": results,
        "quick": quick,
    }


def rows(run: Run) -> list[Row]:
    """The year-idle row of `python -m benchmarks` (the worse store's)."""
    return [Row.external(run.record("catch_up", run_stores(run.quick)))]


def render(result: dict[str, Any]) -> str:
    """A small Markdown table, one row per store."""
    lines = [
        "| store | check after a year idle | check of a fresh grant | ratio | target | met "
        "| ratio of means | vs caught up and saved |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, item in result["stores"].items():
        met = "yes" if item["ratio"] <= LIMIT else "**no**"
        lines.append(
            f"| {name} | {item['meterlib_us']:.1f} µs | {item['baseline_us']:.1f} µs "
            f"| {item['ratio']:.2f}× | ≤ {LIMIT}× | {met} | {item['ratio_of_means']:.2f}× "
            f"| {item['ratio_vs_caught_up']:.2f}× ({item['caught_up_us']:.1f} µs) |"
        )
    rounds = next(iter(result["stores"].values()))
    lines.append(
        f"\nmedians over {rounds['rounds']} rounds (each the median of "
        f"{rounds['checks_per_round']} checks)"
        + ("  [--quick: smoke run, numbers are noise]" if result["quick"] else "")
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.catch_up", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    args = parser.parse_args(argv)
    print(render(run_stores(args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
