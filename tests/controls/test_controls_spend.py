"""Spend limits and overage_allowed: Autumn's numbers (rule book §2, §3; spec §5.5, §6.4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from meterlib import Ledger

D = Decimal


def spend(ledger: Ledger, limit: object, *, entity_id: str | None = None, **extra: Any) -> None:
    """Give c1 (or its entity) an enabled spend limit on messages."""
    entry = {"feature_id": "messages", "enabled": True, "overage_limit": limit, **extra}
    if entity_id is None:
        ledger.update_customer("c1", billing_controls={"spend_limits": [entry]})
    else:
        ledger.update_entity("c1", entity_id, billing_controls={"spend_limits": [entry]})


def overage(ledger: Ledger, enabled: bool, *, entity_id: str | None = None) -> None:
    entry = {"feature_id": "messages", "enabled": enabled}
    if entity_id is None:
        ledger.update_customer("c1", billing_controls={"overage_allowed": [entry]})
    else:
        ledger.update_entity("c1", entity_id, billing_controls={"overage_allowed": [entry]})


def usage(ledger: Ledger, entity_id: str | None = None) -> Decimal:
    balance = ledger.balance("c1", "messages", entity_id=entity_id)
    assert balance is not None
    return balance.usage


@pytest.fixture
def lifetime_and_consumable(ledger: Ledger) -> Ledger:
    """Autumn's spend-limit fixture: lifetime 1000 + monthly consumable 100 (max purchase 300)."""
    ledger.create("c1", "messages", included=1000)
    ledger.create(
        "c1", "messages", included=100, reset="month", overage_allowed=True, max_purchase=300
    )
    return ledger


class TestAbsoluteSpendLimit:
    """`overage_limit` caps the feature's total overage units and replaces max_purchase."""

    def test_caps_total_overage(self, lifetime_and_consumable: Ledger) -> None:
        """Included 1100, overage_limit 25: track 1120 then 10 leaves usage 1125, remaining 0."""
        ledger = lifetime_and_consumable
        spend(ledger, 25)
        ledger.track("c1", "messages", value=1120)
        result = ledger.track("c1", "messages", value=10)
        assert result.balance is not None
        assert (result.balance.usage, result.balance.remaining) == (D(1125), D(0))
        assert not ledger.check("c1", "messages").allowed
        assert not ledger.check("c1", "messages", send_event=True).allowed
        assert usage(ledger) == D(1125)

    def test_disabled_limit_does_not_cap(self, lifetime_and_consumable: Ledger) -> None:
        """A disabled spend limit leaves max_purchase in charge: 1120 + 10 all apply."""
        ledger = lifetime_and_consumable
        spend(ledger, 25, enabled=False)
        ledger.track("c1", "messages", value=1120)
        ledger.track("c1", "messages", value=10)
        assert usage(ledger) == D(1130)

    def test_may_be_looser_than_max_purchase(self, lifetime_and_consumable: Ledger) -> None:
        """An active spend limit replaces max_purchase even when it is larger (500 > 300)."""
        ledger = lifetime_and_consumable
        spend(ledger, 500)
        ledger.track("c1", "messages", value=2000)
        assert usage(ledger) == D(1600)

    def test_overflow_is_still_clamped(self, lifetime_and_consumable: Ledger) -> None:
        """overage_behavior "overflow" ignores floors but not the spend limit: only 5 more."""
        ledger = lifetime_and_consumable
        spend(ledger, 25)
        ledger.track("c1", "messages", value=1120)
        ledger.track("c1", "messages", value=10, overage_behavior="overflow")
        assert usage(ledger) == D(1125)

    def test_check_boundary_is_track_boundary(self, lifetime_and_consumable: Ledger) -> None:
        """At 1100 used, check allows exactly the 25 the next track can take."""
        ledger = lifetime_and_consumable
        spend(ledger, 25)
        ledger.track("c1", "messages", value=1100)
        assert ledger.check("c1", "messages", required_balance=25).allowed
        assert not ledger.check("c1", "messages", required_balance=D("25.0001")).allowed
        ledger.track("c1", "messages", value=26)
        assert usage(ledger) == D(1125)

    def test_limit_without_overage_limit_is_no_limit(self, lifetime_and_consumable: Ledger) -> None:
        """An enabled entry without overage_limit is not a spend limit: max_purchase holds."""
        ledger = lifetime_and_consumable
        ledger.update_customer(
            "c1", billing_controls={"spend_limits": [{"feature_id": "messages", "enabled": True}]}
        )
        ledger.track("c1", "messages", value=2000)
        assert usage(ledger) == D(1400)


class TestPercentageSpendLimit:
    """`usage_percentage`: a percentage of the recurring grants' included amount."""

    def test_percent_of_the_allowance(self, ledger: Ledger) -> None:
        """Included 100 (monthly, pay-per-use), 120 %: usage stops at 220, then 1 is refused."""
        ledger.create("c1", "messages", included=100, reset="month", overage_allowed=True)
        spend(ledger, 120, limit_type="usage_percentage")
        ledger.track("c1", "messages", value=500)
        assert usage(ledger) == D(220)
        assert not ledger.check("c1", "messages", send_event=True).allowed
        assert ledger.get_customer("c1").billing_controls["spend_limits"][0]["limit_type"] == (
            "usage_percentage"
        )

    def test_two_recurring_grants_add_up(self, ledger: Ledger) -> None:
        """Grants of 100 and 50: 120 % of 150 = 180 overage, usage 330."""
        ledger.create("c1", "messages", included=100, reset="month", overage_allowed=True)
        ledger.create("c1", "messages", included=50, reset="month")
        spend(ledger, 120, limit_type="usage_percentage")
        ledger.track("c1", "messages", value=1000)
        assert usage(ledger) == D(330)

    def test_one_off_grants_do_not_count(self, ledger: Ledger) -> None:
        """A one-off 100 beside a monthly 100 (like Autumn's add-on): 120 of overage, usage 320."""
        ledger.create("c1", "messages", included=100, reset="month", overage_allowed=True)
        ledger.create("c1", "messages", included=100)
        spend(ledger, 120, limit_type="usage_percentage")
        ledger.track("c1", "messages", value=1000)
        assert usage(ledger) == D(320)

    def test_no_allowance_means_no_cap(self, ledger: Ledger) -> None:
        """Without a recurring allowance the percentage resolves to no cap, as in Autumn."""
        ledger.create("c1", "messages", included=100, overage_allowed=True)
        spend(ledger, 120, limit_type="usage_percentage")
        ledger.track("c1", "messages", value=1000)
        assert usage(ledger) == D(1000)

    def test_fractional_percent_is_exact(self, ledger: Ledger) -> None:
        """0.5 % of 3 is 0.015 overage units, exactly."""
        ledger.create("c1", "messages", included=3, reset="day", overage_allowed=True)
        spend(ledger, D("0.5"), limit_type="usage_percentage")
        ledger.track("c1", "messages", value=10)
        assert usage(ledger) == D("3.015")


class TestSpendLimitsAndEntities:
    """Overage is measured over the subject's own view; an entity's own entry wins."""

    @pytest.fixture
    def two_entities(self, ledger: Ledger) -> Ledger:
        for entity_id in ("e1", "e2"):
            ledger.create("c1", "messages", entity_id=entity_id, included=50, overage_allowed=True)
        return ledger

    def test_customer_limit_applies_per_entity(self, two_entities: Ledger) -> None:
        """A customer limit of 10 lets each entity go 10 into overage on its own grants."""
        spend(two_entities, 10)
        two_entities.track("c1", "messages", entity_id="e1", value=70)
        two_entities.track("c1", "messages", entity_id="e2", value=70)
        assert usage(two_entities, "e1") == D(60)
        assert usage(two_entities, "e2") == D(60)

    def test_entity_entry_overrides_customer(self, two_entities: Ledger) -> None:
        """e1's own limit of 5 wins over the customer's 10; e2 inherits the 10."""
        spend(two_entities, 10)
        spend(two_entities, 5, entity_id="e1")
        two_entities.track("c1", "messages", entity_id="e1", value=70)
        two_entities.track("c1", "messages", entity_id="e2", value=70)
        assert usage(two_entities, "e1") == D(55)
        assert usage(two_entities, "e2") == D(60)
        assert not two_entities.check("c1", "messages", entity_id="e1").allowed

    def test_disabled_entity_entry_shadows_customer(self, two_entities: Ledger) -> None:
        """The nearest entry decides even when disabled: e1 is uncapped."""
        spend(two_entities, 10)
        spend(two_entities, 5, entity_id="e1", enabled=False)
        two_entities.track("c1", "messages", entity_id="e1", value=500)
        assert usage(two_entities, "e1") == D(500)


class TestOverageAllowed:
    """`enabled` True lets a free feature go negative; False forbids any overage."""

    def test_enabled_lets_a_free_feature_overflow(self, ledger: Ledger) -> None:
        """A free 100: with the control on, 150 applies and check stays allowed below 0."""
        ledger.create("c1", "messages", included=100)
        assert not ledger.check("c1", "messages", required_balance=101).allowed
        overage(ledger, True)
        assert ledger.check("c1", "messages", required_balance=101).allowed
        ledger.track("c1", "messages", value=150)
        assert usage(ledger) == D(150)
        assert ledger.check("c1", "messages").allowed
        assert ledger.check("c1", "messages", send_event=True).allowed
        assert usage(ledger) == D(151)
        balance = ledger.balance("c1", "messages")
        assert balance is not None and balance.overage_allowed is False  # stays native

    def test_disabled_forbids_native_overage(self, ledger: Ledger) -> None:
        """A pay-per-use 100 with the control off: 150 applies 100, check 1 is refused."""
        ledger.create("c1", "messages", included=100, overage_allowed=True)
        overage(ledger, False)
        ledger.track("c1", "messages", value=150)
        assert usage(ledger) == D(100)
        assert not ledger.check("c1", "messages").allowed

    def test_native_row_keeps_free_rows_at_zero(self, ledger: Ledger) -> None:
        """Free 100 + pay-per-use 0 (max 50), control on: 100 + 50 = 150 (free row not forced)."""
        ledger.create("c1", "messages", included=100)
        ledger.create("c1", "messages", included=0, overage_allowed=True, max_purchase=50)
        overage(ledger, True)
        ledger.track("c1", "messages", value=300)
        assert usage(ledger) == D(150)

    def test_with_a_spend_limit(self, ledger: Ledger) -> None:
        """Control on plus a spend limit of 20 on a free 100: the boundary is 120."""
        ledger.create("c1", "messages", included=100)
        ledger.update_customer(
            "c1",
            billing_controls={
                "overage_allowed": [{"feature_id": "messages", "enabled": True}],
                "spend_limits": [{"feature_id": "messages", "enabled": True, "overage_limit": 20}],
            },
        )
        assert ledger.check("c1", "messages", required_balance=120).allowed
        assert not ledger.check("c1", "messages", required_balance=121).allowed
        ledger.track("c1", "messages", value=500)
        assert usage(ledger) == D(120)

    def test_entity_false_overrides_customer_true(self, ledger: Ledger) -> None:
        """The customer allows overage, e1 forbids it: e1 stops at 0, the customer does not."""
        ledger.create("c1", "messages", entity_id="e1", included=100)
        ledger.create("c1", "messages", included=100)
        overage(ledger, True)
        overage(ledger, False, entity_id="e1")
        ledger.track("c1", "messages", entity_id="e1", value=350)
        assert usage(ledger, "e1") == D(200)  # its own 100 and the shared 100
        ledger.create("c1", "messages", included=10)
        ledger.track("c1", "messages", value=50)
        # e1's own 100 + the shared 100 + the new 10, and 40 more in overage on a customer row
        assert usage(ledger) == D(250)

    def test_entity_inherits_customer(self, ledger: Ledger) -> None:
        """Without its own entry, e1 obeys the customer's False even on a pay-per-use grant."""
        ledger.create("c1", "messages", entity_id="e1", included=100, overage_allowed=True)
        overage(ledger, False)
        ledger.track("c1", "messages", entity_id="e1", value=150)
        assert usage(ledger, "e1") == D(100)
