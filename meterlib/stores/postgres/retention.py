"""PostgresSession's retention and dump statements: spent idempotency keys, the sequences."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

from meterlib.effects import Effects
from meterlib.hourly_totals import HourlyTotal
from meterlib.models import EventRecord
from meterlib.stores.postgres import rows as pg
from meterlib.stores.postgres.retention_sql import statements
from meterlib.stores.postgres.simple import Rows
from meterlib.stores.postgres.wire import Owner, Slot, Step, exchange
from meterlib.stores.postgres.writes import write_steps

# a restore's rows go out a few pages at a time, not all at the commit
_PENDING_STEPS = 16


class _Session(Protocol):
    _sql: pg.Statements
    _slot: Slot
    _store: Owner

    def _run(self, sql: str, params: Iterable[Any] = ()) -> Rows: ...
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

    def take_events(self: _Session, before: int, limit: int) -> list[EventRecord]:
        """Remove and return the oldest events recorded before `before` (at most `limit`)."""
        self._writable()
        found = self._run(statements(self._sql.schema).take_events, (before, limit))
        taken = [pg.event_from_row(r) for r in found]
        return sorted(taken, key=lambda e: (e.timestamp, e.seq))

    def add_hourly_totals(self: _Session, totals: Iterable[HourlyTotal]) -> None:
        """Add each total to the one kept (numeric addition is exact)."""
        self._writable()
        batch = [
            (t.customer_id, t.entity_id or "", t.name, t.hour, t.value, t.events) for t in totals
        ]
        if batch:
            step = Step(statements(self._sql.schema).add_total, batch, many=True)
            exchange(self._store, self._slot, (step,))

    def list_hourly_totals(self: _Session, start: int, end: int) -> list[HourlyTotal]:
        """The totals of the hours in [start, end), in key order."""
        found = self._run(statements(self._sql.schema).list_totals, (start, end))
        return [
            HourlyTotal(cid, eid or None, name, int(hour), Decimal(value), int(events))
            for cid, eid, name, hour, value, events in found
        ]

    def pruned_through(self: _Session) -> int | None:
        """The instant before which events have been pruned, or None."""
        row = self._run(statements(self._sql.schema).pruned_through).fetchone()
        return None if row is None else int(row[0])

    def set_pruned_through(self: _Session, before: int) -> None:
        """Record that events before `before` are pruned (a later instant is kept)."""
        self._writable()
        self._run(statements(self._sql.schema).set_pruned_through, (before,))
