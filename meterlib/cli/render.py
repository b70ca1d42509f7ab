"""Readable tables (tabulate) for what the Ledger returns; `--json` bypasses all of this.

A table stays readable whatever it holds: a cell is cut to `CELL` characters (a long id or
a property dump) and a number too long to read at a glance is shown with an exponent;
`--json` has every value in full.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from tabulate import tabulate

from meterlib.models import Customer, Feature
from meterlib.results import Balance, CheckResult, Event, Flag, TrackResult

CELL = 50  # characters a table cell shows at most (a derived import key fits)
DIGITS = 24  # characters of a plain number before it is shown with an exponent


def clip(text: str, width: int = CELL) -> str:
    """`text`, cut to `width` characters with an ellipsis when longer."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(
    rows: list[list[str]], *, headers: list[str], colalign: tuple[str, ...] | None = None
) -> str:
    """A plain table; cells are already text, so tabulate must not re-parse numbers."""
    cells = [[clip(cell) for cell in row] for row in rows]
    return str(tabulate(cells, headers=headers, disable_numparse=True, colalign=colalign))


def when(value: datetime | None, *, never: str = "-") -> str:
    """A UTC instant, always as `2026-01-31 12:00:00Z`."""
    if value is None:
        return never
    return value.strftime("%Y-%m-%d %H:%M:%SZ")


def number(value: Decimal | None) -> str:
    """A quantity without exponent or trailing zeros (`1E+3` shows as `1000`), unless it is
    too long to read: then 12 significant digits and an exponent (`1.23456789012e+26`)."""
    if value is None:
        return "-"
    text = format(value, "f")
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return text if len(text) <= DIGITS else format(value, ".12g")


def balance_table(balance: Balance) -> str:
    """A balance's totals, then one row per grant and per live rollover."""
    rows: list[list[str]] = []
    for item in balance.breakdown:
        reset = "-"
        if item.reset is not None:
            count = f"{item.reset.interval_count} x " if item.reset.interval_count != 1 else ""
            reset = f"{count}{item.reset.interval}"
        rows.append(
            [
                item.id,
                item.plan_id or "-",
                "unlimited" if item.unlimited else number(item.included_grant),
                number(item.remaining),
                number(item.usage),
                reset,
                when(item.reset.resets_at if item.reset else None),
                when(item.expires_at, never="never"),
            ]
        )
    for lot in balance.rollovers:
        rows.append(
            [
                "rollover",
                "-",
                number(lot.granted),
                number(lot.balance),
                number(lot.granted - lot.balance),
                "-",
                "-",
                when(lot.expires_at, never="never"),
            ]
        )
    extras = []
    if balance.unlimited:
        extras.append("unlimited")
    if balance.overage_allowed:
        cap = "" if balance.max_purchase is None else f" up to {number(balance.max_purchase)}"
        extras.append(f"overage allowed{cap}")
    if balance.next_reset_at is not None:
        extras.append(f"next reset {when(balance.next_reset_at)}")
    head = (
        f"{clip(balance.feature_id)}: granted {number(balance.granted)}, "
        f"remaining {number(balance.remaining)}, usage {number(balance.usage)}"
        + "".join(f"; {extra}" for extra in extras)
    )
    table = _table(
        rows,
        headers=[
            "grant",
            "plan",
            "included",
            "remaining",
            "usage",
            "reset",
            "resets at",
            "expires",
        ],
        colalign=("left", "left", "right", "right", "right", "left", "left", "left"),
    )
    return f"{head}\n{table}"


def balances_text(balances: Mapping[str, Balance | None]) -> str:
    """Several balances, a blank line apart."""
    shown = [balance_table(b) for b in balances.values() if b is not None]
    return "\n\n".join(shown) if shown else "no balances"


def flags_table(flags: Mapping[str, Flag]) -> str:
    """The boolean features a subject has."""
    if not flags:
        return "no flags"
    rows = [
        [f.feature_id, f.id, f.plan_id or "-", when(f.expires_at, never="never")]
        for f in flags.values()
    ]
    return _table(rows, headers=["flag", "grant", "plan", "expires"])


def features_table(features: Iterable[Feature]) -> str:
    """The catalogue."""
    rows = [
        [
            f.id,
            f.name or "-",
            f.type,
            "yes" if f.consumable else "no",
            ", ".join(f.event_names) or "-",
            ", ".join(f"{k}: {number(v)}" for k, v in (f.credit_schema or {}).items()) or "-",
        ]
        for f in features
    ]
    if not rows:
        return "no features"
    return _table(
        rows,
        headers=["feature", "name", "type", "consumable", "event names", "credit schema"],
    )


def customers_table(customers: Iterable[Customer]) -> str:
    """Customers, one a row."""
    rows = [
        [
            c.id,
            c.name or "-",
            c.email or "-",
            when(c.created_at),
            json.dumps(c.metadata) if c.metadata else "-",
        ]
        for c in customers
    ]
    if not rows:
        return "no customers"
    return _table(rows, headers=["customer", "name", "email", "created", "metadata"])


def events_table(events: Iterable[Event]) -> str:
    """Events, newest first as the Ledger returns them."""
    rows = [
        [
            when(e.timestamp),
            e.customer_id,
            e.entity_id or "-",
            e.feature_id or f"event {e.event_name}",
            number(e.value),
            ", ".join(f"{d.balance_id}: {number(d.value)}" for d in e.deductions) or "-",
            e.idempotency_key or "-",
            json.dumps(e.properties, default=str) if e.properties else "-",
        ]
        for e in events
    ]
    if not rows:
        return "no events"
    return _table(
        rows,
        headers=["time", "customer", "entity", "feature", "value", "deductions", "key", "props"],
    )


def check_text(result: CheckResult) -> str:
    """The verdict, then what it was judged on."""
    who = clip(result.customer_id) + (f" / {clip(result.entity_id)}" if result.entity_id else "")
    verdict = "allowed" if result.allowed else "NOT allowed"
    required = number(result.required_balance)
    pool = result.balance.feature_id if result.balance is not None else result.feature_id
    if pool != result.feature_id:
        required = f"{required} {pool}"
    lines = [f"{verdict}: {who}, {clip(result.feature_id)} ({required} required)"]
    if result.preview is not None:
        lines.append(f"{result.preview.title}: {result.preview.message}")
    if result.flag is not None:
        lines.append(flags_table({result.flag.feature_id: result.flag}))
    if result.balance is not None:
        lines.append(balance_table(result.balance))
    elif result.flag is None:
        lines.append(f"no {result.feature_id} balance")
    return "\n".join(lines)


def track_text(result: TrackResult) -> str:
    """What was tracked, where it was taken from, and the balances after it."""
    who = clip(result.customer_id) + (f" / {clip(result.entity_id)}" if result.entity_id else "")
    what = f"event {result.event_name}" if result.event_name else "usage"
    lines = [f"tracked {number(result.value)} ({what}) for {who}"]
    if result.deductions:
        lines.append(
            _table(
                [[d.feature_id, d.balance_id, number(d.value)] for d in result.deductions],
                headers=["feature", "taken from", "value"],
                colalign=("left", "left", "right"),
            )
        )
    shown = result.balances or (
        {result.balance.feature_id: result.balance} if result.balance else {}
    )
    if shown:
        lines.append(balances_text(shown))
    return "\n".join(lines)
