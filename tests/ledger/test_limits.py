"""Limits at the edges (API.md): the cases of issue 16, items 1-4, on every store.

Amounts below 10^18 are exact and every output of them encodes; 10^18 or more in an argument
is `invalid_inputs`; a result that would reach 10^18 is refused whole (`invalid_request`).
Instants lie from 1970 to 9999, ids are short clean strings, JSON-like arguments at most 32
levels deep: else a MeterError and nothing changed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterlib import Ledger, ManualClock
from meterlib.errors import InvalidRequest
from meterlib.instants import LAST_MS

BIG = 10**17
DEEP_LEVELS = 1000


def deep(levels: int) -> dict[str, Any]:
    """{"a": {"a": ... {}}}: `levels` dicts, built without recursion."""
    top: dict[str, Any] = {}
    node = top
    for _ in range(levels - 1):
        node["a"] = {}
        node = node["a"]
    return top


def state(ledger: Ledger, customer_id: str = "c1") -> Any:
    """What a refusal must leave as it was: balances, events, customers, features."""
    return (
        {k: v.to_dict() for k, v in ledger.balances(customer_id).items()},
        [e.to_dict() for e in ledger.events(limit=100).events],
        [c.to_dict() for c in ledger.list_customers().customers],
        [f.to_dict() for f in ledger.list_features()],
    )


def refused(call: Any, code: str = "invalid_inputs") -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        call()
    assert info.value.code == code, str(info.value)
    return info.value


class TestAmounts:
    """Item 1: 10^18 and more is refused; below it everything is exact and encodable."""

    def test_included_of_ten_to_the_twenty_is_refused(self, ledger: Ledger) -> None:
        error = refused(lambda: ledger.create("c1", "f", included=10**20))
        assert "10^18" in str(error)
        assert ledger.list_customers().customers == ()  # nothing created on the way

    @pytest.mark.parametrize(
        "value", [10**18, -(10**18), 10**20, Decimal("1e18"), "1000000000000000000", 1e18]
    )
    def test_track_of_ten_to_the_eighteen_or_more_is_refused(
        self, ledger: Ledger, value: object
    ) -> None:
        ledger.create("c1", "f", included=5)
        before = state(ledger)
        refused(lambda: ledger.track("c1", "f", value=value))
        assert state(ledger) == before

    def test_just_below_the_limit_is_exact_in_every_output(self, ledger: Ledger) -> None:
        top = Decimal("999999999999999999.9999999999")
        ledger.create("c1", "f", included=top)
        balance = ledger.balance("c1", "f")
        assert balance is not None
        assert balance.remaining == top
        assert balance.to_dict()["remaining"] == 10**18  # rounded at 10 dp, still written
        json.dumps(balance.to_dict())

    def test_more_than_twenty_places_is_refused_not_rounded(self, ledger: Ledger) -> None:
        refused(lambda: ledger.create("c1", "f", included=Decimal("1e-21")))
        ledger.create("c1", "f", included=Decimal("0.00000000000000000001"))  # 20 places
        ledger.create("c1", "f", included=Decimal("1.0000000000000000000000000"))  # exactly 1

    def test_sums_and_credit_products_are_never_rounded(self, ledger: Ledger) -> None:
        """28 digits (Python's default) would round these: meterlib computes wider."""
        small = Decimal("0.00000000000000000001")
        ledger.create_feature("m")
        ledger.create_feature(
            "credits", type="credit_system", credit_schema={"m": Decimal("1.0000000001")}
        )
        ledger.create("c1", "f", included=BIG)
        ledger.track("c1", "f", value=small)
        balance = ledger.balance("c1", "f")
        assert balance is not None
        assert balance.remaining == Decimal("99999999999999999.99999999999999999999")
        ledger.create("c1", "credits", included=BIG)
        ledger.track("c1", "m", value=Decimal("123456789.123456789"))
        credits = ledger.balance("c1", "credits")
        used = Decimal("123456789.1358024679123456789")  # the exact product
        assert credits is not None and credits.usage == used
        assert credits.remaining == Decimal("99999999876543210.8641975320876543211")

    def test_twelve_tracks_on_an_overage_grant_stop_before_the_limit(self, ledger: Ledger) -> None:
        """Eleven tracks of 9×10^16 on a 10^17 grant make a usage of 9.9×10^17; the twelfth
        would make 1.08×10^18: it is refused whole and the customer still reads."""
        ledger.create("c1", "f", included=BIG, overage_allowed=True)
        for _ in range(11):
            ledger.track("c1", "f", value=9 * 10**16)
        before = state(ledger)
        error = refused(lambda: ledger.track("c1", "f", value=9 * 10**16), "invalid_request")
        assert "nothing was changed" in str(error)
        assert state(ledger) == before
        result = ledger.check("c1", "f")
        assert result.balance is not None and result.balance.usage == 99 * 10**16
        json.dumps(result.to_dict())

    def test_large_amounts_whose_totals_stay_in_range_are_kept(self, ledger: Ledger) -> None:
        """6×10^17 granted, 5×10^17 left: their magnitudes add up past 10^18, yet every
        amount shown (granted, remaining, usage) is in range, so nothing is refused."""
        ledger.create("c1", "f", included=6 * BIG, overage_allowed=True)
        ledger.track("c1", "f", value=BIG)
        ledger.create("c1", "f", included=3 * BIG)
        balance = ledger.balance("c1", "f")
        assert balance is not None
        assert (balance.granted, balance.remaining, balance.usage) == (9 * BIG, 8 * BIG, BIG)

    def test_stacked_grants_may_not_total_the_limit(self, ledger: Ledger) -> None:
        for _ in range(9):
            ledger.create("c1", "f", included=BIG)
        before = state(ledger)
        refused(lambda: ledger.create("c1", "f", included=BIG), "invalid_request")
        refused(lambda: ledger.update("c1", "f", add_to_balance=BIG), "invalid_request")
        assert state(ledger) == before

    def test_a_refused_batch_changes_nothing(self, ledger: Ledger) -> None:
        ledger.create("c1", "f", included=BIG, overage_allowed=True)
        before = state(ledger)
        item = {"customer_id": "c1", "feature_id": "f", "value": 9 * 10**17}
        refused(lambda: ledger.batch_track([item, item]), "invalid_request")
        assert state(ledger) == before


class TestTimes:
    """Item 2: instants from 1970 to 9999, interval counts from 1 to 1000, lock expiries
    in the future; a schedule that leaves year 9999 simply stops resetting."""

    @pytest.mark.parametrize("expires_at", [10**20, -1, -(10**20), 1e300, LAST_MS + 1])
    def test_expires_at_out_of_range(self, ledger: Ledger, expires_at: object) -> None:
        refused(lambda: ledger.create("c1", "f", included=1, expires_at=expires_at))
        assert ledger.list_customers().customers == ()

    def test_events_start_out_of_range(self, ledger: Ledger) -> None:
        refused(lambda: ledger.events(start=10**20))
        refused(lambda: ledger.events(end=-(10**20)))

    def test_naive_and_pre_1970_datetimes(self, ledger: Ledger) -> None:
        refused(lambda: ledger.events(start=datetime(2025, 1, 1)))
        refused(lambda: ledger.events(start=datetime(1969, 12, 31, tzinfo=UTC)))

    @pytest.mark.parametrize("count", [0, 1001, 10**6, 10**30, 2.5])
    def test_interval_count_from_one_to_a_thousand(self, ledger: Ledger, count: object) -> None:
        reset = {"interval": "month", "interval_count": count}
        refused(lambda: ledger.create("c1", "f", included=1, reset=reset))

    def test_lock_expiry_out_of_range_comes_before_other_rules(self, ledger: Ledger) -> None:
        ledger.create("c1", "f", included=5)
        for expires_at in (-(10**20), 10**20):
            lock = {"lock_id": "l1", "expires_at": expires_at}
            refused(lambda lock=lock: ledger.check("c1", "f", lock=lock))

    def test_lock_expiry_at_or_before_now_is_refused(
        self, ledger: Ledger, clock: ManualClock
    ) -> None:
        ledger.create("c1", "f", included=5)
        before = state(ledger)
        for expires_at in (clock.now(), clock.now() - timedelta(seconds=1)):
            lock = {"lock_id": "l1", "expires_at": expires_at}
            refused(lambda lock=lock: ledger.check("c1", "f", lock=lock), "invalid_request")
        assert state(ledger) == before
        lock = {"lock_id": "l1", "expires_at": clock.now() + timedelta(seconds=1)}
        assert ledger.check("c1", "f", lock=lock).allowed

    @pytest.mark.parametrize(
        ("interval", "count"), [("month", 1000), ("year", 1000), ("week", 1000), ("month", 1)]
    )
    def test_a_schedule_leaving_year_9999_never_raises(
        self, ledger: Ledger, clock: ManualClock, interval: str, count: int
    ) -> None:
        clock.set(datetime(9999, 11, 30, tzinfo=UTC))
        reset = {"interval": interval, "interval_count": count}
        rollover = {"max": 10, "duration": "month", "length": 1000}
        ledger.create("c1", "f", included=5, reset=reset, rollover=rollover)
        ledger.track("c1", "f", value=2)
        clock.set(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
        balance = ledger.balance("c1", "f")
        assert balance is not None
        json.dumps(balance.to_dict())
        json.dumps(ledger.check("c1", "f", send_event=True).to_dict())
        json.dumps([row.to_dict() for row in ledger.grants("c1")])

    def test_a_manual_clock_keeps_to_the_range(self, clock: ManualClock) -> None:
        refused(lambda: clock.advance(years=8000))
        refused(lambda: clock.set(-1))
        refused(lambda: ManualClock(10**20))
        assert clock.now() == datetime(2025, 1, 31, 12, tzinfo=UTC)  # unmoved

    def test_a_clock_past_year_9999_is_a_meter_error(self) -> None:
        with Ledger(clock=lambda: LAST_MS + 1) as ledger:
            refused(lambda: ledger.create("c1", "f", included=1))


BAD_IDS = [
    pytest.param("a\ud800", id="lone-surrogate"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("a\nb", id="newline"),
    pytest.param("a\x7f", id="del"),
    pytest.param("x" * 257, id="overlong"),
    pytest.param("", id="empty"),
    pytest.param("  ", id="blank"),
    pytest.param(5, id="int"),
]


class TestIds:
    """Item 4: every store refuses the same ids, with the same error."""

    @pytest.mark.parametrize("bad", BAD_IDS)
    def test_every_id_argument_refuses_the_same(self, ledger: Ledger, bad: object) -> None:
        ledger.create("c1", "f", included=5)
        before = state(ledger)
        calls = [
            lambda: ledger.create(bad, "f", included=1),  # type: ignore[arg-type]
            lambda: ledger.create("c1", bad, included=1),  # type: ignore[arg-type]
            lambda: ledger.create("c1", "f", included=1, entity_id=bad),  # type: ignore[arg-type]
            lambda: ledger.create("c1", "f", included=1, balance_id=bad),  # type: ignore[arg-type]
            lambda: ledger.create("c1", "f", included=1, plan_id=bad),  # type: ignore[arg-type]
            lambda: ledger.track("c1", "f", idempotency_key=bad),  # type: ignore[arg-type]
            lambda: ledger.check("c1", "f", lock={"lock_id": bad}),
            lambda: ledger.finalize(bad),  # type: ignore[arg-type]
            lambda: ledger.claim_idempotency_key(bad),  # type: ignore[arg-type]
            lambda: ledger.create_customer(bad),  # type: ignore[arg-type]
            lambda: ledger.create_feature(bad),  # type: ignore[arg-type]
        ]
        for call in calls:
            refused(call)
        assert state(ledger) == before

    def test_the_longest_id_is_kept(self, ledger: Ledger) -> None:
        longest = "é" * 256
        ledger.create(longest, "f", included=1)
        assert ledger.get_customer(longest).id == longest

    @pytest.mark.parametrize("bad", ["a\ud800", "a\x00"])
    def test_names_refuse_what_no_store_keeps(self, ledger: Ledger, bad: str) -> None:
        refused(lambda: ledger.create_customer("c1", name=bad))
        assert ledger.list_customers().customers == ()


class TestOtherArguments:
    """Integers SQL cannot bind and arguments the constructor would only trip on later."""

    @pytest.mark.parametrize("limit", [10**20, 2**63])
    def test_a_huge_page_size_is_every_event(self, ledger: Ledger, limit: int) -> None:
        ledger.create("c1", "f", included=5)
        ledger.track("c1", "f")
        assert len(ledger.events(limit=limit).events) == 1

    @pytest.mark.parametrize("cursor", ["9" * 30 + ".1", "1." + "9" * 30, "-1.1"])
    def test_a_cursor_beyond_sql_integers(self, ledger: Ledger, cursor: str) -> None:
        refused(lambda: ledger.events(cursor=cursor))

    def test_a_clock_or_store_that_is_not_one(self) -> None:
        refused(lambda: Ledger(clock=5))  # type: ignore[arg-type]
        refused(lambda: Ledger(store=5))  # type: ignore[arg-type]

    @pytest.mark.parametrize("url", ["sqlite:///a\x00.db", "sqlite:///a\ud800.db"])
    def test_a_url_no_file_system_takes(self, url: str) -> None:
        refused(lambda: Ledger.open(url))


class TestJsonLike:
    """Item 3: JSON-like arguments at most 32 levels deep, string keys, JSON values."""

    def test_thirty_two_levels_are_kept(self, ledger: Ledger) -> None:
        ledger.create("c1", "f", included=5)
        ledger.track("c1", "f", properties=deep(32))
        assert ledger.events(limit=1).events[0].properties == deep(32)

    @pytest.mark.parametrize("levels", [33, DEEP_LEVELS, 100_000])
    def test_deeper_properties_and_metadata_are_refused(self, ledger: Ledger, levels: int) -> None:
        ledger.create("c1", "f", included=5)
        before = state(ledger)
        nested = deep(levels)
        refused(lambda: ledger.track("c1", "f", properties=nested))
        refused(lambda: ledger.check("c1", "f", properties=nested))
        refused(lambda: ledger.update_customer("c1", metadata=nested))
        refused(lambda: ledger.create_customer("c2", metadata=nested))
        refused(lambda: ledger.update_customer("c1", billing_controls={"usage_limits": nested}))
        refused(lambda: ledger.check("c1", "f", lock={"lock_id": "l", "enabled": nested}))
        refused(lambda: ledger.create("c1", "f", included=1, reset={"interval": nested}))
        assert state(ledger) == before

    @pytest.mark.parametrize(
        "bad",
        [
            pytest.param({1: "x"}, id="int-key"),
            pytest.param({"k": 10**5000}, id="huge-int"),
            pytest.param({"k": float("nan")}, id="nan"),
            pytest.param({"k": "a\ud800"}, id="surrogate-value"),
            pytest.param({"a\ud800": 1}, id="surrogate-key"),
            pytest.param({"k": object()}, id="object"),
        ],
    )
    def test_values_inside_keep_the_same_limits(self, ledger: Ledger, bad: Any) -> None:
        ledger.create("c1", "f", included=5)
        before = state(ledger)
        refused(lambda: ledger.track("c1", "f", properties=bad))
        refused(lambda: ledger.update_customer("c1", billing_controls=bad))
        assert state(ledger) == before
