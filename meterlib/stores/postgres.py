"""PostgresStore: one ledger shared by many application servers, in a PostgreSQL database.

Tables live in their own schema ("meterlib" unless told otherwise), created and migrated on
first use under an advisory lock, so servers starting together never race on DDL. Rows are
converted in `postgres_rows` alone; psycopg's errors become `StoreError` in `translate_error`
alone.

How writers of one customer serialise. A write transaction runs at READ COMMITTED, where
every statement reads the latest committed data. Before its first read or write of a
customer's state (customer, entities, grants, locks, counters) it takes that customer's
transaction-scoped advisory lock, `pg_advisory_xact_lock(key)`, in a statement of its own;
PostgreSQL releases the lock only after the holder's commit is visible, and every later
statement of the waiter reads afresh. So the Ledger's read-decide-write of one customer is
never interleaved with another's, on any server: no lost update, and the last unit is spent
once. The lock also covers rows that do not exist yet (a customer being created), which a
`SELECT … FOR UPDATE` cannot. Idempotency keys and lock ids take a lock of their own before
they are read, so two servers cannot both claim one. Read transactions are REPEATABLE READ
READ ONLY snapshots and take no locks.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from attrs import evolve

try:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict
    from psycopg.types.string import TextLoader
    from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        'PostgresStore needs psycopg 3 and psycopg-pool: pip install "meterlib[postgres]"'
    ) from exc

from meterlib.errors import InvalidRequest, StoreError
from meterlib.models import Counter, Customer, Entity, EventRecord, Feature, Grant, Lock
from meterlib.stores import postgres_rows as pg
from meterlib.stores import sqlite_rows as rows

Connection = psycopg.Connection[tuple[Any, ...]]

CONNECT_ATTEMPTS = 3  # a pooled connection the server dropped while idle fails at BEGIN: retry
_BEGIN_WRITE = "BEGIN ISOLATION LEVEL READ COMMITTED"
_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
_MIGRATION_LOCK = "migrate"


def describe(url: str) -> str:
    """Where `url` points, without its password: "PostgreSQL database 'db' on host:port"."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "PostgreSQL (unparsable URL)"
    host = info.get("host") or info.get("hostaddr") or "the local socket"
    port = f":{info['port']}" if info.get("port") else ""
    return f"PostgreSQL database {info.get('dbname') or '(default)'!r} on {host}{port}"


def translate_error(exc: BaseException, *, where: str, timeout: float) -> StoreError:
    """The StoreError, saying what to do, for a psycopg or pool error; raise it `from exc`."""
    state = getattr(exc, "sqlstate", None)
    if isinstance(exc, PoolTimeout):
        message = (
            f"no free connection within {timeout:g} s; raise max_size (and the server's "
            "max_connections) or timeout=, or shorten transactions"
        )
    elif isinstance(exc, PoolClosed):
        message = "the store is closed; open a new PostgresStore"
    elif state == "40001":
        message = "a serialization failure aborted the transaction; nothing was written, retry"
    elif state == "40P01":
        message = "a deadlock aborted the transaction; nothing was written, retry"
    elif state == "55P03":
        message = (
            f"another transaction held the customer (or key) for more than {timeout:g} s; "
            "nothing was written, retry or raise timeout="
        )
    elif state == "57014":
        message = "the statement was cancelled (statement_timeout or a cancel request)"
    elif state in ("28000", "28P01"):
        message = "authentication failed; check the user and password in the URL"
    elif state == "3D000":
        message = "the database does not exist; create it first"
    elif state == "42501":
        message = (
            "permission denied; the user needs CREATE on the database (or an existing "
            "schema) and rights on meterlib's tables"
        )
    elif state in ("53300", "53400"):
        message = "the server refuses more connections; lower max_size or raise max_connections"
    elif state in ("53100", "53200"):
        message = "the server is out of disk space or memory"
    elif isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        message = "the connection failed or was lost; check that the server is up and reachable"
    else:
        message = "unexpected PostgreSQL error"
    return StoreError(f"{where}: {message} ({type(exc).__name__}: {exc})".rstrip())


def _configure(conn: Connection) -> None:
    """Each new pooled connection: JSON columns read as text (`sqlite_rows` parses them)."""
    conn.adapters.register_loader("json", TextLoader)
    conn.adapters.register_loader("jsonb", TextLoader)


class PostgresSession:
    """A unit of work on one connection; see `meterlib.stores.protocol.StoreSession`."""

    __slots__ = ("_conn", "_locked", "_sql", "_store", "_write")

    def __init__(self, store: PostgresStore, slot: _Slot, *, write: bool) -> None:
        self._store = store
        self._conn = slot.conn
        self._locked = slot.locked
        self._sql = store._sql
        self._write = write

    # --- plumbing

    def _run(self, sql: str, params: Iterable[Any] = ()) -> psycopg.Cursor[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, tuple(params))
        except psycopg.Error as exc:
            raise self._store._error(exc) from exc

    def _run_many(self, sql: str, params: list[tuple[Any, ...]]) -> None:
        if not params:
            return
        try:
            with self._conn.cursor() as cursor:
                cursor.executemany(sql, params)
        except psycopg.Error as exc:
            raise self._store._error(exc) from exc

    def _writable(self) -> None:
        if not self._write:
            raise RuntimeError("write in a read-only transaction")

    def _lock(self, kind: str, name: str) -> None:
        """Hold `kind` `name` until this transaction ends (write transactions only)."""
        if not self._write:
            return
        key = pg.lock_key(self._sql.schema, kind, name)
        if key not in self._locked:
            self._run(self._sql.lock, (key,))
            self._locked.add(key)

    # --- sequences and catalogue

    def next_seq(self, kind: str) -> int:
        """A number larger than any returned before for `kind`, by a sequence shared by every
        server (numbers taken by a rolled-back transaction are skipped, not reused)."""
        self._writable()
        name = pg.sequence_name(self._sql.schema, kind)
        if kind not in pg.PRECREATED_SEQUENCES:
            (exists,) = self._one(self._sql.sequence_exists, (name,))
            if not exists:
                self._lock("sequence", kind)
                self._run(self._sql.create_sequence.format(name))
        (value,) = self._one("SELECT nextval(%s)", (name,))
        return int(value)

    def _one(self, sql: str, params: Iterable[Any]) -> tuple[Any, ...]:
        row = self._run(sql, params).fetchone()
        if row is None:  # pragma: no cover - these statements always return a row
            raise StoreError(f"{self._store.where}: no row from {sql!r}")
        return row

    def get_feature(self, feature_id: str) -> Feature | None:
        """The feature, or None."""
        row = self._run(self._sql.get_feature, (feature_id,)).fetchone()
        return None if row is None else rows.feature_from_row(row)

    def list_features(self) -> list[Feature]:
        """Every feature, in `seq` order."""
        return [rows.feature_from_row(r) for r in self._run(self._sql.list_features)]

    def add_feature(self, feature: Feature) -> None:
        """Insert a new feature. If another server created the same id since this
        transaction read the catalogue, an identical definition is kept as it is and a
        different one is a StoreError (never silently overwritten)."""
        self._writable()
        cursor = self._run(self._sql.add_feature, rows.feature_to_row(feature))
        if cursor.rowcount == 1:
            return
        stored = self.get_feature(feature.id)
        if stored is not None and stored == evolve(feature, seq=stored.seq):
            return
        raise StoreError(
            f"{self._store.where}: feature {feature.id!r} was just created by another "
            "transaction with a different definition; nothing was written, retry"
        )

    def get_customer(self, customer_id: str) -> Customer | None:
        """The customer, or None; a write transaction first takes the customer's lock."""
        self._lock("customer", customer_id)
        row = self._run(self._sql.get_customer, (customer_id,)).fetchone()
        return None if row is None else rows.customer_from_row(row)

    def list_customers(self) -> list[Customer]:
        """Every customer, in id order."""
        return [rows.customer_from_row(r) for r in self._run(self._sql.list_customers)]

    def put_customer(self, customer: Customer) -> None:
        """Insert or replace by id."""
        self._writable()
        self._lock("customer", customer.id)
        self._run(self._sql.put_customer, rows.customer_to_row(customer))

    def get_entity(self, customer_id: str, entity_id: str) -> Entity | None:
        """The entity, or None."""
        self._lock("customer", customer_id)
        row = self._run(self._sql.get_entity, (customer_id, entity_id)).fetchone()
        return None if row is None else rows.entity_from_row(row)

    def list_entities(self, customer_id: str) -> list[Entity]:
        """The customer's entities, in id order."""
        self._lock("customer", customer_id)
        return [rows.entity_from_row(r) for r in self._run(self._sql.list_entities, (customer_id,))]

    def put_entity(self, entity: Entity) -> None:
        """Insert or replace by (customer_id, id)."""
        self._writable()
        self._lock("customer", entity.customer_id)
        self._run(self._sql.put_entity, rows.entity_to_row(entity))

    # --- grants

    def list_grants(self, customer_id: str) -> list[Grant]:
        """Every grant of the customer and its entities, in `seq` order."""
        self._lock("customer", customer_id)
        return [pg.grant_from_row(r) for r in self._run(self._sql.list_grants, (customer_id,))]

    def put_grants(self, grants: Iterable[Grant]) -> None:
        """Insert or replace each grant by id."""
        self._writable()
        batch = list(grants)
        for customer_id in sorted({g.customer_id for g in batch}):
            self._lock("customer", customer_id)
        self._run_many(self._sql.put_grant, [pg.grant_to_row(g) for g in batch])

    def delete_grants(self, grant_ids: Iterable[str]) -> None:
        """Remove the grants (their rollovers live in the same row); unknown ids are ignored."""
        self._writable()
        ids = list(grant_ids)
        if ids:
            self._run(self._sql.delete_grants, (ids,))

    # --- locks

    def get_lock(self, lock_id: str) -> Lock | None:
        """The open lock, or None. A write transaction first takes the lock's customer's
        lock (or, for an id not in use, the id's own), then reads the lock afresh."""
        if self._write:
            owner = self._run(self._sql.lock_owner, (lock_id,)).fetchone()
            if owner is None:
                self._lock("lock", lock_id)
                owner = self._run(self._sql.lock_owner, (lock_id,)).fetchone()
            if owner is not None:
                self._lock("customer", owner[0])
        row = self._run(self._sql.get_lock, (lock_id,)).fetchone()
        return None if row is None else pg.lock_from_row(row)

    def list_locks(self, customer_id: str) -> list[Lock]:
        """The customer's open locks, in creation order."""
        self._lock("customer", customer_id)
        return [pg.lock_from_row(r) for r in self._run(self._sql.list_locks, (customer_id,))]

    def put_lock(self, lock: Lock) -> None:
        """Insert or replace by lock_id."""
        self._writable()
        self._lock("customer", lock.customer_id)
        self._run(self._sql.put_lock, pg.lock_to_row(lock))

    def delete_lock(self, lock_id: str) -> None:
        """Remove the lock; an unknown id is ignored."""
        self._writable()
        self._run(self._sql.delete_lock, (lock_id,))

    # --- events

    def add_event(self, event: EventRecord) -> None:
        """Record the event."""
        self._writable()
        self._run(self._sql.add_event, pg.event_to_row(event))

    def list_events(
        self,
        *,
        customer_id: str | None,
        feature_id: str | None,
        entity_id: str | None,
        start: int | None,
        end: int | None,
        before: tuple[int, int] | None,
        limit: int,
    ) -> list[EventRecord]:
        """Newest first by (timestamp, seq); see the protocol for the filters."""
        params: list[Any] = [v for v in (customer_id, entity_id, start, end) if v is not None]
        if before is not None:
            params.extend(before)
        if feature_id is not None:
            params.append(feature_id)
        params.append(limit)
        sql = self._sql.list_events(
            (
                customer_id is not None,
                entity_id is not None,
                start is not None,
                end is not None,
                before is not None,
                feature_id is not None,
            )
        )
        return [pg.event_from_row(r) for r in self._run(sql, params)]

    # --- idempotency keys

    def get_idempotency_key(self, key: str) -> int | None:
        """The instant (ms) until which `key` is claimed, or None. A write transaction first
        takes the key's lock, so a claim made by another server is seen, never raced."""
        self._lock("key", key)
        row = self._run(self._sql.get_key, (key,)).fetchone()
        return None if row is None else int(row[0])

    def put_idempotency_key(self, key: str, expires_at: int) -> None:
        """Claim `key` until `expires_at`, replacing any older claim."""
        self._writable()
        self._lock("key", key)
        self._run(self._sql.put_key, (key, expires_at))

    # --- counters

    def list_counters(self, customer_id: str) -> list[Counter]:
        """The customer's counters, in key order."""
        self._lock("customer", customer_id)
        found = self._run(self._sql.list_counters, (customer_id,))
        return [pg.counter_from_row(r) for r in found]

    def put_counters(self, counters: Iterable[Counter]) -> None:
        """Insert or replace each counter by (customer_id, key)."""
        self._writable()
        batch = list(counters)
        for customer_id in sorted({c.customer_id for c in batch}):
            self._lock("customer", customer_id)
        self._run_many(self._sql.put_counter, [pg.counter_to_row(c) for c in batch])


class _Slot:
    """The connection a thread's open transaction uses, its nesting and the locks it holds."""

    __slots__ = ("conn", "depth", "locked", "write")

    def __init__(self, conn: Connection, *, write: bool) -> None:
        self.conn = conn
        self.depth = 0
        self.write = write
        self.locked: set[int] = set()


class _Transaction(AbstractContextManager[PostgresSession]):
    """`store.transaction()`: BEGIN on enter; COMMIT, or ROLLBACK on an exception, on exit.

    A transaction opened inside another one on the same thread is a SAVEPOINT of it.
    """

    __slots__ = ("_locked_before", "_savepoint", "_slot", "_store", "_write")

    def __init__(self, store: PostgresStore, write: bool) -> None:
        self._store = store
        self._write = write
        self._savepoint: str | None = None
        self._locked_before: frozenset[int] = frozenset()

    def __enter__(self) -> PostgresSession:
        store = self._store
        slot = store._current()
        if slot is None:
            slot = store._begin(self._write)
        else:
            if self._write and not slot.write:
                raise RuntimeError("a write transaction cannot be nested in a read transaction")
            self._savepoint = f"meterlib_{slot.depth}"
            self._locked_before = frozenset(slot.locked)
            try:
                slot.conn.execute(f"SAVEPOINT {self._savepoint}")
            except psycopg.Error as exc:
                raise store._error(exc) from exc
        slot.depth += 1
        self._slot = slot
        return PostgresSession(store, slot, write=self._write)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        slot = self._slot
        conn = slot.conn
        savepoint = self._savepoint
        failure: psycopg.Error | None = None
        try:
            if savepoint is not None:
                if exc is None:
                    conn.execute(f"RELEASE SAVEPOINT {savepoint}")
                else:
                    conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                    conn.execute(f"RELEASE SAVEPOINT {savepoint}")
                    # locks taken inside the savepoint were released with it
                    slot.locked.intersection_update(self._locked_before)
            elif exc is None:
                conn.execute("COMMIT")
            elif not conn.closed and not conn.broken:
                conn.execute("ROLLBACK")
        except psycopg.Error as error:
            failure = error
        finally:
            slot.depth -= 1
            if savepoint is None:
                self._store._end(slot)
        if isinstance(exc, psycopg.Error):
            raise self._store._error(exc) from exc
        if failure is not None and exc is None:
            translated = self._store._error(failure)
            if savepoint is None and (conn.closed or conn.broken):
                translated = StoreError(
                    f"{self._store.where}: the connection was lost while committing; the "
                    f"transaction may or may not have been applied ({failure})"
                )
            raise translated from failure


class PostgresStore:
    """The ledger in a PostgreSQL database, shared by every process and server that opens it.

    `PostgresStore("postgresql://user:password@host:5432/db", min_size=1, max_size=10)`:
    each process keeps a pool of `min_size` to `max_size` connections (a transaction holds
    one). `timeout` bounds, in seconds, the wait for a connection and for another server's
    hold on the same customer. Tables go in the PostgreSQL schema `schema`, created on first
    use. Open one store per process: a forked child opens its own connections.
    """

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 30.0,
        schema: str = "meterlib",
    ) -> None:
        if not isinstance(url, str):
            raise InvalidRequest(f"url: expected a postgresql:// URL, got {url!r}", field="url")
        for name, value in (("min_size", min_size), ("max_size", max_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidRequest(f"{name}: expected an int >= 0, got {value!r}", field=name)
        if max_size < max(min_size, 1):
            raise InvalidRequest(
                f"max_size: must be >= min_size and >= 1 (got min_size={min_size}, "
                f"max_size={max_size})",
                field="max_size",
            )
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise InvalidRequest(f"timeout: expected seconds > 0, got {timeout!r}", field="timeout")
        try:
            self._sql = pg.Statements(schema)
        except ValueError as exc:
            raise InvalidRequest(str(exc), field="schema") from None
        self.url = url
        self.where = describe(url)
        self.schema = schema
        self._min_size = min_size
        self._max_size = max_size
        self._timeout = float(timeout)
        self._closed = False
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pid = os.getpid()
        migrate(url, self._sql, where=self.where, timeout=self._timeout)
        self._pool = self._open_pool()

    # --- connections

    def _error(self, exc: BaseException) -> StoreError:
        return translate_error(exc, where=self.where, timeout=self._timeout)

    def _open_pool(self) -> ConnectionPool[Connection]:
        # lock_timeout bounds every wait for a lock another transaction holds
        info = conninfo_to_dict(self.url)
        settings: dict[str, Any] = {
            "autocommit": True,  # transactions are BEGIN … COMMIT of ours
            "options": f"{info.get('options') or ''} -c lock_timeout={round(self._timeout * 1000)}",
        }
        if not info.get("connect_timeout"):
            settings["connect_timeout"] = max(1, round(self._timeout))
        pool: ConnectionPool[Connection] = ConnectionPool(
            self.url,
            min_size=self._min_size,
            max_size=self._max_size,
            kwargs=settings,
            configure=_configure,
            timeout=self._timeout,
            name=f"meterlib {self.where}",
            open=False,
        )
        try:
            pool.open(wait=self._min_size > 0, timeout=self._timeout)
        except PoolTimeout as exc:
            pool.close()
            raise StoreError(
                f"{self.where}: could not open {self._min_size} connection(s) within "
                f"{self._timeout:g} s ({exc})"
            ) from exc
        return pool

    def _pool_here(self) -> ConnectionPool[Connection]:
        if self._closed:
            raise StoreError(f"{self.where}: the store is closed; open a new PostgresStore")
        if os.getpid() != self._pid:
            # A forked child must not touch its parent's connections (they share sockets):
            # it leaves them alone and opens its own pool.
            with self._lock:
                if os.getpid() != self._pid:
                    self._local = threading.local()
                    self._pool = self._open_pool()
                    self._pid = os.getpid()
        return self._pool

    def _current(self) -> _Slot | None:
        if os.getpid() != self._pid:
            return None
        slot: _Slot | None = getattr(self._local, "slot", None)
        return slot

    def _begin(self, write: bool) -> _Slot:
        """A pooled connection with a transaction begun on it. A connection that fails at
        BEGIN has done nothing, so another one is tried (CONNECT_ATTEMPTS in all)."""
        pool = self._pool_here()
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                conn = pool.getconn(timeout=self._timeout)
            except (PoolTimeout, PoolClosed) as exc:
                raise self._error(exc) from exc
            try:
                conn.execute(_BEGIN_WRITE if write else _BEGIN_READ)
            except psycopg.Error as exc:
                lost = conn.closed or conn.broken
                pool.putconn(conn)  # a broken connection is discarded and replaced
                if not lost or attempt == CONNECT_ATTEMPTS:
                    raise self._error(exc) from exc
                continue
            slot = _Slot(conn, write=write)
            self._local.slot = slot
            return slot
        raise AssertionError("unreachable")  # pragma: no cover

    def _end(self, slot: _Slot) -> None:
        self._local.slot = None
        if os.getpid() == self._pid:
            self._pool.putconn(slot.conn)

    # --- the Store protocol

    def transaction(self, *, write: bool = True) -> _Transaction:
        """A unit of work: READ COMMITTED with per-customer locks, or (`write=False`) a
        REPEATABLE READ READ ONLY snapshot."""
        return _Transaction(self, write)

    def close(self) -> None:
        """Close every pooled connection; the store is unusable afterwards. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if os.getpid() == self._pid:
            self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self.where}, schema={self.schema!r})"


# --- schema and migrations ---------------------------------------------------------------


def migrate(url: str, sql: pg.Statements, *, where: str, timeout: float) -> None:
    """Create or upgrade the schema, once, however many processes start at the same time."""
    try:
        conn: Connection = psycopg.connect(
            url, autocommit=True, connect_timeout=max(1, round(timeout))
        )
    except psycopg.Error as exc:
        raise translate_error(exc, where=where, timeout=timeout) from exc
    schema = pg.quote_schema(sql.schema)
    try:
        with conn:
            if _applied(conn, sql.schema, where) == pg.LATEST_VERSION:
                return
            with conn.transaction():
                # Serialise the migrating processes; the loser finds the work done.
                conn.execute(sql.lock, (pg.lock_key(sql.schema, _MIGRATION_LOCK, ""),))
                applied = _applied(conn, sql.schema, where)
                if applied == pg.LATEST_VERSION:
                    return
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                conn.execute(pg.SCHEMA_VERSION_TABLE.format(s=schema))
                for version, name, ddl in pg.MIGRATIONS:
                    if version > applied:
                        conn.execute(ddl.format(s=schema))
                        conn.execute(
                            f"INSERT INTO {schema}.schema_version (version, name) VALUES (%s, %s)",
                            (version, name),
                        )
    except psycopg.Error as exc:
        raise translate_error(exc, where=where, timeout=timeout) from exc


def _applied(conn: Connection, schema: str, where: str) -> int:
    """The schema's version (0: none yet); StoreError for a foreign or a newer schema."""
    found = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL, "
        "(SELECT count(*) FROM pg_tables WHERE schemaname = %s)",
        (f"{pg.quote_schema(schema)}.schema_version", schema),
    ).fetchone()
    has_versions, tables = found if found is not None else (False, 0)
    if not has_versions:
        if tables:
            raise StoreError(
                f"{where}: schema {schema!r} holds {tables} table(s) that are not meterlib's; "
                "meterlib will not write into it, pass another schema="
            )
        return 0
    versions = [
        v
        for (v,) in conn.execute(
            f"SELECT version FROM {pg.quote_schema(schema)}.schema_version ORDER BY version"
        )
    ]
    newer = [v for v in versions if v > pg.LATEST_VERSION]
    if newer:
        raise StoreError(
            f"{where}: schema {schema!r} was written by a newer meterlib (schema version "
            f"{newer[-1]}, this one knows up to {pg.LATEST_VERSION}); upgrade meterlib"
        )
    return max(versions, default=0)
