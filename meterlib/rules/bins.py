"""The time grid of a usage report. Pure.

Hour bins are UTC hours (as Autumn's); day, week and month bins start at the time zone's
midnights: a day is one calendar day there (23 or 25 hours long across a DST change), a week
starts on Monday, a month on the 1st. Instants are epoch ms; zones are `tzinfo`s (zoneinfo).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from meterlib.instants import EPOCH, to_ms

BIN_SIZES = ("hour", "day", "week", "month")
HOUR_MS = 3_600_000


def _local_date(at: int, zone: tzinfo) -> date:
    return (EPOCH + timedelta(milliseconds=at)).astimezone(zone).date()


def _midnight(day: date, zone: tzinfo) -> int:
    # a midnight a DST change skips maps past the gap (fold=0): still that day's first instant
    return to_ms(datetime(day.year, day.month, day.day, tzinfo=zone), field="bin")


def _first_day(day: date, bin_size: str) -> date:
    if bin_size == "week":
        return day - timedelta(days=day.weekday())
    if bin_size == "month":
        return day.replace(day=1)
    return day


def _next_day(day: date, bin_size: str) -> date:
    if bin_size == "week":
        return day + timedelta(days=7)
    if bin_size == "month":
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + timedelta(days=1)


def bin_start(at: int, bin_size: str, zone: tzinfo) -> int:
    """The start of the bin holding the instant `at`."""
    if bin_size == "hour":
        return at - at % HOUR_MS
    return _midnight(_first_day(_local_date(at, zone), bin_size), zone)


def grid(
    start: int, end: int, bin_size: str, zone: tzinfo, *, most: int, through_end: bool = False
) -> list[int] | None:
    """The edges of the bins from the one holding `start` to the last one starting before
    `end` (`through_end`: at or before it, as Autumn's grid): every bin's start, then the last
    one's end. None when that would be more than `most` bins."""
    if bin_size == "hour":
        first = start - start % HOUR_MS
        last = end if through_end else end - 1
        count = (last - last % HOUR_MS - first) // HOUR_MS + 1
        if count > most:
            return None
        return [first + i * HOUR_MS for i in range(max(count, 0) + 1)]
    day = _first_day(_local_date(start, zone), bin_size)
    edges = [_midnight(day, zone)]
    while edges[-1] < end or (through_end and edges[-1] == end):
        if len(edges) > most:
            return None
        day = _next_day(day, bin_size)
        edges.append(_midnight(day, zone))
    return edges
