"""The ledger's rows in both SQL stores: grants (with their rollover rule and lots), locks
and events, converted to and from models as `rows` converts the catalogue.

Amounts are TEXT (`str(Decimal)`, exact), instants INTEGER epoch ms, nested values JSON text
with amounts as strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from meterlib.models import (
    DeductionRecord,
    EventRecord,
    Grant,
    Lock,
    LockItem,
    RolloverLot,
    RolloverRule,
)
from meterlib.stores.rows import (
    Row,
    amount_text,
    decimal_or_none,
    dump_dict,
    dumps,
    json_string,
    load_dict,
    loads,
)

# --- grants ------------------------------------------------------------------------------


def _rule_to_json(rule: RolloverRule | None) -> str | None:
    if rule is None:
        return None
    return dumps(
        {
            "max": amount_text(rule.max),
            "max_percentage": amount_text(rule.max_percentage),
            "length": rule.length,
            "duration": rule.duration,
        }
    )


def _rule_from_json(text: str | None) -> RolloverRule | None:
    if text is None:
        return None
    d = loads(text)
    return RolloverRule(
        max=decimal_or_none(d["max"]),
        max_percentage=decimal_or_none(d["max_percentage"]),
        length=d["length"],
        duration=d["duration"],
    )


def _lots_to_json(lots: tuple[RolloverLot, ...]) -> str:
    if not lots:
        return "[]"
    return dumps(
        [
            {
                "id": lot.id,
                "balance": str(lot.balance),
                "usage": str(lot.usage),
                "expires_at": lot.expires_at,
            }
            for lot in lots
        ]
    )


def _lots_from_json(text: str) -> tuple[RolloverLot, ...]:
    if text == "[]":
        return ()
    return tuple(
        RolloverLot(
            id=d["id"],
            balance=Decimal(d["balance"]),
            usage=Decimal(d["usage"]),
            expires_at=d["expires_at"],
        )
        for d in loads(text)
    )


def grant_to_row(g: Grant) -> tuple[Any, ...]:
    """A Grant, its rollover rule and lots as a `grants` row."""
    return (
        g.id,
        g.seq,
        g.customer_id,
        g.feature_id,
        g.entity_id,
        g.balance_id,
        g.plan_id,
        str(g.included),
        g.unlimited,
        g.interval,
        g.interval_count,
        g.anchor,
        g.period,
        g.next_reset_at,
        _rule_to_json(g.rollover),
        str(g.balance),
        str(g.adjustment),
        _lots_to_json(g.rollovers),
        g.expires_at,
        g.created_at,
        g.overage_allowed,
        amount_text(g.max_purchase),
    )


def grant_from_row(r: Row) -> Grant:
    """The Grant a `grants` row holds."""
    return Grant(
        id=r[0],
        seq=r[1],
        customer_id=r[2],
        feature_id=r[3],
        entity_id=r[4],
        balance_id=r[5],
        plan_id=r[6],
        included=Decimal(r[7]),
        unlimited=bool(r[8]),
        interval=r[9],
        interval_count=r[10],
        anchor=r[11],
        period=r[12],
        next_reset_at=r[13],
        rollover=_rule_from_json(r[14]),
        balance=Decimal(r[15]),
        adjustment=Decimal(r[16]),
        rollovers=_lots_from_json(r[17]),
        expires_at=r[18],
        created_at=r[19],
        overage_allowed=bool(r[20]),
        max_purchase=decimal_or_none(r[21]),
    )


# --- locks and events --------------------------------------------------------------------


def lock_to_row(lock: Lock) -> tuple[Any, ...]:
    """A Lock and its items as a `locks` row."""
    items = [
        {
            "grant_id": i.grant_id,
            "rollover_id": i.rollover_id,
            "cost": str(i.cost),
            "balance_delta": str(i.balance_delta),
            "value_delta": str(i.value_delta),
        }
        for i in lock.items
    ]
    return (
        lock.lock_id,
        lock.customer_id,
        lock.feature_id,
        lock.entity_id,
        str(lock.value),
        dumps(items),
        lock.created_at,
        lock.expires_at,
        dump_dict(lock.properties),
    )


def lock_from_row(r: Row) -> Lock:
    """The Lock a `locks` row holds."""
    items = tuple(
        LockItem(
            grant_id=d["grant_id"],
            rollover_id=d["rollover_id"],
            cost=Decimal(d["cost"]),
            balance_delta=Decimal(d["balance_delta"]),
            value_delta=Decimal(d["value_delta"]),
        )
        for d in loads(r[5])
    )
    return Lock(
        lock_id=r[0],
        customer_id=r[1],
        feature_id=r[2],
        entity_id=r[3],
        value=Decimal(r[4]),
        items=items,
        created_at=r[6],
        expires_at=r[7],
        properties=load_dict(r[8]),
    )


def _nullable(text: str | None) -> str:
    return "null" if text is None else json_string(text)


def deductions_json(deductions: Sequence[DeductionRecord]) -> str:
    """The deduction records as JSON text, exactly as `dumps` writes their dicts.

    Written out directly: every track stores one, and the encoder's set-up for each call
    cost more than the encoding (a property test holds the two texts equal)."""
    return (
        "["
        + ",".join(
            f'{{"feature_id":{json_string(d.feature_id)},"balance_id":{json_string(d.balance_id)},'
            f'"value":{json_string(str(d.value))},"plan_id":{_nullable(d.plan_id)},'
            f'"interval":{_nullable(d.interval)},"interval_count":{int(d.interval_count)},'
            f'"resets_at":{"null" if d.resets_at is None else int(d.resets_at)}}}'
            for d in deductions
        )
        + "]"
    )


def event_to_row(e: EventRecord) -> tuple[Any, ...]:
    """An EventRecord as an `events` row; `feature_ids` is stored for the feature filter."""
    return (
        e.id,
        e.seq,
        e.customer_id,
        e.entity_id,
        e.feature_id,
        e.event_name,
        str(e.value),
        dump_dict(e.properties),
        e.timestamp,
        e.idempotency_key,
        deductions_json(e.deductions),
        "[" + ",".join(map(json_string, sorted(e.feature_ids))) + "]",
    )


def event_from_row(r: Row) -> EventRecord:
    """The EventRecord an `events` row holds."""
    return EventRecord(
        id=r[0],
        seq=r[1],
        customer_id=r[2],
        entity_id=r[3],
        feature_id=r[4],
        event_name=r[5],
        value=Decimal(r[6]),
        properties=load_dict(r[7]),
        timestamp=r[8],
        idempotency_key=r[9],
        deductions=deductions_from_json(r[10]),
    )


def deductions_from_json(text: str) -> tuple[DeductionRecord, ...]:
    """The DeductionRecords an event's `deductions` cell holds."""
    if text == "[]":
        return ()
    return tuple(
        DeductionRecord(
            feature_id=d["feature_id"],
            balance_id=d["balance_id"],
            value=Decimal(d["value"]),
            plan_id=d["plan_id"],
            interval=d["interval"],
            interval_count=d["interval_count"],
            resets_at=d["resets_at"],
        )
        for d in loads(text)
    )
