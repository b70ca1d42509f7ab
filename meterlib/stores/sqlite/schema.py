"""The SQLite schema: its tables and indexes, and the versioned migrations that build them.

A file records (in sqlite-utils' `_sqlite_migrations` table, set "meterlib") the migrations it
has applied. Opening applies the missing ones under SQLite's write lock; a file with a name
this version does not know, or a non-empty database without the marker, is refused.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from meterlib.errors import StoreError

if TYPE_CHECKING:
    from sqlite_utils import Database

MIN_SQLITE = (3, 37, 0)  # STRICT tables; upsert and RETURNING are older

# The first schema. Later versions add migrations; they never edit this text.
SCHEMA_V1 = """
CREATE TABLE features (
    id TEXT PRIMARY KEY NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT,
    type TEXT NOT NULL,
    consumable INTEGER NOT NULL,
    event_names TEXT NOT NULL,
    credit_schema TEXT
) STRICT;
CREATE INDEX features_by_seq ON features (seq);

CREATE TABLE customers (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT,
    email TEXT,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    billing_controls TEXT NOT NULL
) STRICT;

CREATE TABLE entities (
    customer_id TEXT NOT NULL,
    id TEXT NOT NULL,
    feature_id TEXT,
    name TEXT,
    created_at INTEGER NOT NULL,
    billing_controls TEXT NOT NULL,
    PRIMARY KEY (customer_id, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE grants (
    id TEXT PRIMARY KEY NOT NULL,
    seq INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    feature_id TEXT NOT NULL,
    entity_id TEXT,
    balance_id TEXT,
    plan_id TEXT,
    included TEXT NOT NULL,
    unlimited INTEGER NOT NULL,
    interval TEXT NOT NULL,
    interval_count INTEGER NOT NULL,
    anchor INTEGER,
    period INTEGER NOT NULL,
    next_reset_at INTEGER,
    rollover TEXT,
    balance TEXT NOT NULL,
    adjustment TEXT NOT NULL,
    rollovers TEXT NOT NULL,
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    overage_allowed INTEGER NOT NULL,
    max_purchase TEXT
) STRICT;
CREATE INDEX grants_by_customer ON grants (customer_id, seq);

CREATE TABLE locks (
    lock_id TEXT PRIMARY KEY NOT NULL,
    customer_id TEXT NOT NULL,
    feature_id TEXT NOT NULL,
    entity_id TEXT,
    value TEXT NOT NULL,
    items TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    properties TEXT NOT NULL
) STRICT;
CREATE INDEX locks_by_customer ON locks (customer_id, created_at, lock_id);

CREATE TABLE events (
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    entity_id TEXT,
    feature_id TEXT,
    event_name TEXT,
    value TEXT NOT NULL,
    properties TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    idempotency_key TEXT,
    deductions TEXT NOT NULL,
    feature_ids TEXT NOT NULL
) STRICT;
CREATE INDEX events_by_customer ON events (customer_id, timestamp, seq);
CREATE INDEX events_by_time ON events (timestamp, seq);

CREATE TABLE idempotency_keys (
    idempotency_key TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE seqs (
    kind TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
"""

MIGRATION_SET = "meterlib"


def _schema_v1(db: Database) -> None:
    db.executescript(SCHEMA_V1)


# Counters of usage windows and auto top-up rate limits (billing controls), one per
# (customer, key); the value is an exact TEXT amount, the window epoch ms or NULL.
SCHEMA_V2_COUNTERS = """
CREATE TABLE counters (
    customer_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    window_start INTEGER,
    window_end INTEGER,
    PRIMARY KEY (customer_id, key)
) STRICT, WITHOUT ROWID;
"""


def _schema_v2_counters(db: Database) -> None:
    db.executescript(SCHEMA_V2_COUNTERS)


# Usage reports read one customer's events of some features over a time range: indexed by
# what each event was tracked under (its feature_id, else its event_name), as they query it.
SCHEMA_V3_USAGE_INDEX = """
CREATE INDEX events_by_customer_name
    ON events (customer_id, COALESCE(feature_id, event_name), timestamp);
"""


def _schema_v3_usage_index(db: Database) -> None:
    db.executescript(SCHEMA_V3_USAGE_INDEX)


# Idempotency keys expire by themselves: each write that claims keys removes a few spent
# ones, found by this index (a scan of the key table per write would grow with it).
SCHEMA_V4_KEY_EXPIRY = """
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
"""


def _schema_v4_key_expiry(db: Database) -> None:
    db.executescript(SCHEMA_V4_KEY_EXPIRY)


# Prune keeps, of the events it removes, their sums per customer, entity, tracked name and
# UTC hour (an entity_id of '' is none: a key column cannot hold NULL), and the instant
# before which events are gone.
SCHEMA_V5_RETENTION = """
CREATE TABLE hourly_totals (
    customer_id TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    name TEXT NOT NULL,
    hour INTEGER NOT NULL,
    value TEXT NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (hour, customer_id, entity_id, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE retention (
    key TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
"""


def _schema_v5_retention(db: Database) -> None:
    db.executescript(SCHEMA_V5_RETENTION)


# Append only: a file records the names it has applied, and a name this list lacks means the
# file was written by a newer meterlib.
MIGRATIONS = (
    ("0001_initial", _schema_v1),
    ("0002_counters", _schema_v2_counters),
    ("0003_usage_index", _schema_v3_usage_index),
    ("0004_key_expiry", _schema_v4_key_expiry),
    ("0005_retention", _schema_v5_retention),
)
_KNOWN_MIGRATIONS = frozenset(name for name, _ in MIGRATIONS)


def _schema_state(conn: sqlite3.Connection) -> tuple[list[str], list[str]]:
    """(the meterlib migrations applied, every table) of the database."""
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
            "ESCAPE '\\' ORDER BY name"
        )
    ]
    applied: list[str] = []
    if "_sqlite_migrations" in tables:
        applied = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid",
                (MIGRATION_SET,),
            )
        ]
    return applied, tables


def _pending(conn: sqlite3.Connection, path: str) -> list[str]:
    """The migrations still to apply; StoreError for a foreign or a newer database."""
    applied, tables = _schema_state(conn)
    unknown = [name for name in applied if name not in _KNOWN_MIGRATIONS]
    if unknown:
        raise StoreError(
            f"SQLite database {path!r} was written by a newer meterlib (schema migration "
            f"{unknown[0]!r} is unknown to this version); upgrade meterlib to open it"
        )
    if not applied and tables:
        raise StoreError(
            f"SQLite database {path!r} is not a meterlib database (it has the tables "
            f"{', '.join(tables)} and no meterlib schema); meterlib will not write into it, "
            "point SQLiteStore at a new file"
        )
    return [name for name, _ in MIGRATIONS if name not in applied]


def open_schema(
    conn: sqlite3.Connection, path: str, *, memory: bool, read_only: bool = False
) -> None:
    """Refuse a foreign or newer database, switch a file to WAL, create or upgrade the schema.

    Read-only, a file is taken as it is: one that still needs its schema created or upgraded
    is refused, since that would be a write.
    """
    pending = _pending(conn, path)  # first: a file we refuse is left untouched
    if read_only:
        if pending:
            raise StoreError(
                f"SQLite database {path!r} opened read-only has no meterlib ledger or an "
                "older schema; open it once writable (without mode=ro) to create or upgrade it"
            )
        return
    if not memory and conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")  # persistent: recorded in the file
    if not pending:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _pending(conn, path):  # another process may have migrated while we waited
            _apply_migrations(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _apply_migrations(conn: sqlite3.Connection) -> None:
    # sqlite-utils is imported here: opening an up-to-date file never needs it
    from sqlite_utils import Database  # noqa: PLC0415
    from sqlite_utils.migrations import Migrations  # noqa: PLC0415

    migrations = Migrations(MIGRATION_SET)
    for name, step in MIGRATIONS:
        migrations(name=name)(step)
    migrations.apply(Database(conn, execute_plugins=False, recursive_triggers=False))
