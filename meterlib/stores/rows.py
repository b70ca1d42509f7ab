"""The rows both SQL stores keep: the column orders, the JSON helpers, and the `*_to_row` /
`*_from_row` conversions of the catalogue (features, customers, entities) and the counters.
Grants, locks and events are converted in `grant_rows` (the tables are in `sqlite/schema`).

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
    Entity,
    Feature,
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

dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
loads = json.JSONDecoder().decode
json_string = json.encoder.encode_basestring  # a str as a JSON literal, as `dumps` writes it

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
    return dumps(_freeze(value)) if value else "{}"


def load_dict(text: str) -> dict[str, Any]:
    """The dict `dump_dict` wrote."""
    if text == "{}":
        return {}
    value: dict[str, Any] = _loads_any(text)
    return value


def amount_text(value: Decimal | None) -> str | None:
    """An optional amount as exact TEXT."""
    return None if value is None else str(value)


def decimal_or_none(text: str | None) -> Decimal | None:
    """The optional amount `amount_text` wrote."""
    return None if text is None else Decimal(text)


# --- catalogue ---------------------------------------------------------------------------


def feature_to_row(f: Feature) -> tuple[Any, ...]:
    """A Feature as a `features` row."""
    schema = None
    if f.credit_schema is not None:
        schema = dumps({k: str(v) for k, v in f.credit_schema.items()})
    return (f.id, f.seq, f.name, f.type, f.consumable, dumps(list(f.event_names)), schema)


def feature_from_row(r: Row) -> Feature:
    """The Feature a `features` row holds."""
    schema = None
    if r[6] is not None:
        schema = {k: Decimal(v) for k, v in loads(r[6]).items()}
    return Feature(
        id=r[0],
        seq=r[1],
        name=r[2],
        type=r[3],
        consumable=bool(r[4]),
        event_names=tuple(loads(r[5])),
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


# --- counters (usage windows, auto top-up rate limits) ------------------------------------


def counter_to_row(c: Counter) -> tuple[Any, ...]:
    """A Counter as a `counters` row (the value as exact TEXT)."""
    return (c.customer_id, c.key, str(c.value), c.window_start, c.window_end)


def counter_from_row(r: Row) -> Counter:
    """The Counter a `counters` row holds."""
    return Counter(
        customer_id=r[0], key=r[1], value=Decimal(r[2]), window_start=r[3], window_end=r[4]
    )
