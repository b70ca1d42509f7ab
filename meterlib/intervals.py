"""Reset intervals in UTC: anchored boundaries, month ends clamped, no drift.

Boundary k of a grant is `add(anchor, interval, k × count)`, always computed from the anchor,
never chained from the previous boundary: anchored on Jan 31 a monthly grant resets on
Feb 28 (29), Mar 31, Apr 30. Locating the boundary around an instant is O(1).

A boundary that would fall after 9999-12-31 is `NEVER_MS`: later than every instant meterlib
accepts (a grant that reaches it simply never resets again), never an error.
"""

from __future__ import annotations

from calendar import isleap
from datetime import date
from functools import lru_cache

from meterlib.instants import NEVER_MS, to_datetime

_FIXED_MS = {
    "minute": 60_000,
    "hour": 3_600_000,
    "day": 86_400_000,
    "week": 604_800_000,
}
_DAY_MS = 86_400_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # by month number, common year
_MONTHS = {"month": 1, "quarter": 3, "semi_annual": 6, "year": 12}
_NEVER_DAY = NEVER_MS // _DAY_MS  # 10000-01-01, as an epoch day

# Autumn's ordering weights: shorter periods drain first
_ORDER_MINUTES = {
    "minute": 1,
    "hour": 60,
    "day": 1_440,
    "week": 10_080,
    "month": 43_200,
    "quarter": 129_600,
    "semi_annual": 259_200,
    "year": 525_600,
}
ONE_OFF_MINUTES = 1_000_000_000


def order_minutes(interval: str, count: int) -> int:
    """The length Autumn's deduction order compares: interval minutes × count."""
    minutes = _ORDER_MINUTES.get(interval)
    return ONE_OFF_MINUTES if minutes is None else minutes * count


def add(t: int, interval: str, n: int) -> int:
    """`t` (epoch ms) plus n intervals, month arithmetic clamped to the month's last day."""
    fixed = _FIXED_MS.get(interval)
    if fixed is not None:
        return min(t + fixed * n, NEVER_MS)
    return add_months(t, _MONTHS[interval] * n)


def add_months(t: int, months: int) -> int:
    """`t` plus whole calendar months (UTC), clamped to the month's last day.

    Plain calendar arithmetic on the day number: it sits on the hot path of every catch-up,
    where dateutil's relativedelta costs ten times as much (tests compare the two).
    """
    days, in_day = divmod(t, _DAY_MS)
    if days >= _NEVER_DAY:
        return NEVER_MS
    target = _plus_months(date.fromordinal(_EPOCH_ORDINAL + days), months)
    if target is None:
        return NEVER_MS
    return (target.toordinal() - _EPOCH_ORDINAL) * _DAY_MS + in_day


# every catch-up of a sub-day grant with expiring rollovers asks this for the day of its last
# boundary, the same day for every catch-up that day: a few hundred answers cost nothing to keep
@lru_cache(maxsize=256)
def month_step_of_day(day: int, months: int) -> tuple[int, int]:
    """(target, first): epoch day `day` plus `months` calendar months, and the first day of its
    month that lands on that same target (`day` itself unless the step is clamped).

    Several days land on one target only when it is a month end they are clamped to (Jan 28 to
    31 all land on Feb 28): instants of those days keep their time of day, so after the step
    they are ordered by time of day, no longer by instant.
    """
    if day >= _NEVER_DAY:
        return _NEVER_DAY, day
    source = date.fromordinal(_EPOCH_ORDINAL + day)
    target = _plus_months(source, months)
    if target is None:
        return _NEVER_DAY, day
    target_day = target.toordinal() - _EPOCH_ORDINAL
    if target.day < _days_in_month(target.year, target.month):
        return target_day, day
    return target_day, day - (source.day - target.day)


def _plus_months(start: date, months: int) -> date | None:
    """`start` plus whole calendar months, clamped to the month's last day; None after year
    9999 (and the first day there is before year 1)."""
    years, month0 = divmod(start.month - 1 + months, 12)
    year, month = start.year + years, month0 + 1
    if year > 9999:
        return None
    if year < 1:
        return date.min
    return date(year, month, min(start.day, _days_in_month(year, month)))


def _days_in_month(year: int, month: int) -> int:
    """calendar.monthrange's day count, without the weekday it also computes."""
    return 29 if month == 2 and isleap(year) else _MONTH_DAYS[month]


def step_ms(interval: str, count: int) -> int | None:
    """The fixed distance between boundaries in ms; None for calendar intervals (months)."""
    fixed = _FIXED_MS.get(interval)
    return None if fixed is None else fixed * count


def boundary(anchor: int, interval: str, count: int, k: int) -> int:
    """Boundary number k of a grant anchored at `anchor`: `add(anchor, interval, count × k)`."""
    fixed = _FIXED_MS.get(interval)  # `add` spelled out: every catch-up asks this
    if fixed is not None:
        return min(anchor + fixed * count * k, NEVER_MS)
    return add_months(anchor, _MONTHS[interval] * count * k)


def periods_through(anchor: int, interval: str, count: int, now: int) -> int:
    """The largest k with boundary(k) <= now (negative when `now` precedes the anchor)."""
    fixed = _FIXED_MS.get(interval)
    if fixed is not None:
        return (now - anchor) // (fixed * count)
    step = _MONTHS[interval] * count
    a, b = to_datetime(anchor), to_datetime(now)
    months = (b.year - a.year) * 12 + (b.month - a.month)
    k = months // step
    # the estimate is off by at most one period either way because of day-of-month clamping
    while boundary(anchor, interval, count, k + 1) <= now:
        k += 1
    while boundary(anchor, interval, count, k) > now:
        k -= 1
    return k


def lot_expiry(anchor: int, interval: str, count: int, k: int, months: int) -> int:
    """When a rollover made at boundary k expires: `months` calendar months later.

    For month-based intervals the months are counted from the anchor, so a lot lives exactly
    until a later boundary (anchored Jan 31: made Feb 28, expires Mar 31, not Mar 28).
    """
    step = _MONTHS.get(interval)
    if step is None:
        return add_months(boundary(anchor, interval, count, k), months)
    return add_months(anchor, step * count * k + months)
