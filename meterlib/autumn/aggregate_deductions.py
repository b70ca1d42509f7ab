"""`events.aggregate` with `aggregate_on: "deducted"`: what each event took from each balance,
by bin, keyed by the feature owning the balance (Autumn's `aggregateDeductions` pivot).
Pure: it reads the events' stored deductions, the catalogue and the customer's grants."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from meterlib.arguments.reports import UsageArgs
from meterlib.models import ONE_OFF, Grant
from meterlib.operations.usage import group_of
from meterlib.quantity import ZERO, to_json_number
from meterlib.usage_rows import UsageRow

if TYPE_CHECKING:
    from meterlib.shell_usage import Read

OTHER = "Other"  # Autumn shows the pipe's overflow bucket under this name here


def _owners(grants: Sequence[Grant]) -> dict[str, Grant]:
    """Grant by every id a deduction may name: its public id and its rollover lots' ids."""
    out: dict[str, Grant] = {}
    for grant in grants:
        out[grant.public_id] = grant
        for lot in grant.rollovers:
            out[lot.id] = grant
    return out


def _group(row: UsageRow, key: str) -> str:
    return group_of(row, key) or ""


def deductions(
    rows: Sequence[UsageRow], read: Read, *, edges: Sequence[int], args: UsageArgs, now: int
) -> list[dict[str, Any]]:
    """The `deductions` list: bins with at least one deduction, in time order."""
    catalogue, wanted = read.catalogue, set(args.feature_ids)
    owners = _owners(read.grants)
    single = args.feature_ids[0] if len(args.feature_ids) == 1 else None
    pinned = catalogue.by_id.get(single) if single is not None else None
    if pinned is not None and pinned.type == "credit_system":
        pinned = None
    starts = edges[:-1]
    periods: dict[int, dict[str, Any]] = {}
    split: dict[tuple[int, str], dict[str, Decimal]] = {}
    for row in rows:
        index = bisect.bisect_right(starts, row.timestamp) - 1
        if index < 0 or row.timestamp >= edges[-1] or starts[index] > now:
            continue
        for record in row.deductions:
            if row.name not in wanted and record.feature_id not in wanted:
                continue
            period = periods.setdefault(starts[index], {"period": starts[index], "values": {}})
            owner = catalogue.by_id.get(record.feature_id)
            credit = owner is not None and owner.type == "credit_system"
            feature = period["values"].setdefault(
                record.feature_id,
                {
                    "feature_type": "credit_system" if credit else "metered",
                    "deducted": ZERO,
                    "events": 0,
                    "balances": {},
                },
            )
            feature["deducted"] += record.value
            feature["events"] += row.events
            grant = owners.get(record.balance_id)
            cost = None
            if pinned is not None and credit and owner is not None and owner.id != pinned.id:
                cost = catalogue.cost(pinned, owner)
            balance = feature["balances"].setdefault(
                record.balance_id,
                {
                    "balance_id": record.balance_id,
                    "entity_id": None if grant is None else grant.entity_id,
                    "plan_id": record.plan_id or None,
                    "reset": None
                    if record.interval in (None, ONE_OFF)
                    else {
                        "interval": record.interval,
                        "resets_at": grant.next_reset_at if grant is not None else None,
                    },
                    "credit_cost": None if cost is None else to_json_number(cost),
                    "deducted": ZERO,
                    "events": 0,
                },
            )
            balance["deducted"] += record.value
            balance["events"] += row.events
            if args.group_by is not None:
                cell = split.setdefault((starts[index], record.balance_id), {})
                name = _group(row, args.group_by)
                cell[name] = cell.get(name, ZERO) + record.value
    out = []
    for start in sorted(periods):
        period = periods[start]
        for feature in period["values"].values():
            feature["deducted"] = to_json_number(feature["deducted"])
            balances = list(feature["balances"].values())
            for balance in balances:
                balance["deducted"] = to_json_number(balance["deducted"])
            feature["balances"] = balances
        if args.group_by is not None:
            period["grouped_values"] = {
                balance_id: _top(cell, args.max_groups)
                for (at, balance_id), cell in split.items()
                if at == start
            }
        out.append(period)
    return out


def _top(cell: dict[str, Decimal], most: int) -> dict[str, dict[str, Any]]:
    """The `most` largest groups of one balance in one bin (ties by name), the rest as Other."""
    ranked = sorted(cell.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(ranked[:most])
    rest = ranked[most:]
    if rest:
        kept[OTHER] = kept.get(OTHER, ZERO) + sum((v for _, v in rest), ZERO)
    return {g: {"deducted": to_json_number(v)} for g, v in kept.items()}
