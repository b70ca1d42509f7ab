"""check, batch_track, finalize and events' arguments (track's are `operations.track`'s)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from meterlib import validation
from meterlib.errors import InvalidRequest
from meterlib.instants import optional_ms
from meterlib.operations.check import CheckArgs
from meterlib.operations.finalize import FinalizeArgs
from meterlib.operations.idempotency import DAY_MS
from meterlib.operations.track import TrackArgs, parse_track
from meterlib.quantity import to_quantity

_MOST = 2**62  # the largest page size or cursor part taken: SQL integers are 64-bit


def check_args(  # noqa: PLR0917  (a method's parameters, in its order)
    now: int,
    customer_id: str,
    feature_id: str,
    entity_id: str | None,
    required_balance: object,
    send_event: bool,
    properties: Mapping[str, Any] | None,
    lock: Mapping[str, Any] | None,
    with_preview: bool,
) -> tuple[CheckArgs, bool]:
    """`Ledger.check`'s arguments, and whether the check deducts (`send_event` or `lock`)."""
    customer_id = validation.require_id(customer_id, "customer_id")
    feature_id = validation.require_id(feature_id, "feature_id")
    entity_id = validation.optional_id(entity_id, "entity_id")
    required = to_quantity(required_balance, field="required_balance")
    send_event = validation.flag(send_event, "send_event")
    props = validation.properties(properties)
    held = validation.lock(lock)
    with_preview = validation.flag(with_preview, "with_preview")
    if held is not None and held[1] is not None and held[1] > now + DAY_MS:
        raise InvalidRequest(
            "Lock expires_at cannot be more than 1 day from now", code="invalid_request"
        )
    if held is not None and held[1] is not None and held[1] <= now:
        raise InvalidRequest(
            f"lock.expires_at: {held[1]} is not in the future (now is {now}): pass a later "
            "instant, or none for a lock that waits for finalize",
            code="invalid_request",
            field="lock.expires_at",
        )
    args = CheckArgs(customer_id, feature_id, entity_id, required, props, held, with_preview)
    return args, send_event or held is not None


def batch_args(items: Sequence[Mapping[str, Any]], now: int) -> list[TrackArgs]:
    """`Ledger.batch_track`'s items, each as `track` takes it (its index in any error)."""
    if isinstance(items, Mapping | str) or not isinstance(items, Sequence):
        raise InvalidRequest("items: expected a list of track argument dicts", field="items")
    parsed = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidRequest(f"items[{index}]: expected a dict", field="items")
        try:
            parsed.append(parse_track(item, now))
        except InvalidRequest as exc:
            raise InvalidRequest(
                f"items[{index}]: {exc.message}", code=exc.code, field=exc.field
            ) from exc
    return parsed


def finalize_args(
    lock_id: str,
    action: str,
    override_value: object,
    properties: Mapping[str, Any] | None,
) -> FinalizeArgs:
    """`Ledger.finalize`'s arguments."""
    lock_id = validation.require_id(lock_id, "lock_id")
    if action not in ("confirm", "release"):
        raise InvalidRequest(
            f'action: expected "confirm" or "release" (received {validation.shown(action)})',
            field="action",
        )
    override = validation.optional_quantity(override_value, "override_value")
    if override is not None and action == "release":
        raise InvalidRequest(
            "override_value: override_value cannot be provided when action is release",
            field="override_value",
        )
    props = None if properties is None else validation.properties(properties)
    return FinalizeArgs(lock_id, action, override, props)


class EventQuery(NamedTuple):
    """A validated `Ledger.events` request."""

    customer_id: str | None
    feature_id: str | None
    entity_id: str | None
    start: int | None
    end: int | None
    limit: int
    before: tuple[int, int] | None  # the cursor: (timestamp, seq) of the last event shown


def event_query(  # noqa: PLR0917  (a method's parameters, in its order)
    customer_id: str | None,
    feature_id: str | None,
    entity_id: str | None,
    start: object,
    end: object,
    limit: int,
    cursor: str | None,
) -> EventQuery:
    """`Ledger.events`' arguments."""
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
    return EventQuery(customer_id, feature_id, entity_id, lower, upper, limit, before)
