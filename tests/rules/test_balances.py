"""rules/balances.py: how grants add up to a Balance, a flag and a grant row, field by field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from meterlib.instants import to_datetime
from meterlib.models import Feature, Grant, RolloverLot, RolloverRule
from meterlib.results import Balance, BreakdownItem, Flag, GrantRow, Reset, Rollover
from meterlib.rules import balances

D = Decimal
DAY = 86_400_000
METERED = Feature(id="f")
SEATS = Feature(id="f", consumable=False)


def grant(grant_id: str, **fields: Any) -> Grant:
    for name in ("included", "balance", "adjustment", "max_purchase"):
        if fields.get(name) is not None:
            fields[name] = D(str(fields[name]))
    return Grant(id=grant_id, seq=0, customer_id="c", feature_id="f", **fields)


def lot(lot_id: str, balance: object, usage: object, expires_at: int | None) -> RolloverLot:
    return RolloverLot(
        id=lot_id, balance=D(str(balance)), usage=D(str(usage)), expires_at=expires_at
    )


def when(ms: int | None) -> Any:
    return None if ms is None else to_datetime(ms)


def item(item_id: str, included: int, remaining: int, usage: int, **fields: Any) -> BreakdownItem:
    """A breakdown line; what is not given is what a plain limited grant shows."""
    plain: dict[str, Any] = {"plan_id": None, "unlimited": False, "reset": None, "expires_at": None}
    return BreakdownItem(
        id=item_id,
        included_grant=D(included),
        prepaid_grant=D(0),
        remaining=D(remaining),
        usage=D(usage),
        **(plain | fields),
    )


def test_nothing_to_show() -> None:
    assert balances.balance_of(METERED, []) is None


def test_limited_grants_add_up_with_their_lots_and_entities_grants() -> None:
    a = grant(
        "a",
        balance_id="shown-a",
        plan_id="p",
        included=10,
        adjustment=2,
        balance=-3,
        interval="month",
        next_reset_at=5 * DAY,
        expires_at=9 * DAY,
        overage_allowed=True,
        max_purchase=7,
        rollover=RolloverRule(max=None, duration="month", length=1),
        rollovers=(lot("a2", 1, 1, None), lot("a1", 4, 2, 3 * DAY)),
    )
    b = grant("b", included=5, balance=5, interval="month", next_reset_at=4 * DAY)
    entity = grant("e", entity_id="x", included=6, balance=2, rollovers=(lot("e1", 3, 0, DAY),))
    got = balances.balance_of(METERED, [a, b], [entity])
    item_a = item(
        "shown-a",
        12,
        0,
        15,
        plan_id="p",
        reset=Reset(interval="month", interval_count=1, resets_at=when(5 * DAY)),
        expires_at=when(9 * DAY),
        overage_allowed=True,
        max_purchase=D(7),
    )
    item_b = item(
        "b", 5, 5, 0, reset=Reset(interval="month", interval_count=1, resets_at=when(4 * DAY))
    )
    assert got == Balance(
        feature_id="f",
        granted=D(12 + 5 + 6 + (2 + 6 + 3)),
        remaining=D(0 + 5 + 2 + (1 + 4 + 3)),
        usage=D(15 + 0 + 4 + (1 + 2 + 0)),
        unlimited=False,
        overage_allowed=True,
        max_purchase=D(7),
        next_reset_at=when(4 * DAY),
        breakdown=(item_a, item_b),
        rollovers=(
            Rollover(granted=D(6), balance=D(4), expires_at=when(3 * DAY)),
            Rollover(granted=D(2), balance=D(1), expires_at=None),
            Rollover(granted=D(3), balance=D(3), expires_at=when(DAY)),
        ),
        has_rollover_rule=True,
    )


def test_no_reset_no_rule_no_overage() -> None:
    got = balances.balance_of(METERED, [grant("a", included=3, balance=1)])
    assert got is not None
    assert (got.next_reset_at, got.has_rollover_rule, got.overage_allowed) == (None, False, False)
    assert got.max_purchase is None and got.rollovers == ()
    # an entity's grant alone is shown in the totals without a breakdown line
    only_extra = balances.balance_of(METERED, [], [grant("a", included=3, balance=1)])
    assert only_extra is not None and only_extra.breakdown == () and only_extra.remaining == 1


def test_allocated_features_show_no_reset() -> None:
    seat = grant("a", included=3, balance=1, interval="month", next_reset_at=DAY)
    assert balances.breakdown_item(seat, SEATS).reset is None
    assert balances.breakdown_item(seat, METERED).reset == Reset(
        interval="month", interval_count=1, resets_at=when(DAY)
    )


def test_max_purchase_sums_the_overage_rows_unless_one_is_uncapped() -> None:
    capped = [
        grant("a", overage_allowed=True, max_purchase=3),
        grant("b", overage_allowed=True, max_purchase=4),
        grant("c", max_purchase=100),  # no overage: its cap does not count
    ]
    assert balances.max_purchase(capped) == 7
    assert balances.max_purchase([*capped, grant("d", overage_allowed=True)]) is None
    assert balances.max_purchase([grant("c", max_purchase=100)]) is None


def test_unlimited_grants_show_one_unlimited_line() -> None:
    common = {"plan_id": "p", "unlimited": True}
    a = grant("a", balance=-4, **common)
    b = grant("b", balance=-1, **common)
    rule = RolloverRule(max=None, duration="month", length=1)
    limited = grant("c", included=5, balance=5, rollover=rule, rollovers=(lot("l", 2, 1, None),))
    got = balances.balance_of(METERED, [a, b], [limited])
    line = item("a", 0, 0, 5, plan_id="p", unlimited=True)
    assert got == Balance(
        feature_id="f",
        granted=D(0),
        remaining=D(0),
        usage=D(5),
        unlimited=True,
        overage_allowed=False,
        max_purchase=None,
        next_reset_at=None,
        breakdown=(line,),
        rollovers=(Rollover(granted=D(3), balance=D(2), expires_at=None),),  # still listed
        has_rollover_rule=True,
    )
    mixed = balances.balance_of(METERED, [a, grant("d", unlimited=True, plan_id="q")])
    assert mixed is not None and mixed.breakdown[0].plan_id is None  # plans differ


def test_flag_and_grant_row() -> None:
    flag = Feature(id="f", type="boolean")
    assert balances.flag_of(flag, []) is None
    first = grant("a", balance_id="shown", plan_id="p", expires_at=DAY)
    assert balances.flag_of(flag, [first, grant("b")]) == Flag(
        id="shown", feature_id="f", plan_id="p", expires_at=when(DAY)
    )
    row_grant = grant(
        "a",
        entity_id="x",
        created_at=2 * DAY,
        included=4,
        balance=1,
        rollovers=(lot("l", 2, 1, None),),
    )
    assert balances.grant_row(row_grant, METERED, "expired") == GrantRow(
        item=balances.breakdown_item(row_grant, METERED),
        feature_id="f",
        customer_id="c",
        entity_id="x",
        status="expired",
        rollovers=(Rollover(granted=D(3), balance=D(2), expires_at=None),),
        created_at=when(2 * DAY),
    )


def test_rollovers_are_shown_soonest_expiry_first() -> None:
    lots = (lot("never", 1, 0, None), lot("late", 2, 0, 5 * DAY), lot("soon", 3, 0, 3 * DAY))
    got = balances.balance_of(METERED, [grant("a", included=1, balance=1, rollovers=lots)])
    assert got is not None
    assert [r.balance for r in got.rollovers] == [3, 2, 1]
