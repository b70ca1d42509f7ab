"""Ledger calls that read the event log: a page of recorded events at a time."""

from __future__ import annotations

import copy

from meterlib import validation
from meterlib.errors import InvalidRequest
from meterlib.instants import optional_ms, to_datetime
from meterlib.ledger_core import LedgerCore
from meterlib.operations.track import to_deduction
from meterlib.results import Event, EventPage

_MOST = 2**62  # the largest page size or cursor part taken: SQL integers are 64-bit


class EventCalls(LedgerCore):
    """The events recorded by track and check, newest first; they never write."""

    def events(
        self,
        customer_id: str | None = None,
        *,
        feature_id: str | None = None,
        entity_id: str | None = None,
        start: object = None,
        end: object = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> EventPage:
        """Recorded events, newest first, a page at a time (`start` inclusive, `end` exclusive)."""
        customer_id = validation.optional_id(customer_id, "customer_id")
        feature_id = validation.optional_id(feature_id, "feature_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        lower = optional_ms(start, field="start")
        upper = optional_ms(end, field="end")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidRequest(
                f"limit: must be a whole number >= 1 (received {validation.shown(limit)})",
                field="limit",
            )
        limit = min(limit, _MOST)  # no store holds more; a bigger int fits no SQL LIMIT
        before = None
        if cursor is not None:
            try:
                stamp, seq = validation.require_id(cursor, "cursor").split(".")
                before = (int(stamp), int(seq))
                if not (0 <= before[0] <= _MOST and 0 <= before[1] <= _MOST):
                    raise ValueError(cursor)
            except ValueError:
                raise InvalidRequest(
                    f"cursor: {cursor!r} is not a cursor this ledger returned", field="cursor"
                ) from None
        with self._tx(write=False) as session:
            catalogue = session.catalogue()
            if customer_id is not None:
                self._customer(session, customer_id)
            if feature_id is not None:
                self._feature(catalogue, feature_id)
            found = session.list_events(
                customer_id=customer_id,
                feature_id=feature_id,
                entity_id=entity_id,
                start=lower,
                end=upper,
                before=before,
                limit=limit + 1,
            )
        page = found[:limit]
        next_cursor = (
            f"{page[-1].timestamp}.{page[-1].seq}" if len(found) > limit and page else None
        )
        return EventPage(
            events=tuple(
                Event(
                    id=e.id,
                    customer_id=e.customer_id,
                    entity_id=e.entity_id,
                    feature_id=e.feature_id,
                    event_name=e.event_name,
                    value=e.value,
                    properties=copy.deepcopy(e.properties),
                    timestamp=to_datetime(e.timestamp),
                    idempotency_key=e.idempotency_key,
                    deductions=tuple(to_deduction(d) for d in e.deductions),
                )
                for e in page
            ),
            next_cursor=next_cursor,
        )
