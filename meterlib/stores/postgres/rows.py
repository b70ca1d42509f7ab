"""Everything PostgresStore knows about tables: the migrations, the SQL, and the few row
details that differ from SQLite's.

Models become rows through `sqlite_rows` (one conversion for both SQL stores); the column
types are PostgreSQL's own: amounts `numeric`, instants `bigint` epoch ms, flags `boolean`,
the caller's dicts and ordered schemas `json` (their text comes back exactly as written: key
order, number spelling), and the shapes meterlib owns `jsonb`. Identifiers are `COLLATE "C"`,
so lists come in code-point order, as in the other stores.

`numeric` holds every amount exactly but cannot spell two Decimals: one with a positive
exponent (`1E+30` reads back as `1000…0`) and negative zero. The few such amounts of a row
ride in its `spellings` column ({"column": "1E+30"}), so every Decimal comes back digit for
digit; the numeric column still holds the (equal) value for SQL.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import psycopg
from attrs import evolve

from meterlib.models import Counter, EventRecord, Grant, Lock
from meterlib.stores import grant_rows, rows, usage_sql
from meterlib.stores.postgres.retention_ddl import KEY_EXPIRY, RETENTION

Connection = psycopg.Connection[tuple[Any, ...]]

# Append only: a database records the versions it has applied, and a version this list lacks
# means the database was written by a newer meterlib. `{s}` is the quoted schema name.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "initial",
        """
CREATE TABLE {s}.features (
    id text COLLATE "C" PRIMARY KEY,
    seq bigint NOT NULL,
    name text,
    type text NOT NULL,
    consumable boolean NOT NULL,
    event_names json NOT NULL,
    credit_schema json
);
CREATE INDEX features_by_seq ON {s}.features (seq);

CREATE TABLE {s}.customers (
    id text COLLATE "C" PRIMARY KEY,
    name text,
    email text,
    metadata json NOT NULL,
    created_at bigint NOT NULL,
    billing_controls json NOT NULL
);

CREATE TABLE {s}.entities (
    customer_id text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    feature_id text,
    name text,
    created_at bigint NOT NULL,
    billing_controls json NOT NULL,
    PRIMARY KEY (customer_id, id)
);

CREATE TABLE {s}.grants (
    id text COLLATE "C" PRIMARY KEY,
    seq bigint NOT NULL,
    customer_id text COLLATE "C" NOT NULL,
    feature_id text NOT NULL,
    entity_id text,
    balance_id text,
    plan_id text,
    included numeric NOT NULL,
    unlimited boolean NOT NULL,
    "interval" text NOT NULL,
    interval_count integer NOT NULL,
    anchor bigint,
    period integer NOT NULL,
    next_reset_at bigint,
    rollover jsonb,
    balance numeric NOT NULL,
    adjustment numeric NOT NULL,
    rollovers jsonb NOT NULL,
    expires_at bigint,
    created_at bigint NOT NULL,
    overage_allowed boolean NOT NULL,
    max_purchase numeric,
    spellings jsonb
);
CREATE INDEX grants_by_customer ON {s}.grants (customer_id, seq);

CREATE TABLE {s}.locks (
    lock_id text COLLATE "C" PRIMARY KEY,
    customer_id text COLLATE "C" NOT NULL,
    feature_id text NOT NULL,
    entity_id text,
    value numeric NOT NULL,
    items jsonb NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint,
    properties json NOT NULL,
    spellings jsonb
);
CREATE INDEX locks_by_customer ON {s}.locks (customer_id, created_at, lock_id);

CREATE TABLE {s}.events (
    n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL,
    seq bigint NOT NULL,
    customer_id text COLLATE "C" NOT NULL,
    entity_id text,
    feature_id text,
    event_name text,
    value numeric NOT NULL,
    properties json NOT NULL,
    "timestamp" bigint NOT NULL,
    idempotency_key text,
    deductions jsonb NOT NULL,
    feature_ids jsonb NOT NULL,
    spellings jsonb
);
CREATE INDEX events_by_customer ON {s}.events (customer_id, "timestamp", seq, n);
CREATE INDEX events_by_time ON {s}.events ("timestamp", seq, n);

CREATE TABLE {s}.idempotency_keys (
    idempotency_key text PRIMARY KEY,
    expires_at bigint NOT NULL
);

CREATE SEQUENCE {s}.seq_grant;
CREATE SEQUENCE {s}.seq_event;
CREATE SEQUENCE {s}.seq_feature;
""",
    ),
    (
        2,
        "counters",
        """
CREATE TABLE {s}.counters (
    customer_id text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    value numeric NOT NULL,
    window_start bigint,
    window_end bigint,
    spellings jsonb,
    PRIMARY KEY (customer_id, key)
);
""",
    ),
    (
        3,
        "usage_index",
        # usage reports read one customer's events of some features over a time range
        "CREATE INDEX events_by_customer_name ON {s}.events "
        '(customer_id, COALESCE(feature_id, event_name), "timestamp")',
    ),
    (
        4,
        "catalogue_version",
        # one row (absent: 0), bumped by every update or delete of a feature: with the
        # feature count it names a committed catalogue, which a count alone no longer does
        """
CREATE TABLE {s}.catalogue_version (
    id integer PRIMARY KEY CHECK (id = 1),
    value bigint NOT NULL
);
""",
    ),
    (5, "key_expiry", KEY_EXPIRY),
    (6, "retention", RETENTION),
)
LATEST_VERSION = MIGRATIONS[-1][0]

SCHEMA_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS {s}.schema_version (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
_SEQ_KIND = re.compile(r"[a-z][a-z0-9_]{0,50}\Z")
PRECREATED_SEQUENCES = frozenset(("grant", "event", "feature"))


def quote_schema(schema: str) -> str:
    """The schema name as a quoted identifier; ValueError unless it is a plain identifier."""
    if not isinstance(schema, str) or not _SCHEMA_NAME.match(schema):
        raise ValueError(
            f"schema: expected a plain identifier (letters, digits, _; at most 63), got {schema!r}"
        )
    return f'"{schema}"'


def sequence_name(schema: str, kind: str) -> str:
    """The qualified sequence that numbers `kind`; ValueError for a kind that is no name."""
    if not isinstance(kind, str) or not _SEQ_KIND.match(kind):
        raise ValueError(f"next_seq: kind must be a lowercase name, got {kind!r}")
    return f"{quote_schema(schema)}.seq_{kind}"


def lock_key(schema: str, kind: str, name: str) -> int:
    """The 64-bit advisory-lock key of one customer (or key) in one schema, in every process."""
    digest = hashlib.blake2b(f"meterlib\0{schema}\0{kind}\0{name}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


# --- amounts numeric cannot spell ---------------------------------------------------------


def _needs_spelling(value: Decimal) -> bool:
    exponent = value.as_tuple().exponent
    return (isinstance(exponent, int) and exponent > 0) or (value.is_zero() and value.is_signed())


def spellings(values: dict[str, Decimal | None]) -> str | None:
    """The `spellings` cell for a row's amounts: None unless one has no numeric spelling."""
    odd = {k: str(v) for k, v in values.items() if v is not None and _needs_spelling(v)}
    return json.dumps(odd) if odd else None


def respelled(text: str) -> dict[str, Any]:
    """The amounts a `spellings` cell holds, to put back over the numeric columns."""
    return {k: Decimal(v) for k, v in json.loads(text).items()}


# --- SQL ---------------------------------------------------------------------------------


def _cols(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _select(schema: str, table: str, columns: Sequence[str]) -> str:
    return f"SELECT {_cols(columns)} FROM {schema}.{table}"


def _upsert(schema: str, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in key)
    return (
        f"INSERT INTO {schema}.{table} ({_cols(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({_cols(key)}) DO UPDATE SET {updates}"
    )


_GRANT_COLUMNS = (*rows.GRANT_COLUMNS, "spellings")
_LOCK_COLUMNS = (*rows.LOCK_COLUMNS, "spellings")
_EVENT_COLUMNS = (*rows.EVENT_COLUMNS, "spellings")
_COUNTER_COLUMNS = (*rows.COUNTER_COLUMNS, "spellings")
# the filters list_events combines, in the order their parameters are passed
_EVENT_FILTERS = (
    "customer_id = %s",
    "entity_id = %s",
    '"timestamp" >= %s',
    '"timestamp" < %s',
    '("timestamp", seq) < (%s, %s)',
    "feature_ids ? %s",
)


class Statements:
    """Every SQL statement of one schema, built once per store."""

    def __init__(self, schema: str) -> None:
        s = quote_schema(schema)
        self.schema = schema
        select_feature = _select(s, "features", rows.FEATURE_COLUMNS)
        self.get_feature = select_feature + " WHERE id = %s"
        self.list_features = select_feature + " ORDER BY seq, id"
        self.add_feature = (
            f"INSERT INTO {s}.features ({_cols(rows.FEATURE_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(rows.FEATURE_COLUMNS))}) "
            "ON CONFLICT (id) DO NOTHING"
        )
        select_customer = _select(s, "customers", rows.CUSTOMER_COLUMNS)
        self.get_customer = select_customer + " WHERE id = %s"
        self.list_customers = select_customer + " ORDER BY id"
        self.put_customer = _upsert(s, "customers", rows.CUSTOMER_COLUMNS, ("id",))
        select_entity = _select(s, "entities", rows.ENTITY_COLUMNS)
        self.get_entity = select_entity + " WHERE customer_id = %s AND id = %s"
        self.list_entities = select_entity + " WHERE customer_id = %s ORDER BY id"
        self.put_entity = _upsert(s, "entities", rows.ENTITY_COLUMNS, ("customer_id", "id"))
        self.list_grants = (
            _select(s, "grants", _GRANT_COLUMNS) + " WHERE customer_id = %s ORDER BY seq, id"
        )
        self.put_grant = _upsert(s, "grants", _GRANT_COLUMNS, ("id",))
        self.delete_grants = f"DELETE FROM {s}.grants WHERE id = ANY(%s)"
        select_lock = _select(s, "locks", _LOCK_COLUMNS)
        self.get_lock = select_lock + " WHERE lock_id = %s"
        self.lock_owner = f"SELECT customer_id FROM {s}.locks WHERE lock_id = %s"
        self.list_locks = select_lock + " WHERE customer_id = %s ORDER BY created_at, lock_id"
        self.put_lock = _upsert(s, "locks", _LOCK_COLUMNS, ("lock_id",))
        self.delete_lock = f"DELETE FROM {s}.locks WHERE lock_id = %s"
        self.delete_locks = f"DELETE FROM {s}.locks WHERE lock_id = ANY(%s)"
        self.add_event = (
            f"INSERT INTO {s}.events ({_cols(_EVENT_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(_EVENT_COLUMNS))})"
        )
        self._select_events = _select(s, "events", _EVENT_COLUMNS)
        self.events_table = f"{s}.events"  # usage reports build their select on it
        self.overdue_owners = usage_sql.overdue_owners_sql(f"{s}.locks", "%s")
        self._events: dict[tuple[bool, ...], str] = {}
        self.get_key = f"SELECT expires_at FROM {s}.idempotency_keys WHERE idempotency_key = %s"
        self.put_key = _upsert(
            s, "idempotency_keys", ("idempotency_key", "expires_at"), ("idempotency_key",)
        )
        self.list_counters = (
            _select(s, "counters", _COUNTER_COLUMNS) + " WHERE customer_id = %s ORDER BY key"
        )
        self.put_counter = _upsert(s, "counters", _COUNTER_COLUMNS, ("customer_id", "key"))
        self.lock = "SELECT pg_advisory_xact_lock(%s)"
        self.lock_all = "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k"
        self.reserve = (
            "SELECT array_agg(v ORDER BY v) FROM "
            "(SELECT nextval(%s::regclass) AS v FROM generate_series(1, %s)) q"
        )
        self.create_sequence = "CREATE SEQUENCE IF NOT EXISTS {}"
        self.sequence_exists = "SELECT to_regclass(%s) IS NOT NULL"

    def list_events(self, present: tuple[bool, bool, bool, bool, bool, bool]) -> str:
        """The list_events query for one combination of present filters (built once)."""
        sql = self._events.get(present)
        if sql is None:
            where = " AND ".join(f for f, on in zip(_EVENT_FILTERS, present, strict=True) if on)
            sql = (
                self._select_events
                + (f" WHERE {where}" if where else "")
                + ' ORDER BY "timestamp" DESC, seq DESC, n DESC LIMIT %s'
            )
            self._events[present] = sql
        return sql


# --- rows with spellings -------------------------------------------------------------------


def grant_to_row(g: Grant) -> tuple[Any, ...]:
    """A Grant as a `grants` row."""
    amounts = {
        "included": g.included,
        "balance": g.balance,
        "adjustment": g.adjustment,
        "max_purchase": g.max_purchase,
    }
    return (*grant_rows.grant_to_row(g), spellings(amounts))


def grant_from_row(r: rows.Row) -> Grant:
    """The Grant a `grants` row holds."""
    grant = grant_rows.grant_from_row(r)
    return grant if r[-1] is None else evolve(grant, **respelled(r[-1]))


def lock_to_row(lock: Lock) -> tuple[Any, ...]:
    """A Lock as a `locks` row."""
    return (*grant_rows.lock_to_row(lock), spellings({"value": lock.value}))


def lock_from_row(r: rows.Row) -> Lock:
    """The Lock a `locks` row holds."""
    lock = grant_rows.lock_from_row(r)
    return lock if r[-1] is None else evolve(lock, **respelled(r[-1]))


def event_to_row(event: EventRecord) -> tuple[Any, ...]:
    """An EventRecord as an `events` row."""
    return (*grant_rows.event_to_row(event), spellings({"value": event.value}))


def event_from_row(r: rows.Row) -> EventRecord:
    """The EventRecord an `events` row holds."""
    event = grant_rows.event_from_row(r)
    return event if r[-1] is None else evolve(event, **respelled(r[-1]))


def counter_to_row(counter: Counter) -> tuple[Any, ...]:
    """A Counter as a `counters` row."""
    return (*rows.counter_to_row(counter), spellings({"value": counter.value}))


def counter_from_row(r: rows.Row) -> Counter:
    """The Counter a `counters` row holds."""
    counter = rows.counter_from_row(r)
    return counter if r[-1] is None else evolve(counter, **respelled(r[-1]))
