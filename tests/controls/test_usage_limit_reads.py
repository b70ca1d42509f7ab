"""`Ledger.usage_limits`: the usage limits a subject obeys, with its current windows' usage.

The clock starts on Friday 2025-01-31 12:00 UTC; c1 has a monthly grant of 100 messages made
then, so billing_cycle windows start at 12:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from meterlib import CustomerNotFound, EntityNotFound, Ledger, ManualClock, UsageWindow

D = Decimal
CALENDAR = {
    "feature_id": "messages",
    "limit": 10,
    "anchor": "utc",
}  # a limit of 10 on calendar windows
GPT = {"properties": {"model": "gpt"}}


def at(day: int, hour: int = 0, month: int = 1) -> datetime:
    """An instant in 2025, UTC."""
    return datetime(2025, month, day, hour, tzinfo=UTC)


def limits(ledger: Ledger, *entries: dict[str, Any], entity_id: str | None = None) -> None:
    """Set c1's (or its entity's) usage limits to exactly `entries`."""
    controls = {"usage_limits": list(entries)}
    if entity_id is None:
        ledger.update_customer("c1", billing_controls=controls)
    else:
        ledger.update_entity("c1", entity_id, billing_controls=controls)


def usage(ledger: Ledger, entity_id: str | None = None) -> list[tuple[str, str | None, Decimal]]:
    """(feature, window owner, usage) of each limit the subject obeys, in order."""
    return [
        (w.feature_id, w.entity_id, w.usage) for w in ledger.usage_limits("c1", entity_id=entity_id)
    ]


@pytest.fixture
def messages(ledger: Ledger) -> Ledger:
    """c1 with a monthly grant of 100 messages, made at the start."""
    ledger.create("c1", "messages", included=100, reset="month")
    return ledger


class TestCustomer:
    """A customer's own limits, each with its counted usage and window."""

    def test_no_limits_no_windows(self, messages: Ledger) -> None:
        """Without usage limits the answer is empty, even after tracking."""
        messages.track("c1", "messages", value=3)
        assert messages.usage_limits("c1") == []

    def test_usage_and_window(self, messages: Ledger) -> None:
        """A UTC day limit of 10 after tracks of 3 and 4 reads usage 7, remaining 3, today."""
        limits(messages, {**CALENDAR, "interval": "day"})
        messages.track("c1", "messages", value=3)
        messages.track("c1", "messages", value=4)
        assert messages.usage_limits("c1") == [
            UsageWindow(
                feature_id="messages",
                limit=D(10),
                interval="day",
                anchor="utc",
                usage=D(7),
                window_start=at(31, month=1),
                window_end=at(1, month=2),
            )
        ]
        assert messages.usage_limits("c1")[0].remaining == D(3)

    def test_billing_cycle_window_follows_the_grant(self, messages: Ledger) -> None:
        """Without an anchor a day window starts at the grant's cycle time, 12:00 UTC."""
        limits(messages, {"feature_id": "messages", "limit": 10, "interval": "day"})
        (window,) = messages.usage_limits("c1")
        assert (window.anchor, window.window_start, window.window_end) == (
            "billing_cycle",
            at(31, 12),
            at(1, 12, month=2),
        )

    def test_filtered_and_unfiltered_count_apart(self, messages: Ledger) -> None:
        """A filtered limit counts only matching events; the unfiltered one counts them all."""
        limits(
            messages,
            {"feature_id": "messages", "limit": 10, "interval": "day"},
            {"feature_id": "messages", "limit": 5, "interval": "week", "filter": GPT},
        )
        messages.track("c1", "messages", value=2, properties={"model": "gpt"})
        messages.track("c1", "messages", value=3, properties={"model": "claude"})
        got = messages.usage_limits("c1")
        assert [(w.filter, w.usage, w.remaining) for w in got] == [
            ({}, D(5), D(5)),
            ({"model": "gpt"}, D(2), D(3)),
        ]

    def test_overflow_counts_past_the_limit(self, messages: Ledger) -> None:
        """Usage may exceed the limit (overflow counts past it); remaining stays at 0."""
        limits(messages, {"feature_id": "messages", "limit": 4, "interval": "day"})
        messages.track("c1", "messages", value=6, overage_behavior="overflow")
        (window,) = messages.usage_limits("c1")
        assert (window.usage, window.remaining) == (D(6), D(0))

    def test_editing_the_limit_keeps_the_count(self, messages: Ledger) -> None:
        """Raising the limit from 5 to 8 keeps the 4 counted: remaining 4."""
        limits(messages, {"feature_id": "messages", "limit": 5, "interval": "day"})
        messages.track("c1", "messages", value=4)
        limits(messages, {"feature_id": "messages", "limit": 8, "interval": "day"})
        (window,) = messages.usage_limits("c1")
        assert (window.limit, window.usage, window.remaining) == (D(8), D(4), D(4))

    def test_disabled_and_unknown_features_are_left_out(self, messages: Ledger) -> None:
        """A disabled limit and one on a feature outside the catalogue are not listed."""
        limits(
            messages,
            {"feature_id": "messages", "limit": 5, "interval": "day", "enabled": False},
            {"feature_id": "ghost", "limit": 5, "interval": "day"},
        )
        messages.track("c1", "messages", value=1)
        assert messages.usage_limits("c1") == []

    def test_features_in_catalogue_order(self, messages: Ledger) -> None:
        """Limits are listed by feature in the order the features were created."""
        messages.create("c1", "images", included=10)
        limits(
            messages,
            {"feature_id": "images", "limit": 2, "interval": "month"},
            {"feature_id": "messages", "limit": 5, "interval": "day"},
        )
        messages.track("c1", "images", value=1)
        assert usage(messages) == [("messages", None, D(0)), ("images", None, D(1))]


class TestWindowsRoll:
    """What a window counted reads as 0 once it has ended, and reading writes nothing."""

    def test_next_window_reads_zero(self, messages: Ledger, clock: ManualClock) -> None:
        """5 counted today; tomorrow the read is 0 in a window starting tomorrow."""
        limits(messages, {**CALENDAR, "interval": "day"})
        messages.track("c1", "messages", value=5)
        clock.advance(days=1)
        (window,) = messages.usage_limits("c1")
        assert (window.usage, window.window_start) == (D(0), at(1, month=2))

    def test_reading_writes_nothing(self, messages: Ledger, clock: ManualClock) -> None:
        """A read after the window ended leaves the stored counter exactly as it was."""
        limits(messages, {**CALENDAR, "interval": "day"})
        messages.track("c1", "messages", value=5)
        with messages.store.transaction(write=False) as tx:
            before = tx.list_counters("c1")
        clock.advance(days=3)
        assert usage(messages) == [("messages", None, D(0))]
        with messages.store.transaction(write=False) as tx:
            assert tx.list_counters("c1") == before

    def test_same_answer_however_often_read(self, messages: Ledger, clock: ManualClock) -> None:
        """Reading daily changes nothing: the week counts 3 through Sunday, 0 from Monday."""
        limits(messages, {**CALENDAR, "interval": "week"})
        messages.track("c1", "messages", value=3)
        for _ in range(3):  # Friday, Saturday, Sunday
            assert usage(messages) == [("messages", None, D(3))]
            clock.advance(days=1)
        assert usage(messages) == [("messages", None, D(0))]  # Monday 2025-02-03: a new week


class TestEntities:
    """An entity's own entries count in its own window; inherited ones in the customer's."""

    @pytest.fixture
    def seats(self, messages: Ledger) -> Ledger:
        """c1 with entities e1 and e2."""
        messages.create_entity("c1", "e1")
        messages.create_entity("c1", "e2")
        return messages

    def test_inherited_limit_shares_the_customer_window(self, seats: Ledger) -> None:
        """A customer limit counts e1's and e2's tracks in one window, read alike by all."""
        limits(seats, {"feature_id": "messages", "limit": 10, "interval": "day"})
        seats.track("c1", "messages", value=2, entity_id="e1")
        seats.track("c1", "messages", value=3, entity_id="e2")
        expected = [("messages", None, D(5))]
        assert usage(seats) == usage(seats, "e1") == usage(seats, "e2") == expected

    def test_own_entry_is_carved_out(self, seats: Ledger) -> None:
        """e1's own limit counts only e1's tracks, which never touch the customer window."""
        limits(seats, {"feature_id": "messages", "limit": 10, "interval": "day"})
        limits(seats, {"feature_id": "messages", "limit": 4, "interval": "day"}, entity_id="e1")
        seats.track("c1", "messages", value=3, entity_id="e1")
        seats.track("c1", "messages", value=2, entity_id="e2")
        assert usage(seats, "e1") == [("messages", "e1", D(3))]
        assert seats.usage_limits("c1", entity_id="e1")[0].limit == D(4)
        assert usage(seats, "e2") == usage(seats) == [("messages", None, D(2))]

    def test_disabled_own_entry_shadows_the_customer(self, seats: Ledger) -> None:
        """A disabled entity entry leaves e1 uncapped; the customer's limit still reads."""
        limits(seats, {"feature_id": "messages", "limit": 10, "interval": "day"})
        limits(
            seats,
            {"feature_id": "messages", "limit": 1, "interval": "day", "enabled": False},
            entity_id="e1",
        )
        seats.track("c1", "messages", value=2, entity_id="e2")
        assert usage(seats, "e1") == []
        assert usage(seats) == [("messages", None, D(2))]

    def test_other_filters_are_still_inherited(self, seats: Ledger) -> None:
        """e1's own unfiltered entry does not shadow the customer's filtered one."""
        limits(seats, {"feature_id": "messages", "limit": 10, "interval": "day", "filter": GPT})
        limits(seats, {"feature_id": "messages", "limit": 4, "interval": "day"}, entity_id="e1")
        seats.track("c1", "messages", value=1, entity_id="e1", properties={"model": "gpt"})
        got = seats.usage_limits("c1", entity_id="e1")
        assert [(w.entity_id, w.filter, w.usage) for w in got] == [
            ("e1", {}, D(1)),
            (None, {"model": "gpt"}, D(1)),
        ]


class TestErrors:
    """Unknown subjects are errors, as for every other read."""

    def test_unknown_customer(self, ledger: Ledger) -> None:
        """An unknown customer is CustomerNotFound."""
        with pytest.raises(CustomerNotFound):
            ledger.usage_limits("nobody")

    def test_unknown_entity(self, messages: Ledger) -> None:
        """An unknown entity of a known customer is EntityNotFound."""
        with pytest.raises(EntityNotFound):
            messages.usage_limits("c1", entity_id="e9")
