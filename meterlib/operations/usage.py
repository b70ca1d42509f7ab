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


class _Sums:
    """What one tracked name added up: events, the value outside the grid, per bin the value
    (and the count when counting), and per bin its groups."""

    __slots__ = ("bin_counts", "bin_sums", "count", "groups", "outside")

    def __init__(self, bins: int, *, by_count: bool, grouped: bool) -> None:
        self.count = 0
        self.outside = ZERO
        self.bin_sums = [ZERO] * bins
        self.bin_counts = [0] * bins if by_count else None
        self.groups: list[dict[str, Decimal]] | None = (
            [{} for _ in range(bins)] if grouped else None
        )


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
    starts, last = edges[:-1], edges[-1]
    bins = len(starts)
    by_count = measure == "count"
    wanted = {name for names in counted.values() for name in names}
    # one pass adding up per tracked name (one Decimal addition a row), shared out after
    per_name: dict[str, _Sums] = {}
    bisect_right = bisect.bisect_right
    for row in rows:
        timestamp, _, _, name, value, properties, _, events = row
        if name not in wanted:
            continue
        if filter_by and any(property_text(properties, k) != v for k, v in filter_by.items()):
            continue
        sums = per_name.get(name)
        if sums is None:
            sums = per_name[name] = _Sums(bins, by_count=by_count, grouped=grouping is not None)
        sums.count += events
        index = bisect_right(starts, timestamp) - 1
        if index < 0 or timestamp >= last:
            sums.outside += value
            continue
        sums.bin_sums[index] += value
        if sums.bin_counts is not None:
            sums.bin_counts[index] += events
        if sums.groups is not None and grouping is not None:
            group = group_of(row, grouping.key)
            if group is not None:
                cell = sums.groups[index]
                amount = Decimal(events) if by_count else value
                cell[group] = cell.get(group, ZERO) + amount
    return _shared_out(per_name, counted, bins, grouped=grouping is not None)


def _shared_out(
    per_name: Mapping[str, _Sums], counted: Mapping[str, Sequence[str]], bins: int, *, grouped: bool
) -> Tally:
    """Each feature's tally: the sums of every name that counts for it."""
    values = {f: [ZERO] * bins for f in counted}
    by_group: dict[str, list[dict[str, Decimal]]] | None = None
    if grouped:
        by_group = {f: [{} for _ in range(bins)] for f in counted}
    counts = dict.fromkeys(counted, 0)
    totals = dict.fromkeys(counted, ZERO)
    for feature_id, names in counted.items():
        for name in dict.fromkeys(names):
            sums = per_name.get(name)
            if sums is None:
                continue
            counts[feature_id] += sums.count
            totals[feature_id] += sums.outside + sum(sums.bin_sums, ZERO)
            measured: Sequence[Decimal | int] = (
                sums.bin_sums if sums.bin_counts is None else sums.bin_counts
            )
            mine = values[feature_id]
            for i, amount in enumerate(measured):
                mine[i] += amount
            if by_group is not None and sums.groups is not None:
                for i, cell in enumerate(sums.groups):
                    into = by_group[feature_id][i]
                    for group, amount in cell.items():
                        into[group] = into.get(group, ZERO) + amount
    return Tally(values, by_group, counts, totals)


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
