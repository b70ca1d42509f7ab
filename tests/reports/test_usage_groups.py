"""`Ledger.usage`: which events count for which feature, grouping, filters, errors, and a
lock's expiry as usage, on every store (clock at 2026-12-01 UTC, events in the past)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterlib import (
    CustomerNotFound,
    EntityNotFound,
    FeatureNotFound,
    InvalidRequest,
    Ledger,
    ManualClock,
)

D = Decimal
NOW = datetime(2026, 12, 1, tzinfo=UTC)
DAY1 = datetime(2026, 6, 1, tzinfo=UTC)
WINDOW: dict[str, Any] = {"start": DAY1, "end": DAY1 + timedelta(days=2)}


@pytest.fixture
def led(ledger: Ledger, clock: ManualClock) -> Ledger:
    clock.set(NOW)
    ledger.create("c1", "messages", included=10_000)
    return ledger


def at(hours: int) -> datetime:
    return DAY1 + timedelta(hours=hours)


class TestWhatCounts:
    def test_event_name_counts_for_every_listening_feature(self, led: Ledger) -> None:
        """An event tracked as "api" reaches both features that listen to it: each counts it."""
        led.create_feature("reads", event_names=["api"])
        led.create_feature("writes", event_names=["api"])
        led.create("c1", "reads", included=100)
        led.create("c1", "writes", included=100)
        led.track("c1", event_name="api", value=2, timestamp=at(1))
        led.track("c1", "reads", value=1, timestamp=at(25))
        report = led.usage(["reads", "writes"], customer_id="c1", **WINDOW)
        assert [p.values for p in report.periods] == [
            {"reads": 2, "writes": 2},
            {"reads": 1, "writes": 0},
        ]
        assert report.total["writes"].count == 1

    def test_a_credit_system_member_counts_for_the_member(self, led: Ledger) -> None:
        """messages drawn from credits: the usage is the member's, not the credit system's."""
        led.create_feature("ai", type="metered")
        led.create_feature("credits", type="credit_system", credit_schema={"ai": 2})
        led.create("c1", "credits", included=100)
        led.track("c1", "ai", value=3, timestamp=at(1))
        report = led.usage(["ai", "credits"], customer_id="c1", **WINDOW)
        assert report.periods[0].values == {"ai": 3, "credits": 0}
        assert report.total["credits"].count == 0
        assert "credits" not in report.to_dict()["total"]

    def test_customer_and_entity_scopes(self, led: Ledger) -> None:
        """Without a customer every customer counts; with an entity only its events."""
        led.create("c2", "messages", included=10)
        led.create_entity("c1", "e1")
        led.track("c1", "messages", value=1, timestamp=at(1))
        led.track("c1", "messages", value=2, entity_id="e1", timestamp=at(1))
        led.track("c2", "messages", value=4, timestamp=at(1))
        assert led.usage("messages", **WINDOW).periods[0].values == {"messages": 7}
        assert led.usage("messages", customer_id="c1", **WINDOW).total["messages"].sum == 3
        scoped = led.usage("messages", customer_id="c1", entity_id="e1", **WINDOW)
        assert scoped.total["messages"].sum == 2

    def test_an_expired_lock_is_usage_given_back_at_its_expiry(
        self, led: Ledger, clock: ManualClock
    ) -> None:
        """A lock of 8 taken on day one expires an hour later: +8 then -8, recorded by the
        report itself though nobody looked at the customer since."""
        clock.set(at(10))
        expiry = at(11)
        led.check("c1", "messages", required_balance=8, lock={"lock_id": "l", "expires_at": expiry})
        clock.set(NOW)
        report = led.usage("messages", customer_id="c1", bin_size="hour", **WINDOW)
        by_hour = {p.start: p.values["messages"] for p in report.periods if p.values["messages"]}
        assert by_hour == {at(10): 8, at(11): -8}
        assert report.total["messages"] == type(report.total["messages"])(count=2, sum=D(0))


class TestGroups:
    def _regions(self, led: Ledger) -> None:
        for hour, region, value in [
            (1, "eu", 5),
            (2, "us", 4),
            (3, "ap", 3),
            (4, "sa", 2),
            (5, "eu", 1),
            (25, "af", 9),
        ]:
            led.track(
                "c1", "messages", value=value, properties={"region": region}, timestamp=at(hour)
            )
        led.track("c1", "messages", value=100, timestamp=at(6))  # no region

    def test_largest_groups_kept_rest_under_other(self, led: Ledger) -> None:
        """max_groups=2: day one keeps eu 6 and us 4; ap 3 + sa 2 are Other 5. Every group any
        bin kept is listed in every bin; the event without a region is in total only."""
        self._regions(led)
        report = led.usage(
            "messages", customer_id="c1", group_by="properties.region", max_groups=2, **WINDOW
        )
        first, second = report.periods
        assert first.grouped == {"messages": {"af": 0, "eu": 6, "us": 4, "Other": 5}}
        assert second.grouped == {"messages": {"af": 9, "eu": 0, "us": 0, "Other": 0}}
        assert first.values == {"messages": 15}
        assert report.total["messages"] == type(report.total["messages"])(count=7, sum=D(124))
        assert report.to_dict()["list"][0]["grouped_values"]["messages"]["Other"] == 5

    def test_ties_at_the_cut_go_by_name(self, led: Ledger) -> None:
        """Equal groups rank by name: with one kept, "a" beats "b"."""
        for name in ("b", "a"):
            led.track("c1", "messages", value=1, properties={"k": name}, timestamp=at(1))
        report = led.usage(
            "messages", customer_id="c1", group_by="properties.k", max_groups=1, **WINDOW
        )
        assert report.periods[0].grouped == {"messages": {"a": 1, "Other": 1}}

    def test_group_by_customer_and_entity(self, led: Ledger) -> None:
        """$customer_id groups by customer; $entity_id leaves customer-level events out."""
        led.create("c2", "messages", included=10)
        led.create_entity("c1", "e1")
        led.track("c1", "messages", value=1, timestamp=at(1))
        led.track("c1", "messages", value=2, entity_id="e1", timestamp=at(1))
        led.track("c2", "messages", value=4, timestamp=at(1))
        by_customer = led.usage("messages", group_by="$customer_id", **WINDOW)
        assert by_customer.periods[0].grouped == {"messages": {"c1": 3, "c2": 4}}
        by_entity = led.usage("messages", customer_id="c1", group_by="$entity_id", **WINDOW)
        assert by_entity.periods[0].grouped == {"messages": {"e1": 2}}
        assert by_entity.periods[0].values == {"messages": 2}
        assert by_entity.total["messages"].sum == 3

    def test_filters_apply_to_bins_and_total(self, led: Ledger) -> None:
        """filter_by keeps exact matches (numbers read as their JSON text), ANDed."""
        led.track("c1", "messages", value=1, properties={"m": "gpt", "n": 2}, timestamp=at(1))
        led.track("c1", "messages", value=2, properties={"m": "gpt", "n": 3}, timestamp=at(1))
        led.track("c1", "messages", value=4, properties={"m": "o1", "n": 2}, timestamp=at(1))
        report = led.usage("messages", customer_id="c1", filter_by={"m": "gpt", "n": "2"}, **WINDOW)
        assert report.periods[0].values == {"messages": 1}
        assert report.total["messages"].count == 1
        gpt = led.usage(
            "messages", customer_id="c1", filter_by={"m": "gpt"}, measure="count", **WINDOW
        )
        assert gpt.periods[0].values == {"messages": 2}


class TestErrors:
    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"bin_size": "minute"}, "bin_size"),
            ({"timezone": "Mars/Olympus"}, "timezone"),
            ({"measure": "avg"}, "measure"),
            ({"max_groups": 0}, "max_groups"),
            ({"max_groups": 251}, "max_groups"),
            ({"group_by": "region"}, "group_by"),
            ({"group_by": "properties.a-b"}, "group_by"),
            ({"filter_by": {str(i): "x" for i in range(6)}}, "filter_by"),
            ({"filter_by": {"n": 2}}, "filter_by"),
            ({"start": DAY1, "end": DAY1}, "start"),
            ({"start": DAY1 - timedelta(days=500), "end": DAY1, "bin_size": "hour"}, "bin_size"),
            ({"feature_id": []}, "feature_id"),
        ],
    )
    def test_bad_input_is_invalid_request(
        self, led: Ledger, kwargs: dict[str, Any], field: str
    ) -> None:
        args: dict[str, Any] = {"feature_id": "messages", **WINDOW, **kwargs}
        with pytest.raises(InvalidRequest) as info:
            led.usage(args.pop("feature_id"), customer_id="c1", **args)
        assert info.value.field == field
        assert info.value.code == "invalid_inputs"

    def test_unknown_feature_customer_entity(self, led: Ledger) -> None:
        with pytest.raises(FeatureNotFound):
            led.usage(["messages", "nope"], **WINDOW)
        with pytest.raises(CustomerNotFound):
            led.usage("messages", customer_id="c9", **WINDOW)
        with pytest.raises(EntityNotFound):
            led.usage("messages", customer_id="c1", entity_id="e9", **WINDOW)
