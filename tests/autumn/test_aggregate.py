"""`events.aggregate` through the real autumn-sdk (sync and async), and raw HTTP for what the
SDK would not send: Autumn's defaults, windows, matching, grouping, errors and deductions.

The fake's clock is set to 2025-06-03 12:00 UTC; events are tracked with past timestamps.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from autumn_sdk import errors

from meterlib.autumn.sdk import AutumnFake

Call = Callable[..., Any]
NOW = datetime(2025, 6, 3, 12, tzinfo=UTC)
DAY = 86_400_000


def ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


@pytest.fixture
def stocked(fake: AutumnFake) -> AutumnFake:
    """c1 with 1000 credits; messages tracked on June 2 and 3, one by event name "chat"."""
    fake.clock.set(NOW)
    ledger = fake.ledger
    ledger.create("c1", "credits", included=1000, reset="month")
    for when, value, region in [
        (datetime(2025, 6, 2, 5, tzinfo=UTC), 3, "eu"),
        (datetime(2025, 6, 2, 6, tzinfo=UTC), "0.5", "us"),
        (datetime(2025, 6, 3, 11, 30, tzinfo=UTC), 2, "eu"),
    ]:
        ledger.track("c1", "messages", value=value, properties={"r": region}, timestamp=when)
    ledger.track("c1", event_name="chat", value=4, timestamp=datetime(2025, 6, 3, 1, tzinfo=UTC))
    return fake


def raw(fake: AutumnFake, body: dict[str, Any], path: str = "/v1/events.aggregate") -> Any:
    status, payload = fake.transport.answer("POST", path, json.dumps(body).encode(), {})
    return status, json.loads(json.dumps(payload, default=float))


class TestThroughTheSdk:
    def test_default_window_is_the_last_day_in_day_bins(
        self, stocked: AutumnFake, call: Call
    ) -> None:
        """No range: "1bc", a customer without plans has no cycle, so the last 24 h; the SDK
        always sends bin_size "day": two day bins, June 2 and June 3."""
        answer = call("events.aggregate", feature_id="messages", customer_id="c1")
        assert [(r.period, r.values) for r in answer.list] == [
            (ms(datetime(2025, 6, 2, tzinfo=UTC)), {"messages": 0}),
            (ms(datetime(2025, 6, 3, tzinfo=UTC)), {"messages": 2}),
        ]
        # total from the UTC day of the start: June 2 00:00 to now, every event there
        assert answer.total["messages"].count == 3
        assert answer.total["messages"].sum == 5.5

    def test_named_range_matches_the_tracked_name_only(
        self, stocked: AutumnFake, call: Call
    ) -> None:
        """The "chat" event counts for feature_id "chat", not for "messages" which listens to
        it; an unknown feature is zeros, and no total."""
        answer = call(
            "events.aggregate",
            feature_id=["messages", "chat", "nope"],
            customer_id="c1",
            range="7d",
        )
        assert len(answer.list) == 8  # May 27 .. June 3, the bin holding end included
        june3 = answer.list[-1]
        assert june3.values == {"messages": 2, "chat": 4, "nope": 0}
        assert set(answer.total) == {"messages", "chat"}

    def test_custom_range_hours_and_the_bin_holding_end(
        self, stocked: AutumnFake, call: Call
    ) -> None:
        """A custom range ending at 06:00 includes the 06:00 hour bin and its events."""
        start, end = datetime(2025, 6, 2, 4, tzinfo=UTC), datetime(2025, 6, 2, 6, tzinfo=UTC)
        answer = call(
            "events.aggregate",
            feature_id="messages",
            customer_id="c1",
            bin_size="hour",
            custom_range={"start": ms(start), "end": ms(end)},
        )
        assert [r.values["messages"] for r in answer.list] == [0, 3, 0.5]

    def test_group_by_with_overflow_and_count(self, stocked: AutumnFake, call: Call) -> None:
        """max_groups 1 on June 2: eu kept, us under Autumn's overflow key; count counts."""
        answer = call(
            "events.aggregate",
            feature_id="messages",
            customer_id="c1",
            range="7d",
            group_by="properties.r",
            max_groups=1,
            measure="count",
        )
        june2 = answer.list[-2]
        # a tie at the cut goes by name; "us" was kept in no bin, so it is listed in none
        assert june2.grouped_values == {"messages": {"eu": 1, "AUTUMN_RESERVED": 1}}
        assert june2.values == {"messages": 2}
        assert answer.total["messages"].sum == 5.5  # total ignores measure

    def test_timezone_and_filter(self, stocked: AutumnFake, call: Call) -> None:
        """Berlin day bins start at 22:00Z; filter_by applies to list and total."""
        answer = call(
            "events.aggregate",
            feature_id="messages",
            customer_id="c1",
            range="7d",
            timezone="Europe/Berlin",
            filter_by={"r": "eu"},
        )
        assert answer.list[-1].period == ms(datetime(2025, 6, 2, 22, tzinfo=UTC))
        assert answer.list[-2].values == {"messages": 3}
        assert answer.total["messages"].count == 2

    def test_deducted(self, stocked: AutumnFake, call: Call) -> None:
        """aggregate_on "deducted": what each bin took from each balance, keyed by the feature
        owning it (2 credits a message), with the single source's credit cost."""
        answer = call(
            "events.aggregate",
            feature_id="messages",
            customer_id="c1",
            range="7d",
            aggregate_on="deducted",
        )
        assert [d.period for d in answer.deductions] == [
            ms(datetime(2025, 6, 2, tzinfo=UTC)),
            ms(datetime(2025, 6, 3, tzinfo=UTC)),
        ]
        credits = answer.deductions[0].values["credits"]
        assert (credits.feature_type, credits.deducted, credits.events) == ("credit_system", 7, 2)
        (balance,) = credits.balances
        assert (balance.credit_cost, balance.reset.interval) == (2, "month")
        assert [r.values["messages"] for r in answer.list][-2:] == [3.5, 2]

    def test_unknown_customer_is_404(self, stocked: AutumnFake, call: Call, api_error: Any) -> None:
        with pytest.raises(errors.AutumnDefaultError) as info:
            call("events.aggregate", feature_id="messages", customer_id="c9")
        assert api_error(info)[0] == 404
        assert api_error(info)[1]["code"] == "customer_not_found"


class TestRawHttp:
    def test_alias_route_and_hour_default_for_24h(self, stocked: AutumnFake) -> None:
        """`/v1/events/aggregate` is the same call; without bin_size, 24h gives hour bins."""
        status, body = raw(
            stocked,
            {"feature_id": "messages", "customer_id": "c1", "range": "24h"},
            "/v1/events/aggregate",
        )
        assert status == 200
        assert len(body["list"]) == 25  # 12:00 yesterday .. 12:00 today, the hour of end included
        assert body["list"][-1]["period"] == ms(NOW)

    def test_grouped_without_events_is_an_empty_list(self, stocked: AutumnFake) -> None:
        status, body = raw(
            stocked,
            {"feature_id": "nope", "customer_id": "c1", "group_by": "properties.r"},
        )
        assert (status, body) == (200, {"list": [], "total": {}})

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({}, "invalid_inputs"),
            ({"feature_id": ""}, "invalid_inputs"),
            ({"feature_id": "m", "customer_id": ""}, "invalid_inputs"),
            ({"feature_id": "m", "range": "2d"}, "invalid_inputs"),
            ({"feature_id": "m", "bin_size": "minute"}, "invalid_inputs"),
            ({"feature_id": "m", "custom_range": {"start": 5, "end": 5}}, "invalid_inputs"),
            (
                {"feature_id": "m", "range": "7d", "custom_range": {"start": 1, "end": 5}},
                "invalid_inputs",
            ),
            ({"feature_id": "m", "group_by": "region"}, "invalid_inputs"),
            ({"feature_id": "m", "group_by": "properties.a-b"}, "invalid_inputs"),
            ({"feature_id": "m", "group_by": "$feature_id"}, "invalid_inputs"),
            ({"feature_id": "m", "filter_by": {str(i): "x" for i in range(6)}}, "invalid_inputs"),
            ({"feature_id": "m", "filter_by": {"a": 1}}, "invalid_inputs"),
            ({"feature_id": "m", "max_groups": 0}, "invalid_inputs"),
            ({"feature_id": "m", "max_groups": 251}, "invalid_inputs"),
            ({"feature_id": "m", "measure": "avg"}, "invalid_inputs"),
            ({"feature_id": "m", "aggregate_on": "deducted"}, "invalid_request"),
            (
                {
                    "feature_id": "m",
                    "customer_id": "c1",
                    "aggregate_on": "deducted",
                    "filter_by": {"a": "b"},
                },
                "invalid_request",
            ),
            (
                {
                    "feature_id": "m",
                    "customer_id": "c1",
                    "aggregate_on": "deducted",
                    "group_by": "$plan_id",
                },
                "invalid_request",
            ),
        ],
    )
    def test_refused_with_autumns_code(
        self, stocked: AutumnFake, body: dict[str, Any], code: str
    ) -> None:
        status, answer = raw(stocked, body)
        assert (status, answer["code"]) == (400, code)
