"""Notifications: limit_reached and usage alerts fire once per crossing, after the commit.

Ported from Autumn's `limit-reached` and `usage-alerts` suites (rule book §5, §6, §9.4-9.5).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from meterlib import CustomerNotFound, InvalidRequest, Ledger, ManualClock
from meterlib.notifications import LIMIT_REACHED, USAGE_ALERT, Notification

D = Decimal


def of(inbox: list[Notification], kind: str) -> list[dict[str, Any]]:
    """The data of the notifications of one type."""
    return [n.data for n in inbox if n.type == kind]


def alerts(ledger: Ledger, *entries: dict[str, Any], entity_id: str | None = None) -> None:
    if entity_id is None:
        ledger.update_customer("c1", billing_controls={"usage_alerts": list(entries)})
    else:
        ledger.update_entity("c1", entity_id, billing_controls={"usage_alerts": list(entries)})


def alert(threshold: object, kind: str = "usage", **extra: Any) -> dict[str, Any]:
    return {"feature_id": "messages", "threshold": threshold, "threshold_type": kind, **extra}


def fired(inbox: list[Notification]) -> list[object]:
    """The thresholds of the usage alerts delivered so far."""
    return [data["usage_alert"]["threshold"] for data in of(inbox, USAGE_ALERT)]


class TestLimitReached:
    """It fires when the subject goes from having room to having none, with the reason."""

    def test_included_exhausted(self, ledger: Ledger, inbox: list[Notification]) -> None:
        """Included 100, track 100: limit_type "included"."""
        ledger.create("c1", "messages", included=100)
        ledger.track("c1", "messages", value=100)
        assert of(inbox, LIMIT_REACHED) == [
            {
                "customer_id": "c1",
                "entity_id": None,
                "feature_id": "messages",
                "limit_type": "included",
            }
        ]

    def test_max_purchase(self, ledger: Ledger, inbox: list[Notification]) -> None:
        """Included 50 with max purchase 50, track 100: "max_purchase"."""
        ledger.create("c1", "messages", included=50, overage_allowed=True, max_purchase=50)
        ledger.track("c1", "messages", value=100)
        assert [d["limit_type"] for d in of(inbox, LIMIT_REACHED)] == ["max_purchase"]

    def test_spend_limit(self, ledger: Ledger, inbox: list[Notification]) -> None:
        """Included 50, spend limit 10, track 60: "spend_limit"."""
        ledger.create("c1", "messages", included=50, overage_allowed=True)
        ledger.update_customer(
            "c1",
            billing_controls={
                "spend_limits": [{"feature_id": "messages", "enabled": True, "overage_limit": 10}]
            },
        )
        ledger.track("c1", "messages", value=60)
        assert [d["limit_type"] for d in of(inbox, LIMIT_REACHED)] == ["spend_limit"]

    def test_usage_limit(self, ledger: Ledger, inbox: list[Notification]) -> None:
        """Cap 5/day under 1000 included, track 6: "usage_limit"."""
        ledger.create("c1", "messages", included=1000)
        ledger.update_customer(
            "c1",
            billing_controls={
                "usage_limits": [{"feature_id": "messages", "limit": 5, "interval": "day"}]
            },
        )
        ledger.track("c1", "messages", value=6)
        assert [d["limit_type"] for d in of(inbox, LIMIT_REACHED)] == ["usage_limit"]

    def test_filtered_usage_limit_names_its_filter(
        self, ledger: Ledger, inbox: list[Notification]
    ) -> None:
        """An exhausted filtered cap adds `filter` to the payload."""
        ledger.create("c1", "messages", included=1000)
        ledger.update_customer(
            "c1",
            billing_controls={
                "usage_limits": [
                    {
                        "feature_id": "messages",
                        "limit": 2,
                        "interval": "day",
                        "filter": {"properties": {"api_key": "k1"}},
                    }
                ]
            },
        )
        ledger.track("c1", "messages", value=1, properties={"api_key": "k2"})
        ledger.track("c1", "messages", value=5, properties={"api_key": "k1"})
        assert of(inbox, LIMIT_REACHED) == [
            {
                "customer_id": "c1",
                "entity_id": None,
                "feature_id": "messages",
                "limit_type": "usage_limit",
                "filter": {"properties": {"api_key": "k1"}},
            }
        ]

    def test_not_before_the_limit(self, ledger: Ledger, inbox: list[Notification]) -> None:
        """500 of 1000: nothing."""
        ledger.create("c1", "messages", included=1000)
        ledger.track("c1", "messages", value=500)
        assert inbox == []

    def test_once_per_exhaustion(self, ledger: Ledger, inbox: list[Notification]) -> None:
        """100 then 50 more on 100: exactly one notification."""
        ledger.create("c1", "messages", included=100)
        ledger.track("c1", "messages", value=100)
        ledger.track("c1", "messages", value=50)
        ledger.check("c1", "messages", send_event=True)
        assert len(of(inbox, LIMIT_REACHED)) == 1

    def test_exact_arithmetic(self, ledger: Ledger, inbox: list[Notification]) -> None:
        """0.999 of 1 does not fire; the last 0.001 does."""
        ledger.create("c1", "messages", included=1)
        ledger.track("c1", "messages", value="0.999")
        assert inbox == []
        ledger.track("c1", "messages", value="0.001")
        assert len(of(inbox, LIMIT_REACHED)) == 1

    def test_again_after_a_reset(
        self, ledger: Ledger, clock: ManualClock, inbox: list[Notification]
    ) -> None:
        """A monthly 100 exhausted in two months fires twice; the reset itself fires nothing."""
        ledger.create("c1", "messages", included=100, reset="month")
        ledger.track("c1", "messages", value=100)
        clock.advance(months=1)
        assert ledger.check("c1", "messages").allowed
        assert len(inbox) == 1
        ledger.track("c1", "messages", value=100)
        assert len(of(inbox, LIMIT_REACHED)) == 2

    def test_again_after_a_refund(self, ledger: Ledger, inbox: list[Notification]) -> None:
        """A refund re-arms it: the next exhaustion fires again."""
        ledger.create("c1", "messages", included=10)
        ledger.track("c1", "messages", value=10)
        ledger.track("c1", "messages", value=-3)
        ledger.track("c1", "messages", value=3)
        assert len(of(inbox, LIMIT_REACHED)) == 2

    def test_entity_scope_only(self, ledger: Ledger, inbox: list[Notification]) -> None:
        """An entity running out fires once, with entity_id; the other entity stays quiet."""
        for entity_id in ("e1", "e2"):
            ledger.create("c1", "messages", entity_id=entity_id, included=10)
        ledger.track("c1", "messages", entity_id="e1", value=10)
        ledger.track("c1", "messages", entity_id="e2", value=5)
        assert of(inbox, LIMIT_REACHED) == [
            {
                "customer_id": "c1",
                "entity_id": "e1",
                "feature_id": "messages",
                "limit_type": "included",
            }
        ]

    def test_credit_pool(self, ledger: Ledger, inbox: list[Notification]) -> None:
        """Tracking a member that drains its credit pool reports the pool."""
        ledger.create_feature("action1")
        ledger.create_feature("credits", type="credit_system", credit_schema={"action1": 2})
        ledger.create("c1", "credits", included=10)
        ledger.track("c1", "action1", value=5)
        assert [d["feature_id"] for d in of(inbox, LIMIT_REACHED)] == ["credits"]

    def test_lock_finalize_and_update(self, ledger: Ledger, inbox: list[Notification]) -> None:
        """A lock, a finalize and a balance update are deductions too."""
        ledger.create("c1", "messages", included=10)
        ledger.check("c1", "messages", required_balance=10, lock={"lock_id": "a"})
        assert len(inbox) == 1
        ledger.finalize("a", action="release")
        ledger.check("c1", "messages", required_balance=4, lock={"lock_id": "b"})
        ledger.finalize("b", override_value=10)
        assert len(inbox) == 2
        ledger.update("c1", "messages", remaining=5)
        ledger.update("c1", "messages", remaining=0)
        assert len(of(inbox, LIMIT_REACHED)) == 3


class TestUsageAlerts:
    """Each alert fires when its threshold is crossed in the consuming direction."""

    @pytest.fixture
    def thousand(self, ledger: Ledger) -> Ledger:
        """1000 messages a month."""
        ledger.create("c1", "messages", included=1000, reset="month")
        return ledger

    @pytest.mark.parametrize(
        "case",
        [
            (800, "usage", 850, 800),
            (500, "usage", 500, 500),
            (90, "usage_percentage", 950, 900),
            (100, "usage_percentage", 1000, 1000),
            (200, "remaining", 850, 800),
            (20, "remaining_percentage", 850, 800),
        ],
    )
    def test_crossing_fires(
        self, thousand: Ledger, inbox: list[Notification], case: tuple[int, str, int, int]
    ) -> None:
        """Autumn's track fires the alert; exactly at the edge it fires, a unit before not."""
        threshold, kind, track, edge = case
        alerts(thousand, alert(threshold, kind, name="watch"))
        thousand.track("c1", "messages", value=track)
        assert of(inbox, USAGE_ALERT) == [
            {
                "customer_id": "c1",
                "entity_id": None,
                "feature_id": "messages",
                "usage_alert": {"name": "watch", "threshold": threshold, "threshold_type": kind},
                "name": "watch",
                "threshold": threshold,
                "threshold_type": kind,
            }
        ]
        thousand.update("c1", "messages", usage=0)
        inbox.clear()
        thousand.track("c1", "messages", value=edge - 1)
        assert of(inbox, USAGE_ALERT) == []
        thousand.track("c1", "messages", value=1)
        assert len(of(inbox, USAGE_ALERT)) == 1

    def test_once_per_crossing(self, thousand: Ledger, inbox: list[Notification]) -> None:
        """500: a track to 600 fires, +100 does not."""
        alerts(thousand, alert(500))
        thousand.track("c1", "messages", value=600)
        thousand.track("c1", "messages", value=100)
        assert fired(inbox) == [500]

    def test_disabled_alert(self, thousand: Ledger, inbox: list[Notification]) -> None:
        """A disabled alert never fires."""
        alerts(thousand, alert(500, enabled=False))
        thousand.track("c1", "messages", value=600)
        assert inbox == []

    def test_independent_thresholds(self, thousand: Ledger, inbox: list[Notification]) -> None:
        """500 and 800: 600 fires the 500 alert, +300 the 800 alert."""
        alerts(thousand, alert(500), alert(800))
        thousand.track("c1", "messages", value=600)
        assert fired(inbox) == [500]
        thousand.track("c1", "messages", value=300)
        assert fired(inbox) == [500, 800]

    def test_one_jump_over_two(self, thousand: Ledger, inbox: list[Notification]) -> None:
        """A single track over both thresholds fires both."""
        alerts(thousand, alert(500), alert(800))
        thousand.track("c1", "messages", value=900)
        assert sorted(fired(inbox)) == [500, 800]  # type: ignore[type-var]

    def test_again_after_a_reset(
        self, thousand: Ledger, clock: ManualClock, inbox: list[Notification]
    ) -> None:
        """After the monthly reset the next crossing fires again (the reset itself does not)."""
        alerts(thousand, alert(500))
        thousand.track("c1", "messages", value=600)
        clock.advance(months=1)
        thousand.track("c1", "messages", value=100)
        assert fired(inbox) == [500]
        thousand.track("c1", "messages", value=500)
        assert fired(inbox) == [500, 500]

    def test_again_after_a_refund(self, thousand: Ledger, inbox: list[Notification]) -> None:
        """A refund back below re-arms the alert."""
        alerts(thousand, alert(500))
        thousand.track("c1", "messages", value=600)
        thousand.track("c1", "messages", value=-200)
        thousand.track("c1", "messages", value=200)
        assert fired(inbox) == [500, 500]

    def test_alert_without_feature_watches_all(
        self, thousand: Ledger, inbox: list[Notification]
    ) -> None:
        """An alert without feature_id fires for whichever feature crosses."""
        thousand.create("c1", "tokens", included=10)
        alerts(thousand, {"threshold": 5, "threshold_type": "usage"})
        thousand.track("c1", "tokens", value=6)
        assert [d["feature_id"] for d in of(inbox, USAGE_ALERT)] == ["tokens"]

    def test_entity_alerts(self, ledger: Ledger, inbox: list[Notification]) -> None:
        """An entity's own alert fires with its entity_id; another entity's does not."""
        for entity_id in ("e1", "e2"):
            ledger.create("c1", "messages", entity_id=entity_id, included=1000)
        alerts(ledger, alert(300), entity_id="e1")
        alerts(ledger, alert(700), entity_id="e2")
        ledger.track("c1", "messages", entity_id="e1", value=450)
        ledger.track("c1", "messages", entity_id="e2", value=450)
        assert [(d["entity_id"], d["threshold"]) for d in of(inbox, USAGE_ALERT)] == [("e1", 300)]

    def test_customer_alert_on_an_entity_track(
        self, ledger: Ledger, inbox: list[Notification]
    ) -> None:
        """Pooled 100 + e1's own 50, customer alert at 40 % remaining: 90 on e1 fires it
        without entity_id (the customer's aggregate 150 → 60)."""
        ledger.create("c1", "messages", included=100)
        ledger.create("c1", "messages", entity_id="e1", included=50)
        alerts(ledger, alert(40, "remaining_percentage"))
        ledger.track("c1", "messages", entity_id="e1", value=90)
        assert [d["entity_id"] for d in of(inbox, USAGE_ALERT)] == [None]

    def test_both_passes(self, ledger: Ledger, inbox: list[Notification]) -> None:
        """Entity alert remaining 40 and customer alert remaining 50: 110 on e1 fires both."""
        ledger.create("c1", "messages", included=100)
        ledger.create("c1", "messages", entity_id="e1", included=50)
        alerts(ledger, alert(50, "remaining"))
        alerts(ledger, alert(40, "remaining"), entity_id="e1")
        ledger.track("c1", "messages", entity_id="e1", value=110)
        assert sorted(((d["entity_id"] or ""), d["threshold"]) for d in of(inbox, USAGE_ALERT)) == [
            ("", 50),
            ("e1", 40),
        ]

    def test_credit_pool(self, ledger: Ledger, inbox: list[Notification]) -> None:
        """160 action1 drain 32 credits: the credits alert at 30 fires, for credits."""
        ledger.create_feature("action1")
        ledger.create_feature("credits", type="credit_system", credit_schema={"action1": "0.2"})
        ledger.create("c1", "credits", included=100)
        ledger.update_customer(
            "c1",
            billing_controls={
                "usage_alerts": [
                    {"feature_id": "credits", "threshold": 30, "threshold_type": "usage"}
                ]
            },
        )
        ledger.track("c1", "action1", value=160)
        assert [d["feature_id"] for d in of(inbox, USAGE_ALERT)] == ["credits"]

    def test_unlimited_never_fires(self, ledger: Ledger, inbox: list[Notification]) -> None:
        """No alert on an unlimited balance."""
        ledger.create("c1", "messages", unlimited=True)
        alerts(ledger, alert(5))
        ledger.track("c1", "messages", value=50)
        assert inbox == []


class TestDelivery:
    """After the commit, to the subscribers of the type; errors are logged and contained."""

    @pytest.fixture
    def ten(self, ledger: Ledger) -> Ledger:
        ledger.create("c1", "messages", included=10)
        return ledger

    def test_callback_sees_the_committed_state(self, ten: Ledger) -> None:
        """A callback reading the ledger sees the operation's result."""
        seen: list[Decimal] = []

        def read(notification: Notification) -> None:
            balance = ten.balance("c1", "messages")
            assert balance is not None
            seen.append(balance.usage)

        ten.subscribe(read)
        ten.track("c1", "messages", value=10)
        assert seen == [D(10)]

    def test_raising_callback_is_contained(
        self, ten: Ledger, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A callback that raises is logged; the caller, the ledger and others are unaffected."""
        got: list[Notification] = []

        def boom(notification: Notification) -> None:
            raise RuntimeError("webhook down")

        ten.subscribe(boom)
        ten.subscribe(got.append)
        with caplog.at_level(logging.ERROR, logger="meterlib.notifications"):
            result = ten.track("c1", "messages", value=10)
        assert result.balance is not None and result.balance.usage == D(10)
        assert len(got) == 1
        assert "webhook down" in caplog.text
        assert caplog.records[0].name == "meterlib.notifications"
        balance = ten.balance("c1", "messages")
        assert balance is not None and balance.remaining == 0
        assert len(ten.events("c1").events) == 1

    def test_nothing_for_a_rolled_back_call(self, ten: Ledger, inbox: list[Notification]) -> None:
        """A batch that fails applies nothing and notifies nothing."""
        with pytest.raises(CustomerNotFound):
            ten.batch_track(
                [
                    {"customer_id": "c1", "feature_id": "messages", "value": 10},
                    {"customer_id": "nobody", "feature_id": "messages", "value": 1},
                ]
            )
        assert inbox == []
        ten.batch_track([{"customer_id": "c1", "feature_id": "messages", "value": 10}])
        assert len(inbox) == 1

    def test_event_filter_and_unsubscribe(self, ten: Ledger) -> None:
        """A subscriber gets only its types, and nothing once unsubscribed."""
        alerts(ten, alert(5))
        only_alerts: list[Notification] = []
        stop = ten.subscribe(only_alerts.append, events=[USAGE_ALERT])
        ten.track("c1", "messages", value=10)
        assert [n.type for n in only_alerts] == [USAGE_ALERT]
        stop()
        stop()
        ten.track("c1", "messages", value=-10)
        ten.track("c1", "messages", value=10)
        assert len(only_alerts) == 1

    def test_unknown_event_type(self, ten: Ledger) -> None:
        """An unknown type, a bare string, or a non-callable is refused."""
        with pytest.raises(InvalidRequest, match="unknown notification types"):
            ten.subscribe(print, events=["balances.limit_reachd"])
        with pytest.raises(InvalidRequest, match="expected a list"):
            ten.subscribe(print, events=LIMIT_REACHED)
        with pytest.raises(InvalidRequest, match="callable"):
            ten.subscribe("print")  # type: ignore[arg-type]

    def test_wire_shapes(self, ten: Ledger, clock: ManualClock, inbox: list[Notification]) -> None:
        """to_autumn() is Autumn's webhook body; to_dict() keeps entity_id and the instant."""
        alerts(ten, alert(D("2.5")))
        ten.track("c1", "messages", value=10)
        limit, crossed = sorted(inbox, key=lambda n: n.type)
        assert limit.to_autumn() == {
            "type": "balances.limit_reached",
            "data": {"customer_id": "c1", "feature_id": "messages", "limit_type": "included"},
        }
        assert crossed.to_autumn() == {
            "type": "balances.usage_alert_triggered",
            "data": {
                "customer_id": "c1",
                "feature_id": "messages",
                "usage_alert": {"threshold": 2.5, "threshold_type": "usage"},
            },
        }
        assert limit.to_dict()["occurred_at"] == clock()
        assert limit.to_dict()["data"]["entity_id"] is None
        assert limit.occurred_at == clock.now()

    def test_nobody_listening_costs_nothing(self, ten: Ledger) -> None:
        """Without subscribers nothing is collected (and nothing breaks)."""
        ten.track("c1", "messages", value=10)
        got: list[Notification] = []
        ten.subscribe(got.append)
        ten.track("c1", "messages", value=1)
        assert got == []
