"""What a usage report reads: recorded events as plain values, the only input of the pure
aggregation (`meterlib.operations.usage`). A store's `usage_rows` hands them out; anything
else that knows per-event (or pre-summed) usage can build them too: `count` says how many
events a row stands for."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from meterlib.models import DeductionRecord

NO_PROPERTIES: Mapping[str, Any] = {}


class UsageRow(NamedTuple):
    """One recorded event (or `count` of them summed to `value`)."""

    timestamp: int  # epoch ms
    customer_id: str
    entity_id: str | None
    name: str  # what it was tracked under: its feature_id, else its event_name
    value: Decimal
    properties: Mapping[str, Any] = NO_PROPERTIES  # only when the report asked for them
    deductions: tuple[DeductionRecord, ...] = ()  # only when the report asked for them
    events: int = 1  # how many events the row sums


class UsageQuery(NamedTuple):
    """Which events a report reads: `[start, end)` in epoch ms, those tracked under one of
    `names` (None: any name), of one customer and entity when given."""

    start: int
    end: int
    names: tuple[str, ...] | None = None
    customer_id: str | None = None
    entity_id: str | None = None
    properties: bool = False  # read each event's properties (group_by, filter_by)
    deductions: bool = False  # read what each event took from each balance


def matches(
    query: UsageQuery, timestamp: int, customer_id: str, entity_id: str | None, name: str
) -> bool:
    """Whether an event is one `query` reads (what a store without SQL filters by)."""
    return (
        query.start <= timestamp < query.end
        and (query.names is None or name in query.names)
        and (query.customer_id is None or customer_id == query.customer_id)
        and (query.entity_id is None or entity_id == query.entity_id)
    )
