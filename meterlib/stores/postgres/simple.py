"""A round trip of several statements as ONE simple-protocol query string.

On loopback, psycopg's pipeline costs about as much per statement as a round trip (a 4-statement
pipeline measured 500 µs, the same 4 statements as one query string 160 µs), so a track's two
exchanges went at pipeline speed. Here every statement with parameters runs as `EXECUTE` of a
server-side prepared statement (prepared once per connection, in a query of its own), its
arguments as literals psycopg quotes client-side (`ClientCursor.mogrify`, the connection's
encoding), all joined into one string: one message out, one back, and no planning. A failing
statement aborts the rest of the string, as in a pipeline; the first error is raised.
"""

from __future__ import annotations

import hashlib
import re
import threading
import weakref
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import psycopg
from psycopg import ClientCursor
from psycopg.errors import error_from_result
from psycopg.pq import ExecStatus, TransactionStatus

MAX_STATEMENTS = 64  # more (a restore's thousands of rows) go as a pipeline of executemany
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")


class Step(Protocol):
    @property
    def sql(self) -> str: ...
    @property
    def params(self) -> Any: ...
    @property
    def many(self) -> bool: ...


class Rows(Protocol):
    """What callers read of a statement's outcome (a psycopg cursor, or a `Result`)."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> tuple[Any, ...] | None: ...
    def fetchall(self) -> list[tuple[Any, ...]]: ...
    def __iter__(self) -> Any: ...


class Result:
    """What a caller reads of one statement: its rows and its row count."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def __iter__(self) -> Any:
        return iter(self._rows)


class Prepared(NamedTuple):
    sql: str  # as the caller wrote it
    name: str
    text: str  # the statement with $1, $2 … (or, without placeholders, what is sent as is)
    call: str  # "EXECUTE name(%s, …)" with the caller's own placeholders, in $ order ("": none)


class _Session:
    """What this module knows of one connection: the statements prepared on it."""

    __slots__ = ("__weakref__", "cursor", "prepared")

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.cursor: ClientCursor[Any] = ClientCursor(conn)
        self.prepared: set[str] = set()


_statements: dict[str, Prepared] = {}  # by SQL
_unpreparable: set[str] = set()  # SQL the server would not prepare (a type it cannot infer)
_sessions: weakref.WeakKeyDictionary[Any, _Session] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def prepared(sql: str) -> Prepared:
    """The prepared form of `sql` (built once); its `call` is "" when it has no placeholders."""
    found = _statements.get(sql)
    if found is not None:
        return found
    order: list[str] = []
    names: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        name = match.group(1)
        if name is None:
            order.append("%s")
            return f"${len(order)}"
        if name not in names:
            order.append(f"%({name})s")
            names[name] = len(order)
        return f"${names[name]}"

    text = _PLACEHOLDER.sub(number, sql)
    made = Prepared(sql, "", text, "")
    if order:
        name = "meterlib_" + hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        made = Prepared(sql, name, text, f"EXECUTE {name}({', '.join(order)})")
    with _lock:
        _statements[sql] = made
    return made


def fits(batch: Sequence[Step]) -> bool:
    """Whether `batch` goes as one query string (few statements, every one preparable)."""
    count = 0
    for step in batch:
        if step.sql in _unpreparable:
            return False
        count += len(step.params) if step.many else 1
    return count <= MAX_STATEMENTS


def send(conn: psycopg.Connection[Any], batch: Sequence[Step]) -> list[Result] | None:
    """Run `batch` in one round trip; the result of each step. None when a statement could
    not be prepared (the caller sends the batch another way; nothing of it has run)."""
    session = _sessions.get(conn)
    if session is None:
        session = _sessions[conn] = _Session(conn)
    forms = [prepared(step.sql) for step in batch]
    wanted = {f.name: f for f in forms if f.call and f.name not in session.prepared}
    if wanted and not _prepare(conn, session, list(wanted.values())):
        return None
    idle = conn.info.transaction_status == TransactionStatus.IDLE
    text, counts = _joined(session, batch, forms)
    try:
        cursor = conn.execute(text, prepare=False)
    except psycopg.errors.InvalidSqlStatementName:
        # dropped behind our back (a DEALLOCATE ALL, as psycopg's own `rollback()` sends):
        # prepared again; sent again only when this string began all the work it undid
        session.prepared.clear()
        if not idle:
            raise
        roll_back(conn)
        return send(conn, batch)
    results: list[Result] = []
    for count in counts:
        rows: list[tuple[Any, ...]] = []
        rowcount = 0
        for n in range(count):
            if results or n:
                cursor.nextset()
            result = cursor.pgresult  # (`description` would build a Column per column)
            rows = cursor.fetchall() if result is not None and result.nfields else []
            rowcount += max(cursor.rowcount, 0)
        results.append(Result(rows, rowcount))
    return results


def _joined(
    session: _Session, batch: Sequence[Step], forms: Sequence[Prepared]
) -> tuple[str, list[int]]:
    """The query string of `batch` (`forms`: each step's prepared form), and how many
    statements of it each step is."""
    mogrify = session.cursor.mogrify
    parts: list[str] = []
    counts: list[int] = []
    for step, found in zip(batch, forms, strict=True):
        if not found.call:
            parts.append(found.text)
            counts.append(1)
        elif step.many:
            parts.extend(mogrify(found.call, params) for params in step.params)
            counts.append(len(step.params))
        else:
            parts.append(mogrify(found.call, step.params))
            counts.append(1)
    return "; ".join(parts), counts


def roll_back(conn: psycopg.Connection[Any], sql: str = "ROLLBACK") -> None:
    """ROLLBACK (or ROLLBACK TO SAVEPOINT …) sent past psycopg's statement cache, which answers
    every ROLLBACK it sees with DEALLOCATE ALL: that would drop this module's statements too."""
    with conn.lock:
        result = conn.pgconn.exec_(sql.encode())
    if result.status != ExecStatus.COMMAND_OK:
        raise error_from_result(result, encoding=conn.info.encoding)


def _prepare(conn: psycopg.Connection[Any], session: _Session, new: list[Prepared]) -> bool:
    """Prepare `new` on `conn`; inside a transaction, behind a savepoint, so that a statement
    the server refuses (it cannot infer a parameter's type) leaves the transaction usable.
    False when one was refused: it is remembered and never tried again."""
    inside = conn.info.transaction_status != TransactionStatus.IDLE
    for group in [new] if len(new) == 1 else [new, *([p] for p in new)]:
        text = "; ".join(f"PREPARE {p.name} AS {p.text}" for p in group)
        if inside:
            text = f"SAVEPOINT meterlib_prepare; {text}; RELEASE SAVEPOINT meterlib_prepare"
        try:
            conn.execute(text, prepare=False)
        except psycopg.errors.DuplicatePreparedStatement:
            _rolled_back(conn, inside)
            session.prepared.update(p.name for p in group if p.name in _server_names(conn))
            continue
        except psycopg.errors.Error as exc:
            if conn.closed or conn.broken or not _is_refusal(exc):
                raise
            _rolled_back(conn, inside)
            if len(group) == 1:
                with _lock:
                    _unpreparable.add(group[0].sql)
            continue
        session.prepared.update(p.name for p in group)
        if group is new:
            return True
    return all(p.name in session.prepared for p in new)


def _rolled_back(conn: psycopg.Connection[Any], inside: bool) -> None:
    if inside:
        roll_back(conn, "ROLLBACK TO SAVEPOINT meterlib_prepare")
        conn.execute("RELEASE SAVEPOINT meterlib_prepare", prepare=False)


def _server_names(conn: psycopg.Connection[Any]) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM pg_prepared_statements", prepare=False)}


def _is_refusal(exc: psycopg.errors.Error) -> bool:
    """A statement the server would not prepare (as opposed to a lost connection)."""
    return exc.sqlstate is not None and exc.sqlstate[:2] in ("42", "0A")
