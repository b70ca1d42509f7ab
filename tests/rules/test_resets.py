"""The pure catch-up function: resets, rollovers and expiry computed from timestamps."""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from attrs import evolve
from hypothesis import given, settings
from hypothesis import strategies as st

from meterlib import intervals
from meterlib.instants import to_ms
from meterlib.models import INTERVALS, ONE_OFF, Grant, RolloverLot, RolloverRule
from meterlib.rules import resets
from meterlib.rules.resets import advance, effective_cap, new_schedule

D = Decimal


def ms(*args: int) -> int:
    """Epoch ms of a UTC wall-clock time."""
    return to_ms(datetime(*args, tzinfo=UTC), field="t")  # type: ignore[misc]


def make(
    *,
    interval: str = "month",
    count: int = 1,
    anchor: int = ms(2025, 1, 1),
    period: int = 1,
    included: object = 100,
    balance: object = None,
    rollover: RolloverRule | None = None,
    lots: tuple[RolloverLot, ...] = (),
    expires_at: int | None = None,
    **extra: Any,
) -> Grant:
    """A grant on its schedule: next_reset_at is boundary `period` of `anchor`."""
    return Grant(
        id="g",
        seq=0,
        customer_id="c",
        feature_id="f",
        included=D(str(included)),
        interval=interval,
        interval_count=count,
        anchor=anchor,
        period=period,
        next_reset_at=intervals.boundary(anchor, interval, count, period),
        rollover=rollover,
        balance=D(str(included if balance is None else balance)),
        rollovers=lots,
        expires_at=expires_at,
        **extra,
    )


def lot(lot_id: str, balance: object, expires_at: int | None, usage: object = 0) -> RolloverLot:
    """A rollover lot."""
    return RolloverLot(
        id=lot_id, balance=D(str(balance)), usage=D(str(usage)), expires_at=expires_at
    )


def balances(grant: Grant) -> list[Decimal]:
    """The balances of a grant's rollover lots, in order."""
    return [r.balance for r in grant.rollovers]


# ---- the naive reference: every boundary replayed one by one, exactly as the rules read


def naive_trim(lots: list[RolloverLot], cap: Decimal, at: int) -> list[RolloverLot]:
    """Trim the lots live at `at` down to `cap`, soonest expiry first (none last, ties oldest)."""
    live = [i for i, r in enumerate(lots) if r.live_at(at)]
    excess = sum((lots[i].balance for i in live), D(0)) - cap
    if excess <= 0:
        return lots
    order = sorted(live, key=lambda i: (lots[i].expires_at is None, lots[i].expires_at or 0, i))
    out: dict[int, RolloverLot | None] = {}
    for i in order:
        if excess <= 0:
            break
        take = min(lots[i].balance, excess)
        excess -= take
        left = lots[i].balance - take
        out[i] = None if left == 0 else evolve(lots[i], balance=left)
    return [out.get(i, r) for i, r in enumerate(lots) if out.get(i, r) is not None]  # type: ignore[misc]


def naive_advance(grant: Grant, now: int, *, persist_overage: bool = False) -> Grant:
    """Reference: replay every due boundary in turn (O(periods), obviously right)."""
    g = grant
    if not (g.unlimited or g.interval == ONE_OFF or g.anchor is None or g.next_reset_at is None):
        anchor = g.anchor
        while True:
            b = intervals.boundary(anchor, g.interval, g.interval_count, g.period)
            if b > now or (g.expires_at is not None and b >= g.expires_at):
                break
            lots = [r for r in g.rollovers if r.live_at(b)]
            rule = g.rollover
            if rule is not None and g.balance > 0:
                expires = (
                    intervals.lot_expiry(
                        anchor, g.interval, g.interval_count, g.period, rule.length
                    )
                    if rule.duration == "month"
                    else None
                )
                lots.append(RolloverLot(id=f"{g.id}/{b}", balance=g.balance, expires_at=expires))
                cap = (
                    D(int(g.included * rule.max_percentage // 100))
                    if rule.max_percentage is not None
                    else rule.max
                )
                if cap is not None:
                    lots = naive_trim(lots, cap, b)
            overage = max(D(0), -g.balance) if persist_overage else D(0)
            g = evolve(
                g,
                balance=g.included - overage,
                adjustment=D(0),
                rollovers=tuple(lots),
                period=g.period + 1,
                next_reset_at=intervals.boundary(
                    anchor, g.interval, g.interval_count, g.period + 1
                ),
            )
    return evolve(g, rollovers=tuple(r for r in g.rollovers if r.live_at(now)))


# ---- examples


class TestCaughtUp:
    """The caught-up grant is built field by field (evolve is slow there)."""

    def test_every_other_field_carried_over(self) -> None:
        """Only the balance, adjustment, rollovers and schedule change; no field is lost."""
        sentinels: dict[str, Any] = {field.name: object() for field in attrs.fields(Grant)}
        grant = Grant(**sentinels)
        owned: dict[str, Any] = {"balance": D(1), "rollovers": (), "period": 7, "next_reset_at": 9}
        after = resets._caught_up(grant, **owned)
        assert after == evolve(grant, adjustment=D(0), **owned)


class TestSchedule:
    """new_schedule and reanchor: where boundary 0 sits."""

    def test_plain(self) -> None:
        """Without a custom first boundary the anchor is the creation time and period 1 is next."""
        created = ms(2025, 1, 31, 12)
        assert new_schedule("month", 1, created_at=created, first_reset_at=None) == (
            created,
            1,
            ms(2025, 2, 28, 12),
        )

    def test_custom_first_boundary(self) -> None:
        """A custom first next_reset_at becomes the anchor, boundary 0."""
        first = ms(2025, 1, 26)
        assert new_schedule("month", 1, created_at=ms(2025, 1, 31), first_reset_at=first) == (
            first,
            0,
            first,
        )

    def test_one_off(self) -> None:
        """A one-off grant has no schedule."""
        assert new_schedule(ONE_OFF, 1, created_at=5, first_reset_at=None) == (None, 0, None)

    def test_custom_first_boundary_sets_the_phase(self) -> None:
        """After a custom first boundary the next ones follow it, not the creation time."""
        first = ms(2025, 1, 26)
        anchor, period, _ = new_schedule(
            "month", 1, created_at=ms(2025, 1, 31), first_reset_at=first
        )
        assert anchor is not None
        g = make(anchor=anchor, period=period, balance=30)
        after = advance(g, first)
        assert after.balance == 100
        assert after.period == 1
        assert after.next_reset_at == ms(2025, 2, 26)

    def test_reanchor(self) -> None:
        """update(next_reset_at=...) makes the new instant boundary 0 of a new anchor."""
        g = resets.reanchor(make(), ms(2025, 3, 10))
        assert (g.anchor, g.period, g.next_reset_at) == (ms(2025, 3, 10), 0, ms(2025, 3, 10))
        assert advance(g, ms(2025, 4, 10)).next_reset_at == ms(2025, 5, 10)


class TestRefill:
    """A reset restores the included amount."""

    def test_used_then_boundary(self) -> None:
        """50 used, then a boundary passes: the balance is back to the included 100."""
        g = make(balance=50)
        after = advance(g, ms(2025, 2, 1, 0, 0, 1))
        assert after.balance == 100
        assert (after.period, after.next_reset_at) == (2, ms(2025, 3, 1))

    def test_half_open(self) -> None:
        """At exactly next_reset_at the reset has happened; a millisecond before it has not."""
        g = make(balance=50)
        assert advance(g, ms(2025, 2, 1) - 1) is g
        assert advance(g, ms(2025, 2, 1)).balance == 100

    def test_adjustment_cleared(self) -> None:
        """A reset clears the included-grant adjustment."""
        g = make(balance=150, adjustment=D(50))
        after = advance(g, ms(2025, 2, 1))
        assert (after.balance, after.adjustment) == (100, 0)

    @pytest.mark.parametrize("interval", INTERVALS)
    @pytest.mark.parametrize("count", [1, 2])
    def test_every_interval(self, interval: str, count: int) -> None:
        """Every interval kind resets exactly on boundary 1 = count intervals after the anchor."""
        anchor = ms(2025, 1, 31, 12)
        g = make(interval=interval, count=count, anchor=anchor, balance=0)
        due = intervals.add(anchor, interval, count)
        assert advance(g, due - 1) is g
        after = advance(g, due)
        assert (after.balance, after.period) == (100, 2)
        assert after.next_reset_at == intervals.add(anchor, interval, 2 * count)

    def test_month_end_anchor(self) -> None:
        """Anchored on Jan 31: resets on Feb 28, Mar 31, Apr 30, May 31, with no drift."""
        g = make(anchor=ms(2025, 1, 31, 12), period=1, balance=0)
        seen = []
        for now in (ms(2025, 2, 28, 12), ms(2025, 3, 31, 12), ms(2025, 4, 30, 12)):
            g = advance(evolve(g, balance=D(0)), now)
            assert g.balance == 100
            seen.append(g.next_reset_at)
        assert seen == [ms(2025, 3, 31, 12), ms(2025, 4, 30, 12), ms(2025, 5, 31, 12)]

    def test_month_end_anchor_leap_year(self) -> None:
        """Anchored on Jan 31 of a leap year the first reset is Feb 29."""
        g = make(anchor=ms(2024, 1, 31), balance=0)
        assert g.next_reset_at == ms(2024, 2, 29)
        assert advance(g, ms(2024, 2, 29)).next_reset_at == ms(2024, 3, 31)

    def test_feb_29_yearly(self) -> None:
        """A yearly Feb 29 anchor resets on Feb 28 in common years and Feb 29 in the next leap."""
        g = make(interval="year", anchor=ms(2024, 2, 29), balance=0)
        assert g.next_reset_at == ms(2025, 2, 28)
        after = advance(g, ms(2027, 3, 1))
        assert (after.period, after.next_reset_at) == (4, ms(2028, 2, 29))

    def test_never_resets(self) -> None:
        """One-off and unlimited grants are returned as they are, however late."""
        one_off = make(balance=5).__class__(
            id="o", seq=0, customer_id="c", feature_id="f", included=D(10), balance=D(5)
        )
        unlimited = make(unlimited=True, balance=5)
        assert advance(one_off, ms(2099, 1, 1)) is one_off
        assert advance(unlimited, ms(2099, 1, 1)) is unlimited


class TestPersistOverage:
    """With persist_overage the free overage is carried over the reset."""

    def test_carries_down(self) -> None:
        """−200 on a 100 grant: −100 after one reset, 0 after two, 100 after three."""
        g = make(balance=-200)
        got = [advance(g, ms(2025, m, 1), persist_overage=True).balance for m in (1, 2, 3, 4)]
        assert got == [-200, -100, 0, 100]

    def test_forgiven_by_default(self) -> None:
        """Without it a reset refills to the included amount however negative the balance was."""
        assert advance(make(balance=-200), ms(2025, 2, 1)).balance == 100

    def test_no_rollover_from_overage(self) -> None:
        """Resets that see a balance of 0 or less make no rollover."""
        g = make(balance=-200, rollover=RolloverRule(duration="forever"))
        after = advance(g, ms(2025, 5, 1), persist_overage=True)
        assert balances(after) == [100]
        assert after.rollovers[0].id == f"g/{ms(2025, 5, 1)}"


class TestRollovers:
    """Rollover creation, caps and expiry."""

    def test_lot_made(self) -> None:
        """The unused balance becomes a lot expiring `length` months after the boundary."""
        g = make(balance=60, rollover=RolloverRule(length=2))
        after = advance(g, ms(2025, 2, 1))
        assert after.rollovers == (
            RolloverLot(id=f"g/{ms(2025, 2, 1)}", balance=D(60), expires_at=ms(2025, 4, 1)),
        )

    def test_month_end_lot_lives_until_the_next_anchored_boundary(self) -> None:
        """Anchored Jan 31, a lot made at the Feb 28 reset expires at the Mar 31 reset."""
        g = make(anchor=ms(2026, 1, 31, 12), balance=70, rollover=RolloverRule(max=D(50)))
        after = advance(g, ms(2026, 2, 28, 12))
        assert [lot.expires_at for lot in after.rollovers] == [ms(2026, 3, 31, 12)]
        assert after.next_reset_at == ms(2026, 3, 31, 12)
        assert advance(after, ms(2026, 3, 31, 12) - 1).rollovers == after.rollovers
        assert balances(advance(after, ms(2026, 3, 31, 12))) == [50]  # the new lot only

    def test_cap_max(self) -> None:
        """max 500: existing [300] and a new [400] become [100, 400]."""
        old = lot("old", 300, ms(2025, 3, 1))
        g = make(included=400, rollover=RolloverRule(max=D(500), length=2), lots=(old,))
        assert balances(advance(g, ms(2025, 2, 1))) == [100, 400]

    def test_cap_percentage_wins(self) -> None:
        """max_percentage 50 of 100 beats max: [40] and a new [100] become [50]."""
        old = lot("old", 40, ms(2025, 3, 1))
        rule = RolloverRule(max=D(1000), max_percentage=D(50))
        g = make(rollover=rule, lots=(old,))
        after = advance(g, ms(2025, 2, 1))
        assert balances(after) == [50]
        assert after.rollovers[0].id == f"g/{ms(2025, 2, 1)}"

    def test_cap_on_single_new_lot(self) -> None:
        """max 100 with a new [250] keeps [100]."""
        g = make(balance=250, rollover=RolloverRule(max=D(100)))
        assert balances(advance(g, ms(2025, 2, 1))) == [100]

    def test_cap_percentage_floors(self) -> None:
        """effective_cap floors included × max_percentage / 100."""
        g = make(included="33", rollover=RolloverRule(max_percentage=D("10")))
        assert effective_cap(g) == 3
        assert effective_cap(make()) is None
        assert effective_cap(make(rollover=RolloverRule(max=D(7)))) == 7

    def test_untouched_three_months(self) -> None:
        """Monthly 100, max 50, length 1, idle three months: one live lot of 50, balance 100."""
        g = make(rollover=RolloverRule(max=D(50), length=1))
        after = advance(g, ms(2025, 4, 15))
        assert after.balance == 100
        assert after.rollovers == (
            RolloverLot(id=f"g/{ms(2025, 4, 1)}", balance=D(50), expires_at=ms(2025, 5, 1)),
        )

    def test_forever_accumulates(self) -> None:
        """Forever rollovers without a cap accumulate linearly, one per reset."""
        g = make(included=200, rollover=RolloverRule(duration="forever"))
        after = advance(g, ms(2025, 4, 1))
        assert balances(after) == [200, 200, 200]
        assert all(r.expires_at is None for r in after.rollovers)

    def test_expired_lots_dropped(self) -> None:
        """A lot is gone from its expiry on, even when no reset is due."""
        g = make(lots=(lot("a", 5, ms(2025, 1, 20)), lot("b", 6, None)))
        assert [r.id for r in advance(g, ms(2025, 1, 20)).rollovers] == ["b"]
        assert advance(g, ms(2025, 1, 20) - 1) is g

    def test_drained_lot_stays(self) -> None:
        """A drained lot stays listed until it expires when the cap does not reach it."""
        drained = lot("d", 0, ms(2025, 6, 1), usage=30)
        g = make(balance=10, rollover=RolloverRule(max=D(100), length=3), lots=(drained,))
        assert balances(advance(g, ms(2025, 2, 1))) == [0, 10]

    def test_drained_lot_trimmed(self) -> None:
        """A drained lot the trimming reaches is deleted."""
        drained = lot("d", 0, ms(2025, 3, 1), usage=30)
        g = make(balance=80, rollover=RolloverRule(max=D(50), length=3), lots=(drained,))
        assert advance(g, ms(2025, 2, 1)).rollovers == (
            RolloverLot(id=f"g/{ms(2025, 2, 1)}", balance=D(50), expires_at=ms(2025, 5, 1)),
        )

    def test_drained_lot_at_the_cap_edge(self) -> None:
        """Trimming stops once the cap is met, so a drained lot just past that point stays."""
        old = (lot("p", 30, ms(2025, 3, 1)), lot("z", 0, ms(2025, 4, 1), usage=20))
        g = make(balance=50, rollover=RolloverRule(max=D(50), length=3), lots=old)
        assert [(r.id, r.balance) for r in advance(g, ms(2025, 2, 1)).rollovers] == [
            ("z", 0),
            (f"g/{ms(2025, 2, 1)}", 50),
        ]

    def test_no_cap_without_new_lot(self) -> None:
        """The cap is applied when a lot is made; a reset that makes none trims nothing."""
        old = lot("old", 300, ms(2025, 6, 1))
        g = make(balance=0, included=0, rollover=RolloverRule(max=D(100)), lots=(old,))
        assert balances(advance(g, ms(2025, 3, 1))) == [300]


class TestExpiry:
    """A grant's expiry stops its resets."""

    def test_expiry_mid_period(self) -> None:
        """Resets run on every boundary before the expiry and none from it on."""
        g = make(balance=0, expires_at=ms(2025, 3, 15))
        after = advance(g, ms(2025, 9, 1))
        assert (after.period, after.next_reset_at, after.balance) == (3, ms(2025, 4, 1), 100)

    def test_boundary_at_expiry_never_happens(self) -> None:
        """A boundary exactly at expires_at does not reset the grant."""
        g = make(balance=0, expires_at=ms(2025, 3, 1))
        after = advance(g, ms(2025, 3, 1))
        assert (after.period, after.balance) == (2, 100)
        assert advance(evolve(after, balance=D(7)), ms(2026, 1, 1)).balance == 7

    def test_expiry_before_first_boundary(self) -> None:
        """A grant that expires before its first boundary never resets."""
        g = make(balance=3, expires_at=ms(2025, 1, 20))
        assert advance(g, ms(2025, 5, 1)) is g


class TestCost:
    """Catching up is O(live rollovers), never O(periods skipped)."""

    def test_minute_grant_idle_a_year(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A minute grant with a capped rollover idle a year catches up in a handful of steps."""
        calls = {"boundary": 0, "add_months": 0}

        def counting(name: str) -> Callable[..., int]:
            real = getattr(intervals, name)

            def wrapper(*args: Any) -> int:
                calls[name] += 1
                return int(real(*args))

            return wrapper

        anchor = ms(2025, 1, 1)
        g = make(interval="minute", anchor=anchor, rollover=RolloverRule(max=D(50)), balance=D(80))
        now = ms(2026, 1, 1, 0, 0, 30)
        monkeypatch.setattr(intervals, "boundary", counting("boundary"))
        monkeypatch.setattr(intervals, "add_months", counting("add_months"))
        after = advance(g, now)
        monkeypatch.undo()
        minutes = (now - anchor) // 60_000
        assert after.period == minutes + 1
        assert after.next_reset_at == anchor + (minutes + 1) * 60_000
        assert after.rollovers == (
            RolloverLot(
                id=f"g/{anchor + minutes * 60_000}", balance=D(50), expires_at=ms(2026, 2, 1)
            ),
        )
        assert calls["boundary"] < 50
        assert calls["add_months"] < 50

    def test_month_end_collision_is_cheap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Minute lots from Jan 28-31 all expiring on Feb 28 are merged lazily, not all built."""
        calls = {"n": 0}
        real = intervals.add_months

        def counting(t: int, months: int) -> int:
            calls["n"] += 1
            return real(t, months)

        g = make(
            interval="minute",
            anchor=ms(2024, 1, 1),
            rollover=RolloverRule(max=D(250), length=1),
            expires_at=ms(2025, 2, 1),
        )
        monkeypatch.setattr(intervals, "add_months", counting)
        after = advance(g, ms(2025, 2, 28, 12))
        monkeypatch.undo()
        # every lot made on Jan 28-31 expires on Feb 28 at its own time of day: the latest
        # times of day survive the cap, newest first on ties
        assert after.rollovers == tuple(
            lot(f"g/{ms(2025, 1, day, 23, 59)}", size, ms(2025, 2, 28, 23, 59))
            for day, size in ((29, 50), (30, 100), (31, 100))
        )
        assert calls["n"] < 50


class TestSubDayExpiries:
    """Sub-day lots made on a long month's last days share the short month's last day."""

    def test_holes(self) -> None:
        """Hourly lots of Jan 30-31 are live on Feb 28 at noon only if made after noon."""
        g = make(
            interval="hour",
            anchor=ms(2025, 1, 30),
            period=0,
            included=1,
            rollover=RolloverRule(length=1),
            expires_at=ms(2025, 2, 1),
        )
        now = ms(2025, 2, 28, 12)
        after = advance(g, now)
        assert after == naive_advance(g, now)
        assert [r.id for r in after.rollovers] == [
            f"g/{ms(2025, 1, day, hour)}" for day in (30, 31) for hour in range(13, 24)
        ]


# ---- properties against the naive reference

# coarse amounts make sums land exactly on caps; fine ones catch rounding slips
coarse = st.integers(-8, 8).map(lambda n: D(50 * n))
amounts = st.one_of(
    coarse, st.integers(-400, 400).map(D), st.integers(-4000, 4000).map(lambda n: D(n) / 10)
)
rules = st.builds(
    RolloverRule,
    max=st.one_of(st.none(), coarse.map(abs), st.integers(0, 500).map(D)),
    max_percentage=st.one_of(st.none(), st.none(), st.sampled_from([0, 50, 100, 150]).map(D)),
    length=st.integers(0, 3),
    duration=st.sampled_from(["month", "month", "forever"]),
)


def day_ms(year: int, month: int, day: int, minute_of_day: int) -> int:
    """Epoch ms of a day of a month (clamped to its last day) plus minutes."""
    return ms(year, month, min(day, monthrange(year, month)[1])) + minute_of_day * 60_000


@st.composite
def anchors(draw: st.DrawFn) -> int:
    """Anchors anywhere, often on the last days of a month (Feb 29 included)."""
    year, month = draw(st.integers(2019, 2030)), draw(st.integers(1, 12))
    day = draw(st.one_of(st.integers(1, 31), st.integers(27, 31)))
    if draw(st.booleans()):
        year, month, day = draw(st.sampled_from([2020, 2024, 2028])), 2, 29
    return day_ms(year, month, day, draw(st.integers(0, 1439)))


@st.composite
def scenarios(
    draw: st.DrawFn, *, max_gap: int = 150, sub_day: bool = False
) -> tuple[Grant, int, bool]:
    """A grant on its schedule, a `now` some periods later, and persist_overage.

    With `sub_day`, a minute or hour grant whose resets run over the last days of a month
    (up to its expiry) and a `now` on the last days of a month `length` later: the lots then
    share expiry days and outlive `now` or not by their time of day.
    """
    rule = draw(st.one_of(st.none(), rules))
    if sub_day:
        interval = draw(st.sampled_from(["minute", "hour"]))
        length = draw(st.integers(1, 3))
        rule = evolve(draw(rules), duration="month", length=length)
        year, month = draw(st.integers(2019, 2030)), draw(st.integers(1, 12))
        anchor = day_ms(year, month, draw(st.integers(26, 31)), draw(st.integers(0, 1439)))
        later = datetime(year + (month - 1 + length) // 12, (month - 1 + length) % 12 + 1, 1)
        now = day_ms(later.year, later.month, draw(st.integers(27, 31)), draw(st.integers(0, 1439)))
    else:
        interval = draw(st.sampled_from(INTERVALS))
        anchor = draw(anchors())
    count = draw(st.integers(1, 3))
    period = draw(st.integers(0, 3))

    def at(k: int) -> int:
        return intervals.boundary(anchor, interval, count, k)

    step = at(1) - at(0)
    jitter = st.one_of(st.sampled_from([-1, 0, 1]), st.integers(0, step))
    if sub_day:
        gap = min(
            draw(st.integers(0, max_gap)), intervals.periods_through(anchor, interval, count, now)
        )
        expires_at: int | None = at(period + gap) + draw(jitter)
    else:
        gap = draw(st.integers(0, max_gap))
        now = at(period + gap) + draw(jitter)

    def instant() -> int:
        return at(period + draw(st.integers(-1, gap + 3))) + draw(jitter)

    if not sub_day:
        expires_at = draw(st.one_of(st.none(), st.none(), st.builds(instant)))
    lot_sizes = st.one_of(st.just(0), coarse.map(abs), st.integers(0, 300))
    lots = tuple(
        lot(f"old{i}", draw(lot_sizes), draw(st.one_of(st.none(), st.builds(instant))))
        for i in range(draw(st.integers(0, 3)))
    )
    grant = make(
        interval=interval,
        count=count,
        anchor=anchor,
        period=period,
        included=draw(st.one_of(coarse.map(abs), amounts.map(abs))),
        balance=draw(amounts),
        rollover=rule,
        lots=lots,
        expires_at=expires_at,
        adjustment=D(3),
    )
    return grant, now, draw(st.booleans())


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_matches_naive_replay(scenario: tuple[Grant, int, bool]) -> None:
    """advance equals replaying every boundary one by one, for every interval and rule."""
    grant, now, persist = scenario
    assert advance(grant, now, persist_overage=persist) == naive_advance(
        grant, now, persist_overage=persist
    )


@settings(max_examples=40, deadline=None)
@given(scenarios(max_gap=300, sub_day=True))
def test_matches_naive_replay_sub_day(scenario: tuple[Grant, int, bool]) -> None:
    """Sub-day lots made on a long month's last days, outliving `now` by their time of day."""
    grant, now, persist = scenario
    assert advance(grant, now, persist_overage=persist) == naive_advance(
        grant, now, persist_overage=persist
    )


@settings(max_examples=60, deadline=None)
@given(scenarios(max_gap=600), st.floats(0, 1))
def test_observation_independence(scenario: tuple[Grant, int, bool], split: float) -> None:
    """Advancing to t1 and then to t2 equals advancing straight to t2."""
    grant, now, persist = scenario
    assert grant.next_reset_at is not None
    start = grant.next_reset_at - 1
    middle = start + int((now - start) * split)
    once = advance(grant, now, persist_overage=persist)
    twice = advance(advance(grant, middle, persist_overage=persist), now, persist_overage=persist)
    assert twice == once


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(scenarios(max_gap=40), scenarios(max_gap=300, sub_day=True)),
    st.floats(0, 1, exclude_max=True),
)
def test_settled_until_is_when_time_first_changes_the_grant(
    scenario: tuple[Grant, int, bool], split: float
) -> None:
    """Before `settled_until`, advancing to any later instant gives the grant as it stood at
    `now` and the same liveness; at that instant, something differs (the bound is the first)."""
    grant, now, persist = scenario
    settled = advance(grant, now, persist_overage=persist)
    until = resets.settled_until(settled, now)
    end = now + 10 * 366 * 86_400_000 if until is None else until
    assert end > now
    for t in {now, now + int((end - now) * split), end - 1}:
        assert advance(grant, t, persist_overage=persist) == settled
        assert advance(settled, t, persist_overage=persist) == settled
        assert settled.live_at(t) == settled.live_at(now)
    if until is not None:
        later = advance(grant, until, persist_overage=persist)
        assert later != settled or later.live_at(until) != settled.live_at(now)


def test_settled_until_of_a_grant_that_never_changes() -> None:
    """An unlimited or one-off grant with no expiry and no dated lots is settled for good."""
    one_off = evolve(make(), interval=ONE_OFF, anchor=None, next_reset_at=None)
    now = ms(2025, 1, 15)
    assert resets.settled_until(one_off, now) is None
    assert resets.settled_until(make(unlimited=True), now) is None
    assert resets.settled_until(evolve(one_off, expires_at=ms(2025, 1, 2)), now) is None
    assert resets.settled_until(evolve(one_off, expires_at=ms(2025, 2, 2)), now) == ms(2025, 2, 2)
    assert resets.settled_until(make(), now) == ms(2025, 2, 1)


# ---- edges the random scenarios seldom draw (each one kills a mutant that survived them)

MONTHLY_LOTS = RolloverRule(length=3, duration="month")


@pytest.mark.parametrize(
    ("grant", "resets_passed"),
    [
        # the overage is paid back to exactly 1 (or 0.5) after one refill: that reset already
        # sees a positive balance, so the next one makes a lot of it
        (make(included=10, balance=-9, rollover=MONTHLY_LOTS), 3),
        (make(included=10, balance="-9.5", rollover=MONTHLY_LOTS), 3),
        # a positive balance on a grant that refills nothing: one lot, then nothing more
        (make(included=0, balance=5, rollover=MONTHLY_LOTS), 3),
        # an overage that three refills do not clear: no lot is made, so the old lot over the
        # cap is left as it is (the cap trims only beside a new lot)
        (
            make(
                included=10,
                balance=-25,
                rollover=RolloverRule(max=D(50), length=3, duration="month"),
                lots=(lot("old0", 300, None),),
            ),
            3,
        ),
    ],
    ids=["paid-back-to-1", "paid-back-to-half", "refills-nothing", "unpaid-keeps-old-lot"],
)
def test_persisting_overage_edges_match_the_replay(grant: Grant, resets_passed: int) -> None:
    """advance equals the boundary-by-boundary replay where the overage is paid back."""
    assert grant.next_reset_at is not None
    now = intervals.boundary(grant.anchor, grant.interval, 1, grant.period + resets_passed - 1)
    for persist in (True, False):
        assert advance(grant, now, persist_overage=persist) == naive_advance(
            grant, now, persist_overage=persist
        )


def test_cap_percentage_of_a_fraction() -> None:
    """A fractional max_percentage: floor(100 × 12.5 / 100) = 12, floor(10 × 33.3 / 100) = 3."""
    assert effective_cap(make(rollover=RolloverRule(max_percentage=D("12.5")))) == 12
    assert effective_cap(make(included=10, rollover=RolloverRule(max_percentage=D("33.3")))) == 3


def test_settled_until_of_a_grant_expiring_now() -> None:
    """A grant that expires at `now` never changes after it: nothing is ahead."""
    now = ms(2025, 1, 15)
    one_off = evolve(make(), interval=ONE_OFF, anchor=None, next_reset_at=None, expires_at=now)
    assert resets.settled_until(one_off, now) is None
