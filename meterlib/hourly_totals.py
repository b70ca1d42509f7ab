"""Hourly totals: what a prune keeps of the events it removes. Pure.

One total per (customer, entity, tracked name, hour): the sum of the values and the number
of the events recorded in that hour of UTC time. The name is what the event was tracked
under (its feature_id, else its event_name), as a usage report matches events, so a report
over pruned time reads totals exactly where it read events, with today's catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from meterlib.models import EventRecord

HOUR_MS = 3_600_000


class HourlyTotal(NamedTuple):
    """The events of one customer, entity and tracked name in the hour starting at `hour`."""

    customer_id: str
    entity_id: str | None
    name: str
    hour: int  # epoch ms, a multiple of HOUR_MS
    value: Decimal
    events: int

    @property
    def key(self) -> tuple[int, str, str | None, str]:
        """What identifies the total (hour first: the order totals are listed in)."""
        return (self.hour, self.customer_id, self.entity_id, self.name)


def hour_of(timestamp: int) -> int:
    """The start of the UTC hour holding `timestamp`."""
    return timestamp - timestamp % HOUR_MS


def name_of(event: EventRecord) -> str:
    """What the event was tracked under."""
    return event.feature_id or event.event_name or ""


def totals_of(events: Iterable[EventRecord]) -> list[HourlyTotal]:
    """The events summed per customer, entity, name and hour, in `key` order."""
    sums: dict[tuple[int, str, str | None, str], tuple[Decimal, int]] = {}
    for e in events:
        key = (hour_of(e.timestamp), e.customer_id, e.entity_id, name_of(e))
        value, count = sums.get(key, (Decimal(0), 0))
        sums[key] = (value + e.value if count else e.value, count + 1)
    return [
        HourlyTotal(cid, eid, name, hour, value, count)
        for (hour, cid, eid, name), (value, count) in sorted(sums.items(), key=_order)
    ]


def _order(item: tuple[tuple[int, str, str | None, str], object]) -> tuple[int, str, str, str]:
    hour, cid, eid, name = item[0]
    return (hour, cid, eid or "", name)


def added(old: HourlyTotal | None, more: HourlyTotal) -> HourlyTotal:
    """`more` added to the total already kept for its key."""
    if old is None:
        return more
    return more._replace(value=old.value + more.value, events=old.events + more.events)


class PruneReport(NamedTuple):
    """What `Ledger.prune` removed."""

    events_removed: int
    keys_removed: int
