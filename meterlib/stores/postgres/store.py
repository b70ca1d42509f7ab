"""PostgresStore: one ledger shared by many application servers, in a PostgreSQL database.

Tables live in their own schema ("meterlib" unless told otherwise), created and migrated on
first use under an advisory lock, so servers starting together never race on DDL
(`migrations`). Rows are converted in `rows` alone; psycopg's errors become `StoreError` in
`translate_error` alone (`errors`). This module holds the store, its connection pool and its
transactions; the unit of work they yield is in `tx`, the one-statement load in `load`, the
writes of an `Effects` in `writes`, and how statements share round trips in `wire`.

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

Round trips. BEGIN goes with a transaction's first statement, `load` sends the locks and its
one load statement with it (one round trip), `apply` sends nothing until the commit, which
carries the writes (one more); `read` is one statement in autocommit, itself a snapshot.
"""

from __future__ import annotations

import os
import threading
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

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
from meterlib.state import CustomerState, Want
from meterlib.stores.postgres import rows as pg
from meterlib.stores.postgres import simple
from meterlib.stores.postgres.errors import describe, translate_error
from meterlib.stores.postgres.load import Loader
from meterlib.stores.postgres.migrations import migrate
from meterlib.stores.postgres.rows import Connection
from meterlib.stores.postgres.tx import PostgresSession
from meterlib.stores.postgres.wire import CONNECT_ATTEMPTS, Slot, Step, exchange


def _configure(conn: Connection) -> None:
    """Each new pooled connection: JSON columns read as text (`sqlite_rows` parses them)."""
    conn.adapters.register_loader("json", TextLoader)
    conn.adapters.register_loader("jsonb", TextLoader)


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
            # the writes pending so far belong to the outer transaction: they go first
            exchange(store, slot, (Step(f"SAVEPOINT {self._savepoint}"),))
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
        failure: BaseException | None = None
        try:
            if exc is not None:
                slot.pending.clear()  # written inside the failed (sub)transaction: dropped
            if savepoint is not None:
                if exc is None:  # the writes pending inside it go before the release
                    exchange(self._store, slot, (Step(f"RELEASE SAVEPOINT {savepoint}"),))
                else:
                    simple.roll_back(conn, f"ROLLBACK TO SAVEPOINT {savepoint}")
                    conn.execute(f"RELEASE SAVEPOINT {savepoint}")
                    # locks taken inside the savepoint were released with it
                    slot.locked.intersection_update(self._locked_before)
            elif exc is None:
                if slot.begun or slot.pending:  # nothing sent, nothing to end
                    exchange(self._store, slot, (), commit=True)
            elif slot.begun and not conn.closed and not conn.broken:
                simple.roll_back(conn)
        except (psycopg.Error, StoreError) as error:
            failure = error
        finally:
            slot.depth -= 1
            if savepoint is None:
                self._store._end(slot)
        if isinstance(exc, psycopg.Error):
            raise self._store._error(exc) from exc
        if failure is not None and exc is None:
            # exchange raises StoreErrors already translated: keep them and their cause
            cause = failure.__cause__ if isinstance(failure, StoreError) else failure
            translated = failure if isinstance(failure, StoreError) else self._store._error(failure)
            conn = slot.conn
            if savepoint is None and (conn.closed or conn.broken):
                translated = StoreError(
                    f"{self._store.where}: the connection was lost while committing; the "
                    f"transaction may or may not have been applied ({cause})"
                )
            raise translated from cause


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
        self._loader = Loader(self._sql)
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

    def _current(self) -> Slot | None:
        if os.getpid() != self._pid:
            return None
        slot: Slot | None = getattr(self._local, "slot", None)
        return slot

    def _begin(self, write: bool) -> Slot:
        """A pooled connection for a new transaction. BEGIN is not sent here: it goes with
        the transaction's first statement (`wire.exchange`), which also replaces a
        connection the server dropped while it was idle."""
        try:
            conn = self._pool_here().getconn(timeout=self._timeout)
        except (PoolTimeout, PoolClosed) as exc:
            raise self._error(exc) from exc
        slot = Slot(conn, write=write)
        self._local.slot = slot
        return slot

    def _replace(self, slot: Slot) -> None:
        """Give `slot` another pooled connection in place of its lost one."""
        pool = self._pool_here()
        pool.putconn(slot.conn)  # a broken connection is discarded and replaced
        try:
            slot.conn = pool.getconn(timeout=self._timeout)
        except (PoolTimeout, PoolClosed) as exc:
            raise self._error(exc) from exc
        slot.locked.clear()

    def _end(self, slot: Slot) -> None:
        self._local.slot = None
        if os.getpid() == self._pid:
            self._pool.putconn(slot.conn)

    # --- the Store protocol

    def transaction(self, *, write: bool = True) -> _Transaction:
        """A unit of work: READ COMMITTED with per-customer locks, or (`write=False`) a
        REPEATABLE READ READ ONLY snapshot."""
        return _Transaction(self, write)

    def read(self, want: Want) -> CustomerState:
        """The working state of `want` as committed now, without locks: ONE statement in
        autocommit (itself a consistent snapshot). Inside an open transaction of this
        thread, that transaction's view instead."""
        slot = self._current()
        if slot is not None:
            return PostgresSession(self, slot, write=False).load(want)
        if want.seqs:
            raise RuntimeError("read() cannot reserve sequence numbers; use a transaction")
        sql, params = self._loader.statement(want, known := self._loader.known)
        pool = self._pool_here()
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                conn = pool.getconn(timeout=self._timeout)
            except (PoolTimeout, PoolClosed) as exc:
                raise self._error(exc) from exc
            try:
                row = conn.execute(sql, params).fetchone()
            except psycopg.Error as exc:
                if not (conn.closed or conn.broken) or attempt == CONNECT_ATTEMPTS:
                    raise self._error(exc) from exc
                continue  # a connection dropped while idle: another one
            finally:
                pool.putconn(conn)
            return self._loader.decode(want, row or (), known)
        raise AssertionError("unreachable")  # pragma: no cover

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
