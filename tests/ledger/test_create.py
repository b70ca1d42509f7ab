"""create(): every call adds one grant (autumn-lifecycle §2; API.md, Balances)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterlib import AlreadyExists, InvalidRequest, Ledger, ManualClock

D = Decimal
START = datetime(2025, 1, 31, 12, tzinfo=UTC)
FEB_28 = datetime(2025, 2, 28, 12, tzinfo=UTC)


def ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


class TestStacking:
    """Every create adds an independent breakdown row; balances stack (lifecycle §2.2)."""

    def test_two_creates_stack(self, ledger: Ledger) -> None:
        """Creates of 100 and 200 give two breakdown items and 300 remaining."""
        ledger.create("c1", "messages", included=100)
        ledger.create("c1", "messages", included=200)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert (b.granted, b.remaining, b.usage) == (D(300), D(300), D(0))
        assert [i.included_grant for i in b.breakdown] == [D(100), D(200)]

    def test_create_returns_the_balance(self, ledger: Ledger) -> None:
        """create returns the feature's balance after the grant was added."""
        ledger.create("c1", "messages", included=100)
        b = ledger.create("c1", "messages", included=50)
        assert b.feature_id == "messages"
        assert (b.granted, b.remaining) == (D(150), D(150))

    def test_stacking_after_usage(self, ledger: Ledger) -> None:
        """A new grant adds to what is left; it does not reset earlier usage."""
        ledger.create("c1", "messages", included=10)
        ledger.track("c1", "messages", value=4)
        ledger.create("c1", "messages", included=10)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert (b.granted, b.remaining, b.usage) == (D(20), D(16), D(4))


class TestIncluded:
    """`included` (aliases included_grant, granted_balance) is the grant, taken exactly."""

    @pytest.mark.parametrize("keyword", ["included", "included_grant", "granted_balance"])
    def test_included_and_its_aliases(self, ledger: Ledger, keyword: str) -> None:
        """included, included_grant and granted_balance all set the grant."""
        ledger.create("c1", "messages", **{keyword: 40})
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert (b.granted, b.remaining, b.usage) == (D(40), D(40), D(0))
        assert b.breakdown[0].included_grant == D(40)
        assert b.breakdown[0].prepaid_grant == D(0)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(0.1, D("0.1")), ("12.5", D("12.5")), (D("7.25"), D("7.25")), (3, D(3))],
    )
    def test_numbers_in_every_form(self, ledger: Ledger, value: object, expected: Decimal) -> None:
        """int, float (by its shortest repr), Decimal and numeric str are exact amounts."""
        ledger.create("c1", "messages", included=value)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.granted == expected
        assert isinstance(b.granted, Decimal)

    def test_zero_grant_stays_visible(self, ledger: Ledger) -> None:
        """A grant of 0 is shown with remaining 0 (meterlib decision 3, unlike Autumn)."""
        ledger.create("c1", "messages", included=0)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert (b.granted, b.remaining, b.usage) == (D(0), D(0), D(0))
        assert len(b.breakdown) == 1


class TestUnlimited:
    """An unlimited grant reports granted 0, remaining 0 and counts usage (check-track §4.4)."""

    def test_unlimited_shape(self, ledger: Ledger) -> None:
        """A fresh unlimited balance is unlimited with zeros and one unlimited breakdown item."""
        ledger.create("c1", "messages", unlimited=True)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.unlimited is True
        assert (b.granted, b.remaining, b.usage) == (D(0), D(0), D(0))
        assert b.next_reset_at is None
        assert len(b.breakdown) == 1
        assert b.breakdown[0].unlimited is True

    def test_unlimited_with_reset_is_refused(self, ledger: Ledger) -> None:
        """unlimited together with reset is InvalidRequest (invalid_request)."""
        with pytest.raises(InvalidRequest) as info:
            ledger.create("c1", "messages", unlimited=True, reset="month")
        assert info.value.code == "invalid_request"


class TestReset:
    """`reset` is stored with its interval count; next_reset_at is created + interval (UTC)."""

    def test_no_reset_is_one_off(self, ledger: Ledger) -> None:
        """Without reset the grant is one-off: no next_reset_at, reset interval 'one_off'."""
        ledger.create("c1", "messages", included=5)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.next_reset_at is None
        item = b.breakdown[0]
        assert item.reset is not None
        assert (item.reset.interval, item.reset.resets_at) == ("one_off", None)

    def test_explicit_one_off(self, ledger: Ledger) -> None:
        """reset='one_off' is a grant that never resets."""
        ledger.create("c1", "messages", included=5, reset="one_off")
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.next_reset_at is None
        assert b.breakdown[0].reset is not None
        assert b.breakdown[0].reset.interval == "one_off"

    def test_monthly_from_the_31st_is_clamped(self, ledger: Ledger) -> None:
        """A monthly grant made Jan 31 12:00 first resets Feb 28 12:00 (clamped to month end)."""
        ledger.create("c1", "messages", included=5, reset="month")
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.next_reset_at == FEB_28
        reset = b.breakdown[0].reset
        assert reset is not None
        assert (reset.interval, reset.interval_count, reset.resets_at) == ("month", 1, FEB_28)

    @pytest.mark.parametrize(
        ("interval", "first_reset"),
        [
            ("minute", datetime(2025, 1, 31, 12, 1, tzinfo=UTC)),
            ("hour", datetime(2025, 1, 31, 13, tzinfo=UTC)),
            ("day", datetime(2025, 2, 1, 12, tzinfo=UTC)),
            ("week", datetime(2025, 2, 7, 12, tzinfo=UTC)),
            ("month", FEB_28),
            ("quarter", datetime(2025, 4, 30, 12, tzinfo=UTC)),
            ("semi_annual", datetime(2025, 7, 31, 12, tzinfo=UTC)),
            ("year", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ],
    )
    def test_every_interval(self, ledger: Ledger, interval: str, first_reset: datetime) -> None:
        """Each interval's first boundary is creation + one interval, months clamped."""
        ledger.create("c1", "messages", included=5, reset=interval)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.next_reset_at == first_reset

    def test_dict_with_interval_count(self, ledger: Ledger) -> None:
        """reset={'interval': 'month', 'interval_count': 2} first resets two months on (Mar 31)."""
        ledger.create(
            "c1", "messages", included=5, reset={"interval": "month", "interval_count": 2}
        )
        b = ledger.balance("c1", "messages")
        assert b is not None
        mar_31 = datetime(2025, 3, 31, 12, tzinfo=UTC)
        assert b.next_reset_at == mar_31
        reset = b.breakdown[0].reset
        assert reset is not None
        assert (reset.interval, reset.interval_count, reset.resets_at) == ("month", 2, mar_31)

    def test_dict_without_count_means_one(self, ledger: Ledger) -> None:
        """reset={'interval': 'day'} has interval_count 1."""
        ledger.create("c1", "messages", included=5, reset={"interval": "day"})
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.breakdown[0].reset is not None
        assert b.breakdown[0].reset.interval_count == 1
        assert b.next_reset_at == datetime(2025, 2, 1, 12, tzinfo=UTC)

    def test_top_level_next_reset_is_the_earliest(self, ledger: Ledger) -> None:
        """Balance.next_reset_at is the earliest boundary among the grants."""
        ledger.create("c1", "messages", included=5, reset="month")
        ledger.create("c1", "messages", included=5, reset="week")
        ledger.create("c1", "messages", included=5)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.next_reset_at == datetime(2025, 2, 7, 12, tzinfo=UTC)


class TestNextResetAt:
    """A custom next_reset_at sets the first boundary; it must be future and need a reset."""

    def test_custom_first_boundary(self, ledger: Ledger) -> None:
        """next_reset_at given with reset is the grant's first boundary."""
        t = datetime(2025, 2, 10, tzinfo=UTC)
        ledger.create("c1", "messages", included=5, reset="month", next_reset_at=t)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.next_reset_at == t
        assert b.breakdown[0].reset is not None
        assert b.breakdown[0].reset.resets_at == t

    def test_epoch_milliseconds_are_accepted(self, ledger: Ledger) -> None:
        """Times may be given as Unix epoch milliseconds."""
        t = datetime(2025, 2, 10, tzinfo=UTC)
        ledger.create("c1", "messages", included=5, reset="month", next_reset_at=ms(t))
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.next_reset_at == t

    @pytest.mark.parametrize("delta", [timedelta(0), timedelta(days=-1)])
    def test_not_in_the_future_is_refused(
        self, ledger: Ledger, clock: ManualClock, delta: timedelta
    ) -> None:
        """next_reset_at at or before now is InvalidRequest (invalid_request)."""
        with pytest.raises(InvalidRequest) as info:
            ledger.create(
                "c1", "messages", included=5, reset="month", next_reset_at=clock.now() + delta
            )
        assert info.value.code == "invalid_request"

    def test_without_reset_is_refused(self, ledger: Ledger) -> None:
        """next_reset_at without reset is InvalidRequest (invalid_request)."""
        with pytest.raises(InvalidRequest) as info:
            ledger.create(
                "c1", "messages", included=5, next_reset_at=datetime(2025, 2, 10, tzinfo=UTC)
            )
        assert info.value.code == "invalid_request"


class TestExpiresAt:
    """A grant with expires_at is visible until that instant and gone from it (lifecycle §8.1)."""

    def test_expires_at_is_shown_and_ends_the_grant(
        self, ledger: Ledger, clock: ManualClock
    ) -> None:
        """The breakdown shows expires_at; at exactly that instant the grant vanishes."""
        t = START + timedelta(days=1)
        ledger.create("c1", "messages", included=5, expires_at=t)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.breakdown[0].expires_at == t
        clock.set(t - timedelta(milliseconds=1))
        assert ledger.balance("c1", "messages") is not None
        clock.set(t)
        assert ledger.balance("c1", "messages") is None
        assert ledger.check("c1", "messages").allowed is False

    def test_expired_grant_leaves_the_others(self, ledger: Ledger, clock: ManualClock) -> None:
        """Only the expired grant disappears; the totals drop by it."""
        ledger.create("c1", "messages", included=5, expires_at=START + timedelta(days=1))
        ledger.create("c1", "messages", included=7)
        clock.advance(days=2)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert (b.granted, b.remaining, len(b.breakdown)) == (D(7), D(7), 1)

    def test_reset_with_expires_at_keeps_resetting(self, ledger: Ledger) -> None:
        """reset with expires_at keeps its boundaries (meterlib decision 2, unlike Autumn)."""
        ledger.create(
            "c1",
            "messages",
            included=5,
            reset="month",
            expires_at=datetime(2025, 6, 1, tzinfo=UTC),
        )
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.next_reset_at == FEB_28
        assert b.breakdown[0].expires_at == datetime(2025, 6, 1, tzinfo=UTC)


class TestBalanceId:
    """balance_id names the grant and is unique per customer among live and expired grants."""

    def test_balance_id_is_the_breakdown_id(self, ledger: Ledger) -> None:
        """The breakdown item's id is the caller's balance_id."""
        ledger.create("c1", "messages", included=5, balance_id="promo")
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.breakdown[0].id == "promo"

    def test_generated_ids_are_distinct(self, ledger: Ledger) -> None:
        """Without balance_id each grant gets its own id."""
        ledger.create("c1", "messages", included=5)
        ledger.create("c1", "messages", included=5)
        b = ledger.balance("c1", "messages")
        assert b is not None
        ids = [i.id for i in b.breakdown]
        assert len(set(ids)) == 2
        assert all(isinstance(i, str) and i for i in ids)

    def test_reuse_is_already_exists(self, ledger: Ledger) -> None:
        """Reusing a balance_id for the same customer raises AlreadyExists and adds nothing."""
        ledger.create("c1", "messages", included=5, balance_id="promo")
        with pytest.raises(AlreadyExists) as info:
            ledger.create("c1", "messages", included=9, balance_id="promo")
        assert info.value.code == "already_exists"
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert (b.granted, len(b.breakdown)) == (D(5), 1)

    def test_reuse_across_features_is_already_exists(self, ledger: Ledger) -> None:
        """balance_id is unique across all the customer's features."""
        ledger.create("c1", "messages", included=5, balance_id="promo")
        with pytest.raises(AlreadyExists):
            ledger.create("c1", "tokens", included=9, balance_id="promo")

    def test_same_id_for_another_customer_is_fine(self, ledger: Ledger) -> None:
        """The same balance_id may be used by another customer."""
        ledger.create("c1", "messages", included=5, balance_id="promo")
        ledger.create("c2", "messages", included=6, balance_id="promo")
        b = ledger.balance("c2", "messages")
        assert b is not None
        assert b.breakdown[0].id == "promo"

    def test_expired_grant_keeps_its_id(self, ledger: Ledger, clock: ManualClock) -> None:
        """An expired grant still reserves its balance_id."""
        ledger.create(
            "c1", "messages", included=5, balance_id="promo", expires_at=START + timedelta(days=1)
        )
        clock.advance(days=2)
        with pytest.raises(AlreadyExists):
            ledger.create("c1", "messages", included=5, balance_id="promo")

    def test_deleted_grant_frees_its_id(self, ledger: Ledger) -> None:
        """After delete the balance_id may be reused."""
        ledger.create("c1", "messages", included=5, balance_id="promo")
        ledger.delete("c1", feature_id="messages", balance_id="promo")
        ledger.create("c1", "messages", included=8, balance_id="promo")
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert (b.granted, b.breakdown[0].id) == (D(8), "promo")


class TestEntityGrant:
    """create with entity_id gives the grant to that entity (check-track §2, §4.5)."""

    def test_entity_grant_is_seen_by_the_entity(self, ledger: Ledger) -> None:
        """The entity sees its own grant first, then the customer-level grant it inherits."""
        ledger.create("c1", "messages", included=100, balance_id="shared")
        ledger.create("c1", "messages", included=10, entity_id="e1", balance_id="own")
        b = ledger.balance("c1", "messages", entity_id="e1")
        assert b is not None
        assert [i.id for i in b.breakdown] == ["own", "shared"]
        assert (b.granted, b.remaining) == (D(110), D(110))

    def test_customer_view_counts_entity_grants_in_totals_only(self, ledger: Ledger) -> None:
        """Without entity_id, entity-owned grants are added to totals but not to the breakdown."""
        ledger.create("c1", "messages", included=100, balance_id="shared")
        ledger.create("c1", "messages", included=10, entity_id="e1", balance_id="own")
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert (b.granted, b.remaining, b.usage) == (D(110), D(110), D(0))
        assert [i.id for i in b.breakdown] == ["shared"]

    def test_other_entities_do_not_see_it(self, ledger: Ledger) -> None:
        """Another entity sees only the customer-level grants."""
        ledger.create("c1", "messages", included=100)
        ledger.create("c1", "messages", included=10, entity_id="e1")
        ledger.create_entity("c1", "e2")
        b = ledger.balance("c1", "messages", entity_id="e2")
        assert b is not None
        assert (b.granted, b.remaining) == (D(100), D(100))


class TestOverageOptions:
    """overage_allowed and max_purchase are shown on the balance (check-track §4.3)."""

    def test_default_has_no_overage(self, ledger: Ledger) -> None:
        """A plain grant has overage_allowed False and max_purchase None."""
        ledger.create("c1", "messages", included=5)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert (b.overage_allowed, b.max_purchase) == (False, None)

    def test_overage_without_cap(self, ledger: Ledger) -> None:
        """overage_allowed without max_purchase: overage allowed, max_purchase None."""
        ledger.create("c1", "messages", included=5, overage_allowed=True)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert (b.overage_allowed, b.max_purchase) == (True, None)

    def test_overage_with_cap(self, ledger: Ledger) -> None:
        """overage_allowed with max_purchase 400 reports max_purchase 400."""
        ledger.create("c1", "messages", included=100, overage_allowed=True, max_purchase=400)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert (b.overage_allowed, b.max_purchase) == (True, D(400))
        assert b.to_dict()["breakdown"][0]["price"] == {
            "billing_units": 1,
            "billing_method": "usage_based",
            "max_purchase": 400,
        }

    def test_caps_add_up(self, ledger: Ledger) -> None:
        """max_purchase of the balance is the sum of the grants' caps."""
        ledger.create("c1", "messages", included=100, overage_allowed=True, max_purchase=400)
        ledger.create("c1", "messages", included=10, overage_allowed=True, max_purchase=50)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.max_purchase == D(450)

    def test_an_uncapped_row_makes_it_none(self, ledger: Ledger) -> None:
        """If any overage grant has no cap, the balance's max_purchase is None."""
        ledger.create("c1", "messages", included=100, overage_allowed=True, max_purchase=400)
        ledger.create("c1", "messages", included=10, overage_allowed=True)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.max_purchase is None


class TestPlanId:
    """plan_id is a label shown on the breakdown item."""

    def test_plan_id_label(self, ledger: Ledger) -> None:
        """The breakdown shows plan_id; a grant without one shows None."""
        ledger.create("c1", "messages", included=5, plan_id="pro")
        ledger.create("c1", "messages", included=5)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert [i.plan_id for i in b.breakdown] == ["pro", None]


class TestAutoCreation:
    """create makes a missing customer, entity or metered feature (meterlib decision 5)."""

    def test_missing_customer_and_feature_are_created(
        self, ledger: Ledger, clock: ManualClock
    ) -> None:
        """An unknown customer and an unknown feature id are created by create."""
        ledger.create("c1", "messages", included=5)
        assert ledger.get_customer("c1").created_at == clock.now()
        f = ledger.get_feature("messages")
        assert (f.type, f.consumable) == ("metered", True)

    def test_missing_entity_is_created(self, ledger: Ledger) -> None:
        """An unknown entity is created by create."""
        ledger.create("c1", "messages", included=5, entity_id="e1")
        b = ledger.balance("c1", "messages", entity_id="e1")
        assert b is not None
        assert b.remaining == D(5)

    def test_existing_feature_is_kept(self, ledger: Ledger) -> None:
        """create does not change an existing feature."""
        ledger.create_feature("seats", name="Seats", consumable=False)
        ledger.create("c1", "seats", included=3)
        f = ledger.get_feature("seats")
        assert (f.name, f.consumable) == ("Seats", False)

    def test_boolean_feature_becomes_a_flag(self, ledger: Ledger) -> None:
        """create on a boolean feature grants a flag, not a balance."""
        ledger.create_feature("sso", type="boolean")
        ledger.create("c1", "sso", plan_id="pro", balance_id="sso-grant")
        flags = ledger.flags("c1")
        assert set(flags) == {"sso"}
        flag = flags["sso"]
        assert (flag.id, flag.feature_id, flag.plan_id, flag.expires_at) == (
            "sso-grant",
            "sso",
            "pro",
            None,
        )
        assert "sso" not in ledger.balances("c1")


class TestNonConsumable:
    """A non-consumable feature's grant never resets; its breakdown reset is None."""

    def test_non_consumable_has_no_reset(self, ledger: Ledger) -> None:
        """Seats show reset None and no next_reset_at."""
        ledger.create_feature("seats", consumable=False)
        ledger.create("c1", "seats", included=5)
        b = ledger.balance("c1", "seats")
        assert b is not None
        assert b.next_reset_at is None
        assert b.breakdown[0].reset is None


class TestBalanceToDict:
    """Balance.to_dict is Autumn's JSON shape: epoch ms, numbers rounded to 10 dp (§4.1)."""

    def test_fresh_monthly_grant(self, ledger: Ledger) -> None:
        """A fresh monthly grant serialises to exactly Autumn's Balance object."""
        ledger.create("c1", "messages", included=100, reset="month", plan_id="pro", balance_id="g1")
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.to_dict() == {
            "feature_id": "messages",
            "granted": 100,
            "remaining": 100,
            "usage": 0,
            "unlimited": False,
            "overage_allowed": False,
            "max_purchase": None,
            "next_reset_at": ms(FEB_28),
            "breakdown": [
                {
                    "id": "g1",
                    "plan_id": "pro",
                    "included_grant": 100,
                    "prepaid_grant": 0,
                    "remaining": 100,
                    "usage": 0,
                    "unlimited": False,
                    "reset": {"interval": "month", "resets_at": ms(FEB_28)},
                    "price": None,
                    "expires_at": None,
                }
            ],
        }

    def test_interval_count_and_expiry(self, ledger: Ledger) -> None:
        """interval_count appears when not 1; expires_at is epoch ms."""
        exp = datetime(2025, 6, 1, tzinfo=UTC)
        ledger.create(
            "c1",
            "messages",
            included=5,
            reset={"interval": "month", "interval_count": 2},
            expires_at=exp,
        )
        b = ledger.balance("c1", "messages")
        assert b is not None
        item = b.to_dict()["breakdown"][0]
        assert item["reset"] == {
            "interval": "month",
            "interval_count": 2,
            "resets_at": ms(datetime(2025, 3, 31, 12, tzinfo=UTC)),
        }
        assert item["expires_at"] == ms(exp)

    def test_rounded_to_ten_places(self, ledger: Ledger) -> None:
        """Native amounts stay exact; to_dict rounds half-up to 10 dp."""
        ledger.create("c1", "messages", included=1)
        ledger.track("c1", "messages", value="0.33333333333333")
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.remaining == D("0.66666666666667")
        d = b.to_dict()
        assert d["remaining"] == 0.6666666667
        assert d["usage"] == 0.3333333333
        assert d["breakdown"][0]["remaining"] == 0.6666666667

    def test_half_up_to_a_whole_number(self, ledger: Ledger) -> None:
        """0.99999999995 rounds half-up to 1, shown as the integer 1."""
        ledger.create("c1", "messages", included=1)
        ledger.track("c1", "messages", value="0.00000000005")
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.remaining == D("0.99999999995")
        d = b.to_dict()
        assert d["remaining"] == 1
        assert isinstance(d["remaining"], int)
        assert d["usage"] == 1e-10

    def test_no_rollovers_key_without_a_rule(self, ledger: Ledger) -> None:
        """Without a rollover rule there is no 'rollovers' key."""
        ledger.create("c1", "messages", included=5, reset="month")
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert "rollovers" not in b.to_dict()

    def test_rollovers_key_with_a_rule(self, ledger: Ledger) -> None:
        """With a rollover rule 'rollovers' is present, empty before any reset."""
        ledger.create(
            "c1", "messages", included=5, reset="month", rollover={"max": 10, "length": 1}
        )
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert b.to_dict()["rollovers"] == []

    def test_never_expiring_rollover_reports_zero(self, ledger: Ledger, clock: ManualClock) -> None:
        """A rollover that never expires is reported with expires_at 0 (lifecycle §7.6)."""
        ledger.create(
            "c1",
            "messages",
            included=100,
            reset="month",
            rollover={"max": None, "length": 1, "duration": "forever"},
        )
        ledger.track("c1", "messages", value=30)
        clock.set(FEB_28)
        b = ledger.balance("c1", "messages")
        assert b is not None
        d = b.to_dict()
        assert d["rollovers"] == [{"granted": 70, "balance": 70, "expires_at": 0}]
        assert (d["granted"], d["remaining"], d["usage"]) == (170, 170, 0)

    def test_unlimited_shape(self, ledger: Ledger) -> None:
        """An unlimited balance serialises with zeros, its usage and a null next_reset_at."""
        ledger.create("c1", "messages", unlimited=True)
        ledger.track("c1", "messages", value=7)
        b = ledger.balance("c1", "messages")
        assert b is not None
        d = b.to_dict()
        assert (d["unlimited"], d["granted"], d["remaining"], d["usage"]) == (True, 0, 0, 7)
        assert (d["next_reset_at"], d["max_purchase"], d["overage_allowed"]) == (None, None, False)
        assert len(d["breakdown"]) == 1
        assert d["breakdown"][0]["unlimited"] is True
        assert d["breakdown"][0]["usage"] == 7

    def test_json_serialisable(self, ledger: Ledger) -> None:
        """to_dict output is plain JSON."""
        import json

        ledger.create("c1", "messages", included=0.1, reset="week", expires_at=FEB_28)
        b = ledger.balance("c1", "messages")
        assert b is not None
        assert json.loads(json.dumps(b.to_dict())) == b.to_dict()

    def test_flag_to_dict(self, ledger: Ledger) -> None:
        """A flag serialises to Autumn's Flag object."""
        ledger.create_feature("sso", type="boolean")
        ledger.create("c1", "sso", balance_id="f1", plan_id="pro", expires_at=FEB_28)
        assert ledger.flags("c1")["sso"].to_dict() == {
            "id": "f1",
            "plan_id": "pro",
            "expires_at": ms(FEB_28),
            "feature_id": "sso",
        }
