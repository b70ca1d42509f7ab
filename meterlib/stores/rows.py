"""Everything SQLiteStore knows about rows: the column orders and the `*_to_row` /
`*_from_row` conversions between models and rows (the tables are in `sqlite_schema`).

Amounts are TEXT (`str(Decimal)`, exact; never REAL), instants INTEGER epoch ms (catalogue
datetimes are converted to and from ms), nested values JSON text with amounts as strings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from meterlib.instants import to_datetime, to_ms
from meterlib.models import (
    Counter,
    Customer,
    DeductionRecord,
    Entity,
    EventRecord,
    Feature,
    Grant,
    Lock,
    LockItem,
    RolloverLot,
    RolloverRule,
)

Row = Sequence[Any]

FEATURE_COLUMNS = ("id", "seq", "name", "type", "consumable", "event_names", "credit_schema")
CUSTOMER_COLUMNS = ("id", "name", "email", "metadata", "created_at", "billing_controls")
ENTITY_COLUMNS = ("customer_id", "id", "feature_id", "name", "created_at", "billing_controls")
GRANT_COLUMNS = (
    "id", "seq", "customer_id", "feature_id", "entity_id", "balance_id", "plan_id", "included",
    "unlimited", "interval", "interval_count", "anchor", "period", "next_reset_at", "rollover",
    "balance", "adjustment", "rollovers", "expires_at", "created_at", "overage_allowed",
    "max_purchase",
)  # fmt: skip
LOCK_COLUMNS = (
    "lock_id", "customer_id", "feature_id", "entity_id", "value", "items", "created_at",
    "expires_at", "properties",
)  # fmt: skip
EVENT_COLUMNS = (
    "id", "seq", "customer_id", "entity_id", "feature_id", "event_name", "value", "properties",
    "timestamp", "idempotency_key", "deductions", "feature_ids",
)  # fmt: skip
COUNTER_COLUMNS = ("customer_id", "key", "value", "window_start", "window_end")


def select_sql(table: str, columns: Sequence[str]) -> str:
    """`SELECT <columns> FROM <table>`, in the order the `*_from_row` functions read."""
    return f"SELECT {', '.join(columns)} FROM {table}"


def upsert_sql(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """Insert a row, or update every non-key column of the row with the same key in place."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


# --- JSON --------------------------------------------------------------------------------

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.JSONDecoder().decode
_string = json.encoder.encode_basestring  # a str as a JSON string literal, as `_dumps` writes it

# Free-form dicts (metadata, properties, billing controls) may hold Decimals anywhere: they
# are written as {"__decimal__": "0.1"}; a caller's own one-key dict that looks like a tag
# is escaped as {"__dict__": [[key, value]]}, so every dict reads back exactly as written.
_DECIMAL_TAG = "__decimal__"
_DICT_TAG = "__dict__"
_TAGS = frozenset((_DECIMAL_TAG, _DICT_TAG))


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in _TAGS:
            return {_DICT_TAG: [[k, _freeze(v)] for k, v in value.items()]}
        return {k: _freeze(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_freeze(v) for v in value]
    if isinstance(value, Decimal):
        return {_DECIMAL_TAG: str(value)}
    return value


def _thaw(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        tagged = obj.get(_DECIMAL_TAG)
        if isinstance(tagged, str):
            return Decimal(tagged)
        pairs = obj.get(_DICT_TAG)
        if isinstance(pairs, list):
            return dict(pairs)
    return obj


_loads_any = json.JSONDecoder(object_hook=_thaw).decode


def dump_dict(value: dict[str, Any]) -> str:
    """A free-form dict as JSON text, Decimals kept exact."""
    return _dumps(_freeze(value)) if value else "{}"


def load_dict(text: str) -> dict[str, Any]:
    """The dict `dump_dict` wrote."""
    if text == "{}":
        return {}
    value: dict[str, Any] = _loads_any(text)
    return value


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


# --- catalogue ---------------------------------------------------------------------------


def feature_to_row(f: Feature) -> tuple[Any, ...]:
    """A Feature as a `features` row."""
    schema = None
    if f.credit_schema is not None:
        schema = _dumps({k: str(v) for k, v in f.credit_schema.items()})
    return (f.id, f.seq, f.name, f.type, f.consumable, _dumps(list(f.event_names)), schema)


def feature_from_row(r: Row) -> Feature:
    """The Feature a `features` row holds."""
    schema = None
    if r[6] is not None:
        schema = {k: Decimal(v) for k, v in _loads(r[6]).items()}
    return Feature(
        id=r[0],
        seq=r[1],
        name=r[2],
        type=r[3],
        consumable=bool(r[4]),
        event_names=tuple(_loads(r[5])),
        credit_schema=schema,
    )


def customer_to_row(c: Customer) -> tuple[Any, ...]:
    """A Customer as a `customers` row (created_at to the millisecond)."""
    return (
        c.id,
        c.name,
        c.email,
        dump_dict(c.metadata),
        to_ms(c.created_at, field="created_at"),
        dump_dict(c.billing_controls),
    )


def customer_from_row(r: Row) -> Customer:
    """The Customer a `customers` row holds."""
    return Customer(
        id=r[0],
        name=r[1],
        email=r[2],
        metadata=load_dict(r[3]),
        created_at=to_datetime(r[4]),
        billing_controls=load_dict(r[5]),
    )


def entity_to_row(e: Entity) -> tuple[Any, ...]:
    """An Entity as an `entities` row (created_at to the millisecond)."""
    return (
        e.customer_id,
        e.id,
        e.feature_id,
        e.name,
        to_ms(e.created_at, field="created_at"),
        dump_dict(e.billing_controls),
    )


def entity_from_row(r: Row) -> Entity:
    """The Entity an `entities` row holds."""
    return Entity(
        customer_id=r[0],
        id=r[1],
        feature_id=r[2],
        name=r[3],
        created_at=to_datetime(r[4]),
        billing_controls=load_dict(r[5]),
    )


# --- grants ------------------------------------------------------------------------------


def _rule_to_json(rule: RolloverRule | None) -> str | None:
    if rule is None:
        return None
    return _dumps(
        {
            "max": _amount(rule.max),
            "max_percentage": _amount(rule.max_percentage),
            "length": rule.length,
            "duration": rule.duration,
        }
    )


def _rule_from_json(text: str | None) -> RolloverRule | None:
    if text is None:
        return None
    d = _loads(text)
    return RolloverRule(
        max=_decimal(d["max"]),
        max_percentage=_decimal(d["max_percentage"]),
        length=d["length"],
        duration=d["duration"],
    )


def _lots_to_json(lots: tuple[RolloverLot, ...]) -> str:
    if not lots:
        return "[]"
    return _dumps(
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
        for d in _loads(text)
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
        _amount(g.max_purchase),
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
        max_purchase=_decimal(r[21]),
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
        _dumps(items),
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
        for d in _loads(r[5])
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
    return "null" if text is None else _string(text)


def deductions_json(deductions: Sequence[DeductionRecord]) -> str:
    """The deduction records as JSON text, exactly as `_dumps` writes their dicts.

    Written out directly: every track stores one, and the encoder's set-up for each call
    cost more than the encoding (a property test holds the two texts equal)."""
    return (
        "["
        + ",".join(
            f'{{"feature_id":{_string(d.feature_id)},"balance_id":{_string(d.balance_id)},'
            f'"value":{_string(str(d.value))},"plan_id":{_nullable(d.plan_id)},'
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
        "[" + ",".join(map(_string, sorted(e.feature_ids))) + "]",
    )


def event_from_row(r: Row) -> EventRecord:
    """The EventRecord an `events` row holds."""
    deductions: tuple[DeductionRecord, ...] = ()
    if r[10] != "[]":
        deductions = tuple(
            DeductionRecord(
                feature_id=d["feature_id"],
                balance_id=d["balance_id"],
                value=Decimal(d["value"]),
                plan_id=d["plan_id"],
                interval=d["interval"],
                interval_count=d["interval_count"],
                resets_at=d["resets_at"],
            )
            for d in _loads(r[10])
        )
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
        deductions=deductions,
    )


# --- counters (usage windows, auto top-up rate limits) ------------------------------------


def counter_to_row(c: Counter) -> tuple[Any, ...]:
    """A Counter as a `counters` row (the value as exact TEXT)."""
    return (c.customer_id, c.key, str(c.value), c.window_start, c.window_end)


def counter_from_row(r: Row) -> Counter:
    """The Counter a `counters` row holds."""
    return Counter(
        customer_id=r[0], key=r[1], value=Decimal(r[2]), window_start=r[3], window_end=r[4]
    )
