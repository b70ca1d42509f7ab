"""The rollover lots a catch-up makes (see `meterlib.rules.resets`): walked from the top of the
trimming order down, and built only while the cap keeps something of them. Pure.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from decimal import Decimal

from attrs import evolve

from meterlib import intervals
from meterlib.models import Grant, RolloverLot, RolloverRule
from meterlib.quantity import ZERO

_DAY_MS = 86_400_000
_SUB_DAY_MS = {"minute": 60_000, "hour": 3_600_000}


def resets_to_clear(balance: Decimal, included: Decimal) -> int | None:
    """How many refills a negative persisting balance needs to reach 0 or more (None: never)."""
    if included <= 0:
        return None
    # ceil(-balance / included) exactly, in integers: a Fraction costs 10× more
    (a, b), (c, d) = balance.as_integer_ratio(), included.as_integer_ratio()
    return -((a * d) // (b * c))


def balance_after(grant: Grant, done: int, *, persist_overage: bool) -> Decimal:
    """The balance after `done` resets in a row with nothing consumed in between."""
    if done == 0:
        return grant.balance
    if not persist_overage or grant.balance >= 0:
        return grant.included
    # the overage persists: each refill pays `included` of it back until none is left
    clear = resets_to_clear(grant.balance, grant.included)
    if clear is None or done <= clear:
        return grant.balance + done * grant.included
    return grant.included


_OrderKey = tuple[bool, int, int]  # (never expires, expires_at, creation rank): trimming order
_NewLot = tuple[int, int, int | None, Decimal]  # (k, boundary, expires_at, balance) of a new lot


def _order_key(expires_at: int | None, rank: int) -> _OrderKey:
    """Trimming takes the smallest first: soonest expiry, no expiry last, ties oldest first."""
    return (expires_at is None, expires_at or 0, rank)


def new_lots(
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
                    size = balance_after(
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
        size = balance_after(grant, k - first, persist_overage=persist_overage)
        older.append((k, b, expires_at, size if size <= left else left))
        left -= size
    return _built(grant, sorted(older)) + tuple(reversed(newest))


def merged(
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
            size = balance_after(grant, k - first, persist_overage=persist_overage)
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
