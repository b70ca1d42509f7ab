"""SQLiteSession's retention and dumps: spent idempotency keys, sequence floors, pruned events
and their hourly totals."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

from meterlib.hourly_totals import HourlyTotal, added
from meterlib.models import EventRecord
from meterlib.stores import grant_rows, rows


class Executes(Protocol):
    """A connection (or the stand-in of an ended session, which refuses)."""

    def execute(self, sql: str, params: tuple[Any, ...] = ..., /) -> sqlite3.Cursor: ...


# the index `idempotency_keys_by_expiry` (migration 0003) finds the spent keys without a scan
_EXPIRE_KEYS = (
    "DELETE FROM idempotency_keys WHERE idempotency_key IN "
    "(SELECT idempotency_key FROM idempotency_keys WHERE expires_at <= ? "
    "ORDER BY expires_at LIMIT ?)"
)
_LIVE_KEYS = (
    "SELECT idempotency_key, expires_at FROM idempotency_keys WHERE expires_at > ? "
    "ORDER BY idempotency_key"
)
_SEQS = "SELECT kind, value FROM seqs ORDER BY kind"
_LAST_EVENT_ROW = "SELECT ifnull(max(rowid), 0) FROM events"
# the oldest events first: what a prune removes, a chunk at a time (events_by_time)
_TAKE_EVENTS = (
    "DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE timestamp < ? "
    "ORDER BY timestamp, seq LIMIT ?) RETURNING " + ", ".join(rows.EVENT_COLUMNS)
)
_TOTAL_COLUMNS = ("customer_id", "entity_id", "name", "hour", "value", "events")
_GET_TOTAL = (
    "SELECT value, events FROM hourly_totals "
    "WHERE hour = ? AND customer_id = ? AND entity_id = ? AND name = ?"
)
_PUT_TOTAL = rows.upsert_sql(
    "hourly_totals", _TOTAL_COLUMNS, ("hour", "customer_id", "entity_id", "name")
)
_LIST_TOTALS = (
    rows.select_sql("hourly_totals", _TOTAL_COLUMNS)
    + " WHERE hour >= ? AND hour < ? ORDER BY hour, customer_id, entity_id, name"
)
_PRUNED_THROUGH = "SELECT value FROM retention WHERE key = 'pruned_through'"
_SET_PRUNED_THROUGH = (
    "INSERT INTO retention (key, value) VALUES ('pruned_through', ?) "
    "ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)"
)
_RAISE_SEQ = (
    "INSERT INTO seqs (kind, value) VALUES (?, ?) "
    "ON CONFLICT (kind) DO UPDATE SET value = max(value, excluded.value)"
)


def expire_keys(conn: Executes, now: int, limit: int) -> int:
    """Remove at most `limit` keys claimed until `now` or earlier; how many went."""
    return conn.execute(_EXPIRE_KEYS, (now, limit)).rowcount


def live_keys(conn: Executes, now: int) -> list[tuple[str, int]]:
    """The keys claimed beyond `now`, in key order."""
    return [(k, int(until)) for k, until in conn.execute(_LIVE_KEYS, (now,))]


def seq_values(conn: Executes) -> dict[str, int]:
    """The largest number of each kind (events: their rowids, with the older counter as floor)."""
    found = {kind: int(value) for kind, value in conn.execute(_SEQS)}
    (last_event,) = conn.execute(_LAST_EVENT_ROW).fetchone()
    if last_event > found.get("event", 0):
        found["event"] = int(last_event)
    return found


def raise_seq(conn: Executes, kind: str, value: int) -> None:
    """Every later number of `kind` is larger than `value`."""
    conn.execute(_RAISE_SEQ, (kind, value))


class _Session(Protocol):
    _conn: Executes
    _known: Any

    def _writable(self) -> Executes: ...


class RetentionSession:
    """Mixin of SQLiteSession: the store protocol's `# --- retention, dumps ---` block."""

    __slots__ = ()

    def expire_idempotency_keys(self: _Session, now: int, limit: int) -> int:
        """Remove at most `limit` keys claimed until `now` or earlier; how many went."""
        return expire_keys(self._writable(), now, limit)

    def list_idempotency_keys(self: _Session, now: int) -> list[tuple[str, int]]:
        """The keys claimed beyond `now`, in key order."""
        return live_keys(self._conn, now)

    def seq_values(self: _Session) -> dict[str, int]:
        """The largest number handed out of each kind."""
        return seq_values(self._conn)

    def restore_seq(self: _Session, kind: str, value: int) -> None:
        """Every later `next_seq(kind)` is larger than `value`."""
        raise_seq(self._writable(), kind, value)
        self._known.event_seq = 0  # read again: the floor may have moved

    def take_events(self: _Session, before: int, limit: int) -> list[EventRecord]:
        """Remove and return the oldest events recorded before `before` (at most `limit`)."""
        conn = self._writable()
        taken = [grant_rows.event_from_row(r) for r in conn.execute(_TAKE_EVENTS, (before, limit))]
        if taken:
            # the next event number is read from the largest rowid: with the newest events
            # gone it would come back down, and an event id would be handed out twice
            raise_seq(conn, "event", max(e.seq for e in taken))
        return sorted(taken, key=lambda e: (e.timestamp, e.seq))

    def add_hourly_totals(self: _Session, totals: Iterable[HourlyTotal]) -> None:
        """Add each total to the one kept (amounts are exact TEXT: added here, not in SQL)."""
        conn = self._writable()
        for total in totals:
            cid, eid, name, hour = total.customer_id, total.entity_id or "", total.name, total.hour
            row = conn.execute(_GET_TOTAL, (hour, cid, eid, name)).fetchone()
            old = None if row is None else total._replace(value=Decimal(row[0]), events=row[1])
            new = added(old, total)
            conn.execute(_PUT_TOTAL, (cid, eid, name, hour, str(new.value), new.events))

    def list_hourly_totals(self: _Session, start: int, end: int) -> list[HourlyTotal]:
        """The totals of the hours in [start, end), in key order."""
        return [
            HourlyTotal(cid, eid or None, name, hour, Decimal(value), events)
            for cid, eid, name, hour, value, events in self._conn.execute(
                _LIST_TOTALS, (start, end)
            )
        ]

    def pruned_through(self: _Session) -> int | None:
        """The instant before which events have been pruned, or None."""
        row = self._conn.execute(_PRUNED_THROUGH).fetchone()
        return None if row is None else int(row[0])

    def set_pruned_through(self: _Session, before: int) -> None:
        """Record that events before `before` are pruned (a later instant is kept)."""
        self._writable().execute(_SET_PRUNED_THROUGH, (before,))


def reclaim_space(path: str, *, timeout: float = 30.0) -> None:
    """Give the pages a prune freed back to the file system: VACUUM, then truncate the WAL.

    VACUUM rather than `PRAGMA incremental_vacuum`: the incremental kind only works on files
    created with `auto_vacuum = INCREMENTAL`, which no meterlib file is (switching a file over
    takes a VACUUM anyway), and it only moves free pages to the end, leaving the rest of the
    file as fragmented as the prune left it. VACUUM rewrites the file compactly; it holds the
    write lock while it runs (writers wait, up to their timeout; readers go on), which is why
    it runs once, at the end of `meterlib prune`, and never inside `Ledger.prune`.
    """
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
