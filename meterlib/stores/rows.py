"""Everything SQLiteStore knows about rows: the column orders and the `*_to_row` /
`*_from_row` conversions between models and rows (the tables are in `sqlite_schema`).

Amounts are TEXT (`str(Decimal)`, exact; never REAL), instants INTEGER epoch ms (catalogue
datetimes are converted to and from ms), nested values JSON text with amounts as strings.
"""

from __future__ import annotations

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

# grant, lock and event rows live in grant_rows; every conversion is reached from here
from meterlib.stores.grant_rows import (
    deductions_json,
    event_from_row,
    event_to_row,
    grant_from_row,
    grant_to_row,
    lock_from_row,
    lock_to_row,
)
from meterlib.stores.row_json import Row, dump_dict, dumps, load_dict, loads

__all__ = [
    "COUNTER_COLUMNS",
    "CUSTOMER_COLUMNS",
    "ENTITY_COLUMNS",
    "EVENT_COLUMNS",
    "FEATURE_COLUMNS",
    "GRANT_COLUMNS",
    "LOCK_COLUMNS",
    "Row",
    "counter_from_row",
    "counter_to_row",
    "customer_from_row",
    "customer_to_row",
    "deductions_json",
    "dump_dict",
    "entity_from_row",
    "entity_to_row",
    "event_from_row",
    "event_to_row",
    "feature_from_row",
    "feature_to_row",
    "grant_from_row",
    "grant_to_row",
    "load_dict",
    "lock_from_row",
    "lock_to_row",
    "select_sql",
    "upsert_sql",
]

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
