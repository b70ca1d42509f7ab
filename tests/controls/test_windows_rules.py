"""controls/windows.py's pure rules one by one: the anchor grant, a counter's reading at the
edges of its window, giving room back, what changes count against a cap, and the gate."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterlib.controls import UsageLimit, windows
from meterlib.models import Counter, Grant
from meterlib.rules.deduction import Change, Entry
from tests.rules.test_resets import ms

D = Decimal
START, END = ms(2025, 3, 1), ms(2025, 4, 1)


def grant(
    grant_id: str, *, entity: str | None = None, created: int = 0, feature: str = "f"
) -> Grant:
    return Grant(
        id=grant_id,
        seq=0,
        customer_id="c",
        feature_id=feature,
        entity_id=entity,
        created_at=created,
    )


def cap(*, credits: bool = False, feature: str = "f", limit: object = 10) -> windows.Cap:
    rule = UsageLimit(feature_id=feature, enabled=True, limit=D(str(limit)), interval="month")
    return windows.Cap(limit=rule, scope=None, credits=credits, start=START, end=END)


def counter(value: object, *, start: int | None = START, end: int | None = END) -> Counter:
    return Counter(
        customer_id="c", key="k", value=D(str(value)), window_start=start, window_end=end
    )


def change(grant_id: str, balance: object, value: object, *, lot: str | None = None) -> Change:
    return Change(grant_id, lot, D(1), D(str(balance)), D(str(value)))


def test_customer_window_never_anchors_on_an_entity_grant() -> None:
    entities_only = [grant("e1", entity="e1", created=1)]
    customer = grant("c1", created=5)
    assert windows.anchor_grant([entities_only], entity_scope=None) is None
    assert windows.anchor_grant([entities_only, [customer]], entity_scope=None) is customer


def test_entity_window_prefers_the_entitys_own_grant_over_older_ones() -> None:
    group = [grant("c1", created=1), grant("e1", entity="e1", created=3), grant("e2", entity="e2")]
    assert windows.anchor_grant([group], entity_scope="e1") is group[1]
    # an entity without its own grant follows the oldest of any
    assert windows.anchor_grant([group], entity_scope="e9") is group[2]


@pytest.mark.parametrize(
    ("interval", "now", "bounds"),
    [
        ("day", ms(2025, 3, 15, 13), (ms(2025, 3, 15), ms(2025, 3, 16))),
        ("week", ms(2025, 3, 15, 13), (ms(2025, 3, 10), ms(2025, 3, 17))),  # a Saturday
        ("month", ms(2025, 3, 15, 13), (ms(2025, 3, 1), ms(2025, 4, 1))),
        ("year", ms(2025, 3, 15, 13), (ms(2025, 1, 1), ms(2026, 1, 1))),
    ],
)
def test_calendar_windows(interval: str, now: int, bounds: tuple[int, int]) -> None:
    assert windows.calendar_window(interval, now) == bounds
    assert windows.window(interval, None, now) == bounds


def test_counter_key_keeps_non_ascii_ids_as_they_are() -> None:
    # stored keys: a change of encoding would lose every counter already kept
    assert windows.counter_key("é", "f", "") == 'usage_window:["é", "f", ""]'


def test_a_counter_reads_only_inside_the_window_it_was_counted_in() -> None:
    c = cap()
    assert windows.used(c, counter(4), END - 1) == 4
    assert windows.used(c, counter(4), END) == 0  # the window is half-open
    assert windows.used(c, counter(4, start=START - 1), START) == 0  # another window's count
    assert windows.used(c, counter(4, end=None), 0) == 0  # no end: never current
    assert windows.used(c, None, START) == 0


def test_give_back_only_to_a_current_count_and_never_below_zero() -> None:
    c = cap()
    assert windows.give_back(c, counter(5), D(1), START) == counter(4)
    assert windows.give_back(c, counter(1), D(1), START) == counter(0)
    assert windows.give_back(c, counter(1), D(3), START) == counter(0)
    assert windows.give_back(c, counter(5), D(0), START) is None
    assert windows.give_back(c, counter(5), D(1), END) is None  # that window is over
    assert windows.give_back(c, counter(0), D(1), START) is None
    assert windows.give_back(c, None, D(1), START) is None


def test_consumed_and_freed_in_tracked_units() -> None:
    c = cap()
    changes = [change("a", 2, 1), change("b", 6, 3, lot="r")]
    assert windows.consumed(c, changes, {}) == 4
    assert windows.freed(c, [change("a", -2, -1), change("b", -6, -3)], {}) == 4


def test_consumed_and_freed_in_credits_of_the_capped_pool_only() -> None:
    c = cap(credits=True, feature="credits")
    pools = {"a": "credits", "b": "credits", "x": "other"}
    taken = [change("a", 2, 1), change("b", 6, 3), change("x", 5, 5), change("a", 7, 7, lot="r")]
    assert windows.consumed(c, taken, pools) == 8  # rollover credits are not counted
    given = [change("a", -2, -1), change("b", -6, -3), change("x", -5, -5)]
    given.append(change("a", -7, -7, lot="r"))
    assert windows.freed(c, given, pools) == 15  # but are given back (as Autumn does)


def test_gate_room_skips_caps_that_do_not_apply() -> None:
    other = cap(credits=True, feature="credits")
    metered = cap()
    gate = windows.Gate([other, metered], [D(1), D(4)])
    entry = Entry(grant("a"), D(2), allow_over=False)
    assert gate.room(entry, D(2), rollover=False) == 8
    assert windows.Gate([other], [D(1)]).room(entry, D(2), rollover=False) is None
    gate.took(entry, D(2), D(1), rollover=False)
    assert gate.room(entry, D(2), rollover=False) == 6
