"""check(): `allowed` exactly as autumn-check-track §5 (§5.4 pool choice, §5.5 verdict, §5.7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterlib import CustomerNotFound, FeatureNotFound, InvalidRequest, Ledger, ManualClock
from meterlib.results import Balance

D = Decimal
START = datetime(2025, 1, 31, 12, tzinfo=UTC)


def bal(ledger: Ledger, feature_id: str = "messages", customer_id: str = "c1") -> Balance:
    b = ledger.balance(customer_id, feature_id)
    assert b is not None
    return b


def event_count(ledger: Ledger) -> int:
    return len(ledger.events("c1").events)


@pytest.fixture
def credits(ledger: Ledger) -> Ledger:
    """requests (metered) and credits (credit system, 2 credits per request)."""
    ledger.create_feature("requests", name="Requests")
    ledger.create_feature("credits", type="credit_system", credit_schema={"requests": 2})
    ledger.create_customer("c1")
    return ledger


class TestRequiredBalance:
    """A plain balance is allowed iff remaining ≥ required_balance (default 1)."""

    def test_default_is_one(self, ledger: Ledger) -> None:
        """Without required_balance the check asks for 1."""
        ledger.create("c1", "messages", included=10)
        result = ledger.check("c1", "messages")
        assert result.allowed is True
        assert result.required_balance == D(1)
        assert (result.customer_id, result.feature_id, result.entity_id) == (
            "c1",
            "messages",
            None,
        )
        assert result.balance is not None
        assert result.balance.remaining == D(10)
        assert result.flag is None

    @pytest.mark.parametrize(
        ("required", "allowed"),
        [(1, True), (10, True), (11, False), ("10.0000000001", False), (0, True), (-5, True)],
    )
    def test_against_ten_remaining(self, ledger: Ledger, required: object, allowed: bool) -> None:
        """With 10 remaining: up to 10 is allowed, more is not; 0 and negatives are allowed."""
        ledger.create("c1", "messages", included=10)
        assert ledger.check("c1", "messages", required_balance=required).allowed is allowed

    @pytest.mark.parametrize(
        ("required", "allowed"), [(1, False), (0, True), (-1, True), ("0.0001", False)]
    )
    def test_at_zero_remaining(self, ledger: Ledger, required: object, allowed: bool) -> None:
        """A drained balance allows only required_balance ≤ 0."""
        ledger.create("c1", "messages", included=10)
        ledger.track("c1", "messages", value=10)
        assert ledger.check("c1", "messages", required_balance=required).allowed is allowed

    @pytest.mark.parametrize(
        ("required", "allowed"), [("0.5", True), (0.5, True), ("0.6", False), (1, False)]
    )
    def test_fractional(self, ledger: Ledger, required: object, allowed: bool) -> None:
        """Fractional amounts compare exactly: 0.5 left allows 0.5, not 0.6."""
        ledger.create("c1", "messages", included=1)
        ledger.track("c1", "messages", value=0.5)
        result = ledger.check("c1", "messages", required_balance=required)
        assert result.allowed is allowed
        assert result.required_balance == D(str(required))

    def test_rows_add_up(self, ledger: Ledger) -> None:
        """Remaining over several grants counts as one pool: 5 + 7 allows 12."""
        ledger.create("c1", "messages", included=5, reset="month")
        ledger.create("c1", "messages", included=7)
        assert ledger.check("c1", "messages", required_balance=12).allowed is True
        assert ledger.check("c1", "messages", required_balance=13).allowed is False

    def test_plain_check_changes_nothing(self, ledger: Ledger) -> None:
        """A check without send_event or lock deducts nothing and records no event."""
        ledger.create("c1", "messages", included=10)
        ledger.check("c1", "messages", required_balance=4)
        assert (bal(ledger).remaining, bal(ledger).usage) == (D(10), D(0))
        assert event_count(ledger) == 0


class TestNoBalance:
    """With no balance at all a check is not allowed, even for 0 (§5.5)."""

    @pytest.mark.parametrize("required", [1, 0, -1])
    def test_no_grant(self, ledger: Ledger, required: int) -> None:
        """A known customer without any grant of the feature: allowed False, balance None."""
        ledger.create_customer("c1")
        ledger.create_feature("messages")
        result = ledger.check("c1", "messages", required_balance=required)
        assert result.allowed is False
        assert (result.balance, result.flag) == (None, None)

    def test_expired_grant(self, ledger: Ledger, clock: ManualClock) -> None:
        """An expired grant does not count: the check is denied."""
        ledger.create("c1", "messages", included=10, expires_at=START + timedelta(hours=1))
        clock.advance(hours=1)
        result = ledger.check("c1", "messages")
        assert (result.allowed, result.balance) == (False, None)

    def test_unknown_customer(self, ledger: Ledger) -> None:
        """check never creates a customer: an unknown one raises CustomerNotFound."""
        ledger.create_feature("messages")
        with pytest.raises(CustomerNotFound):
            ledger.check("ghost", "messages")

    def test_unknown_feature(self, ledger: Ledger) -> None:
        """check of an unknown feature raises FeatureNotFound."""
        ledger.create_customer("c1")
        with pytest.raises(FeatureNotFound):
            ledger.check("c1", "nope")


class TestUnlimited:
    """An unlimited balance allows any amount (§4.4)."""

    def test_any_amount(self, ledger: Ledger) -> None:
        """Unlimited allows 10**9 and reports an unlimited balance."""
        ledger.create("c1", "messages", unlimited=True)
        result = ledger.check("c1", "messages", required_balance=10**9)
        assert result.allowed is True
        assert result.balance is not None
        assert result.balance.unlimited is True

    def test_unlimited_wins_over_a_drained_grant(self, ledger: Ledger) -> None:
        """If any grant is unlimited, the feature is unlimited."""
        ledger.create("c1", "messages", included=1)
        ledger.track("c1", "messages", value=1)
        ledger.create("c1", "messages", unlimited=True)
        assert ledger.check("c1", "messages", required_balance=1000).allowed is True


class TestBooleanFlags:
    """A boolean feature is judged by its flag, never by a balance (§4.4, §5.5)."""

    def test_flag_present(self, ledger: Ledger) -> None:
        """With the flag the check is allowed, reports the flag and no balance."""
        ledger.create_feature("sso", type="boolean")
        ledger.create("c1", "sso", balance_id="sso-grant")
        result = ledger.check("c1", "sso")
        assert result.allowed is True
        assert result.balance is None
        assert result.flag is not None
        assert (result.flag.id, result.flag.feature_id) == ("sso-grant", "sso")

    def test_flag_ignores_required_balance(self, ledger: Ledger) -> None:
        """A present flag is allowed whatever required_balance says."""
        ledger.create_feature("sso", type="boolean")
        ledger.create("c1", "sso")
        assert ledger.check("c1", "sso", required_balance=1000).allowed is True

    def test_flag_absent(self, ledger: Ledger) -> None:
        """Without the flag the check is denied with no flag and no balance."""
        ledger.create_feature("sso", type="boolean")
        ledger.create_customer("c1")
        result = ledger.check("c1", "sso")
        assert (result.allowed, result.balance, result.flag) == (False, None, None)

    def test_flag_expires(self, ledger: Ledger, clock: ManualClock) -> None:
        """An expired flag no longer allows."""
        ledger.create_feature("sso", type="boolean")
        ledger.create("c1", "sso", expires_at=START + timedelta(days=1))
        assert ledger.check("c1", "sso").allowed is True
        clock.advance(days=1)
        assert ledger.check("c1", "sso").allowed is False
        assert dict(ledger.flags("c1")) == {}


class TestOverage:
    """overage_allowed and max_purchase widen what is allowed (§5.5)."""

    def test_uncapped_overage_is_always_allowed(self, ledger: Ledger) -> None:
        """Overage without max_purchase allows any amount, even deep in overage."""
        ledger.create("c1", "messages", included=10, overage_allowed=True)
        ledger.track("c1", "messages", value=15)
        assert (bal(ledger).remaining, bal(ledger).usage) == (D(0), D(15))
        assert ledger.check("c1", "messages", required_balance=1000).allowed is True

    def test_included_100_max_purchase_400(self, ledger: Ledger) -> None:
        """included 100, max_purchase 400: required 500 is allowed, 501 denied."""
        ledger.create("c1", "messages", included=100, overage_allowed=True, max_purchase=400)
        assert ledger.check("c1", "messages", required_balance=500).allowed is True
        assert ledger.check("c1", "messages", required_balance=501).allowed is False

    def test_max_purchase_shrinks_with_overage(self, ledger: Ledger) -> None:
        """After 450 used (350 overage) only 50 more is allowed."""
        ledger.create("c1", "messages", included=100, overage_allowed=True, max_purchase=400)
        ledger.track("c1", "messages", value=450)
        assert ledger.check("c1", "messages", required_balance=50).allowed is True
        assert ledger.check("c1", "messages", required_balance=51).allowed is False

    def test_max_purchase_counts_remaining(self, ledger: Ledger) -> None:
        """Allowed iff required ≤ remaining + cap left: 60 used of 100 + 400 allows 440."""
        ledger.create("c1", "messages", included=100, overage_allowed=True, max_purchase=400)
        ledger.track("c1", "messages", value=60)
        assert ledger.check("c1", "messages", required_balance=440).allowed is True
        assert ledger.check("c1", "messages", required_balance=441).allowed is False

    def test_plain_and_capped_rows(self, ledger: Ledger) -> None:
        """Plain 10 + an overage grant of 0 capped at 5: 15 allowed, 16 denied."""
        ledger.create("c1", "messages", included=10)
        ledger.create("c1", "messages", included=0, overage_allowed=True, max_purchase=5)
        assert ledger.check("c1", "messages", required_balance=15).allowed is True
        assert ledger.check("c1", "messages", required_balance=16).allowed is False

    def test_unlimited_send_event_counts(self, ledger: Ledger) -> None:
        """send_event on an unlimited grant is allowed and counts usage."""
        ledger.create("c1", "messages", unlimited=True)
        assert ledger.check("c1", "messages", required_balance=40, send_event=True).allowed
        assert bal(ledger).usage == D(40)

    def test_overflow_negative_blocks_a_plain_grant(self, ledger: Ledger) -> None:
        """A non-overage grant pushed negative by overflow allows only required ≤ 0."""
        ledger.create("c1", "messages", included=10)
        ledger.track("c1", "messages", value=15, overage_behavior="overflow")
        assert ledger.check("c1", "messages").allowed is False
        assert ledger.check("c1", "messages", required_balance=0).allowed is True


class TestCreditSystems:
    """A check judges one pool at a time: the feature's own or one credit system (§5.4)."""

    def test_credit_pool_alone(self, credits: Ledger) -> None:
        """With only credits (2 per request), 50 requests need 100 credits: allowed; 51 not."""
        credits.create("c1", "credits", included=100)
        result = credits.check("c1", "requests", required_balance=50)
        assert result.allowed is True
        assert result.feature_id == "requests"
        assert result.required_balance == D(100)
        assert result.balance is not None
        assert result.balance.feature_id == "credits"
        assert credits.check("c1", "requests", required_balance=51).allowed is False

    def test_own_pool_first(self, credits: Ledger) -> None:
        """When the feature's own balance suffices, it is the pool judged, unconverted."""
        credits.create("c1", "requests", included=5)
        credits.create("c1", "credits", included=100)
        result = credits.check("c1", "requests", required_balance=3)
        assert result.allowed is True
        assert result.required_balance == D(3)
        assert result.balance is not None
        assert result.balance.feature_id == "requests"

    def test_credit_pool_when_own_is_short(self, credits: Ledger) -> None:
        """Own 5 < 10, credits 30 ≥ 20: the credit pool answers, required 20 credits."""
        credits.create("c1", "requests", included=5)
        credits.create("c1", "credits", included=30)
        result = credits.check("c1", "requests", required_balance=10)
        assert result.allowed is True
        assert result.required_balance == D(20)
        assert result.balance is not None
        assert result.balance.feature_id == "credits"

    def test_pools_are_not_combined(self, credits: Ledger) -> None:
        """Own 5 + credits worth 7 requests do not allow 10: each pool is judged alone."""
        credits.create("c1", "requests", included=5)
        credits.create("c1", "credits", included=14)
        result = credits.check("c1", "requests", required_balance=10)
        assert result.allowed is False
        assert result.balance is not None
        assert result.balance.feature_id == "credits"
        assert result.required_balance == D(20)

    def test_no_pool_at_all(self, credits: Ledger) -> None:
        """Owning neither pool: denied, balance None, required converted by the first system."""
        result = credits.check("c1", "requests", required_balance=3)
        assert (result.allowed, result.balance) == (False, None)
        assert result.required_balance == D(6)

    def test_fractional_required_is_converted(self, credits: Ledger) -> None:
        """0.5 requests need exactly 1 credit."""
        credits.create("c1", "credits", included=1)
        result = credits.check("c1", "requests", required_balance="0.5")
        assert (result.allowed, result.required_balance) == (True, D(1))
        assert credits.check("c1", "requests", required_balance="0.5000001").allowed is False

    def test_checking_the_credit_system_itself(self, credits: Ledger) -> None:
        """A check on the credit system counts credits directly."""
        credits.create("c1", "credits", included=30)
        assert credits.check("c1", "credits", required_balance=30).allowed is True
        assert credits.check("c1", "credits", required_balance=31).allowed is False


class TestEntities:
    """An entity check sees its own and the customer's grants; a customer check not the entity's."""

    def test_entity_sees_own_and_shared(self, ledger: Ledger) -> None:
        """Entity 10 + customer 100 allow 110 for the entity."""
        ledger.create("c1", "messages", included=100)
        ledger.create("c1", "messages", included=10, entity_id="e1")
        result = ledger.check("c1", "messages", entity_id="e1", required_balance=110)
        assert result.allowed is True
        assert result.entity_id == "e1"
        assert ledger.check("c1", "messages", entity_id="e1", required_balance=111).allowed is False

    def test_customer_check_ignores_entity_grants(self, ledger: Ledger) -> None:
        """A customer-level check is not allowed by entity-owned grants (§4.5)."""
        ledger.create("c1", "messages", included=100)
        ledger.create("c1", "messages", included=10, entity_id="e1")
        assert ledger.check("c1", "messages", required_balance=100).allowed is True
        assert ledger.check("c1", "messages", required_balance=101).allowed is False

    def test_customer_with_only_entity_grants(self, ledger: Ledger) -> None:
        """Only entity-owned grants: the customer-level check is denied (§4.5, UNSURE there)."""
        ledger.create("c1", "messages", included=10, entity_id="e1")
        assert ledger.check("c1", "messages").allowed is False


class TestSendEvent:
    """send_event checks and deducts atomically, all or nothing (§5.7)."""

    def test_allowed_deducts_and_records(self, ledger: Ledger) -> None:
        """An allowed send_event deducts required_balance and records one event of that value."""
        ledger.create("c1", "messages", included=10)
        result = ledger.check(
            "c1", "messages", required_balance=3, send_event=True, properties={"k": "v"}
        )
        assert result.allowed is True
        assert result.balance is not None
        assert result.balance.remaining == D(7)
        assert (bal(ledger).remaining, bal(ledger).usage) == (D(7), D(3))
        events = ledger.events("c1").events
        assert len(events) == 1
        assert (events[0].value, events[0].feature_id) == (D(3), "messages")
        assert dict(events[0].properties) == {"k": "v"}

    def test_denied_changes_nothing(self, ledger: Ledger) -> None:
        """A send_event that does not fit deducts nothing and records no event."""
        ledger.create("c1", "messages", included=10)
        result = ledger.check("c1", "messages", required_balance=11, send_event=True)
        assert result.allowed is False
        assert (bal(ledger).remaining, bal(ledger).usage) == (D(10), D(0))
        assert event_count(ledger) == 0

    def test_all_or_nothing_across_rows(self, ledger: Ledger) -> None:
        """5 + 5 cannot give 12: nothing is taken from either row."""
        ledger.create("c1", "messages", included=5, reset="month")
        ledger.create("c1", "messages", included=5)
        assert ledger.check("c1", "messages", required_balance=12, send_event=True).allowed is False
        assert [i.remaining for i in bal(ledger).breakdown] == [D(5), D(5)]

    def test_max_purchase_is_respected(self, ledger: Ledger) -> None:
        """included 100 + max_purchase 400: send_event 500 is allowed, then 1 more is not."""
        ledger.create("c1", "messages", included=100, overage_allowed=True, max_purchase=400)
        assert ledger.check("c1", "messages", required_balance=500, send_event=True).allowed
        assert (bal(ledger).remaining, bal(ledger).usage) == (D(0), D(500))
        assert ledger.check("c1", "messages", send_event=True).allowed is False
        assert bal(ledger).usage == D(500)

    def test_send_event_combines_pools(self, credits: Ledger) -> None:
        """Own 5 + credits worth 7: send_event of 10 drains 5 own and 10 credits (§5.7 step 5)."""
        credits.create("c1", "requests", included=5)
        credits.create("c1", "credits", included=14)
        result = credits.check("c1", "requests", required_balance=10, send_event=True)
        assert result.allowed is True
        assert bal(credits, "requests").remaining == D(0)
        assert bal(credits, "credits").remaining == D(4)

    def test_no_balance(self, ledger: Ledger) -> None:
        """send_event without a balance is denied and records nothing."""
        ledger.create_customer("c1")
        ledger.create_feature("messages")
        result = ledger.check("c1", "messages", send_event=True)
        assert (result.allowed, result.balance) == (False, None)
        assert event_count(ledger) == 0

    def test_no_balance_zero_required(self, ledger: Ledger) -> None:
        """send_event of 0 without a balance is a no-op success: allowed (§5.7 step 4)."""
        ledger.create_customer("c1")
        ledger.create_feature("messages")
        assert ledger.check("c1", "messages", required_balance=0, send_event=True).allowed

    def test_boolean_feature_is_refused(self, ledger: Ledger) -> None:
        """send_event on a boolean feature is InvalidRequest (invalid_request)."""
        ledger.create_feature("sso", type="boolean")
        ledger.create("c1", "sso")
        with pytest.raises(InvalidRequest) as info:
            ledger.check("c1", "sso", send_event=True)
        assert info.value.code == "invalid_request"
        assert event_count(ledger) == 0


class TestPreview:
    """with_preview adds an upgrade preview to a denied check; plans are out of scope."""

    def test_denied_with_a_balance_is_usage_limit(self, ledger: Ledger) -> None:
        """A denied check with a balance previews scenario usage_limit naming the feature."""
        ledger.create_feature("messages", name="Messages")
        ledger.create("c1", "messages", included=1)
        result = ledger.check("c1", "messages", required_balance=2, with_preview=True)
        assert result.allowed is False
        preview = result.preview
        assert preview is not None
        assert preview.scenario == "usage_limit"
        assert (preview.feature_id, preview.feature_name) == ("messages", "Messages")
        assert isinstance(preview.title, str)
        assert preview.title
        assert "Messages" in preview.title + " " + preview.message
        assert list(preview.products) == []
        d = result.to_dict()["preview"]
        assert d["scenario"] == "usage_limit"
        assert d["products"] == []
        assert d["feature_id"] == "messages"

    def test_denied_without_a_balance_is_feature_flag(self, ledger: Ledger) -> None:
        """A denied check with no balance previews scenario feature_flag."""
        ledger.create_feature("sso", name="Single sign-on", type="boolean")
        ledger.create_customer("c1")
        result = ledger.check("c1", "sso", with_preview=True)
        assert result.allowed is False
        assert result.preview is not None
        assert result.preview.scenario == "feature_flag"
        assert "Single sign-on" in result.preview.title + " " + result.preview.message
        assert list(result.preview.products) == []

    def test_allowed_has_null_preview(self, ledger: Ledger) -> None:
        """An allowed check with with_preview has preview None (shown as null)."""
        ledger.create("c1", "messages", included=1)
        result = ledger.check("c1", "messages", with_preview=True)
        assert result.allowed is True
        assert result.preview is None
        d = result.to_dict()
        assert "preview" in d
        assert d["preview"] is None

    def test_no_preview_unless_asked(self, ledger: Ledger) -> None:
        """Without with_preview a denied check carries no preview key."""
        ledger.create("c1", "messages", included=1)
        result = ledger.check("c1", "messages", required_balance=5)
        assert result.preview is None
        assert "preview" not in result.to_dict()


class TestCheckToDict:
    """CheckResult.to_dict is Autumn's check response (§5.6)."""

    def test_plain_check(self, ledger: Ledger) -> None:
        """A plain check has allowed, customer_id, required_balance, balance and flag only."""
        ledger.create("c1", "messages", included=10)
        result = ledger.check("c1", "messages", required_balance=2)
        d = result.to_dict()
        assert set(d) == {"allowed", "customer_id", "required_balance", "balance", "flag"}
        assert (d["allowed"], d["customer_id"], d["required_balance"], d["flag"]) == (
            True,
            "c1",
            2,
            None,
        )
        assert d["balance"]["remaining"] == 10

    def test_entity_id_only_when_asked(self, ledger: Ledger) -> None:
        """entity_id appears only on an entity check."""
        ledger.create("c1", "messages", included=10, entity_id="e1")
        d = ledger.check("c1", "messages", entity_id="e1").to_dict()
        assert d["entity_id"] == "e1"

    def test_no_balance(self, ledger: Ledger) -> None:
        """Without a balance: allowed False, balance and flag null."""
        ledger.create_customer("c1")
        ledger.create_feature("messages")
        d = ledger.check("c1", "messages").to_dict()
        assert d == {
            "allowed": False,
            "customer_id": "c1",
            "required_balance": 1,
            "balance": None,
            "flag": None,
        }
