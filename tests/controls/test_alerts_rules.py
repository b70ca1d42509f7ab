"""controls/alerts.py's pure rules one by one: crossings at their edges, the top-up trigger
balance, rate-limit counters and their windows, notices, and the paydown of overage."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterlib.controls import AutoTopup, PurchaseLimit, UsageAlert, alerts
from meterlib.models import Counter, Grant, RolloverLot
from meterlib.results import Balance

D = Decimal
MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000
NOW = 1_000 * DAY


def balance(
    granted: object, remaining: object, usage: object, *, unlimited: bool = False
) -> Balance:
    return Balance(
        feature_id="f",
        granted=D(str(granted)),
        remaining=D(str(remaining)),
        usage=D(str(usage)),
        unlimited=unlimited,
        overage_allowed=False,
        max_purchase=None,
        next_reset_at=None,
        breakdown=(),
    )


def alert(kind: str, threshold: object) -> UsageAlert:
    return UsageAlert(
        feature_id="f", enabled=True, threshold=D(str(threshold)), threshold_type=kind
    )


@pytest.mark.parametrize(
    ("kind", "threshold", "old", "new", "fires"),
    [
        ("usage", 5, (10, 6, 4), (10, 5, 5), True),  # reaching the threshold crosses it
        ("usage", 5, (10, 5, 5), (10, 4, 6), False),  # already there before
        ("usage", 5, (10, 7, 3), (10, 6, 4), False),
        ("remaining", 5, (10, 6, 4), (10, 5, 5), True),
        ("remaining", 5, (10, 5, 5), (10, 4, 6), False),
        ("remaining", 5, (10, 7, 3), (10, 6, 4), False),
        ("usage_percentage", 50, (10, 6, 4), (10, 5, 5), True),
        ("usage_percentage", 50, (10, 5, 5), (10, 4, 6), False),
        ("usage_percentage", 50, (20, 11, 9), (10, 5, 5), True),  # each side its own granted
        ("usage_percentage", 50, (10, 7, 3), (10, 6, 4), False),
        ("remaining_percentage", 50, (10, 6, 4), (10, 5, 5), True),
        ("remaining_percentage", 50, (10, 5, 5), (10, 4, 6), False),
        ("remaining_percentage", 50, (20, 11, 9), (10, 5, 5), True),
        ("remaining_percentage", 50, (10, 7, 3), (10, 6, 4), False),
        ("usage_percentage", 50, (0, 0, 0), (10, 5, 5), False),  # no percentage of nothing
        ("usage_percentage", 50, (10, 6, 4), (0, 0, 5), False),
        ("remaining_percentage", 0, (10, 1, 9), (0, 0, 10), False),
        ("usage_percentage", 50, (1, 0.6, 0.4), (1, 0.4, 0.6), True),  # a granted of 1 is fine
        ("usage_percentage", 50, (2, 1.2, 0.8), (1, 0.4, 0.6), True),
    ],
)
def test_crossings(
    kind: str,
    threshold: int,
    old: tuple[float, float, float],
    new: tuple[float, float, float],
    fires: bool,
) -> None:
    assert alerts.crossed(alert(kind, threshold), balance(*old), balance(*new)) is fires


def test_an_unlimited_balance_crosses_nothing() -> None:
    rule = alert("usage", 5)
    assert not alerts.crossed(rule, balance(10, 6, 4, unlimited=True), balance(10, 5, 5))
    assert not alerts.crossed(rule, balance(10, 6, 4), balance(10, 5, 5, unlimited=True))


def grant(
    grant_id: str,
    balance_: object,
    *,
    created: int = 0,
    seq: int = 0,
    entity: str | None = None,
    overage: bool = False,
    unlimited: bool = False,
    lots: tuple[object, ...] = (),
) -> Grant:
    return Grant(
        id=grant_id,
        seq=seq,
        customer_id="c",
        feature_id="f",
        entity_id=entity,
        balance=D(str(balance_)),
        created_at=created,
        overage_allowed=overage,
        unlimited=unlimited,
        rollovers=tuple(
            RolloverLot(id=f"{grant_id}/{i}", balance=D(str(b)), expires_at=None)
            for i, b in enumerate(lots)
        ),
    )


def test_topup_balance_adds_overage_and_rollovers() -> None:
    assert alerts.topup_balance([grant("a", -3, lots=(2, 4)), grant("b", 5)]) == 8
    assert alerts.topup_balance([]) == 0


def test_topup_key_keeps_non_ascii_ids_as_they_are() -> None:
    # stored keys: a change of encoding would lose every count already kept
    assert alerts.topup_key("attempts", "é") == 'auto_topup:["attempts", "é"]'


def topup(limit: PurchaseLimit | None = None) -> AutoTopup:
    return AutoTopup(
        feature_id="f", enabled=True, threshold=D(1), quantity=D(5), purchase_limit=limit
    )


def keyed(*counters: Counter) -> dict[str, Counter]:
    return {c.key: c for c in counters}


def test_attempts_open_a_fixed_window_at_the_first_one_and_block_inside_it() -> None:
    config = topup()
    first = keyed(*alerts.record_attempt(config, {}, NOW, customer_id="c", success=True))
    attempts = first[alerts.topup_key("attempts", "f")]
    assert (attempts.value, attempts.window_start, attempts.window_end) == (
        1,
        NOW,
        NOW + 10 * MINUTE,
    )
    assert first[alerts.topup_key("consecutive_failures", "f")].value == 0
    assert {c.customer_id for c in first.values()} == {"c"}
    assert alerts.blocked(config, first, NOW) is None
    later = NOW + 9 * MINUTE
    second = first | keyed(
        *alerts.record_attempt(config, first, later, customer_id="c", success=True)
    )
    attempts = second[alerts.topup_key("attempts", "f")]
    assert (attempts.value, attempts.window_start) == (2, NOW)  # the window does not move
    assert alerts.blocked(config, second, later) == alerts.Block(
        reason="attempt_limit_reached", until=NOW + 10 * MINUTE
    )
    assert alerts.blocked(config, second, NOW + 10 * MINUTE) is None  # half-open: over at its end
    third = keyed(
        *alerts.record_attempt(config, second, NOW + 10 * MINUTE, customer_id="c", success=True)
    )
    restarted = third[alerts.topup_key("attempts", "f")]
    assert (restarted.value, restarted.window_start) == (1, NOW + 10 * MINUTE)


def test_a_failure_blocks_for_an_hour_and_three_in_a_row_suspend() -> None:
    config = topup()
    counters: dict[str, Counter] = {}
    at = NOW
    for streak in (1, 2, 3):
        counters |= keyed(
            *alerts.record_attempt(config, counters, at, customer_id="c", success=False)
        )
        failures = counters[alerts.topup_key("failures", "f")]
        assert (failures.value, failures.window_end) == (1, at + HOUR)
        assert counters[alerts.topup_key("consecutive_failures", "f")].value == streak
        if streak < 3:
            assert alerts.blocked(config, counters, at) == alerts.Block(
                reason="failed_attempt_limit_reached", until=at + HOUR
            )
            assert alerts.blocked(config, counters, at + HOUR) is None
        at += HOUR
    suspended = alerts.Block(reason="suspended_after_failures", until=None)
    assert alerts.blocked(config, counters, at + 100 * DAY) == suspended
    counters |= keyed(*alerts.record_attempt(config, counters, at, customer_id="c", success=True))
    assert alerts.blocked(config, counters, at + HOUR) is None  # a success ends the streak


def test_rate_limit_windows_follow_the_limits_given() -> None:
    limits = alerts.TopupLimits(attempt_minutes=3, failure_hours=2)
    made = alerts.record_attempt(topup(), {}, NOW, customer_id="c", success=False, limits=limits)
    counters = keyed(*made)
    assert counters[alerts.topup_key("attempts", "f")].window_end == NOW + 3 * MINUTE
    assert counters[alerts.topup_key("failures", "f")].window_end == NOW + 2 * HOUR


def test_purchase_limit_counts_successes_in_its_own_interval() -> None:
    config = topup(PurchaseLimit(interval="day", interval_count=2, limit=1))
    counters = keyed(*alerts.record_attempt(config, {}, NOW, customer_id="c", success=True))
    purchases = counters[alerts.topup_key("purchases", "f")]
    assert (purchases.value, purchases.window_end) == (1, NOW + 2 * DAY)
    assert alerts.blocked(config, counters, NOW + 20 * MINUTE) == alerts.Block(
        reason="purchase_limit_reached", until=NOW + 2 * DAY
    )
    failed = keyed(*alerts.record_attempt(config, {}, NOW, customer_id="c", success=False))
    assert alerts.topup_key("purchases", "f") not in failed


def test_purchase_count_sets_the_current_windows_count() -> None:
    config = topup(PurchaseLimit(interval="day", interval_count=2, limit=3))
    assert alerts.purchase_count(topup(), {}, NOW, 2, customer_id="c") is None
    fresh = alerts.purchase_count(config, {}, NOW, 2, customer_id="c")
    assert fresh is not None
    assert (fresh.value, fresh.window_start, fresh.window_end) == (2, NOW, NOW + 2 * DAY)
    kept = alerts.purchase_count(config, keyed(fresh), NOW + HOUR, 0, customer_id="c")
    assert kept is not None
    assert (kept.value, kept.window_start) == (0, NOW)  # the running window is kept


def test_a_block_is_noticed_once_per_window_and_a_suspension_once_a_day() -> None:
    block = alerts.Block(reason="attempt_limit_reached", until=NOW + 5 * MINUTE)
    assert alerts.notice_due(block, {}, "f", NOW)
    seen = alerts.notice_record(block, "f", NOW, customer_id="c")
    assert (seen.value, seen.window_start, seen.window_end) == (1, NOW, NOW + 5 * MINUTE)
    assert not alerts.notice_due(block, keyed(seen), "f", NOW + 5 * MINUTE - 1)
    assert alerts.notice_due(block, keyed(seen), "f", NOW + 5 * MINUTE)
    short = alerts.Block(reason="attempt_limit_reached", until=NOW + 1)
    assert alerts.notice_record(short, "f", NOW, customer_id="c").window_end == NOW + MINUTE
    suspended = alerts.Block(reason="suspended_after_failures", until=None)
    assert alerts.notice_record(suspended, "f", NOW, customer_id="c").window_end == NOW + DAY
    open_ended = Counter(customer_id="c", key=seen.key, value=D(1))
    assert alerts.notice_due(block, keyed(open_ended), "f", NOW)


def test_paydown_pays_pay_per_use_then_oldest_customer_overage_first() -> None:
    grants = [
        grant("old", -4, created=1),
        grant("ppu", -3, created=5, overage=True),
        grant("young", -10, created=9),
        grant("same_time", -1, created=1, seq=1),
        grant("entity", -5, entity="e"),
        grant("free", -5, unlimited=True),
        grant("fine", 2),
        grant("paid_up", 0, overage=True),  # nothing to pay: never changed
    ]
    changed, left = alerts.paydown(grants, D(8))
    assert {k: g.balance for k, g in changed.items()} == {"ppu": 0, "old": 0, "same_time": 0}
    assert left == 0
    changed, left = alerts.paydown(grants, D(20))
    assert {k: g.balance for k, g in changed.items()} == {
        "ppu": 0,
        "old": 0,
        "same_time": 0,
        "young": 0,
    }
    assert left == 2
    changed, left = alerts.paydown(grants, D(5))
    assert {k: g.balance for k, g in changed.items()} == {"ppu": 0, "old": -2}
    assert left == 0
