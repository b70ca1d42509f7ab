"""SQLite's statements for retention and dumps: spent idempotency keys, the sequence floors."""

from __future__ import annotations

import sqlite3
from typing import Any, Protocol


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
