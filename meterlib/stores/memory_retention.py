"""MemoryStore's retention and dump reads: spent idempotency keys found by a heap of instants."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Protocol

from meterlib.hourly_totals import HourlyTotal, added
from meterlib.models import EventRecord


class _Keys(Protocol):
    idempotency: dict[str, int]
    key_expiry: list[tuple[int, str]]  # heap of (claimed until, key); stale entries skipped
    seqs: dict[str, int]


def claimed(state: _Keys, key: str, until: int) -> None:
    """Remember when `key`'s new claim ends (the dict holds the claim itself)."""
    heapq.heappush(state.key_expiry, (until, key))


def expire(state: _Keys, now: int, limit: int, undo: Callable[[Callable[[], None]], None]) -> int:
    """Remove at most `limit` keys claimed until `now` or earlier; how many went. A heap
    entry whose key was claimed again since (or rolled back) is dropped on the way."""
    heap, keys = state.key_expiry, state.idempotency
    removed = 0
    while heap and removed < limit and heap[0][0] <= now:
        until, key = heapq.heappop(heap)
        if keys.get(key) != until:
            continue
        del keys[key]
        removed += 1
        undo(_restore(state, key, until))
    return removed


def _restore(state: _Keys, key: str, until: int) -> Callable[[], None]:
    def put_back() -> None:
        state.idempotency[key] = until
        heapq.heappush(state.key_expiry, (until, key))

    return put_back


def live(state: _Keys, now: int) -> list[tuple[str, int]]:
    """The keys claimed beyond `now`, in key order."""
    return sorted((k, until) for k, until in state.idempotency.items() if until > now)


class Retained:
    """What a MemoryStore keeps of pruned events: hourly totals and the pruned-through instant."""

    def __init__(self) -> None:
        self.totals: dict[tuple[int, str, str | None, str], HourlyTotal] = {}
        self.through: int | None = None


class _Events(Protocol):
    events: list[tuple[int, int, EventRecord]]  # sorted by (timestamp, seq)
    retained: Retained


Undo = Callable[[Callable[[], None]], None]


def take_events(state: _Events, before: int, limit: int, undo: Undo) -> list[EventRecord]:
    """Remove and return the oldest events recorded before `before` (at most `limit`)."""
    events = state.events
    count = 0
    for timestamp, _, _ in events:
        if timestamp >= before or count >= limit:
            break
        count += 1
    taken = events[:count]
    del events[:count]
    undo(lambda: events.__setitem__(slice(0, 0), taken))
    return [e for _, _, e in taken]


def add_totals(state: _Events, totals: Iterable[HourlyTotal], undo: Undo) -> None:
    """Add each total to the one kept for its key."""
    kept = state.retained.totals
    for total in totals:
        key = total.key
        old = kept.get(key)
        kept[key] = added(old, total)
        undo(_undo_total(kept, key, old))


def _undo_total(
    kept: dict[tuple[int, str, str | None, str], HourlyTotal],
    key: tuple[int, str, str | None, str],
    old: HourlyTotal | None,
) -> Callable[[], None]:
    def undo() -> None:
        if old is None:
            del kept[key]
        else:
            kept[key] = old

    return undo


def list_totals(state: _Events, start: int, end: int) -> list[HourlyTotal]:
    """The totals of the hours in [start, end), in key order."""
    found = [t for t in state.retained.totals.values() if start <= t.hour < end]
    return sorted(found, key=lambda t: (t.hour, t.customer_id, t.entity_id or "", t.name))


def set_through(state: _Events, before: int, undo: Undo) -> None:
    """Record that events before `before` are pruned (keeping a later instant)."""
    retained = state.retained
    old = retained.through
    if old is None or before > old:
        retained.through = before
        undo(lambda: setattr(retained, "through", old))


class _Held(_Keys, _Events, Protocol):
    """The parts of a MemoryStore's state this module reads and writes."""


class _Session(Protocol):
    _s: _Held
    _undo: list[Callable[[], None]]

    def _forbid_read_only(self) -> None: ...
    def _set(self, mapping: dict, key: object, value: object) -> None: ...  # type: ignore[type-arg]


class RetentionSession:
    """Mixin of MemorySession: the store protocol's `# --- retention, dumps ---` block."""

    __slots__ = ()

    def expire_idempotency_keys(self: _Session, now: int, limit: int) -> int:
        self._forbid_read_only()
        return expire(self._s, now, limit, self._undo.append)

    def list_idempotency_keys(self: _Session, now: int) -> list[tuple[str, int]]:
        return live(self._s, now)

    def seq_values(self: _Session) -> dict[str, int]:
        return dict(self._s.seqs)

    def restore_seq(self: _Session, kind: str, value: int) -> None:
        if value > self._s.seqs.get(kind, 0):
            self._set(self._s.seqs, kind, value)

    def take_events(self: _Session, before: int, limit: int) -> list[EventRecord]:
        self._forbid_read_only()
        return take_events(self._s, before, limit, self._undo.append)

    def add_hourly_totals(self: _Session, totals: Iterable[HourlyTotal]) -> None:
        self._forbid_read_only()
        add_totals(self._s, totals, self._undo.append)

    def list_hourly_totals(self: _Session, start: int, end: int) -> list[HourlyTotal]:
        return list_totals(self._s, start, end)

    def pruned_through(self: _Session) -> int | None:
        return self._s.retained.through

    def set_pruned_through(self: _Session, before: int) -> None:
        self._forbid_read_only()
        set_through(self._s, before, self._undo.append)
