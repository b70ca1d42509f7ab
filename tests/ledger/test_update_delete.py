"""update() and delete(): Autumn's target/delta algorithm (autumn-lifecycle §3-4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterlib import (
    BalanceNotFound,
    CustomerNotFound,
    FeatureNotFound,
    InvalidRequest,
    Ledger,
    ManualClock,
)
from meterlib.results import Balance

D = Decimal
START = datetime(2025, 1, 31, 12, tzinfo=UTC)
FEB_28 = datetime(2025, 2, 28, 12, tzinfo=UTC)


def bal(ledger: Ledger, feature_id: str = "messages") -> Balance:
    b = ledger.balance("c1", feature_id)
    assert b is not None
    return b


def totals(b: Balance) -> tuple[Decimal, Decimal, Decimal]:
    return (b.granted, b.remaining, b.usage)


def rows(b: Balance) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Each breakdown item as (included_grant, remaining, usage), by id."""
    return {i.id: (i.included_grant, i.remaining, i.usage) for i in b.breakdown}


@pytest.fixture
def three_rows(ledger: Ledger) -> Ledger:
    """A monthly 100, B monthly 50, C one-off 200, after a track of 120: A 0, B 30, C 200."""
    ledger.create("c1", "messages", included=100, reset="month", balance_id="A")
    ledger.create("c1", "messages", included=50, reset="month", balance_id="B")
    ledger.create("c1", "messages", included=200, balance_id="C")
    ledger.track("c1", "messages", value=120)
    assert rows(bal(ledger)) == {
        "A": (D(100), D(0), D(100)),
        "B": (D(50), D(30), D(20)),
        "C": (D(200), D(200), D(0)),
    }
    return ledger


class TestRemaining:
    """remaining sets the sum of the targeted rows' balances; granted never moves (§3.4)."""

    def test_lower_then_above_the_grant(self, ledger: Ledger) -> None:
        """100/100 → remaining 80 gives usage 20; remaining 120 gives usage −20 (credit)."""
        ledger.create("c1", "messages", included=100)
        b = ledger.update("c1", "messages", remaining=80)
        assert totals(b) == (D(100), D(80), D(20))
        b = ledger.update("c1", "messages", remaining=120)
        assert totals(b) == (D(100), D(120), D(-20))
        assert totals(bal(ledger)) == (D(100), D(120), D(-20))

    def test_current_balance_alias(self, ledger: Ledger) -> None:
        """current_balance is an alias of remaining."""
        ledger.create("c1", "messages", included=100)
        ledger.update("c1", "messages", current_balance=30)
        assert totals(bal(ledger)) == (D(100), D(30), D(70))

    def test_worked_example_three_rows(self, three_rows: Ledger) -> None:
        """A 0, B 30, C 200: remaining 150 drains B then C; remaining 300 lands on A (§3.4)."""
        ledger = three_rows
        ledger.update("c1", "messages", remaining=150)
        b = bal(ledger)
        assert rows(b) == {
            "A": (D(100), D(0), D(100)),
            "B": (D(50), D(0), D(50)),
            "C": (D(200), D(150), D(50)),
        }
        assert totals(b) == (D(350), D(150), D(200))
        ledger.update("c1", "messages", remaining=300)
        b = bal(ledger)
        assert rows(b) == {
            "A": (D(100), D(150), D(-50)),
            "B": (D(50), D(0), D(50)),
            "C": (D(200), D(150), D(50)),
        }
        assert totals(b) == (D(350), D(300), D(50))

    def test_decrease_past_zero_lands_on_the_first_row(self, ledger: Ledger) -> None:
        """A decrease left after every row is at 0 drives the first row negative (pass 2)."""
        ledger.create("c1", "messages", included=10, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=10, balance_id="B")
        ledger.update("c1", "messages", add_to_balance=-25)
        b = bal(ledger)
        assert rows(b) == {"A": (D(10), D(0), D(15)), "B": (D(10), D(0), D(10))}
        assert totals(b) == (D(20), D(0), D(25))

    def test_increase_heals_negative_rows_first(self, ledger: Ledger) -> None:
        """An increase first lifts negative rows to 0, then the rest goes to the first row."""
        ledger.create("c1", "messages", included=10, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=10, overage_allowed=True, balance_id="B")
        ledger.track("c1", "messages", value=25)  # A 0, B -5
        assert rows(bal(ledger)) == {"A": (D(10), D(0), D(10)), "B": (D(10), D(0), D(15))}
        ledger.update("c1", "messages", remaining=8)  # amount -13: B -5 → 0, A +8
        b = bal(ledger)
        assert rows(b) == {"A": (D(10), D(8), D(2)), "B": (D(10), D(0), D(10))}


class TestAddToBalance:
    """add_to_balance adds a signed delta to the targeted rows (§3.4)."""

    def test_add_and_subtract(self, ledger: Ledger) -> None:
        """100 grant, 30 used: +50 → 120 left (usage −20); −100 → 20 left (usage 80)."""
        ledger.create("c1", "messages", included=100)
        ledger.track("c1", "messages", value=30)
        ledger.update("c1", "messages", add_to_balance=50)
        assert totals(bal(ledger)) == (D(100), D(120), D(-20))
        ledger.update("c1", "messages", add_to_balance=-100)
        assert totals(bal(ledger)) == (D(100), D(20), D(80))

    def test_subtract_below_zero_has_no_floor(self, ledger: Ledger) -> None:
        """update may push a row negative even without overage: 10 grant, −15 → usage 15."""
        ledger.create("c1", "messages", included=10)
        ledger.update("c1", "messages", add_to_balance=-15)
        assert totals(bal(ledger)) == (D(10), D(0), D(15))

    def test_add_to_balance_with_remaining_is_refused(self, ledger: Ledger) -> None:
        """add_to_balance together with remaining is InvalidRequest (invalid_inputs)."""
        ledger.create("c1", "messages", included=10)
        with pytest.raises(InvalidRequest) as info:
            ledger.update("c1", "messages", add_to_balance=1, remaining=5)
        assert info.value.code == "invalid_inputs"
        assert totals(bal(ledger)) == (D(10), D(10), D(0))


class TestUsage:
    """usage sets the targeted rows' usage: remaining := Σ grants − usage (§3.4)."""

    def test_usage_beyond_the_grant(self, ledger: Ledger) -> None:
        """usage 130 on a 100 grant: remaining 0 (floored), usage 130."""
        ledger.create("c1", "messages", included=100)
        ledger.update("c1", "messages", usage=130)
        b = bal(ledger)
        assert totals(b) == (D(100), D(0), D(130))
        assert (b.breakdown[0].remaining, b.breakdown[0].usage) == (D(0), D(130))

    def test_usage_over_two_rows(self, ledger: Ledger) -> None:
        """usage 150 over monthly 100 + one-off 200 drains the monthly row first."""
        ledger.create("c1", "messages", included=100, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=200, balance_id="C")
        ledger.update("c1", "messages", usage=150)
        b = bal(ledger)
        assert rows(b) == {"A": (D(100), D(0), D(100)), "C": (D(200), D(150), D(50))}
        assert totals(b) == (D(300), D(150), D(150))

    def test_usage_zero_restores_the_grant(self, ledger: Ledger) -> None:
        """usage 0 puts the balance back at the grant."""
        ledger.create("c1", "messages", included=100)
        ledger.track("c1", "messages", value=60)
        ledger.update("c1", "messages", usage=0)
        assert totals(bal(ledger)) == (D(100), D(100), D(0))

    def test_usage_with_remaining_is_refused(self, ledger: Ledger) -> None:
        """usage together with remaining is InvalidRequest (invalid_inputs)."""
        ledger.create("c1", "messages", included=10)
        with pytest.raises(InvalidRequest) as info:
            ledger.update("c1", "messages", usage=1, remaining=5)
        assert info.value.code == "invalid_inputs"


class TestIncludedUpdate:
    """included (or included_grant, granted_balance) moves the grant, not the balance (§3.5)."""

    @pytest.mark.parametrize("keyword", ["included", "included_grant", "granted_balance"])
    def test_grant_alone_moves_usage(self, ledger: Ledger, keyword: str) -> None:
        """100/100 → included 150: granted 150, remaining 100, usage 50."""
        # Autumn drops granted_balance on update (lifecycle §3.1); API.md lists it as an alias,
        # and API.md wins.
        ledger.create("c1", "messages", included=100)
        ledger.update("c1", "messages", **{keyword: 150})
        assert totals(bal(ledger)) == (D(150), D(100), D(50))

    def test_then_usage_uses_the_new_grant(self, ledger: Ledger) -> None:
        """After included 150, usage 120 leaves remaining 30."""
        ledger.create("c1", "messages", included=100)
        ledger.update("c1", "messages", included=150)
        ledger.update("c1", "messages", usage=120)
        assert totals(bal(ledger)) == (D(150), D(30), D(120))

    def test_remaining_then_included_in_one_call(self, ledger: Ledger) -> None:
        """{remaining 80, included 150} on 100/100: granted 150, remaining 80, usage 70 (§3.3)."""
        ledger.create("c1", "messages", included=100)
        ledger.update("c1", "messages", remaining=80, included=150)
        assert totals(bal(ledger)) == (D(150), D(80), D(70))

    def test_adjustment_goes_to_the_first_row(self, ledger: Ledger) -> None:
        """With several rows, the whole difference is written on the first row in order."""
        ledger.create("c1", "messages", included=100, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=200, balance_id="C")
        ledger.update("c1", "messages", included=500)
        b = bal(ledger)
        assert rows(b) == {"A": (D(300), D(100), D(200)), "C": (D(200), D(200), D(0))}
        assert b.granted == D(500)

    def test_negative_included_is_refused(self, ledger: Ledger) -> None:
        """included must be ≥ 0 (invalid_inputs)."""
        ledger.create("c1", "messages", included=100)
        with pytest.raises(InvalidRequest) as info:
            ledger.update("c1", "messages", included=-1)
        assert info.value.code == "invalid_inputs"
        assert totals(bal(ledger)) == (D(100), D(100), D(0))


class TestTargeting:
    """interval and balance_id confine the whole update to the rows they select (§3.1)."""

    def test_by_interval(self, ledger: Ledger) -> None:
        """interval='month' touches only the monthly row."""
        ledger.create("c1", "messages", included=100, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=200, balance_id="C")
        ledger.update("c1", "messages", interval="month", remaining=40)
        assert rows(bal(ledger)) == {"A": (D(100), D(40), D(60)), "C": (D(200), D(200), D(0))}

    def test_one_off_interval_matches_grants_without_reset(self, ledger: Ledger) -> None:
        """interval='one_off' selects grants that never reset."""
        ledger.create("c1", "messages", included=100, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=200, balance_id="C")
        ledger.update("c1", "messages", interval="one_off", usage=50)
        assert rows(bal(ledger)) == {"A": (D(100), D(100), D(0)), "C": (D(200), D(150), D(50))}

    def test_by_balance_id(self, ledger: Ledger) -> None:
        """balance_id selects exactly that grant, even one that is not first in order."""
        ledger.create("c1", "messages", included=100, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=200, balance_id="C")
        ledger.update("c1", "messages", balance_id="C", add_to_balance=-50)
        assert rows(bal(ledger)) == {"A": (D(100), D(100), D(0)), "C": (D(200), D(150), D(50))}

    def test_included_by_balance_id(self, ledger: Ledger) -> None:
        """included with balance_id changes only that grant."""
        ledger.create("c1", "messages", included=100, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=200, balance_id="C")
        ledger.update("c1", "messages", balance_id="C", included=250)
        b = bal(ledger)
        assert rows(b) == {"A": (D(100), D(100), D(0)), "C": (D(250), D(200), D(50))}
        assert b.granted == D(350)

    def test_no_matching_balance_id(self, ledger: Ledger) -> None:
        """An update whose selector matches no grant raises BalanceNotFound."""
        ledger.create("c1", "messages", included=100, balance_id="A")
        with pytest.raises(BalanceNotFound) as info:
            ledger.update("c1", "messages", balance_id="nope", remaining=1)
        assert info.value.code == "balance_not_found"
        assert totals(bal(ledger)) == (D(100), D(100), D(0))

    def test_no_matching_interval(self, ledger: Ledger) -> None:
        """An interval selector that matches nothing raises BalanceNotFound."""
        ledger.create("c1", "messages", included=100)
        with pytest.raises(BalanceNotFound):
            ledger.update("c1", "messages", interval="month", remaining=1)

    def test_no_grant_at_all(self, ledger: Ledger) -> None:
        """update of a feature the customer has no grant of raises BalanceNotFound."""
        # Autumn is UNSURE here (lifecycle §3.8: likely a silent no-op); API.md says
        # "update / delete that match no grant raise BalanceNotFound", and API.md wins.
        ledger.create_customer("c1")
        ledger.create_feature("messages")
        with pytest.raises(BalanceNotFound):
            ledger.update("c1", "messages", remaining=5)

    def test_expired_grant_cannot_be_updated(self, ledger: Ledger, clock: ManualClock) -> None:
        """An expired grant is not a target (lifecycle §8.1)."""
        ledger.create("c1", "messages", included=100, expires_at=START + timedelta(days=1))
        clock.advance(days=1)
        with pytest.raises(BalanceNotFound):
            ledger.update("c1", "messages", remaining=5)

    def test_unknown_customer_and_feature(self, ledger: Ledger) -> None:
        """update names a known customer and feature, or raises."""
        ledger.create("c1", "messages", included=100)
        with pytest.raises(CustomerNotFound):
            ledger.update("ghost", "messages", remaining=5)
        with pytest.raises(FeatureNotFound):
            ledger.update("c1", "nope", remaining=5)


class TestNextResetAtUpdate:
    """next_reset_at moves the earliest boundary among the targets (§3.6)."""

    def test_moves_the_boundary(self, ledger: Ledger) -> None:
        """The grant's next_reset_at becomes the given instant."""
        ledger.create("c1", "messages", included=100, reset="month")
        t = datetime(2025, 2, 10, tzinfo=UTC)
        b = ledger.update("c1", "messages", next_reset_at=t)
        assert b.next_reset_at == t
        reset = bal(ledger).breakdown[0].reset
        assert reset is not None
        assert reset.resets_at == t

    def test_targets_the_earliest_boundary(self, ledger: Ledger) -> None:
        """Without selector the row with the earliest next_reset_at is moved."""
        ledger.create("c1", "messages", included=100, reset="month", balance_id="M")
        ledger.create("c1", "messages", included=10, reset="week", balance_id="W")
        t = datetime(2025, 2, 5, tzinfo=UTC)
        ledger.update("c1", "messages", next_reset_at=t)
        resets = {i.id: i.reset.resets_at for i in bal(ledger).breakdown if i.reset}
        assert resets == {"W": t, "M": FEB_28}

    def test_interval_selector(self, ledger: Ledger) -> None:
        """interval='month' moves the monthly row even when a weekly one resets sooner."""
        ledger.create("c1", "messages", included=100, reset="month", balance_id="M")
        ledger.create("c1", "messages", included=10, reset="week", balance_id="W")
        t = datetime(2025, 2, 20, tzinfo=UTC)
        ledger.update("c1", "messages", interval="month", next_reset_at=t)
        resets = {i.id: i.reset.resets_at for i in bal(ledger).breakdown if i.reset}
        assert resets == {"W": datetime(2025, 2, 7, 12, tzinfo=UTC), "M": t}

    def test_one_off_boundary_cannot_move(self, ledger: Ledger) -> None:
        """Moving the boundary of a one-off grant is InvalidRequest (invalid_request)."""
        ledger.create("c1", "messages", included=100)
        with pytest.raises(InvalidRequest) as info:
            ledger.update("c1", "messages", next_reset_at=datetime(2025, 2, 10, tzinfo=UTC))
        assert info.value.code == "invalid_request"

    def test_balance_is_untouched(self, ledger: Ledger) -> None:
        """Moving the boundary does not change the balance."""
        ledger.create("c1", "messages", included=100, reset="month")
        ledger.track("c1", "messages", value=30)
        ledger.update("c1", "messages", next_reset_at=datetime(2025, 2, 10, tzinfo=UTC))
        assert totals(bal(ledger)) == (D(100), D(70), D(30))


class TestExpiresAtUpdate:
    """expires_at sets one grant's expiry; it must lie in the future (§3.7)."""

    def test_sets_expiry(self, ledger: Ledger, clock: ManualClock) -> None:
        """The grant gets the expiry and vanishes at that instant."""
        ledger.create("c1", "messages", included=100)
        t = START + timedelta(days=3)
        ledger.update("c1", "messages", expires_at=t)
        assert bal(ledger).breakdown[0].expires_at == t
        clock.set(t)
        assert ledger.balance("c1", "messages") is None

    def test_without_selector_the_first_row(self, ledger: Ledger) -> None:
        """With no expiring rows, the first row in deduction order gets the expiry."""
        ledger.create("c1", "messages", included=200, balance_id="C")
        ledger.create("c1", "messages", included=100, reset="month", balance_id="A")
        t = START + timedelta(days=3)
        ledger.update("c1", "messages", expires_at=t)
        expiries = {i.id: i.expires_at for i in bal(ledger).breakdown}
        assert expiries == {"A": t, "C": None}

    def test_by_balance_id(self, ledger: Ledger) -> None:
        """balance_id chooses which grant expires."""
        ledger.create("c1", "messages", included=100, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=200, balance_id="C")
        t = START + timedelta(days=3)
        ledger.update("c1", "messages", balance_id="C", expires_at=t)
        expiries = {i.id: i.expires_at for i in bal(ledger).breakdown}
        assert expiries == {"A": None, "C": t}

    @pytest.mark.parametrize("delta", [timedelta(0), timedelta(days=-1)])
    def test_past_expiry_is_refused(self, ledger: Ledger, delta: timedelta) -> None:
        """expires_at at or before now is InvalidRequest (Autumn: invalid_request)."""
        ledger.create("c1", "messages", included=100)
        with pytest.raises(InvalidRequest) as info:
            ledger.update("c1", "messages", expires_at=START + delta)
        assert info.value.code == "invalid_request"
        assert bal(ledger).breakdown[0].expires_at is None


class TestDelete:
    """delete removes the matched grants; recalculate_balances moves their usage (§4)."""

    def test_delete_by_balance_id(self, ledger: Ledger) -> None:
        """Without recalculation the grant and its usage simply disappear."""
        ledger.create("c1", "messages", included=100, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=200, balance_id="B")
        ledger.track("c1", "messages", value=40)
        assert ledger.delete("c1", feature_id="messages", balance_id="A") is None
        b = bal(ledger)
        assert rows(b) == {"B": (D(200), D(200), D(0))}
        assert totals(b) == (D(200), D(200), D(0))

    def test_recalculate_moves_usage(self, ledger: Ledger) -> None:
        """Deleting A (100 grant, 60 left) with recalculation moves its 40 usage onto B: 200→160."""
        ledger.create("c1", "messages", included=100, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=200, balance_id="B")
        ledger.track("c1", "messages", value=40)
        ledger.delete("c1", feature_id="messages", balance_id="A", recalculate_balances=True)
        b = bal(ledger)
        assert rows(b) == {"B": (D(200), D(160), D(40))}
        assert totals(b) == (D(200), D(160), D(40))

    def test_recalculate_may_push_survivors_into_overage(self, ledger: Ledger) -> None:
        """Moved usage is applied with overage allowed: 100 used moved onto a 50 grant → −50."""
        ledger.create("c1", "messages", included=100, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=50, balance_id="B")
        ledger.track("c1", "messages", value=100)
        ledger.delete("c1", feature_id="messages", balance_id="A", recalculate_balances=True)
        assert rows(bal(ledger)) == {"B": (D(50), D(0), D(100))}

    def test_recalculate_last_grant_keeps_an_overage_carrier(self, ledger: Ledger) -> None:
        """Deleting the only grant with usage 40 leaves granted 0, remaining 0, usage 40."""
        ledger.create("c1", "messages", included=100, reset="month")
        ledger.track("c1", "messages", value=40)
        ledger.delete("c1", feature_id="messages", recalculate_balances=True)
        b = bal(ledger)
        assert totals(b) == (D(0), D(0), D(40))
        assert b.next_reset_at is None
        assert len(b.breakdown) == 1
        item = b.breakdown[0]
        assert (item.included_grant, item.remaining, item.usage) == (D(0), D(0), D(40))

    def test_recalculate_without_usage_removes_everything(self, ledger: Ledger) -> None:
        """Deleting an unused only grant with recalculation leaves no balance."""
        ledger.create("c1", "messages", included=100)
        ledger.delete("c1", feature_id="messages", recalculate_balances=True)
        assert ledger.balance("c1", "messages") is None

    def test_recalculate_needs_feature_id(self, ledger: Ledger) -> None:
        """recalculate_balances without feature_id is InvalidRequest (invalid_request)."""
        ledger.create("c1", "messages", included=100)
        with pytest.raises(InvalidRequest) as info:
            ledger.delete("c1", recalculate_balances=True)
        assert info.value.code == "invalid_request"
        assert totals(bal(ledger)) == (D(100), D(100), D(0))

    def test_delete_by_interval(self, ledger: Ledger) -> None:
        """interval selects which grants are deleted."""
        ledger.create("c1", "messages", included=100, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=200, balance_id="B")
        ledger.delete("c1", feature_id="messages", interval="month")
        assert list(rows(bal(ledger))) == ["B"]

    def test_delete_whole_feature(self, ledger: Ledger) -> None:
        """feature_id alone deletes every grant of that feature; other features stay."""
        ledger.create("c1", "messages", included=100)
        ledger.create("c1", "messages", included=200)
        ledger.create("c1", "tokens", included=7)
        ledger.delete("c1", feature_id="messages")
        assert ledger.balance("c1", "messages") is None
        assert set(ledger.balances("c1")) == {"tokens"}

    def test_delete_everything(self, ledger: Ledger) -> None:
        """With no feature_id and no selector every grant of the customer goes."""
        ledger.create("c1", "messages", included=100)
        ledger.create("c1", "tokens", included=7)
        ledger.create("c2", "messages", included=5)
        ledger.delete("c1")
        assert dict(ledger.balances("c1")) == {}
        assert set(ledger.balances("c2")) == {"messages"}

    def test_nothing_matched(self, ledger: Ledger) -> None:
        """A delete that matches no grant raises BalanceNotFound."""
        ledger.create("c1", "messages", included=100, balance_id="A")
        with pytest.raises(BalanceNotFound) as info:
            ledger.delete("c1", feature_id="messages", balance_id="nope")
        assert info.value.code == "balance_not_found"
        assert totals(bal(ledger)) == (D(100), D(100), D(0))

    def test_unknown_customer(self, ledger: Ledger) -> None:
        """delete of an unknown customer raises CustomerNotFound."""
        with pytest.raises(CustomerNotFound):
            ledger.delete("ghost")
