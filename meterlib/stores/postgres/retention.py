"""PostgresSession's retention and dump statements: spent idempotency keys, the sequences."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, NamedTuple, Protocol

import psycopg

from meterlib.stores.postgres import rows as pg


class RetentionSql(NamedTuple):
    """The statements of one schema."""

    expire_keys: str
    live_keys: str
    seq_values: str
    set_seq: str


@cache
def statements(schema: str) -> RetentionSql:
    """The retention statements of `schema`, built once."""
    s = pg.quote_schema(schema)
    return RetentionSql(
        # SKIP LOCKED: a key another transaction is claiming again right now is left for a
        # later sweep rather than waited for (the sweep rides with the commit of a track)
        expire_keys=(
            f"DELETE FROM {s}.idempotency_keys WHERE idempotency_key IN "
            f"(SELECT idempotency_key FROM {s}.idempotency_keys WHERE expires_at <= %s "
            "ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED)"
        ),
        live_keys=(
            f"SELECT idempotency_key, expires_at FROM {s}.idempotency_keys WHERE expires_at > %s"
        ),
        seq_values=(
            "SELECT substr(sequencename, 5), last_value FROM pg_sequences "
            "WHERE schemaname = %s AND sequencename LIKE 'seq\\_%%' AND last_value IS NOT NULL"
        ),
        set_seq="SELECT setval(%s::regclass, greatest(%s, (SELECT last_value FROM {})))",
    )


class _Session(Protocol):
    _sql: pg.Statements

    def _run(self, sql: str, params: Iterable[Any] = ()) -> psycopg.Cursor[tuple[Any, ...]]: ...
    def _writable(self) -> None: ...
    def _sequence(self, kind: str) -> str: ...


class RetentionSession:
    """Mixin of PostgresSession: the `# --- retention, dumps ---` block of the store protocol."""

    __slots__ = ()

    def expire_idempotency_keys(self: _Session, now: int, limit: int) -> int:
        """Remove at most `limit` keys claimed until `now` or earlier; how many went."""
        self._writable()
        return self._run(statements(self._sql.schema).expire_keys, (now, limit)).rowcount

    def list_idempotency_keys(self: _Session, now: int) -> list[tuple[str, int]]:
        """The keys claimed beyond `now`, in key order (code points, as every store)."""
        found = self._run(statements(self._sql.schema).live_keys, (now,))
        return sorted((str(k), int(until)) for k, until in found)

    def seq_values(self: _Session) -> dict[str, int]:
        """The last number of each sequence used."""
        found = self._run(statements(self._sql.schema).seq_values, (self._sql.schema,))
        return {str(kind): int(value) for kind, value in found}

    def restore_seq(self: _Session, kind: str, value: int) -> None:
        """Every later `next_seq(kind)` is larger than `value`."""
        self._writable()
        if value < 1:
            return  # setval cannot go below 1, and nothing was handed out
        name = self._sequence(kind)
        self._run(statements(self._sql.schema).set_seq.format(name), (name, value))
