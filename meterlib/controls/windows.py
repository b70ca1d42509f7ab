"""Usage windows: the bounds of a usage limit's current window, and its counter. Pure.

A counter is one stored record per (scope, feature, filter identity): `{window_start,
window_end, value}`. It reads as its value while `now` is inside the window it was counted
in and that window is still the one derived now; otherwise as 0. So a counter needs no reset
job and no catching up: what it says at `t` depends only on what was counted and on `t`,
never on who looked in between, and reading it costs O(1) whatever the gap (spec decision 1).

Bounds (Autumn's `getUsageWindowBounds`): with `anchor: "utc"`, or when no anchor instant is
found, UTC calendar windows (a day from 00:00, a week from Monday, a month from the 1st, a
year from Jan 1). With `anchor: "billing_cycle"` (the default) the windows are anchored on
the `next_reset_at` of the anchor grant: start = A + k × interval for the largest k with
start <= now, months clamped to their last day and always counted from A.

Dimension: a cap on a metered feature counts tracked units of that feature, whichever pool
pays, and limits every grant of the deduction (rollovers too); a cap on a credit system
counts the credits drained from its own grants and limits only those (not rollovers).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from attrs import evolve, frozen

from meterlib import intervals
from meterlib.controls import UsageLimit
from meterlib.instants import to_datetime, to_ms
from meterlib.models import Counter, Grant
from meterlib.quantity import ZERO
from meterlib.rules.deduction import Change, Entry

WINDOW_PREFIX = "usage_window"


@frozen(kw_only=True)
class Cap:
    """One armed usage limit as it applies now: its counter key, window and dimension."""

    limit: UsageLimit
    scope: str | None  # an entity id: the entity's own window; None: the customer's
    credits: bool  # True: a credit system's cap, counting credits drained from its grants
    start: int
    end: int

    @property
    def feature_id(self) -> str:
        """The capped feature."""
        return self.limit.feature_id

    @property
    def key(self) -> str:
        """The counter's key: scope, feature and filter identity (never the bounds)."""
        return counter_key(self.scope, self.limit.feature_id, self.limit.filter_key)


def counter_key(scope: str | None, feature_id: str, filter_key: str) -> str:
    """`usage_window:[scope, feature, filter]` as JSON, so no id can collide with another."""
    return f"{WINDOW_PREFIX}:" + json.dumps([scope, feature_id, filter_key], ensure_ascii=False)


def calendar_window(interval: str, now: int) -> tuple[int, int]:
    """The UTC calendar window containing `now`: day, week (from Monday), month or year."""
    t = to_datetime(now)
    day = datetime(t.year, t.month, t.day, tzinfo=UTC)
    if interval == "day":
        start = day
    elif interval == "week":
        start = day - timedelta(days=t.weekday())
    elif interval == "month":
        start = day.replace(day=1)
    else:
        start = datetime(t.year, 1, 1, tzinfo=UTC)
    first = to_ms(start, field="window_start")
    return first, intervals.add(first, interval, 1)


def window(interval: str, anchor_at: int | None, now: int) -> tuple[int, int]:
    """[start, end) of the window containing `now`, anchored on `anchor_at` if there is one."""
    if anchor_at is None:
        return calendar_window(interval, now)
    k = intervals.periods_through(anchor_at, interval, 1, now)
    start = intervals.boundary(anchor_at, interval, 1, k)
    end = intervals.boundary(anchor_at, interval, 1, k + 1)
    if not start <= now < end:  # Autumn falls back to the calendar rather than trust bad bounds
        return calendar_window(interval, now)
    return start, end


def anchor_grant(
    candidates: Sequence[Sequence[Grant]], *, entity_scope: str | None
) -> Grant | None:
    """The grant whose cycle a billing_cycle window follows (Autumn's anchor pick).

    `candidates` are groups in preference order (the capped feature's live grants, then those
    of the credit systems containing it); the first group with an eligible grant decides. A
    customer window only takes customer-level grants; an entity window prefers the entity's
    own, else any. The oldest grant wins (creation order breaks ties).
    """
    for group in candidates:
        if entity_scope is None:
            eligible = [g for g in group if g.entity_id is None]
        else:
            eligible = [g for g in group if g.entity_id == entity_scope] or list(group)
        if eligible:
            return min(eligible, key=lambda g: (g.created_at, g.seq))
    return None


def used(cap: Cap, counter: Counter | None, now: int) -> Decimal:
    """What the cap's current window has counted: 0 once the counter's window is not it."""
    if counter is None or counter.window_start != cap.start or not now < (counter.window_end or 0):
        return ZERO
    return counter.value


def headroom(cap: Cap, counter: Counter | None, now: int) -> Decimal:
    """What the cap still lets through in its current window (in its own unit)."""
    return max(ZERO, cap.limit.limit - used(cap, counter, now))


def count(cap: Cap, counter: Counter | None, amount: Decimal, *, customer_id: str) -> Counter:
    """The counter after `amount` more was consumed in the cap's current window."""
    base = (
        counter.value
        if counter is not None
        and counter.window_start == cap.start
        and counter.window_end == cap.end
        else ZERO
    )
    return Counter(
        customer_id=customer_id,
        key=cap.key,
        value=base + amount,
        window_start=cap.start,
        window_end=cap.end,
    )


def give_back(cap: Cap, counter: Counter | None, amount: Decimal, at: int) -> Counter | None:
    """The counter after a lock unwind freed `amount` at `at`: only the window current at `at`
    is decremented, never below 0; None when there is nothing to change."""
    if counter is None or amount <= 0 or used(cap, counter, at) == 0:
        return None
    return evolve(counter, value=max(ZERO, counter.value - amount))


def consumed(cap: Cap, changes: Iterable[Change], pool_of: Mapping[str, str]) -> Decimal:
    """What a deduction's changes count against `cap`: tracked units, or credits drained from
    the capped credit system's own grants (rollovers not included)."""
    total = ZERO
    for change in changes:
        if not cap.credits:
            total += change.value_delta
        elif change.rollover_id is None and pool_of.get(change.grant_id) == cap.feature_id:
            total += change.balance_delta
    return total


def freed(cap: Cap, changes: Iterable[Change], pool_of: Mapping[str, str]) -> Decimal:
    """What an unwind's changes give back to `cap` (Autumn counts rollover credits here too)."""
    total = ZERO
    for change in changes:
        if not cap.credits:
            total -= change.value_delta
        elif pool_of.get(change.grant_id) == cap.feature_id:
            total -= change.balance_delta
    return total


class Gate:
    """The window room left while one deduction runs (deduction's `Gate` protocol).

    Metered caps limit every grant and rollover in tracked units; a credit system's cap
    limits only its own grants, in credits.
    """

    def __init__(self, caps: Sequence[Cap], room: Sequence[Decimal]) -> None:
        self._caps = list(caps)
        self._room = list(room)

    def room(self, entry: Entry, cost: Decimal, *, rollover: bool) -> Decimal | None:
        """Row units `entry` may still give, None when no cap applies to it."""
        best: Decimal | None = None
        for cap, left in zip(self._caps, self._room, strict=True):
            if not cap.credits:
                units = left * cost
            elif not rollover and entry.grant.feature_id == cap.feature_id:
                units = left
            else:
                continue
            best = units if best is None else min(best, units)
        return best

    def took(self, entry: Entry, units: Decimal, value: Decimal, *, rollover: bool) -> None:
        """Consume the room `entry` just used."""
        for index, cap in enumerate(self._caps):
            if not cap.credits:
                self._room[index] -= value
            elif not rollover and entry.grant.feature_id == cap.feature_id:
                self._room[index] -= units
