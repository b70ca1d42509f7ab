"""A small, realistic scenario in a ledger file: `meterlib demo` (or `python -m meterlib.cli.demo`).

A "pro" plan grant of messages that resets monthly and rolls over, a one-off top-up, an AI
credit system, a month of time travel on a ManualClock, and the balances with their breakdown.
The scenario starts a month ago and ends now, so the file it leaves behind reads the same
afterwards with the system clock (`meterlib balances acme`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime

from attrs import frozen
from dateutil.relativedelta import relativedelta

from meterlib import balance_shapes
from meterlib.catalogue_edits import every_customer
from meterlib.cli.render import balances_text, check_text, when
from meterlib.clock import ManualClock
from meterlib.instants import to_ms
from meterlib.ledger import Ledger
from meterlib.results import Balance, CheckResult


@frozen(kw_only=True)
class Step:
    """One moment of the scenario: what happened, the checks asked, the balances after."""

    title: str
    at: datetime
    checks: tuple[CheckResult, ...]
    balances: dict[str, Balance]

    def to_dict(self) -> dict[str, object]:
        """The step as JSON (Autumn's shapes for checks and balances)."""
        return {
            "title": self.title,
            "at": to_ms(self.at, field="at"),
            "checks": [balance_shapes.check(c) for c in self.checks],
            "balances": {k: balance_shapes.balance(b) for k, b in self.balances.items()},
        }

    def text(self) -> str:
        """The step as readable tables."""
        parts = [f"== {when(self.at)}: {self.title}"]
        parts += [check_text(c).splitlines()[0] for c in self.checks]
        parts.append(balances_text(self.balances))
        return "\n".join(parts)


def default_start() -> datetime:
    """A month before now, to the minute: the scenario then ends at about now."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - relativedelta(months=1)


def _free_customer_id(ledger: Ledger) -> str:
    taken = {c.id for c in every_customer(ledger)}
    if "acme" not in taken:
        return "acme"
    n = 2
    while f"acme-{n}" in taken:
        n += 1
    return f"acme-{n}"


def build(ledger: Ledger, clock: ManualClock) -> tuple[str, list[Step]]:
    """Play the scenario on `ledger`, moving `clock`; returns the customer id and the steps."""
    features = {f.id for f in ledger.list_features()}
    if "messages" not in features:
        ledger.create_feature("messages", name="Messages", event_names=["message_sent"])
    if "ai_calls" not in features:
        ledger.create_feature("ai_calls", name="AI calls")
    if "ai_credits" not in features:
        ledger.create_feature(
            "ai_credits", name="AI credits", type="credit_system", credit_schema={"ai_calls": 5}
        )
    customer = _free_customer_id(ledger)
    ledger.create_customer(customer, name="Acme Inc.")
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
    ledger.track(customer, "ai_calls", value=4)  # 4 calls x 5 credits = 20 credits
    first = Step(
        title="pro plan (1000 messages a month, 100 AI credits), a 200-message top-up; "
        "300 messages sent and 4 AI calls made (5 credits each)",
        at=clock.now(),
        checks=(
            ledger.check(customer, "messages", required_balance=900),
            ledger.check(customer, "ai_calls", required_balance=20),
        ),
        balances=ledger.balances(customer),
    )

    clock.advance(months=1)
    ledger.track(customer, "messages", value=50)
    second = Step(
        title="a month later: the plan grants reset, 700 unused messages rolled over "
        "(capped at 500), and 50 new messages came out of the rollover first",
        at=clock.now(),
        checks=(ledger.check(customer, "ai_calls", required_balance=20),),
        balances=ledger.balances(customer),
    )
    return customer, [first, second]


def run(path: str, *, start: datetime | None = None, echo: Callable[[str], object] = print) -> str:
    """Build the scenario in the SQLite file at `path`, print it, return the customer id."""
    from meterlib.stores.sqlite.store import SQLiteStore  # noqa: PLC0415

    clock = ManualClock(start or default_start())
    with Ledger(SQLiteStore(path), clock=clock) as ledger:
        customer, steps = build(ledger, clock)
    echo("\n\n".join(step.text() for step in steps))
    return customer


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m meterlib.cli.demo [PATH]`."""
    args = sys.argv[1:] if argv is None else argv
    run(args[0] if args else "meterlib.db")


if __name__ == "__main__":
    main()
