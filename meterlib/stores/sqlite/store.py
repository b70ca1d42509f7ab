"""SQLiteStore: the ledger in one SQLite file, shared by the threads and processes of an app.

Every write transaction is `BEGIN IMMEDIATE … COMMIT` (ROLLBACK on any exception), so writers
are serialised across processes by SQLite's write lock and within a process by a lock of
ours; read transactions are deferred `BEGIN`s and, in WAL mode, run beside writers. Each
thread gets its own connection (":memory:" shares one, behind a lock). The schema lives
in `sqlite/schema`, the SQL of each operation in `sqlite/tx`, row conversion in
`stores/rows` and `stores/grant_rows`, what it remembers between statements in
`sqlite/caches`; `sqlite3.Error` becomes `StoreError` here, in `translate_error` alone.
"""

from __future__ import annotations

import os
import pathlib
import sqlite3
import threading
import weakref
from types import TracebackType

from meterlib.errors import StoreError
from meterlib.stores.session_adapter import StateReads
from meterlib.stores.sqlite.caches import FeatureCache, GrantCache, Known
from meterlib.stores.sqlite.schema import MIN_SQLITE, open_schema
from meterlib.stores.sqlite.tx import SQLiteSession
from meterlib.stores.sqlite.waiting import begin, slice_ms

_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_IOERR = 5, 6, 8, 10
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 13, 14, 26


def _locked_message(path: str, timeout: float, holder: str = "another process") -> str:
    return (
        f"SQLite database {path!r}: {holder} holds the write lock for more than "
        f"{timeout:g} s; raise timeout= or shorten transactions"
    )


def translate_error(exc: sqlite3.Error, *, path: str, timeout: float) -> StoreError:
    """The StoreError, saying what to do, for a `sqlite3.Error`; raise it `from exc`."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    where = f"SQLite database {path!r}"
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        message = _locked_message(path, timeout)
    elif primary == _SQLITE_FULL:
        message = f"{where}: the disk is full; free some space and retry"
    elif primary == _SQLITE_READONLY:
        message = (
            f"{where} is read-only; give this process write permission on the file, its "
            "folder and its -wal and -shm files, or open a writable copy"
        )
    elif primary in (_SQLITE_NOTADB, _SQLITE_CORRUPT):
        message = (
            f"{where} is not a meterlib database or is corrupt; point SQLiteStore at a new "
            "file, or restore the file from a backup"
        )
    elif primary == _SQLITE_CANTOPEN:
        message = (
            f"{where} cannot be opened; check that its folder exists and that this process "
            "may write there (SQLite keeps -wal and -shm files beside the database)"
        )
    elif primary == _SQLITE_IOERR:
        message = f"{where}: disk I/O error; check the disk and the file system"
    elif isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc):
        message = f"{where}: the store is closed; open a new SQLiteStore"
    else:
        message = f"{where}: unexpected SQLite error"
    return StoreError(f"{message} ({type(exc).__name__}: {exc})")


class _Connection:
    """A connection, the transaction nesting of the thread using it, and what it knows."""

    __slots__ = ("__weakref__", "conn", "depth", "known", "write")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.depth = 0
        self.write = False
        self.known = Known()


class _Transaction:
    """`store.transaction()`: BEGIN on enter; COMMIT, or ROLLBACK on an exception, on exit.

    A transaction opened inside another one on the same thread is a SAVEPOINT of it.
    """

    __slots__ = ("_held", "_savepoint", "_session", "_slot", "_store", "_write")

    def __init__(self, store: SQLiteStore, write: bool) -> None:
        self._store = store
        self._write = write
        self._held: threading.Lock | threading.RLock | None = None
        self._savepoint: str | None = None

    def __enter__(self) -> SQLiteSession:
        store = self._store
        slot = store._slot()
        write = self._write
        if store._shared is not None:  # one connection: every transaction queues
            lock: threading.Lock | threading.RLock | None = store._shared_lock
        elif write and not slot.depth:
            lock = store._write_lock  # our threads queue here, not in SQLite's busy loop
        else:
            lock = None
        if lock is not None and not lock.acquire(timeout=store._timeout):
            raise StoreError(
                _locked_message(store.path, store._timeout, "another thread of this process")
            )
        try:
            if slot.depth:
                if write and not slot.write:
                    raise RuntimeError("a write transaction cannot be nested in a read transaction")
                self._savepoint = f"meterlib_{slot.depth}"
                slot.conn.execute(f"SAVEPOINT {self._savepoint}")
            else:
                version = begin(slot.conn, write=write, timeout=store._timeout)
                slot.write = write
                slot.known.begin(version)
        except BaseException as exc:
            if not slot.depth and slot.conn.in_transaction:  # BEGIN ran, data_version failed
                slot.known.forget()
                try:
                    slot.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    store._abandon(slot)
            if lock is not None:
                lock.release()
            if isinstance(exc, sqlite3.Error):
                raise store._error(exc) from exc
            raise
        slot.depth += 1
        self._slot = slot
        self._held = lock
        self._session = SQLiteSession(
            slot.conn,
            write=write,
            features=store._features,
            grants=store._grants,
            known=slot.known,
        )
        return self._session

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._session.end()
        slot = self._slot
        conn = slot.conn
        savepoint = self._savepoint
        failure: sqlite3.Error | None = None
        if exc is not None:
            self._store._features.clear()  # before the rollback, which may undo rows it holds
            slot.known.forget(keep_seq=savepoint is not None)
        try:
            if exc is None:
                conn.execute("COMMIT" if savepoint is None else f"RELEASE {savepoint}")
            elif conn.in_transaction:  # a failed statement may have rolled back already
                if savepoint is None:
                    conn.execute("ROLLBACK")
                else:
                    conn.execute(f"ROLLBACK TO {savepoint}")
                    conn.execute(f"RELEASE {savepoint}")
        except sqlite3.Error as error:
            failure = error
            slot.known.forget(keep_seq=savepoint is not None)
            if savepoint is None and conn.in_transaction:
                self._store._features.clear()
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    self._store._abandon(slot)  # never reuse a connection stuck mid-transaction
        finally:
            slot.depth -= 1
            if self._held is not None:
                self._held.release()
        if isinstance(exc, sqlite3.Error):
            raise self._store._error(exc) from exc
        if failure is not None and exc is None:
            raise self._store._error(failure) from failure


# --- the store ---------------------------------------------------------------------------

_OPEN_STORES: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for store in list(_OPEN_STORES):
        store._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class SQLiteStore(StateReads):
    """The ledger in a SQLite file (or ":memory:"), created with its schema on first use.

    Threads and processes may share the file: each write transaction holds SQLite's write
    lock, waiting up to `timeout` seconds for it before raising `StoreError`.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float = 30.0, read_only: bool = False
    ) -> None:
        raw = os.fspath(path)
        self._memory = raw in (":memory:", "")
        self.path = ":memory:" if self._memory else os.path.abspath(raw)
        # read_only opens the file with SQLite's mode=ro: reads work on a file this process
        # may not write, and every write transaction fails with a "read-only" StoreError
        self.read_only = read_only and not self._memory
        self._immutable = False
        self._timeout = float(timeout)
        self._schema_open = False  # until then a connection waits the whole timeout at once
        self._closed = False
        self._local = threading.local()
        self._slots: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._slots_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._shared_lock = threading.RLock()
        self._shared: _Connection | None = None
        self._features = FeatureCache()
        self._grants = GrantCache()
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(
                f"SQLiteStore needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer; this "
                f"Python uses SQLite {sqlite3.sqlite_version}"
            )
        slot = self._connect()
        try:
            try:
                open_schema(slot.conn, self.path, memory=self._memory, read_only=self.read_only)
            except sqlite3.Error:
                # mode=ro still needs a -shm file beside a WAL database; in a folder it may
                # not write, with no -wal left (all committed into the file), the file is
                # complete and no writer can be at work, so it is read as immutable
                if not self.read_only or os.path.exists(self.path + "-wal"):
                    raise
                self._immutable = True
                slot.conn.close()
                slot = self._connect()
                open_schema(slot.conn, self.path, memory=False, read_only=True)
            self._schema_open = True
            slot.conn.execute(f"PRAGMA busy_timeout = {slice_ms(self._timeout)}")
        except sqlite3.Error as exc:
            self.close()
            raise self._error(exc) from exc
        except BaseException:
            self.close()
            raise
        if self._memory:
            self._shared = slot
        _OPEN_STORES.add(self)

    def _error(self, exc: sqlite3.Error) -> StoreError:
        return translate_error(exc, path=self.path, timeout=self._timeout)

    def _connect(self) -> _Connection:
        """A new connection for the calling thread, registered so `close()` can reach it."""
        try:
            conn = sqlite3.connect(
                self._uri() if self.read_only else self.path,
                uri=self.read_only,
                timeout=self._timeout,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # close() closes every thread's connection
                cached_statements=256,
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a committed
            # transaction survives a crash of the application (SIGKILL included) and the file
            # is never corrupted; only a power loss or OS crash can drop the last commits.
            if not self.read_only:  # (read-only, it would already read the file)
                conn.execute("PRAGMA synchronous = NORMAL")
            if self._schema_open:  # waits for the lock are `begin`'s, in short slices
                conn.execute(f"PRAGMA busy_timeout = {slice_ms(self._timeout)}")
        except sqlite3.Error as exc:
            conn.close()
            raise self._error(exc) from exc
        slot = _Connection(conn)
        with self._slots_lock:
            if self._closed:
                conn.close()
                raise StoreError(f"SQLite database {self.path!r}: the store is closed")
            self._slots.add(slot)
        if not self._memory:
            self._local.slot = slot
        return slot

    def _uri(self) -> str:
        mode = "immutable=1" if self._immutable else "mode=ro"
        return f"{pathlib.Path(self.path).as_uri()}?{mode}"

    def _slot(self) -> _Connection:
        if self._closed:
            raise StoreError(f"SQLite database {self.path!r}: the store is closed")
        shared = self._shared
        if shared is not None:
            return shared
        slot: _Connection | None = getattr(self._local, "slot", None)
        return slot if slot is not None else self._connect()

    def _abandon(self, slot: _Connection) -> None:
        """Close a connection left mid-transaction; the thread's next transaction reconnects."""
        if self._memory:
            return  # the data lives in this one connection: nothing better to do than keep it
        if getattr(self._local, "slot", None) is slot:
            del self._local.slot
        slot.conn.close()

    def _after_fork(self) -> None:
        # A child must not use its parent's connections (SQLite's rule); it opens its own.
        self._local = threading.local()
        self._slots = weakref.WeakSet()
        self._slots_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._shared_lock = threading.RLock()

    def transaction(self, *, write: bool = True) -> _Transaction:
        """A unit of work: `BEGIN IMMEDIATE` (or `BEGIN` for `write=False`) … `COMMIT`."""
        return _Transaction(self, write)

    def close(self) -> None:
        """Close every connection; the store is unusable afterwards. Idempotent."""
        with self._slots_lock:
            self._closed = True
            slots = list(self._slots)
            self._slots = weakref.WeakSet()
        for slot in slots:
            slot.conn.close()
        self._shared = None
        _OPEN_STORES.discard(self)

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r}{', read_only=True' if self.read_only else ''})"
