"""How a PostgreSQL transaction's statements reach the server: as few round trips as possible.

A transaction's BEGIN is not sent on its own: it rides with the transaction's first
statement. Effects a session applies are not sent at once either: they wait in the slot
until the next statement (which carries them in front of it) or the commit (which follows
them). Each `exchange` is one round trip however many statements it holds: one query string
of prepared statements (`meterlib.stores.postgres.simple`), or, for a batch of many rows or a
statement the server would not prepare, one psycopg pipeline. A failure inside it aborts the
rest, and the first error is the one raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import psycopg
from attrs import evolve
from psycopg.pq import TransactionStatus

from meterlib.errors import StoreError
from meterlib.models import Feature
from meterlib.stores import rows
from meterlib.stores.postgres import rows as pg
from meterlib.stores.postgres import simple
from meterlib.stores.postgres.rows import Connection

BEGIN_WRITE = "BEGIN ISOLATION LEVEL READ COMMITTED"
BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
CONNECT_ATTEMPTS = 3  # a pooled connection the server dropped while idle fails at first use

Cursor = psycopg.Cursor[tuple[Any, ...]]
Outcome = Cursor | simple.Result  # what a statement of an exchange gives back


class Step(NamedTuple):
    """One statement of a pipeline: its parameters, or (`many`) a list of parameter rows."""

    sql: str
    params: Any = ()
    many: bool = False
    feature: Feature | None = None  # an insert of this feature, checked after it ran


class Slot:
    """The connection a thread's open transaction uses, its nesting, the advisory locks it
    holds, whether BEGIN was sent, and the writes not sent yet."""

    __slots__ = ("begun", "conn", "depth", "features_added", "locked", "pending", "write")

    def __init__(self, conn: Connection, *, write: bool) -> None:
        self.conn = conn
        self.depth = 0
        self.write = write
        self.locked: set[int] = set()
        self.begun = False
        self.pending: list[Step] = []
        self.features_added = False  # its catalogue differs from the committed one


class Owner(Protocol):
    """What the wire needs of its store (a Protocol: this module does not import the store)."""

    where: str
    _sql: pg.Statements

    def _error(self, exc: BaseException) -> StoreError: ...
    def _replace(self, slot: Slot) -> None: ...


def exchange(
    owner: Owner, slot: Slot, steps: Sequence[Step], *, commit: bool = False
) -> list[Outcome]:
    """Send BEGIN (if not sent yet), the pending writes, `steps` and (`commit`) COMMIT in one
    round trip; the cursors of `steps`. Raises StoreError; after a failed commit the
    transaction is rolled back and the connection is usable again."""
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        first = not slot.begun
        try:
            return _exchange(owner, slot, steps, commit=commit)
        except psycopg.Error as exc:
            conn = slot.conn
            lost = conn.closed or conn.broken
            if first and lost and not commit and attempt < CONNECT_ATTEMPTS:
                # nothing reached a live server: the same work goes to another connection
                slot.begun = False
                owner._replace(slot)
                continue
            if commit and not lost:
                _roll_back(conn)
            raise owner._error(exc) from exc
        except StoreError:
            if commit:
                _roll_back(slot.conn)
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _exchange(owner: Owner, slot: Slot, steps: Sequence[Step], *, commit: bool) -> list[Outcome]:
    batch: list[Step] = []
    if not slot.begun:
        batch.append(Step(BEGIN_WRITE if slot.write else BEGIN_READ))
    pending = slot.pending
    batch += pending
    batch += steps
    # an added feature is checked before the commit: COMMIT then travels alone (rare)
    checks = [i for i, step in enumerate(batch) if step.feature is not None]
    commit_here = commit and not checks
    if commit_here:
        batch.append(Step("COMMIT"))
    slot.begun = True
    slot.pending = []
    try:
        cursors = _send(slot.conn, batch)
    except BaseException:
        slot.pending = pending  # still owed if the caller retries on another connection
        raise
    if checks:
        slot.features_added = True
        for i in checks:
            feature = batch[i].feature
            assert feature is not None
            if cursors[i].rowcount != 1:
                _same_feature(owner, slot.conn, feature)
        if commit:
            slot.conn.execute("COMMIT")
    start = len(batch) - len(steps) - (1 if commit_here else 0)
    return list(cursors[start : start + len(steps)])


def _send(conn: Connection, batch: Sequence[Step]) -> Sequence[Outcome]:
    if len(batch) == 1 and not batch[0].many:  # psycopg prepares it after a few uses
        return [conn.execute(batch[0].sql, batch[0].params)]
    if simple.fits(batch):
        results = simple.send(conn, batch)
        if results is not None:
            return results
    cursors: list[Cursor] = []
    with conn.pipeline():
        for step in batch:
            if step.many:
                cursor = conn.cursor()
                cursor.executemany(step.sql, step.params)
                cursors.append(cursor)
            else:
                cursors.append(conn.execute(step.sql, step.params))
    return cursors


def _same_feature(owner: Owner, conn: Connection, feature: Feature) -> None:
    """Another server created `feature.id` first: an identical definition is kept as it is,
    a different one is a StoreError (never silently overwritten)."""
    row = conn.execute(owner._sql.get_feature, (feature.id,)).fetchone()
    stored = None if row is None else rows.feature_from_row(row)
    if stored is not None and stored == evolve(feature, seq=stored.seq):
        return
    raise StoreError(
        f"{owner.where}: feature {feature.id!r} was just created by another "
        "transaction with a different definition; nothing was written, retry"
    )


def _roll_back(conn: Connection) -> None:
    """End an aborted or open transaction, so the connection goes back to the pool clean."""
    if conn.closed or conn.broken:
        return
    try:
        if conn.info.transaction_status != TransactionStatus.IDLE:
            simple.roll_back(conn)
    except psycopg.Error:
        pass  # the pool discards a connection it cannot reset
