"""Usage limits (usage windows): clamp, overflow, reject, check, filters, entities, rolling.

Ported from Autumn's `usage-windows` suites (rule book §4, §9.1). The clock starts on
Friday 2025-01-31 12:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from meterlib import Ledger, ManualClock

D = Decimal


def cap(
    ledger: Ledger,
    feature_id: str,
    limit: object,
    interval: str = "day",
    *,
    entity_id: str | None = None,
    **extra: Any,
) -> None:
    """Add a usage limit for c1 (or its entity), keeping the ones already there."""
    entry = {"feature_id": feature_id, "limit": limit, "interval": interval, **extra}
    if entity_id is None:
        current = ledger.get_customer("c1").billing_controls.get("usage_limits", [])
        ledger.update_customer("c1", billing_controls={"usage_limits": [*current, entry]})
    else:
        current = ledger.get_entity("c1", entity_id).billing_controls.get("usage_limits", [])
        ledger.update_entity("c1", entity_id, billing_controls={"usage_limits": [*current, entry]})


def remaining(ledger: Ledger, feature_id: str = "messages", entity_id: str | None = None) -> D:
    balance = ledger.balance("c1", feature_id, entity_id=entity_id)
    assert balance is not None
    return balance.remaining


def applied(ledger: Ledger, feature_id: str, value: object, **kw: Any) -> Decimal:
    """Track and return how much of the value the feature's balance actually took."""
    before = ledger.balance("c1", feature_id, entity_id=kw.get("entity_id"))
    ledger.track("c1", feature_id, value=value, **kw)
    after = ledger.balance("c1", feature_id, entity_id=kw.get("entity_id"))
    assert before is not None and after is not None
    return after.usage - before.usage


@pytest.fixture
def messages(ledger: Ledger) -> Ledger:
    """c1 with a monthly grant of 100 messages."""
    ledger.create("c1", "messages", included=100, reset="month")
    return ledger


@pytest.fixture
def credits(ledger: Ledger) -> Ledger:
    """credits (1 action1 = 0.2, 1 action2 = 0.6) and a one-off grant of 100 credits."""
    ledger.create_feature("action1")
    ledger.create_feature("action2")
    ledger.create_feature(
        "credits", type="credit_system", credit_schema={"action1": "0.2", "action2": "0.6"}
    )
    ledger.create("c1", "credits", included=100)
    return ledger


class TestCheck:
    """check compares required_balance with the window's room before anything else."""

    def test_room_left(self, messages: Ledger) -> None:
        """Cap 5/day, 3 tracked: check 2 is allowed, 3 is not; remaining 97."""
        cap(messages, "messages", 5)
        messages.track("c1", "messages", value=3)
        assert messages.check("c1", "messages", required_balance=2).allowed
        assert not messages.check("c1", "messages", required_balance=3).allowed
        assert remaining(messages) == D(97)

    def test_member_cap_gates_its_credit_pool(self, credits: Ledger) -> None:
        """Cap 5 on action1 over credits, 3 tracked: check 2 allowed, 3 denied."""
        cap(credits, "action1", 5)
        credits.track("c1", "action1", value=3)
        assert credits.check("c1", "action1", required_balance=2).allowed
        assert not credits.check("c1", "action1", required_balance=3).allowed

    def test_member_cap_does_not_gate_the_pool_itself(self, credits: Ledger) -> None:
        """action1's window exhausted: action1 is denied, a direct credits check is not."""
        cap(credits, "action1", 5)
        credits.track("c1", "action1", value=5)
        assert not credits.check("c1", "action1").allowed
        assert credits.check("c1", "credits", required_balance=50).allowed

    def test_limit_zero_blocks_everything(self, messages: Ledger) -> None:
        """A limit of 0 is a valid cap: nothing is allowed or applied."""
        cap(messages, "messages", 0)
        assert not messages.check("c1", "messages").allowed
        assert applied(messages, "messages", 5) == 0
        assert messages.check("c1", "messages", required_balance=0).allowed

    def test_send_event_rejects_a_shortfall(self, messages: Ledger) -> None:
        """check send_event is all or nothing: 3 of 2 left is refused and nothing moves."""
        cap(messages, "messages", 5)
        messages.track("c1", "messages", value=3)
        assert not messages.check("c1", "messages", required_balance=3, send_event=True).allowed
        assert remaining(messages) == D(97)
        assert messages.check("c1", "messages", required_balance=2, send_event=True).allowed
        assert remaining(messages) == D(95)


class TestEnforcement:
    """track clamps to the window's room; what applies is counted."""

    def test_clamps_then_applies_nothing(self, credits: Ledger) -> None:
        """Cap 5 action1: track 10 applies 5 (1 credit); a further track applies 0."""
        cap(credits, "action1", 5)
        credits.track("c1", "action1", value=10)
        assert remaining(credits, "credits") == D(99)
        credits.track("c1", "action1", value=1)
        assert remaining(credits, "credits") == D(99)

    def test_counts_units_across_pools(self, ledger: Ledger) -> None:
        """Monthly 1 + lifetime 100 credits, cap 10 action1/month: 15 tracked apply 10 = 2."""
        ledger.create_feature("action1")
        ledger.create_feature("credits", type="credit_system", credit_schema={"action1": "0.2"})
        ledger.create("c1", "credits", included=1, reset="month")
        ledger.create("c1", "credits", included=100)
        cap(ledger, "action1", 10, "month")
        ledger.track("c1", "action1", value=15)
        balance = ledger.balance("c1", "credits")
        assert balance is not None
        assert balance.usage == D(2)
        assert [item.usage for item in balance.breakdown] == [D(1), D(1)]

    def test_cap_on_the_credit_system_counts_credits(self, credits: Ledger) -> None:
        """A cap of 5 on credits itself: tracking credits stops at 5, 95 left."""
        cap(credits, "credits", 5, "month")
        credits.track("c1", "credits", value=4)
        credits.track("c1", "credits", value=4)
        assert remaining(credits, "credits") == D(95)

    def test_credit_cap_counts_member_drains(self, credits: Ledger) -> None:
        """A cap of 1 credit on credits: 10 action1 drain 1 credit (5 units) and stop."""
        cap(credits, "credits", 1)
        credits.track("c1", "action1", value=10)
        assert remaining(credits, "credits") == D(99)

    def test_cap_over_two_grants(self, ledger: Ledger) -> None:
        """Monthly 100 + lifetime 100, cap 150/month: 120 then 50 applies 30."""
        ledger.create("c1", "messages", included=100, reset="month")
        ledger.create("c1", "messages", included=100)
        cap(ledger, "messages", 150, "month")
        assert applied(ledger, "messages", 120) == 120
        assert applied(ledger, "messages", 50) == 30
        assert remaining(ledger) == D(50)

    def test_caps_on_two_members_are_independent(self, credits: Ledger) -> None:
        """action1 cap 5, action2 cap 4 over shared credits: 5·0.2 + 4·0.6 = 3.4 used."""
        cap(credits, "action1", 5)
        cap(credits, "action2", 4)
        credits.track("c1", "action1", value=10)
        credits.track("c1", "action2", value=10)
        credits.track("c1", "action1", value=1)
        balance = credits.balance("c1", "credits")
        assert balance is not None and balance.usage == D("3.4")

    def test_refunds_do_not_give_room_back(self, messages: Ledger) -> None:
        """Tracking -5 after 5 restores the balance but not the window."""
        cap(messages, "messages", 5)
        messages.track("c1", "messages", value=5)
        messages.track("c1", "messages", value=-5)
        assert remaining(messages) == D(100)
        assert not messages.check("c1", "messages").allowed

    def test_set_usage_neither_counts_nor_frees(self, ledger: Ledger) -> None:
        """1000 included, cap 5: after 5, update(usage=0) leaves the window full."""
        ledger.create("c1", "messages", included=1000)
        cap(ledger, "messages", 5)
        ledger.track("c1", "messages", value=5)
        assert not ledger.check("c1", "messages").allowed
        ledger.update("c1", "messages", usage=0)
        assert not ledger.check("c1", "messages").allowed
        assert applied(ledger, "messages", 1) == 0
        ledger.update("c1", "messages", usage=900)
        assert remaining(ledger) == D(100)

    def test_overflow_counts_past_the_limit(self, messages: Ledger) -> None:
        """Cap 5, 3 used: overflow 10 applies 10 (counter 13); cap mode then applies 0."""
        cap(messages, "messages", 5)
        messages.track("c1", "messages", value=3)
        assert applied(messages, "messages", 10, overage_behavior="overflow") == 10
        assert applied(messages, "messages", 1) == 0
        cap_raised = {"feature_id": "messages", "limit": 14, "interval": "day"}
        messages.update_customer("c1", billing_controls={"usage_limits": [cap_raised]})
        assert messages.check("c1", "messages", required_balance=1).allowed
        assert not messages.check("c1", "messages", required_balance=2).allowed

    def test_unlimited_grants_bypass_windows(self, ledger: Ledger) -> None:
        """With an unlimited grant nothing is gated and nothing counted."""
        ledger.create("c1", "messages", unlimited=True)
        cap(ledger, "messages", 5)
        ledger.track("c1", "messages", value=50)
        assert ledger.check("c1", "messages", required_balance=1000).allowed
        balance = ledger.balance("c1", "messages")
        assert balance is not None and balance.usage == D(50)

    def test_editing_the_limit_keeps_the_count(self, messages: Ledger) -> None:
        """The counter belongs to (scope, feature, filter): raising 5 → 10 after 3 leaves 7."""
        cap(messages, "messages", 5)
        messages.track("c1", "messages", value=3)
        entry = {"feature_id": "messages", "limit": 10, "interval": "day"}
        messages.update_customer("c1", billing_controls={"usage_limits": [entry]})
        assert messages.check("c1", "messages", required_balance=7).allowed
        assert not messages.check("c1", "messages", required_balance=8).allowed
        messages.update_customer(
            "c1", billing_controls={"usage_limits": [{**entry, "enabled": False}]}
        )
        assert messages.check("c1", "messages", required_balance=50).allowed
        messages.update_customer("c1", billing_controls={"usage_limits": []})
        assert messages.check("c1", "messages", required_balance=50).allowed
        messages.update_customer("c1", billing_controls={"usage_limits": [entry]})
        assert not messages.check("c1", "messages", required_balance=8).allowed


class TestLocks:
    """A lock counts when taken; finalize gives back what it frees."""

    def test_lock_counts_and_a_second_is_denied(self, messages: Ledger) -> None:
        """Cap 5: lock 4 counts 4 (remaining 96); a lock of 2 is denied and nothing moves."""
        cap(messages, "messages", 5)
        assert messages.check("c1", "messages", required_balance=4, lock={"lock_id": "a"}).allowed
        assert remaining(messages) == D(96)
        denied = messages.check("c1", "messages", required_balance=2, lock={"lock_id": "b"})
        assert not denied.allowed
        assert remaining(messages) == D(96)

    def test_confirm_keeps_the_count(self, messages: Ledger) -> None:
        """Lock 3 and confirm: the window holds 3."""
        cap(messages, "messages", 5)
        messages.check("c1", "messages", required_balance=3, lock={"lock_id": "a"})
        messages.finalize("a")
        assert messages.check("c1", "messages", required_balance=2).allowed
        assert not messages.check("c1", "messages", required_balance=3).allowed

    def test_confirm_lower_gives_back(self, messages: Ledger) -> None:
        """Lock 4, confirm 1: counter 1 (remaining 99); track 5 then applies 4."""
        cap(messages, "messages", 5)
        messages.check("c1", "messages", required_balance=4, lock={"lock_id": "a"})
        messages.finalize("a", override_value=1)
        assert remaining(messages) == D(99)
        assert applied(messages, "messages", 5) == 4

    def test_confirm_higher_is_gated(self, messages: Ledger) -> None:
        """Lock 3, confirm 6: the extra clamps to 2 (remaining 95); later tracks apply 0."""
        cap(messages, "messages", 5)
        messages.check("c1", "messages", required_balance=3, lock={"lock_id": "a"})
        messages.finalize("a", override_value=6)
        assert remaining(messages) == D(95)
        assert applied(messages, "messages", 1) == 0

    def test_release_and_expiry_give_everything_back(
        self, messages: Ledger, clock: ManualClock
    ) -> None:
        """A released lock and an expired lock both free their window room."""
        cap(messages, "messages", 5, anchor="utc")
        messages.check("c1", "messages", required_balance=5, lock={"lock_id": "a"})
        messages.finalize("a", action="release")
        assert messages.check("c1", "messages", required_balance=5).allowed
        expires = clock() + 60_000
        messages.check(
            "c1", "messages", required_balance=5, lock={"lock_id": "b", "expires_at": expires}
        )
        assert not messages.check("c1", "messages").allowed
        clock.advance(minutes=1)
        assert messages.check("c1", "messages", required_balance=5).allowed
        assert applied(messages, "messages", 9) == 5


class TestRolling:
    """Windows roll at their bounds whoever looks: a counter from another window reads 0."""

    def test_utc_day_rolls_at_midnight(self, ledger: Ledger, clock: ManualClock) -> None:
        """anchor utc: the day window ends at 00:00 UTC."""
        ledger.create("c1", "messages", included=100, reset="month")
        cap(ledger, "messages", 5, anchor="utc")
        ledger.track("c1", "messages", value=5)
        clock.set(datetime(2025, 1, 31, 23, 59, 59, 999_000, tzinfo=UTC))
        assert not ledger.check("c1", "messages").allowed
        clock.set(datetime(2025, 2, 1, tzinfo=UTC))
        assert ledger.check("c1", "messages", required_balance=5).allowed
        assert applied(ledger, "messages", 9) == 5

    def test_billing_cycle_day_follows_the_grant(self, ledger: Ledger, clock: ManualClock) -> None:
        """Default anchor: daily windows run from the grant's reset time (12:00) to 12:00."""
        ledger.create("c1", "messages", included=100, reset="month")
        cap(ledger, "messages", 5)
        ledger.track("c1", "messages", value=5)
        clock.set(datetime(2025, 2, 1, 11, 59, tzinfo=UTC))
        assert not ledger.check("c1", "messages").allowed
        clock.set(datetime(2025, 2, 1, 12, tzinfo=UTC))
        assert ledger.check("c1", "messages", required_balance=5).allowed

    def test_custom_reset_time_anchors_the_window(self, ledger: Ledger, clock: ManualClock) -> None:
        """A grant resetting 2025-02-09 15:30: daily windows run 15:30 → 15:30."""
        ledger.create(
            "c1",
            "messages",
            included=100,
            reset="month",
            next_reset_at=datetime(2025, 2, 9, 15, 30, tzinfo=UTC),
        )
        cap(ledger, "messages", 5, anchor="billing_cycle")
        clock.set(datetime(2025, 2, 1, 15, 29, tzinfo=UTC))
        ledger.track("c1", "messages", value=5)
        clock.set(datetime(2025, 2, 1, 15, 30, tzinfo=UTC))
        assert applied(ledger, "messages", 9) == 5

    def test_one_off_grants_use_the_calendar(self, ledger: Ledger, clock: ManualClock) -> None:
        """A lifetime grant has no cycle: a billing_cycle cap falls back to UTC days."""
        ledger.create("c1", "messages", included=100)
        cap(ledger, "messages", 5)
        ledger.track("c1", "messages", value=5)
        clock.set(datetime(2025, 2, 1, tzinfo=UTC))
        assert ledger.check("c1", "messages", required_balance=5).allowed

    def test_utc_week_starts_on_monday(self, ledger: Ledger, clock: ManualClock) -> None:
        """A weekly utc cap set on Friday rolls on Monday 00:00, not after 7 days."""
        ledger.create("c1", "messages", included=100)
        cap(ledger, "messages", 5, "week", anchor="utc")
        ledger.track("c1", "messages", value=5)
        clock.set(datetime(2025, 2, 2, 23, 59, tzinfo=UTC))
        assert not ledger.check("c1", "messages").allowed
        clock.set(datetime(2025, 2, 3, tzinfo=UTC))
        assert ledger.check("c1", "messages", required_balance=5).allowed

    def test_month_and_year(self, ledger: Ledger, clock: ManualClock) -> None:
        """utc month and year windows start on the 1st and on Jan 1."""
        ledger.create("c1", "messages", included=1000)
        cap(ledger, "messages", 5, "month", anchor="utc")
        cap(ledger, "messages", 8, "year", anchor="utc", filter={"properties": {"k": "y"}})
        ledger.track("c1", "messages", value=5, properties={"k": "y"})
        clock.set(datetime(2025, 2, 1, tzinfo=UTC))
        assert applied(ledger, "messages", 9, properties={"k": "y"}) == 3
        clock.set(datetime(2026, 1, 1, tzinfo=UTC))
        assert applied(ledger, "messages", 9, properties={"k": "y"}) == 5

    def test_long_gap_costs_nothing(self, ledger: Ledger, clock: ManualClock) -> None:
        """Years later the counter simply reads 0: nothing to catch up."""
        ledger.create("c1", "messages", included=10, reset="day")
        cap(ledger, "messages", 5)
        ledger.track("c1", "messages", value=5)
        clock.advance(years=30)
        assert applied(ledger, "messages", 9) == 5


class TestFilters:
    """A filtered cap sees only events whose properties match every key."""

    @pytest.fixture
    def filtered(self, ledger: Ledger) -> Ledger:
        ledger.create("c1", "messages", included=100)
        cap(ledger, "messages", 3, filter={"properties": {"model": "gpt"}})
        return ledger

    def test_matching_events_clamp(self, filtered: Ledger) -> None:
        """gpt clamps at 3; claude, or no properties, apply in full."""
        assert applied(filtered, "messages", 5, properties={"model": "gpt"}) == 3
        assert applied(filtered, "messages", 5, properties={"model": "claude"}) == 5
        assert applied(filtered, "messages", 5) == 5
        assert applied(filtered, "messages", 5, properties={"model": "gpt", "x": 1}) == 0

    def test_check_with_properties(self, filtered: Ledger) -> None:
        """check is gated only when its properties match."""
        filtered.track("c1", "messages", value=3, properties={"model": "gpt"})
        assert not filtered.check("c1", "messages", properties={"model": "gpt"}).allowed
        assert filtered.check("c1", "messages", properties={"model": "claude"}).allowed
        assert filtered.check("c1", "messages").allowed

    def test_values_compare_as_strings(self, ledger: Ledger) -> None:
        """A filter of 29384 matches "29384" and 29384.0; true matches True."""
        ledger.create("c1", "messages", included=100)
        cap(ledger, "messages", 2, filter={"properties": {"key": 29384, "beta": True}})
        props: dict[str, Any] = {"key": "29384", "beta": True}
        assert applied(ledger, "messages", 1, properties=props) == 1
        assert applied(ledger, "messages", 5, properties={"key": 29384.0, "beta": True}) == 1
        assert applied(ledger, "messages", 5, properties={"key": 29384, "beta": "True"}) == 5

    def test_two_filtered_caps_are_independent(self, filtered: Ledger) -> None:
        """gpt 3 and claude 4: 5 gpt, 1 gpt, 5 claude apply 3 + 0 + 4 = 7."""
        cap(filtered, "messages", 4, filter={"properties": {"model": "claude"}})
        total = applied(filtered, "messages", 5, properties={"model": "gpt"})
        total += applied(filtered, "messages", 1, properties={"model": "gpt"})
        total += applied(filtered, "messages", 5, properties={"model": "claude"})
        assert total == 7

    def test_filtered_and_unfiltered_coexist(self, ledger: Ledger) -> None:
        """An unfiltered cap of 5 and a gpt cap of 5: 10 gpt apply 5, then claude nothing."""
        ledger.create("c1", "messages", included=100)
        cap(ledger, "messages", 5)
        cap(ledger, "messages", 5, filter={"properties": {"model": "gpt"}})
        assert applied(ledger, "messages", 10, properties={"model": "gpt"}) == 5
        assert applied(ledger, "messages", 1, properties={"model": "claude"}) == 0

    def test_event_name_passes_its_properties(self, ledger: Ledger) -> None:
        """A track by event name gates every feature it reaches with the event's properties."""
        ledger.create_feature("messages", event_names=["chat"])
        ledger.create("c1", "messages", included=100)
        cap(ledger, "messages", 2, filter={"properties": {"model": "gpt"}})
        ledger.track("c1", event_name="chat", value=5, properties={"model": "gpt"})
        assert remaining(ledger) == D(98)


class TestEntities:
    """An entity's own cap counts in its own window; an inherited one in the customer's."""

    @pytest.fixture
    def shared(self, ledger: Ledger) -> Ledger:
        """A shared customer grant of 100 and entities e0, e1, e2."""
        ledger.create("c1", "messages", included=100)
        for entity_id in ("e0", "e1", "e2"):
            ledger.create_entity("c1", entity_id)
        return ledger

    def test_entity_cap(self, shared: Ledger) -> None:
        """e1's own cap 5: tracks of 3 and 4 apply 5; check then refuses."""
        cap(shared, "messages", 5, entity_id="e1")
        assert applied(shared, "messages", 3, entity_id="e1") == 3
        assert applied(shared, "messages", 4, entity_id="e1") == 2
        assert not shared.check("c1", "messages", entity_id="e1").allowed
        assert shared.check("c1", "messages", entity_id="e0").allowed
        assert shared.check("c1", "messages").allowed

    def test_two_entities_with_their_own_caps(self, ledger: Ledger) -> None:
        """Caps 5 and 10 on entity grants: 7 and 7 + 5 apply 5 and 10."""
        for entity_id, limit in (("e1", 5), ("e2", 10)):
            ledger.create("c1", "messages", entity_id=entity_id, included=100)
            cap(ledger, "messages", limit, entity_id=entity_id)
        ledger.track("c1", "messages", entity_id="e1", value=7)
        ledger.track("c1", "messages", entity_id="e2", value=7)
        ledger.track("c1", "messages", entity_id="e2", value=5)
        assert remaining(ledger, entity_id="e1") == D(95)
        assert remaining(ledger, entity_id="e2") == D(90)
        assert remaining(ledger) == D(185)

    def test_inherited_cap_is_shared(self, shared: Ledger) -> None:
        """Customer cap 5: e0 3 and e1 1 fill 4 of it; e1's next 3 applies 1."""
        cap(shared, "messages", 5)
        shared.track("c1", "messages", entity_id="e0", value=3)
        shared.track("c1", "messages", entity_id="e1", value=1)
        assert applied(shared, "messages", 3, entity_id="e1") == 1
        for entity_id in ("e0", "e1", "e2", None):
            assert not shared.check("c1", "messages", entity_id=entity_id).allowed

    def test_own_cap_carves_the_entity_out(self, shared: Ledger) -> None:
        """e1's own cap 2 takes its tracks; e0 still fits the full 5 in the customer window."""
        cap(shared, "messages", 5)
        cap(shared, "messages", 2, entity_id="e1")
        assert applied(shared, "messages", 3, entity_id="e1") == 2
        assert applied(shared, "messages", 5, entity_id="e0") == 5
        assert applied(shared, "messages", 1, entity_id="e2") == 0

    def test_arming_an_entity_cap_mid_window(self, shared: Ledger) -> None:
        """After e1 used 3 of the customer's 5, its new own cap of 5 starts empty."""
        cap(shared, "messages", 5)
        shared.track("c1", "messages", entity_id="e1", value=3)
        cap(shared, "messages", 5, entity_id="e1")
        assert applied(shared, "messages", 5, entity_id="e1") == 5
        assert applied(shared, "messages", 5, entity_id="e0") == 2

    def test_entity_check_sees_its_room(self, shared: Ledger) -> None:
        """Entity headroom 2: check 2 allowed, 3 denied; the balance is untouched (97)."""
        cap(shared, "messages", 5, entity_id="e1")
        shared.track("c1", "messages", entity_id="e1", value=3)
        assert shared.check("c1", "messages", entity_id="e1", required_balance=2).allowed
        assert not shared.check("c1", "messages", entity_id="e1", required_balance=3).allowed
        assert remaining(shared) == D(97)

    def test_entity_cap_over_credits(self, credits: Ledger) -> None:
        """e1's cap 5 on action1 over credits: 3 then 4 apply 5; credits are not gated."""
        credits.create_entity("c1", "e1")
        cap(credits, "action1", 5, entity_id="e1")
        credits.track("c1", "action1", entity_id="e1", value=3)
        credits.track("c1", "action1", entity_id="e1", value=4)
        assert remaining(credits, "credits") == D(99)
        assert not credits.check("c1", "action1", entity_id="e1").allowed
        assert credits.check("c1", "credits", entity_id="e1", required_balance=50).allowed
