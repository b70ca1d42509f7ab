"""Auto top-ups: Autumn's trigger and rate limits, granted inside the same operation.

Ported from Autumn's `auto-topup` suites (rule book §7, §9.6). Autumn charges in a queued job;
meterlib grants in the deducting transaction, after asking `approve_topup` if one is set.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from meterlib import CustomerNotFound, Ledger, ManualClock, Store
from meterlib.effects import TopupRequest
from meterlib.notifications import AUTO_TOPUP, Notification

D = Decimal


def topup(ledger: Ledger, threshold: object = 20, quantity: object = 100, **extra: Any) -> None:
    """Configure c1's auto top-up on credits (enabled unless told otherwise)."""
    entry = {"feature_id": "credits", "enabled": True, "threshold": threshold}
    entry.update(quantity=quantity, **extra)
    ledger.update_customer("c1", billing_controls={"auto_topups": [entry]})


def remaining(ledger: Ledger, feature_id: str = "credits") -> Decimal:
    balance = ledger.balance("c1", feature_id)
    assert balance is not None
    return balance.remaining


def topups(inbox: list[Notification]) -> list[dict[str, Any]]:
    return [n.data for n in inbox if n.type == AUTO_TOPUP]


def outcomes(inbox: list[Notification]) -> list[str]:
    """ "ok" for each top-up granted, the reason for each refused."""
    return [d.get("reason", "ok") for d in topups(inbox)]


@pytest.fixture
def hundred(ledger: Ledger) -> Ledger:
    """c1 with a one-off grant of 100 credits."""
    ledger.create("c1", "credits", included=100)
    return ledger


class TestTrigger:
    """A balance at or below the threshold after a deduction tops up once."""

    def test_tops_up_below_threshold(self, hundred: Ledger, inbox: list[Notification]) -> None:
        """Threshold 20, quantity 100: track 85 leaves 115, with a new one-off grant."""
        topup(hundred)
        result = hundred.track("c1", "credits", value=85)
        assert result.balance is not None and result.balance.remaining == D(115)
        balance = hundred.balance("c1", "credits")
        assert balance is not None
        assert [(i.included_grant, i.remaining) for i in balance.breakdown] == [
            (D(100), D(15)),
            (D(100), D(100)),
        ]
        assert balance.breakdown[1].reset is not None
        assert balance.breakdown[1].reset.interval == "one_off"
        assert topups(inbox) == [
            {
                "customer_id": "c1",
                "entity_id": None,
                "feature_id": "credits",
                "status": "succeeded",
                "quantity_granted": D(100),
                "threshold": D(20),
                "balance_after": D(115),
                "invoice_mode": False,
            }
        ]
        (notification,) = [n for n in inbox if n.type == AUTO_TOPUP]
        assert notification.autumn_type == "billing.auto_topup_succeeded"
        body = notification.to_autumn()
        assert body["type"] == "billing.auto_topup_succeeded"
        assert body["data"] == {
            "customer_id": "c1",
            "feature_id": "credits",
            "quantity_granted": 100,
            "threshold": 20,
            "balance_after": 115,
            "invoice_mode": False,
        }

    def test_above_threshold_nothing(self, hundred: Ledger, inbox: list[Notification]) -> None:
        """Track 50 leaves 50: no top-up, no notification."""
        topup(hundred)
        hundred.track("c1", "credits", value=50)
        assert remaining(hundred) == D(50)
        assert inbox == []

    def test_disabled(self, hundred: Ledger) -> None:
        """A disabled config never tops up."""
        topup(hundred, enabled=False)
        hundred.track("c1", "credits", value=85)
        assert remaining(hundred) == D(15)

    def test_exactly_on_the_threshold(self, hundred: Ledger) -> None:
        """The trigger is inclusive: landing on 20 tops up to 120."""
        topup(hundred)
        hundred.track("c1", "credits", value=80)
        assert remaining(hundred) == D(120)

    def test_threshold_zero(self, hundred: Ledger) -> None:
        """Threshold 0 with 50 left: nothing; drained to 0: tops up."""
        topup(hundred, threshold=0)
        hundred.track("c1", "credits", value=50)
        assert remaining(hundred) == D(50)
        hundred.track("c1", "credits", value=50)
        assert remaining(hundred) == D(100)

    def test_two_rounds(self, ledger: Ledger) -> None:
        """Threshold 30 on 200: 180 → 120, then 100 → 120."""
        ledger.create("c1", "credits", included=200)
        topup(ledger, threshold=30)
        ledger.track("c1", "credits", value=180)
        assert remaining(ledger) == D(120)
        ledger.track("c1", "credits", value=100)
        assert remaining(ledger) == D(120)

    def test_one_top_up_per_operation(self, ledger: Ledger) -> None:
        """Threshold 100 above quantity 50: 170 → 80 (still below), then 1 more → 129."""
        ledger.create("c1", "credits", included=170)
        topup(ledger, threshold=100, quantity=50)
        ledger.track("c1", "credits", value=140)
        assert remaining(ledger) == D(80)
        ledger.track("c1", "credits", value=1)
        assert remaining(ledger) == D(129)

    def test_changed_config(self, hundred: Ledger) -> None:
        """Lowered to 10, 35 left does not trigger; disabled between rounds, none follows."""
        topup(hundred, threshold=10)
        hundred.track("c1", "credits", value=65)
        assert remaining(hundred) == D(35)
        topup(hundred, threshold=40)
        hundred.track("c1", "credits", value=1)
        assert remaining(hundred) == D(134)
        topup(hundred, threshold=40, enabled=False)
        hundred.track("c1", "credits", value=100)
        assert remaining(hundred) == D(34)

    def test_negative_threshold(self, ledger: Ledger) -> None:
        """A negative threshold waits for overage that deep."""
        ledger.create("c1", "credits", included=10, overage_allowed=True)
        topup(ledger, threshold=-20, quantity=50)
        ledger.track("c1", "credits", value=25)
        assert remaining(ledger) == D(0)
        ledger.track("c1", "credits", value=5)
        balance = ledger.balance("c1", "credits")
        assert balance is not None
        assert (balance.remaining, balance.usage) == (D(30), D(30))

    def test_member_track_tops_up_the_pool(self, ledger: Ledger) -> None:
        """credits 200, threshold 30: 845 action1 leave 31 (none); 10 more leave 29 → 129."""
        ledger.create_feature("action1")
        ledger.create_feature("credits", type="credit_system", credit_schema={"action1": "0.2"})
        ledger.create("c1", "credits", included=200)
        topup(ledger, threshold=30)
        ledger.track("c1", "action1", value=845)
        assert remaining(ledger) == D(31)
        ledger.track("c1", "action1", value=10)
        assert remaining(ledger) == D(129)

    def test_overage_is_paid_down_first(self, ledger: Ledger) -> None:
        """A pay-per-use 100 at -30: a top-up of 100 clears the 30 and keeps 70."""
        ledger.create("c1", "credits", included=100, reset="month", overage_allowed=True)
        ledger.track("c1", "credits", value=130)
        topup(ledger, threshold=0)
        ledger.track("c1", "credits", value=0)
        balance = ledger.balance("c1", "credits")
        assert balance is not None
        assert (balance.granted, balance.remaining, balance.usage) == (D(200), D(70), D(130))
        assert [i.remaining for i in balance.breakdown] == [D(0), D(70)]

    def test_entity_tracks_use_the_customers_config(self, hundred: Ledger) -> None:
        """An entity's track draining the shared pool tops the customer up."""
        hundred.create_entity("c1", "e1")
        topup(hundred)
        hundred.track("c1", "credits", entity_id="e1", value=85)
        assert remaining(hundred) == D(115)


class TestWhen:
    """Deductions trigger; a plain check does not (it never writes); enabling does."""

    def test_plain_check_does_not_top_up(self, hundred: Ledger) -> None:
        """At 15 (set by an update, which never tops up) a plain check leaves 15."""
        topup(hundred, threshold=10)
        hundred.update("c1", "credits", remaining=15)
        topup(hundred, threshold=20)  # already enabled: no new evaluation
        assert remaining(hundred) == D(15)
        assert hundred.check("c1", "credits").allowed
        assert remaining(hundred) == D(15)
        assert hundred.check("c1", "credits", send_event=True, required_balance=2).allowed
        assert remaining(hundred) == D(113)

    def test_lock_and_finalize(self, hundred: Ledger) -> None:
        """A lock that drains to the threshold tops up; so does a finalize above the lock."""
        topup(hundred)
        hundred.check("c1", "credits", required_balance=85, lock={"lock_id": "a"})
        assert remaining(hundred) == D(115)
        hundred.check("c1", "credits", required_balance=1, lock={"lock_id": "b"})
        hundred.finalize("b", override_value=95)
        assert remaining(hundred) == D(120)

    def test_enabling_tops_up_at_once(self, hundred: Ledger, inbox: list[Notification]) -> None:
        """Enabling below the threshold (15) tops up to 115; re-saving it does nothing."""
        hundred.track("c1", "credits", value=85)
        topup(hundred)
        assert remaining(hundred) == D(115)
        assert len(topups(inbox)) == 1
        hundred.track("c1", "credits", value=100)
        topup(hundred, quantity=50)
        topup(hundred, quantity=50)
        assert remaining(hundred) == D(115)

    def test_enabling_above_threshold(self, hundred: Ledger) -> None:
        """Enabling with 100 left does nothing; disabled → enabled at 10 tops up to 110."""
        topup(hundred)
        assert remaining(hundred) == D(100)
        topup(hundred, enabled=False)
        hundred.track("c1", "credits", value=90)
        topup(hundred)
        assert remaining(hundred) == D(110)


class TestRateLimits:
    """Two attempts per 10 minutes, an optional purchase limit, one failure per hour."""

    @pytest.fixture
    def three_hundred(self, ledger: Ledger) -> Ledger:
        ledger.create("c1", "credits", included=300)
        return ledger

    def test_two_attempts_per_ten_minutes(
        self, three_hundred: Ledger, clock: ManualClock, inbox: list[Notification]
    ) -> None:
        """The third top-up within 10 minutes is refused (reported once); later it runs."""
        topup(three_hundred, threshold=50)
        three_hundred.track("c1", "credits", value=260)
        three_hundred.track("c1", "credits", value=100)
        assert remaining(three_hundred) == D(140)
        three_hundred.track("c1", "credits", value=100)
        three_hundred.track("c1", "credits", value=1)
        assert remaining(three_hundred) == D(39)
        assert outcomes(inbox) == ["ok", "ok", "attempt_limit_reached"]
        failed = topups(inbox)[-1]
        assert failed == {
            "customer_id": "c1",
            "entity_id": None,
            "feature_id": "credits",
            "status": "failed",
            "reason": "attempt_limit_reached",
            "quantity": D(100),
            "threshold": D(50),
            "balance": D(40),
            "invoice_mode": False,
        }
        clock.advance(minutes=9, seconds=59)
        three_hundred.track("c1", "credits", value=1)
        assert remaining(three_hundred) == D(38)
        clock.advance(seconds=1)
        three_hundred.track("c1", "credits", value=1)
        assert remaining(three_hundred) == D(137)

    def test_purchase_limit(
        self, three_hundred: Ledger, clock: ManualClock, inbox: list[Notification]
    ) -> None:
        """purchase_limit 2 a month: the third drain stays down, even after 10 minutes."""
        topup(three_hundred, threshold=50, purchase_limit={"interval": "month", "limit": 2})
        for _ in range(3):
            three_hundred.track(
                "c1", "credits", value=100 if remaining(three_hundred) < 300 else 260
            )
            clock.advance(minutes=10)
        assert remaining(three_hundred) == D(40)
        assert outcomes(inbox) == ["ok", "ok", "purchase_limit_reached"]
        clock.advance(months=1)
        three_hundred.track("c1", "credits", value=0)
        assert remaining(three_hundred) == D(140)

    def test_purchase_count_can_be_written(self, three_hundred: Ledger) -> None:
        """`purchase_limit.count` sets the current window's purchases (and is not stored)."""
        topup(
            three_hundred,
            threshold=50,
            purchase_limit={"interval": "month", "limit": 2, "count": 2},
        )
        stored = three_hundred.get_customer("c1").billing_controls["auto_topups"][0]
        assert "count" not in stored["purchase_limit"]
        three_hundred.track("c1", "credits", value=260)
        assert remaining(three_hundred) == D(40)

    def test_veto_counts_as_a_failure(self, store: Store, clock: ManualClock) -> None:
        """approve_topup returning False refuses; a failure blocks retries for an hour."""
        asked: list[TopupRequest] = []

        def approve(request: TopupRequest) -> bool:
            asked.append(request)
            return len(asked) > 1

        ledger = Ledger(store, clock=clock, approve_topup=approve)
        got: list[Notification] = []
        ledger.subscribe(got.append)
        ledger.create("c1", "credits", included=100)
        topup(ledger)
        ledger.track("c1", "credits", value=85)
        assert remaining(ledger) == D(15)
        assert asked == [
            TopupRequest(
                customer_id="c1",
                feature_id="credits",
                quantity=D(100),
                threshold=D(20),
                balance=D(15),
            )
        ]
        ledger.track("c1", "credits", value=1)
        ledger.track("c1", "credits", value=1)
        assert len(asked) == 1
        assert outcomes(got) == ["charge_failed", "failed_attempt_limit_reached"]
        clock.advance(hours=1)
        ledger.track("c1", "credits", value=1)
        assert remaining(ledger) == D(112)
        assert outcomes(got)[-1] == "ok"

    def test_suspended_after_three_failures(self, store: Store, clock: ManualClock) -> None:
        """Three refusals in a row suspend top-ups until the config is written again."""
        ledger = Ledger(store, clock=clock, approve_topup=lambda request: False)
        got: list[Notification] = []
        ledger.subscribe(got.append)
        ledger.create("c1", "credits", included=100)
        topup(ledger)
        ledger.track("c1", "credits", value=85)
        for _ in range(3):
            clock.advance(hours=1)
            ledger.track("c1", "credits", value=1)
        assert outcomes(got) == ["charge_failed"] * 3 + ["suspended_after_failures"]
        ledger.approve_topup = None
        clock.advance(hours=1)
        ledger.track("c1", "credits", value=1)
        assert remaining(ledger) == D(11)
        topup(ledger, quantity=50)
        ledger.track("c1", "credits", value=1)
        assert remaining(ledger) == D(60)

    def test_raising_approver_declines(
        self, store: Store, clock: ManualClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An approver that raises is logged and treated as a refusal; the track succeeds."""

        def approve(request: TopupRequest) -> bool:
            raise ConnectionError("payments down")

        ledger = Ledger(store, clock=clock, approve_topup=approve)
        got: list[Notification] = []
        ledger.subscribe(got.append)
        ledger.create("c1", "credits", included=100)
        topup(ledger)
        with caplog.at_level(logging.ERROR):
            result = ledger.track("c1", "credits", value=85)
        assert result.balance is not None and result.balance.remaining == D(15)
        assert outcomes(got) == ["execution_error"]
        assert "payments down" in caplog.text

    def test_rolled_back_with_its_operation(
        self, hundred: Ledger, inbox: list[Notification]
    ) -> None:
        """A top-up inside a failing batch is undone with it, and nobody is told."""
        topup(hundred)
        with pytest.raises(CustomerNotFound):
            hundred.batch_track(
                [
                    {"customer_id": "c1", "feature_id": "credits", "value": 85},
                    {"customer_id": "nobody", "feature_id": "credits"},
                ]
            )
        assert remaining(hundred) == D(100)
        assert inbox == []
        hundred.track("c1", "credits", value=85)
        assert remaining(hundred) == D(115)
