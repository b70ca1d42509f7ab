"""A small, realistic scenario in a ledger file: `python -m meterlib.demo [PATH]`.

A plan grant that resets monthly and rolls over, a one-off top-up, a credit system, a month
of time travel on a ManualClock, and the balances printed with their breakdown.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime

from tabulate import tabulate

from meterlib.clock import ManualClock
from meterlib.ledger import Ledger
from meterlib.results import Balance
from meterlib.stores.sqlite import SQLiteStore

DEMO_START = datetime(2026, 1, 1, 9, tzinfo=UTC)


def balance_table(balance: Balance) -> str:
    """A balance and its breakdown as a readable table."""
    rows = [
        [
            item.id,
            item.plan_id or "-",
            item.included_grant,
            item.remaining,
            item.usage,
            item.reset.interval if item.reset else "-",
            item.reset.resets_at.date() if item.reset and item.reset.resets_at else "-",
        ]
        for item in balance.breakdown
    ]
    rows += [
        [
            "rollover",
            "-",
            r.granted,
            r.balance,
            r.granted - r.balance,
            "-",
            r.expires_at.date() if r.expires_at else "never",
        ]
        for r in balance.rollovers
    ]
    head = (
        f"{balance.feature_id}: granted {balance.granted}, remaining {balance.remaining}, "
        f"usage {balance.usage}"
    )
    table = tabulate(
        rows,
        headers=["grant", "plan", "included", "remaining", "usage", "reset", "resets / expires"],
    )
    return f"{head}\n{table}"


def run(path: str, *, echo: Callable[[str], object] = print) -> Ledger:
    """Build the demo scenario in the SQLite file at `path` and print what it shows."""
    clock = ManualClock(DEMO_START)
    ledger = Ledger(SQLiteStore(path), clock=clock)
    customer = f"acme-{clock() // 1000}"
    ledger.create_customer(customer, name="Acme Inc.")
    if "ai_credits" not in {f.id for f in ledger.list_features()}:
        ledger.create_feature("messages", name="Messages")
        ledger.create_feature("ai_calls", name="AI calls")
        ledger.create_feature(
            "ai_credits", name="AI credits", type="credit_system", credit_schema={"ai_calls": 5}
        )
    ledger.create(
        customer,
        "messages",
        included=1000,
        reset="month",
        plan_id="pro",
        rollover={"max": 500, "length": 1},
    )
    ledger.create(customer, "messages", included=200, balance_id="top-up")
    ledger.create(customer, "ai_credits", included=100, reset="month", plan_id="pro")

    ledger.track(customer, "messages", value=300)
    ledger.track(customer, "ai_calls", value=4)  # 4 calls x 5 credits
    verdict = ledger.check(customer, "messages", required_balance=900)
    echo(f"== {clock.now():%Y-%m-%d}: after 300 messages and 4 AI calls")
    echo(f"check 900 messages: allowed={verdict.allowed}")
    for balance in ledger.balances(customer).values():
        echo(balance_table(balance))

    clock.advance(months=1)
    ledger.track(customer, "messages", value=50)
    echo(
        f"\n== {clock.now():%Y-%m-%d}: a month later the plan grant reset; 700 rolled over (cap 500)"
    )
    for balance in ledger.balances(customer).values():
        echo(balance_table(balance))
    return ledger


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m meterlib.demo`."""
    args = sys.argv[1:] if argv is None else argv
    run(args[0] if args else "meterlib.db").close()


if __name__ == "__main__":
    main()
