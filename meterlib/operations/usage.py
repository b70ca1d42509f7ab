"""Usage reports: recorded events summed into bins, per feature and per group. Pure.

`aggregate` takes plain rows (`meterlib.usage_rows.UsageRow`: one event, or several summed)
and a grid of bin edges (`meterlib.rules.bins`), and knows nothing of stores or clocks: the
native `Ledger.usage` and the bridge's `events.aggregate` both call it, each saying which
tracked names count for which feature and what the overflow group is called.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from meterlib.instants import to_datetime
from meterlib.models import Feature
from meterlib.quantity import ZERO
from meterlib.usage_results import UsagePeriod, UsageReport, UsageTotal
from meterlib.usage_rows import UsageRow

PROPERTY = "properties."


class Grouping(NamedTuple):
    """How a report groups: by `key` ("properties.<path>", "$customer_id", "$entity_id"),
    keeping the `most` largest groups of each bin and summing the rest under `other`."""

    key: str
    most: int
    other: str


class Tally(NamedTuple):
    """What a report adds up, before it becomes a UsageReport (bin index → values)."""

    values: dict[str, list[Decimal]]
    grouped: dict[str, list[dict[str, Decimal]]] | None
    counts: dict[str, int]
    sums: dict[str, Decimal]


def property_text(properties: Mapping[str, Any], path: str) -> str | None:
    """The property at the dotted `path`, as text (JSON text for a non-string, as Autumn
    reads it); None when missing, null or empty."""
    value: Any = properties
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str)


def group_of(row: UsageRow, key: str) -> str | None:
    """The group `row` falls in (None: it has none, and is left out of grouped values)."""
    if key == "$customer_id":
        return row.customer_id
    if key == "$entity_id":
        return row.entity_id or None
    if key == "$plan_id":
        return ""  # Autumn's bucket of events without a plan: meterlib's events have none
    if key == "$feature_id":
        return row.name
    return property_text(row.properties, key.removeprefix(PROPERTY))


def tally(
    rows: Iterable[UsageRow],
    *,
    counted: Mapping[str, Sequence[str]],
    edges: Sequence[int],
    measure: str = "sum",
    grouping: Grouping | None = None,
    filter_by: Mapping[str, str] | None = None,
) -> Tally:
    """Sum `rows` into the bins `edges` bound (every start, then the last end).

    `counted` says which tracked names count for each feature. Every row counts in `total`
    (the window is the caller's); a row outside the grid, or without a group when grouped,
    counts in `total` only. `filter_by` keeps rows whose properties match every entry."""
    features = list(counted)
    listeners: dict[str, list[str]] = {}
    for feature_id, names in counted.items():
        for name in names:
            listeners.setdefault(name, []).append(feature_id)
    starts, last = edges[:-1], edges[-1]
    bins = len(starts)
    values = {f: [ZERO] * bins for f in features}
    grouped: dict[str, list[dict[str, Decimal]]] | None = None
    if grouping is not None:
        grouped = {f: [{} for _ in range(bins)] for f in features}
    counts = dict.fromkeys(features, 0)
    sums = dict.fromkeys(features, ZERO)
    by_count = measure == "count"
    for row in rows:
        reached = listeners.get(row.name)
        if not reached:
            continue
        if filter_by and any(property_text(row.properties, k) != v for k, v in filter_by.items()):
            continue
        index = bisect.bisect_right(starts, row.timestamp) - 1
        inside = index >= 0 and row.timestamp < last
        amount = Decimal(row.events) if by_count else row.value
        group = None
        if grouped is not None and grouping is not None:
            group = group_of(row, grouping.key)
        for feature_id in reached:
            counts[feature_id] += row.events
            sums[feature_id] += row.value
            if not inside:
                continue
            if grouped is None:
                values[feature_id][index] += amount
            elif group is not None:
                cell = grouped[feature_id][index]
                cell[group] = cell.get(group, ZERO) + amount
    return Tally(values, grouped, counts, sums)


def _kept(cell: dict[str, Decimal], grouping: Grouping) -> dict[str, Decimal]:
    """The `most` largest groups of one bin (ties: by name), the rest summed as `other`."""
    if len(cell) <= grouping.most:
        return cell
    ranked = sorted(cell.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(ranked[: grouping.most])
    kept[grouping.other] = kept.get(grouping.other, ZERO) + sum(
        (v for _, v in ranked[grouping.most :]), ZERO
    )
    return kept


def report(
    tallied: Tally, edges: Sequence[int], *, now: int, grouping: Grouping | None
) -> UsageReport:
    """The UsageReport of a tally: bins that start after `now` left out; grouped bins keep
    their largest groups and list every group any bin kept (0 where it had none)."""
    shown = [i for i in range(len(edges) - 1) if edges[i] <= now]
    grouped: dict[str, list[dict[str, Decimal]]] | None = None
    if tallied.grouped is not None and grouping is not None:
        grouped = {
            f: [_kept(cells[i], grouping) if i in shown else {} for i in range(len(cells))]
            for f, cells in tallied.grouped.items()
        }
        seen = {g for cells in grouped.values() for i in shown for g in cells[i]}
        other = grouping.other
        names = sorted(seen - {other}) + ([other] if other in seen else [])  # overflow last
        for cells in grouped.values():
            for i in shown:
                cells[i] = {g: cells[i].get(g, ZERO) for g in names}
    periods = []
    for i in shown:
        if grouped is None:
            values = {f: v[i] for f, v in tallied.values.items()}
            by_group = None
        else:
            by_group = {f: cells[i] for f, cells in grouped.items()}
            values = {f: sum(g.values(), ZERO) for f, g in by_group.items()}
        periods.append(
            UsagePeriod(
                start=to_datetime(edges[i]),
                end=to_datetime(edges[i + 1]),
                values=values,
                grouped=by_group,
            )
        )
    total = {f: UsageTotal(count=tallied.counts[f], sum=tallied.sums[f]) for f in tallied.counts}
    return UsageReport(periods=tuple(periods), total=total)


def counted_natively(features: Iterable[Feature]) -> dict[str, tuple[str, ...]]:
    """Natively an event counts for the feature it names and, tracked by `event_name`, for
    every feature listening to that name (a credit-system member's usage is the member's)."""
    return {f.id: (f.id, *f.event_names) for f in features}


def names_of(counted: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """Every tracked name a report reads, once."""
    return tuple(dict.fromkeys(n for names in counted.values() for n in names))


def usage_report(
    rows: Iterable[UsageRow],
    *,
    counted: Mapping[str, Sequence[str]],
    edges: Sequence[int],
    now: int,
    measure: str,
    grouping: Grouping | None,
    filter_by: Mapping[str, str] | None,
) -> UsageReport:
    """`tally`, then `report`: the whole decision of a usage report."""
    tallied = tally(
        rows, counted=counted, edges=edges, measure=measure, grouping=grouping, filter_by=filter_by
    )
    return report(tallied, edges, now=now, grouping=grouping)
