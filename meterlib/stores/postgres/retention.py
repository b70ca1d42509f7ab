"""PostgresSession's retention and dump statements: spent idempotency keys, the sequences."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import psycopg

from meterlib.effects import Effects
from meterlib.stores.postgres import rows as pg
from meterlib.stores.postgres.retention_sql import statements
from meterlib.stores.postgres.wire import Owner, Slot, exchange
from meterlib.stores.postgres.writes import write_steps

# a restore's rows go out a few pages at a time, not all at the commit
_PENDING_STEPS = 16


class _Session(Protocol):
    _sql: pg.Statements
    _slot: Slot
    _store: Owner

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

    def restore_rows(self: _Session, effects: Effects) -> None:
        """The rows of a restore, without the per-customer locks of `apply`: a transaction
        holding one advisory lock per customer of a big ledger would run out of lock slots."""
        self._writable()
        slot = self._slot
        slot.pending += write_steps(self._sql, effects)
        if len(slot.pending) >= _PENDING_STEPS:
            exchange(self._store, slot, ())
