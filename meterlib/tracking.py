"""Track: its arguments, its deductions over the subject, and the result it reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple

from meterlib import validation
from meterlib.errors import InvalidRequest
from meterlib.instants import optional_ms, to_datetime
from meterlib.models import DeductionRecord, Feature
from meterlib.quantity import ZERO, to_quantity
from meterlib.results import Balance, Deduction, Reset, TrackDetails, TrackResult
from meterlib.rules.deduction import Change
from meterlib.subject import Subject, View

TRACK_KEYS = frozenset(
    {
        "customer_id",
        "feature_id",
        "event_name",
        "value",
        "entity_id",
        "properties",
        "idempotency_key",
        "timestamp",
        "overage_behavior",
    }
)


class TrackArgs(NamedTuple):
    """A validated track request (a named tuple: built on every track, and cheaper to build
    than a frozen attrs class, which sets each field through `object.__setattr__`)."""

    customer_id: str
    feature_id: str | None
    event_name: str | None
    value: Decimal
    entity_id: str | None
    properties: dict[str, Any]
    idempotency_key: str | None
    timestamp: int
    behavior: str


def parse_track(item: Mapping[str, Any], now: int) -> TrackArgs:
    """Validate one batch item (a dict of `track`'s keyword arguments)."""
    if not all(isinstance(key, str) for key in item):
        raise InvalidRequest("track: argument names must be strings", field="items")
    unknown = set(item) - TRACK_KEYS
    if unknown:
        raise InvalidRequest(
            f"track: unknown arguments {sorted(unknown)}; expected some of {sorted(TRACK_KEYS)}"
        )
    return track_args(now, **item)


def track_args(
    now: int,
    *,
    customer_id: object = None,
    feature_id: object = None,
    event_name: object = None,
    value: object = 1,
    entity_id: object = None,
    properties: object = None,
    idempotency_key: object = None,
    timestamp: object = None,
    overage_behavior: object = "cap",
) -> TrackArgs:
    """Validate `track`'s arguments."""
    feature = validation.optional_id(feature_id, "feature_id")
    event = validation.optional_id(event_name, "event_name")
    if (feature is None) == (event is None):
        raise InvalidRequest(
            "input: Either feature_id or event_name must be provided (exactly one)",
            field="feature_id",
        )
    at = optional_ms(timestamp, field="timestamp")
    if at is not None and at > now:
        raise InvalidRequest("timestamp: timestamp cannot be in the future", field="timestamp")
    if at is not None and at <= 0:
        raise InvalidRequest("timestamp: must be a positive epoch-ms instant", field="timestamp")
    return TrackArgs(
        customer_id=validation.require_id(customer_id, "customer_id"),
        feature_id=feature,
        event_name=event,
        value=to_quantity(1 if value is None else value, field="value"),
        entity_id=validation.optional_id(entity_id, "entity_id"),
        properties=validation.properties(properties),
        idempotency_key=validation.optional_id(idempotency_key, "idempotency_key"),
        timestamp=at if at is not None else now,
        behavior=validation.behavior(overage_behavior),
    )


def picked_pool(
    view: View, feature: Feature, changes: Sequence[Change], entity_id: str | None
) -> Feature:
    """Which pool's balance a track reports for one tracked feature (autumn-check-track §6.8)."""
    relevant = view.catalogue.relevant(feature)
    for pool in relevant:
        usable, _ = view.rows((pool.id,), entity_id)
        if any(g.unlimited for g in usable):
            return pool
    net: dict[str, Decimal] = {}
    for change in changes:
        pool_id = view.grants[change.grant_id].feature_id
        net[pool_id] = net.get(pool_id, ZERO) + change.balance_delta
    chosen = next((p for p in relevant if net.get(p.id, ZERO) > 0), None)
    if chosen is not None:
        return chosen
    return relevant[1] if len(relevant) > 1 else feature


def apply_track(
    subject: Subject, tracked: Sequence[Feature], args: TrackArgs, *, save: bool = True
) -> TrackResult:
    """Deduct `args.value` of every tracked feature, record one event, and report.

    `save=False` leaves the changed grants to the caller (a batch saves once at its end)."""
    entity_id = args.entity_id
    changes: list[Change] = []
    deducted: list[tuple[Feature, Sequence[Change]]] = []
    for feature in tracked:
        if feature.type == "boolean":
            continue  # tracking a flag is a harmless no-op, as in Autumn
        outcome = subject.deduct(feature, args.value, entity_id, args.behavior, args.properties)
        subject.apply(outcome.grants)
        changes += outcome.changes
        deducted.append((feature, outcome.changes))
    records = subject.deduction_records(changes)
    subject.record_event(
        feature_id=args.feature_id,
        event_name=args.event_name,
        entity_id=entity_id,
        value=args.value,
        properties=args.properties,
        timestamp=args.timestamp,
        idempotency_key=args.idempotency_key,
        deductions=records,
    )
    subject.settle(tracked, entity_id, args.properties)
    if save:
        subject.save()
    return TrackResult(
        customer_id=subject.customer.id,
        entity_id=entity_id,
        event_name=args.event_name,
        value=args.value,
        details=partial(track_details, subject.snapshot(), deducted, entity_id, records),
    )


def track_details(
    view: View,
    deducted: Sequence[tuple[Feature, Sequence[Change]]],
    entity_id: str | None,
    records: Sequence[DeductionRecord],
) -> TrackDetails:
    """What a track reports: every pool's balance after it, the one its feature drew on (when
    that is one pool), and its deductions."""
    picked: dict[str, Feature] = {}
    for feature, changes in deducted:
        pool = picked_pool(view, feature, changes, entity_id)
        picked[pool.id] = pool
    pools = {p.id: p for f, _ in deducted for p in view.catalogue.relevant(f)}
    balances = {fid: view.balance(pool, entity_id) for fid, pool in pools.items()}
    shown: list[Balance] = [b for fid in picked if (b := balances.get(fid)) is not None]
    return (
        shown[0] if len(shown) == 1 else None,
        balances,
        tuple(to_deduction(r) for r in records),
    )


def to_deduction(record: DeductionRecord) -> Deduction:
    """The public view of a stored deduction."""
    reset = None
    if record.interval is not None:
        reset = Reset(
            interval=record.interval,
            interval_count=record.interval_count,
            resets_at=None if record.resets_at is None else to_datetime(record.resets_at),
        )
    return Deduction(
        feature_id=record.feature_id,
        balance_id=record.balance_id,
        value=record.value,
        plan_id=record.plan_id,
        reset=reset,
    )
