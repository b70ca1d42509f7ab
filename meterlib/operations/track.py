"""Track and batch_track: their arguments, what they load, their decisions, their results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple

from meterlib import validation
from meterlib.effects import Decision, Effects
from meterlib.errors import FeatureNotFound, InvalidRequest
from meterlib.instants import optional_ms, to_datetime
from meterlib.models import DeductionRecord, Feature
from meterlib.notifications import Notification
from meterlib.operations.catch_up import (
    customer_of,
    entity_of,
    feature_of,
    open_working,
    rebind,
)
from meterlib.operations.idempotency import claim, spending
from meterlib.quantity import ZERO, to_quantity
from meterlib.results import Balance, Deduction, Reset, TrackDetails, TrackResult, track_result
from meterlib.rules.context import Context
from meterlib.rules.deduction import Change
from meterlib.rules.view import View
from meterlib.rules.working import Working, free_seqs
from meterlib.state import Catalogue, CustomerState, Want

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


def track_args(  # noqa: PLR0917  (a method's parameters, in its order)
    now: int,
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
    # positional: built on every track, and keywords cost a NamedTuple a third more
    return TrackArgs(
        validation.require_id(customer_id, "customer_id"),
        feature,
        event,
        to_quantity(1 if value is None else value, field="value"),
        validation.optional_id(entity_id, "entity_id"),
        validation.properties(properties),
        validation.optional_id(idempotency_key, "idempotency_key"),
        at if at is not None else now,
        validation.behavior(overage_behavior),
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


def apply_track(subject: Working, tracked: Sequence[Feature], args: TrackArgs) -> TrackResult:
    """Deduct `args.value` of every tracked feature, record one event, and report."""
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
    details = partial(track_details, subject.snapshot(), deducted, entity_id, records)
    return track_result(subject.customer.id, entity_id, args.event_name, args.value, details)


_ONE_EVENT = (("event", 1),)


def want_of(args: TrackArgs, *, events: int = 1) -> Want:
    """What a track loads: its customer and entity, its key, and `events` event numbers."""
    key, entity_id = args.idempotency_key, args.entity_id
    return Want(
        args.customer_id,
        () if entity_id is None else (entity_id,),
        () if key is None else (f"track:{key}",),
        (),
        _ONE_EVENT if events == 1 else (("event", events),) if events else (),
    )


def tracked_features(catalogue: Catalogue, args: TrackArgs) -> list[Feature]:
    """The features a track deducts: its feature, or every feature its event name triggers."""
    if args.feature_id is not None:
        return [feature_of(catalogue, args.feature_id)]
    name = args.event_name
    tracked = [f for f in catalogue.ordered if name in f.event_names]
    if not tracked:
        raise FeatureNotFound(str(name), message=f"No features found for event name: {name}")
    return tracked


def decide_track(state: CustomerState, ctx: Context, args: TrackArgs) -> Decision[TrackResult]:
    """One track: claim its key, deduct, record its event, react (limits, alerts, top-ups)."""
    customer_of(state)
    if args.entity_id is not None:
        entity_of(state, args.entity_id)
    tracked = tracked_features(state.catalogue, args)
    claims: tuple[tuple[str, int], ...] = ()
    if args.idempotency_key is not None:
        claims = (claim(state.claims, f"track:{args.idempotency_key}", ctx.now),)
    working = open_working(state, ctx, write=True, notify=True)
    result = apply_track(working, tracked, args)
    effects = spending(working.effects(claims), ctx.now)
    return Decision(result, effects, working.notifications())


def wants_of_batch(items: Sequence[TrackArgs]) -> list[Want]:
    """One Want per customer, in customer id order (so that two writers never wait on each
    other in opposite orders); the first reserves the event number of every item."""
    by_customer: dict[str, list[TrackArgs]] = {}
    for args in items:
        by_customer.setdefault(args.customer_id, []).append(args)
    wants = []
    for n, customer_id in enumerate(sorted(by_customer)):
        mine = by_customer[customer_id]
        entities = {a.entity_id: None for a in mine if a.entity_id is not None}
        keys = {f"track:{a.idempotency_key}": None for a in mine if a.idempotency_key is not None}
        seqs = (("event", len(items)),) if n == 0 else ()
        wants.append(Want(customer_id, tuple(entities), tuple(keys), (), seqs))
    return wants


def decide_batch(
    states: Sequence[CustomerState], ctx: Context, items: Sequence[TrackArgs]
) -> Decision[list[TrackResult]]:
    """Tracks in list order, all or nothing; result i is the state after item i. Each
    customer's working copy is opened at its first item and carried from item to item."""
    by_id = {s.customer_id: s for s in states}
    free: dict[str, list[int]] = {}
    for state in states:
        for kind, seqs in free_seqs(state, ctx).items():
            free[kind] = sorted((*free.get(kind, ()), *seqs))
    claims: dict[str, int | None] = {}
    for state in states:
        claims.update(state.claims)
    made: list[tuple[str, int]] = []
    outbox: list[Notification] = []
    workings: dict[str, Working] = {}
    results = []
    for args in items:
        state = by_id[args.customer_id]
        customer_of(state)
        entity_of(state, args.entity_id)
        tracked = tracked_features(state.catalogue, args)
        if args.idempotency_key is not None:
            key, until = claim(claims, f"track:{args.idempotency_key}", ctx.now)
            claims[key] = until
            made.append((key, until))
        working = workings.get(args.customer_id)
        if working is None:
            working = open_working(state, ctx, write=True, notify=True, free=free, outbox=outbox)
            workings[args.customer_id] = working
        else:
            rebind(working)  # notifications compare with the previous item
        results.append(apply_track(working, tracked, args))
    effects = Effects(claims=tuple(made))
    for working in workings.values():
        effects = effects | working.effects()
    return Decision(results, spending(effects, ctx.now), tuple(outbox))


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
