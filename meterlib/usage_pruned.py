"""Usage over pruned time: the hourly totals a prune kept, read as usage rows. Pure.

A prune (`meterlib.pruning`) sums the events it removes per customer, entity, tracked name and
UTC hour. A report whose window reaches before the pruned-through instant reads those totals
beside the events still there, which is exact as long as every boundary it draws there (its
start, its end, the edges of its bins) falls on a whole UTC hour: hour, day, week and month
bins in any time zone with a whole-hour offset. Grouping or filtering by what a total no longer
knows (an event's properties) cannot be exact there, and is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from meterlib.errors import InvalidRequest
from meterlib.hourly_totals import HOUR_MS, HourlyTotal
from meterlib.instants import to_datetime
from meterlib.usage_rows import UsageQuery, UsageRow


def touches_pruned(query: UsageQuery, through: int | None) -> bool:
    """Whether the report's window reaches before the pruned-through instant."""
    return through is not None and query.start < through


def refuse_inexact(
    through: int, query: UsageQuery, edges: Sequence[int], *, grouped: str | None
) -> None:
    """InvalidRequest unless totals answer the report over pruned time exactly. `grouped`
    names the argument that groups or filters by properties (None: neither)."""
    when = to_datetime(through).isoformat()
    if grouped is not None:
        raise InvalidRequest(
            f"{grouped}: events before {when} were pruned and only their hourly totals are "
            f"kept, which cannot be grouped or filtered; start at {when} or later, or leave "
            f"out {grouped}",
            field=grouped,
        )
    bounds = [query.start, *(e for e in edges if query.start < e < query.end), query.end]
    odd = [b for b in bounds if b < through and b % HOUR_MS]
    if odd:
        raise InvalidRequest(
            f"usage before {when} is kept per UTC hour (events before it were pruned): start, "
            f"end and bin edges there must fall on whole hours, and "
            f"{to_datetime(odd[0]).isoformat()} does not",
            field="start",
        )


def rows_of(totals: Iterable[HourlyTotal], query: UsageQuery) -> list[UsageRow]:
    """The totals `query` names, as usage rows at the start of their hour."""
    return [
        UsageRow(t.hour, t.customer_id, t.entity_id, t.name, t.value, events=t.events)
        for t in totals
        if (query.names is None or t.name in query.names)
        and (query.customer_id is None or t.customer_id == query.customer_id)
        and (query.entity_id is None or t.entity_id == query.entity_id)
    ]
