"""MemoryStore's usage-report reads: the events of a time range (found by bisection on the
time-ordered list) and the owners of overdue locks."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping

from meterlib.models import EventRecord, Lock
from meterlib.usage_rows import NO_PROPERTIES, UsageQuery, UsageRow, matches


def usage_rows(events: list[tuple[int, int, EventRecord]], query: UsageQuery) -> list[UsageRow]:
    """The events of `query` among `events` (sorted by (timestamp, seq))."""
    first = bisect.bisect_left(events, query.start, key=lambda e: e[0])
    last = bisect.bisect_left(events, query.end, key=lambda e: e[0])
    out: list[UsageRow] = []
    for _, _, event in events[first:last]:
        name = event.feature_id if event.feature_id is not None else event.event_name or ""
        if not matches(query, event.timestamp, event.customer_id, event.entity_id, name):
            continue
        out.append(
            UsageRow(
                event.timestamp,
                event.customer_id,
                event.entity_id,
                name,
                event.value,
                event.properties if query.properties else NO_PROPERTIES,
                event.deductions if query.deductions else (),
            )
        )
    return out


def overdue_lock_owners(locks: Mapping[str, Lock] | Iterable[Lock], now: int) -> list[str]:
    """The owners of the locks whose expiry is at or before `now`, in id order."""
    held = locks.values() if isinstance(locks, Mapping) else locks
    return sorted(
        {lk.customer_id for lk in held if lk.expires_at is not None and lk.expires_at <= now}
    )
