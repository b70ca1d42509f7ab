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
  form (`_balance_after`): the refill from the second one on, or, with persisting overage, the
  old balance plus j refills until it is no longer negative.
* Trimming keeps the top `cap` of the lots' amount in trimming order (a lot is kept, to the extent
  `cap` minus the amount above it allows, when less than `cap` lies above it). Expiry removes a
  bottom run of that same order and new lots expire after the boundary that makes them, so
  expiring, creating and trimming can be reordered into: create every lot, drop those dead at
  `now`, trim once. Hence only the lots that survive that one trim are ever built, found newest
  first (`_new_lots_top_down`); the walk stops once the cap is full or the lots are dead.
* Expiries are monotone in the boundary except for sub-day intervals, whose boundaries late in a
  long month all expire on the last day of a shorter one at their own time of day (Jan 29 23:00
  and Jan 31 01:00 both expire on Feb 28). Those few source days are merged by expiry.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from decimal import Decimal

from attrs import evolve

from meterlib import intervals
from meterlib.models import ONE_OFF, Grant, RolloverLot, RolloverRule
from meterlib.quantity import ZERO

_DAY_MS = 86_400_000
_SUB_DAY_MS = {"minute": 60_000, "hour": 3_600_000}


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
        _balance_after(grant, done, persist_overage=persist_overage),
        _rollovers_after(grant, anchor, first, last, now, persist_overage=persist_overage),
        last + 1,
        intervals.boundary(anchor, interval, count, last + 1),
    )


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


def _resets_to_clear(balance: Decimal, included: Decimal) -> int | None:
    """How many refills a negative persisting balance needs to reach 0 or more (None: never)."""
    if included <= 0:
        return None
    # ceil(-balance / included) exactly, in integers: a Fraction costs 10× more
    (a, b), (c, d) = balance.as_integer_ratio(), included.as_integer_ratio()
    return -((a * d) // (b * c))


def _balance_after(grant: Grant, done: int, *, persist_overage: bool) -> Decimal:
    """The balance after `done` resets in a row with nothing consumed in between."""
    if done == 0:
        return grant.balance
    if not persist_overage or grant.balance >= 0:
        return grant.included
    # the overage persists: each refill pays `included` of it back until none is left
    clear = _resets_to_clear(grant.balance, grant.included)
    if clear is None or done <= clear:
        return grant.balance + done * grant.included
    return grant.included


def _positive_run(grant: Grant, done: int, *, persist_overage: bool) -> tuple[int, int] | None:
    """The resets (0-based, of `done`) that see a positive balance: one contiguous run, or None."""
    included = grant.included
    if not persist_overage or grant.balance >= ZERO:
        later = 1 if included > ZERO else None
    else:
        clear = _resets_to_clear(grant.balance, included)
        if clear is None:
            later = None
        else:
            later = clear if grant.balance + clear * included > 0 else clear + 1
    if grant.balance > ZERO:
        return 0, (done - 1 if later is not None else 0)
    if later is None or later > done - 1:
        return None
    return later, done - 1


_OrderKey = tuple[bool, int, int]  # (never expires, expires_at, creation rank): trimming order
_NewLot = tuple[int, int, int | None, Decimal]  # (k, boundary, expires_at, balance) of a new lot
_NO_CAP = Decimal("Infinity")  # the cap of a rule without one: trimming never takes anything


def _order_key(expires_at: int | None, rank: int) -> _OrderKey:
    """Trimming takes the smallest first: soonest expiry, no expiry last, ties oldest first."""
    return (expires_at is None, expires_at or 0, rank)


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
        return _merged(
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
    new = _new_lots(
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


def _new_lots(
    grant: Grant,
    anchor: int,
    rule: RolloverRule,
    lo: int,
    hi: int,
    *,
    first: int,
    now: int,
    cap: Decimal,
    persist_overage: bool,
) -> tuple[RolloverLot, ...]:
    """The lots made at boundaries lo..hi (of the resets from `first` on) that live at `now`,
    trimmed to `cap` with no old lot beside them, oldest first.

    Walked from the top of the trimming order down: each lot keeps what of `cap` is left above
    it, and the walk ends when nothing is left or the lots are dead, so only kept lots are built.
    """
    # every reset after the first turns the refill into a lot, unless a persisting overage is
    # still being paid back
    refill = grant.included if not persist_overage or grant.balance >= 0 else None
    left = cap  # what of the cap is still free above the next lot
    newest: list[RolloverLot] = []  # top-down
    unit = _SUB_DAY_MS.get(grant.interval)
    if unit is not None and rule.duration == "month":
        # The hot case, a minute or hour grant idle for long: the lots made on the newest day
        # expire on one day at their own time of day, so in k order, unless a month end merges
        # several source days into that expiry day. That run is walked here without generators
        # or tuples; the cap is nearly always full long before it ends.
        step = unit * grant.interval_count
        top_day = (anchor + hi * step) // _DAY_MS
        target, first_day = intervals.month_step_of_day(top_day, rule.length)
        if first_day == top_day:
            # boundary b of this day expires at b + shift (`target` at b's time of day), so
            # the lots live at `now` are those after `now - shift`
            shift = (target - top_day) * _DAY_MS
            # the first k of the day whose lot is live: its boundary at or after `since`
            since = max(top_day * _DAY_MS, now - shift + 1)
            bottom = max(lo, -((anchor - since) // step))  # _first_from(anchor, step, since)
            first_b = anchor + first * step  # its lot is the balance then, not a refill
            gid, made = grant.id, RolloverLot.made
            for b in range(anchor + hi * step, anchor + bottom * step - 1, -step):
                if left <= ZERO:  # (a Decimal compares faster with a Decimal)
                    return tuple(reversed(newest))
                if refill is None or b == first_b:
                    size = _balance_after(
                        grant, (b - anchor) // step - first, persist_overage=persist_overage
                    )
                else:
                    size = refill
                # min(size, left), without the builtin's cost
                kept = size if size <= left else left
                newest.append(made(f"{gid}/{b}", kept, b + shift))
                left -= size
            if target * _DAY_MS <= now:
                return tuple(reversed(newest))  # the older days' lots expired before these
            hi = bottom - 1
    # the general walk, lazily down the trimming order (from the newest day on, if not walked)
    older: list[_NewLot] = []
    for expires_at, k, b in _new_lots_top_down(grant, anchor, rule, lo, hi, now=now):
        if left <= 0:
            break
        size = _balance_after(grant, k - first, persist_overage=persist_overage)
        older.append((k, b, expires_at, size if size <= left else left))
        left -= size
    return _built(grant, sorted(older)) + tuple(reversed(newest))


def _merged(
    grant: Grant,
    anchor: int,
    rule: RolloverRule,
    lo: int,
    hi: int,
    *,
    first: int,
    now: int,
    existing: tuple[RolloverLot, ...],
    cap: Decimal,
    persist_overage: bool,
) -> tuple[RolloverLot, ...]:
    """The live old lots and the new ones of boundaries lo..hi, trimmed together to `cap`.

    Walk down the trimming order, old and new lots merged, while the cap is not exceeded:
    each lot keeps what of `cap` is left above it. New lots rank after every old one.
    """
    new = _new_lots_top_down(grant, anchor, rule, lo, hi, now=now)
    old = sorted(range(len(existing)), key=lambda i: _order_key(existing[i].expires_at, i))
    rank = len(existing) - lo
    kept_old: dict[int, Decimal] = {}  # index in `existing`: the balance it keeps
    kept_new: list[_NewLot] = []
    above = ZERO
    lot = next(new, None)
    while above <= cap:
        if lot is not None and (
            not old
            or _order_key(lot[0], rank + lot[1]) > _order_key(existing[old[-1]].expires_at, old[-1])
        ):
            e, k, b = lot
            size = _balance_after(grant, k - first, persist_overage=persist_overage)
            if above < cap:
                kept_new.append((k, b, e, min(size, cap - above)))
            above += size
            lot = next(new, None)
        elif old:
            i = old.pop()
            size = existing[i].balance
            # a lot trimmed to 0 is deleted; one already at 0 stays unless trimming reaches it
            if size == 0 or above < cap:
                kept_old[i] = min(size, cap - above)
            above += size
        else:
            break
    lots = tuple(
        lot if kept_old[i] == lot.balance else evolve(lot, balance=kept_old[i])
        for i, lot in enumerate(existing)
        if i in kept_old
    )
    return lots + _built(grant, sorted(kept_new))


def _built(grant: Grant, new: list[_NewLot]) -> tuple[RolloverLot, ...]:
    """The RolloverLots of new lots, in the order given."""
    gid, made = grant.id, RolloverLot.made
    return tuple([made(f"{gid}/{b}", size, e) for _, b, e, size in new])


def _new_lots_top_down(
    grant: Grant, anchor: int, rule: RolloverRule, lo: int, hi: int, *, now: int
) -> Iterator[tuple[int | None, int, int]]:
    """(expires_at, k, boundary) of the lots made at boundaries lo..hi that live at `now`.

    Yielded from the top of the trimming order down (latest expiry first, ties newest first),
    lazily: callers stop as soon as the cap is full, so only surviving lots cost anything.
    """
    interval, count = grant.interval, grant.interval_count
    if rule.duration != "month":
        for k in range(hi, lo - 1, -1):
            yield None, k, intervals.boundary(anchor, interval, count, k)
        return
    length = rule.length
    step = intervals.step_ms(interval, count) if interval in _SUB_DAY_MS else None
    if step is None:
        # every boundary has the anchor's time of day, so expiries never decrease with k
        for k in range(hi, lo - 1, -1):
            e = intervals.lot_expiry(anchor, interval, count, k, length)
            if e <= now:
                return
            yield e, k, intervals.boundary(anchor, interval, count, k)
        return
    # Sub-day: expiry days never decrease with k, but boundaries on the last days of a long
    # month all expire on the last day of a shorter one, at their own time of day. Take one
    # expiry day at a time and merge the source days that land on it (at most four).
    top = hi
    while top >= lo:
        top_day = (anchor + top * step) // _DAY_MS
        target, first_day = intervals.month_step_of_day(top_day, length)
        expiry_day = target * _DAY_MS
        bottom = max(lo, _first_from(anchor, step, first_day * _DAY_MS))
        if first_day == top_day:  # the common case: one source day, already in order
            for k in range(top, bottom - 1, -1):
                b = anchor + k * step
                e = expiry_day + b % _DAY_MS
                if e <= now:
                    return
                yield e, k, b
        else:  # by time of day across the source days, ties newest first
            yield from heapq.merge(
                *(
                    _expiry_run(
                        anchor,
                        step,
                        expiry_day,
                        min(top, _first_from(anchor, step, (day + 1) * _DAY_MS) - 1),
                        max(bottom, _first_from(anchor, step, day * _DAY_MS)),
                        now=now,
                    )
                    for day in range(first_day, top_day + 1)
                ),
                reverse=True,
            )
        if expiry_day <= now:
            return  # earlier days' lots expire before this expiry day, so all are dead by now
        top = bottom - 1


def _first_from(anchor: int, step: int, t: int) -> int:
    """The first k whose boundary `anchor + k × step` is at or after `t`."""
    return -((anchor - t) // step)


def _expiry_run(
    anchor: int, step: int, expiry_day: int, hi: int, lo: int, *, now: int
) -> Iterator[tuple[int, int, int]]:
    """(expires_at, k, boundary) for k from hi down to lo, up to the first lot dead at `now`.

    The lots are made on one day and expire on `expiry_day` (epoch ms) at their own time of
    day, so their expiries fall with k.
    """
    for k in range(hi, lo - 1, -1):
        b = anchor + k * step
        e = expiry_day + b % _DAY_MS
        if e <= now:
            return
        yield e, k, b
