"""Catching a grant up with time: resets, rollovers and their expiry, from timestamps alone.

`advance(grant, now)` is the grant as it stands at `now` if every reset had run exactly on its
boundary, whoever looked and whenever (spec decision 1). It is pure: no I/O, no clock.

A reset at boundary b, for every due boundary in order:

1. if the grant has a rollover rule and its balance is positive, a new lot of that balance is
   appended (expiring `length` months after b, or never), then the cap is applied over the lots
   live at b: the excess is trimmed from the soonest-expiring lot (no expiry last, ties oldest
   first) and a lot trimmed to 0 is deleted (Autumn caps only when a lot is created);
2. the balance is refilled to `included` (minus the overage when it persists), adjustment 0;
3. `period` moves on and `next_reset_at` is the next anchored boundary.

Why catching up costs O(live rollovers) and never O(periods skipped):

* Nothing consumes between boundaries, so the balance before the j-th due reset has a closed
  form (`resets_lots.balance_after`): the refill from the second one on, or, with persisting
  overage, the old balance plus j refills until it is no longer negative.
* Trimming keeps the top `cap` of the lots' amount in trimming order (a lot is kept, to the extent
  `cap` minus the amount above it allows, when less than `cap` lies above it). Expiry removes a
  bottom run of that same order and new lots expire after the boundary that makes them, so
  expiring, creating and trimming can be reordered into: create every lot, drop those dead at
  `now`, trim once. Hence only the lots that survive that one trim are ever built, found newest
  first (`resets_lots.new_lots`); the walk stops once the cap is full or the lots are dead.
* Expiries are monotone in the boundary except for sub-day intervals, whose boundaries late in a
  long month all expire on the last day of a shorter one at their own time of day (Jan 29 23:00
  and Jan 31 01:00 both expire on Feb 28). Those few source days are merged by expiry.
"""

from __future__ import annotations

from decimal import Decimal

from attrs import evolve

from meterlib import intervals
from meterlib.models import ONE_OFF, Grant, RolloverLot
from meterlib.quantity import ZERO
from meterlib.rules.rollovers import balance_after, merged, new_lots, resets_to_clear

_NO_CAP = Decimal("Infinity")  # the cap of a rule without one: trimming never takes anything


def new_schedule(
    interval: str, count: int, *, created_at: int, first_reset_at: int | None
) -> tuple[int | None, int, int | None]:
    """(anchor, period, next_reset_at) of a new grant; `update(next_reset_at=...)` re-anchors alike.

    Without a custom first boundary the anchor is `created_at` and the next boundary number 1;
    with one, it is the anchor itself (boundary 0). One-off grants have no schedule.
    """
    if interval == ONE_OFF:
        return None, 0, None
    if first_reset_at is not None:
        return first_reset_at, 0, first_reset_at
    return created_at, 1, intervals.boundary(created_at, interval, count, 1)


def reanchor(grant: Grant, next_reset_at: int) -> Grant:
    """The grant with `next_reset_at` as boundary 0 of a new anchor (what `update` does)."""
    return evolve(grant, anchor=next_reset_at, period=0, next_reset_at=next_reset_at)


def resets(grant: Grant) -> bool:
    """Whether the grant has reset boundaries at all (unlimited and one-off grants never reset)."""
    return (
        not grant.unlimited
        and grant.interval != ONE_OFF
        and grant.anchor is not None
        and grant.next_reset_at is not None
    )


def effective_cap(grant: Grant) -> Decimal | None:
    """The most its live rollovers may hold after a reset; `max_percentage` wins over `max`."""
    rule = grant.rollover
    if rule is None:
        return None
    if rule.max_percentage is not None:
        # floor(included × max_percentage / 100) exactly, in integers: a Fraction costs 10× more
        (a, b), (c, d) = grant.included.as_integer_ratio(), rule.max_percentage.as_integer_ratio()
        return Decimal(a * c // (b * d * 100))
    return rule.max


def advance(grant: Grant, now: int, *, persist_overage: bool = False) -> Grant:
    """The grant as it stands at `now` (epoch ms) if every reset had run exactly on its boundary."""
    anchor, interval, count = grant.anchor, grant.interval, grant.interval_count
    next_at = grant.next_reset_at
    if next_at is None or next_at > now or anchor is None or grant.unlimited or interval == ONE_OFF:
        return _drop_expired(grant, now)  # nothing due, or no resets at all (see `resets`)
    last = intervals.periods_through(anchor, interval, count, now)
    if grant.expires_at is not None:
        # boundaries at or after the expiry never happen
        last = min(last, intervals.periods_through(anchor, interval, count, grant.expires_at - 1))
    first = grant.period
    if last < first:
        return _drop_expired(grant, now)
    done = last - first + 1
    return _caught_up(
        grant,
        balance_after(grant, done, persist_overage=persist_overage),
        _rollovers_after(grant, anchor, first, last, now, persist_overage=persist_overage),
        last + 1,
        intervals.boundary(anchor, interval, count, last + 1),
    )


def settled_until(grant: Grant, now: int) -> int | None:
    """The first instant after `now` at which time alone may change `grant` as it stands at
    `now` (`advance(grant, now)`): its next reset, its expiry, or a rollover's expiry.

    Until then, `advance` at any later instant gives the same grant and `live_at` the same
    answer, so whatever was worked out from the grant at `now` still holds. None: never.
    """
    expires_at = grant.expires_at
    until = expires_at if expires_at is not None and expires_at > now else None
    at = grant.next_reset_at
    # a boundary at or after the expiry never happens
    if at is not None and at > now and resets(grant) and (expires_at is None or at < expires_at):
        until = at
    for lot in grant.rollovers:
        at = lot.expires_at
        if at is not None and at > now and (until is None or at < until):
            until = at
    return until


def _caught_up(
    grant: Grant,
    balance: Decimal,
    rollovers: tuple[RolloverLot, ...],
    period: int,
    next_reset_at: int,
) -> Grant:
    """`grant` with a new balance, rollovers and schedule, its adjustment cleared."""
    return grant.moved(
        balance=balance,
        rollovers=rollovers,
        adjustment=ZERO,
        period=period,
        next_reset_at=next_reset_at,
    )


def _live(lots: tuple[RolloverLot, ...], now: int) -> tuple[RolloverLot, ...]:
    """The lots live at `now`: `lots` itself when none has expired (the usual case, and a
    check in front of every request sees it, so no new tuple and no method call per lot)."""
    for lot in lots:
        expires_at = lot.expires_at
        if expires_at is not None and expires_at <= now:
            return tuple(lot for lot in lots if lot.live_at(now))
    return lots


def _drop_expired(grant: Grant, now: int) -> Grant:
    """The grant without the rollovers dead at `now` (itself when none are)."""
    live = _live(grant.rollovers, now)
    return grant if live is grant.rollovers else evolve(grant, rollovers=live)


def _positive_run(grant: Grant, done: int, *, persist_overage: bool) -> tuple[int, int] | None:
    """The resets (0-based, of `done`) that see a positive balance: one contiguous run, or None."""
    included = grant.included
    if not persist_overage or grant.balance >= ZERO:
        later = 1 if included > ZERO else None
    else:
        clear = resets_to_clear(grant.balance, included)
        if clear is None:
            later = None
        else:
            later = clear if grant.balance + clear * included > 0 else clear + 1
    if grant.balance > ZERO:
        return 0, (done - 1 if later is not None else 0)
    if later is None or later > done - 1:
        return None
    return later, done - 1


def _rollovers_after(
    grant: Grant, anchor: int, first: int, last: int, now: int, *, persist_overage: bool
) -> tuple[RolloverLot, ...]:
    """The rollovers live at `now` after the resets at boundaries `first`..`last`."""
    existing = _live(grant.rollovers, now) if grant.rollovers else ()
    rule = grant.rollover
    made = _positive_run(grant, last - first + 1, persist_overage=persist_overage)
    if rule is None or made is None:
        # no lot is created, so no cap is applied either
        return existing
    lo, hi = first + made[0], first + made[1]
    cap = effective_cap(grant)
    if existing and cap is not None:
        return merged(
            grant,
            anchor,
            rule,
            lo,
            hi,
            first=first,
            now=now,
            existing=existing,
            cap=cap,
            persist_overage=persist_overage,
        )
    # the usual case after a long idle: no old lot is live (or none is ever trimmed), so the
    # new lots are trimmed on their own
    new = new_lots(
        grant,
        anchor,
        rule,
        lo,
        hi,
        first=first,
        now=now,
        cap=_NO_CAP if cap is None else cap,
        persist_overage=persist_overage,
    )
    return existing + new if existing else new
