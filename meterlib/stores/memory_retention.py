"""MemoryStore's retention and dump reads: spent idempotency keys found by a heap of instants."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Protocol


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
