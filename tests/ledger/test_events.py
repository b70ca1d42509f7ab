"""events(): newest first, filtered, paged by cursor (API.md, Check and track)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterlib import CustomerNotFound, Ledger, ManualClock

D = Decimal
START = datetime(2025, 1, 31, 12, tzinfo=UTC)


def values(page: object) -> list[Decimal]:
    return [e.value for e in page.events]  # type: ignore[attr-defined]


class TestOrder:
    """Events come newest first; equal timestamps in reverse order of recording."""

    def test_newest_timestamp_first(self, ledger: Ledger) -> None:
        """Events are ordered by their timestamp, not by when they were recorded."""
        ledger.create("c1", "messages", included=100)
        ledger.track("c1", "messages", value=1)
        ledger.track("c1", "messages", value=2, timestamp=START - timedelta(days=3))
        ledger.track("c1", "messages", value=3, timestamp=START - timedelta(days=1))
        page = ledger.events("c1")
        assert values(page) == [D(1), D(3), D(2)]
        assert [e.timestamp for e in page.events] == [
            START,
            START - timedelta(days=1),
            START - timedelta(days=3),
        ]

    def test_same_timestamp_reverse_recording_order(self, ledger: Ledger) -> None:
        """Three events at one instant come back last-recorded first."""
        ledger.create("c1", "messages", included=100)
        for v in (1, 2, 3):
            ledger.track("c1", "messages", value=v)
        assert values(ledger.events("c1")) == [D(3), D(2), D(1)]

    def test_event_fields(self, ledger: Ledger, clock: ManualClock) -> None:
        """An event carries its id, customer, entity, feature, value, time and deductions."""
        ledger.create("c1", "messages", included=100, entity_id="e1")
        ledger.track("c1", "messages", value=2, entity_id="e1")
        ledger.track("c1", "messages", value=3, entity_id="e1")
        newest, oldest = ledger.events("c1").events
        assert newest.id != oldest.id
        assert (newest.customer_id, newest.entity_id, newest.feature_id) == ("c1", "e1", "messages")
        assert newest.value == D(3)
        assert newest.timestamp == clock.now()
        assert [(d.feature_id, d.value) for d in newest.deductions] == [("messages", D(3))]


class TestFilters:
    """customer, feature and entity filters; start inclusive, end exclusive."""

    @pytest.fixture
    def seeded(self, ledger: Ledger, clock: ManualClock) -> Ledger:
        """Events of two customers, two features and an entity, one day apart."""
        ledger.create_feature("messages", event_names=("chat",))
        ledger.create("c1", "messages", included=100)
        ledger.create("c1", "tokens", included=100)
        ledger.create("c1", "messages", included=100, entity_id="e1")
        ledger.create("c2", "messages", included=100)
        ledger.track("c1", "messages", value=1)  # day 0
        clock.advance(days=1)
        ledger.track("c1", "tokens", value=2)  # day 1
        clock.advance(days=1)
        ledger.track("c1", "messages", value=3, entity_id="e1")  # day 2
        clock.advance(days=1)
        ledger.track("c2", "messages", value=4)  # day 3
        clock.advance(days=1)
        ledger.track("c1", event_name="chat", value=5)  # day 4
        return ledger

    def test_all_customers(self, seeded: Ledger) -> None:
        """Without customer_id every customer's events are listed."""
        assert values(seeded.events()) == [D(5), D(4), D(3), D(2), D(1)]

    def test_by_customer(self, seeded: Ledger) -> None:
        """customer_id keeps that customer's events."""
        assert values(seeded.events("c1")) == [D(5), D(3), D(2), D(1)]
        assert values(seeded.events("c2")) == [D(4)]

    def test_by_feature(self, seeded: Ledger) -> None:
        """feature_id matches events that named or deducted from the feature."""
        assert values(seeded.events("c1", feature_id="messages")) == [D(5), D(3), D(1)]
        assert values(seeded.events("c1", feature_id="tokens")) == [D(2)]

    def test_by_entity(self, seeded: Ledger) -> None:
        """entity_id keeps that entity's events."""
        assert values(seeded.events("c1", entity_id="e1")) == [D(3)]

    def test_start_inclusive_end_exclusive(self, seeded: Ledger) -> None:
        """start is inclusive and end exclusive: [day 1, day 3) holds days 1 and 2."""
        page = seeded.events(start=START + timedelta(days=1), end=START + timedelta(days=3))
        assert values(page) == [D(3), D(2)]

    def test_time_filters_take_epoch_ms(self, seeded: Ledger) -> None:
        """start and end may be epoch milliseconds."""
        start_ms = int((START + timedelta(days=3)).timestamp() * 1000)
        assert values(seeded.events(start=start_ms)) == [D(5), D(4)]
        assert values(seeded.events(end=start_ms)) == [D(3), D(2), D(1)]

    def test_unknown_customer(self, seeded: Ledger) -> None:
        """Listing events of an unknown customer raises CustomerNotFound."""
        with pytest.raises(CustomerNotFound):
            seeded.events("ghost")


class TestPaging:
    """limit bounds a page; next_cursor continues after it and is None at the end."""

    def test_cursor_walks_every_event_once(self, ledger: Ledger) -> None:
        """Five events in pages of two: [5, 4], [3, 2], [1], then no cursor."""
        ledger.create("c1", "messages", included=100)
        for v in range(1, 6):
            ledger.track("c1", "messages", value=v)
        first = ledger.events("c1", limit=2)
        assert values(first) == [D(5), D(4)]
        assert first.next_cursor is not None
        second = ledger.events("c1", limit=2, cursor=first.next_cursor)
        assert values(second) == [D(3), D(2)]
        assert second.next_cursor is not None
        third = ledger.events("c1", limit=2, cursor=second.next_cursor)
        assert values(third) == [D(1)]
        assert third.next_cursor is None

    def test_cursor_with_equal_timestamps_and_filters(
        self, ledger: Ledger, clock: ManualClock
    ) -> None:
        """Paging splits events of one instant correctly and keeps the filter."""
        ledger.create("c1", "messages", included=100)
        ledger.create("c1", "tokens", included=100)
        for v in range(1, 4):
            ledger.track("c1", "messages", value=v)
            ledger.track("c1", "tokens", value=10 * v)
        clock.advance(days=1)
        ledger.track("c1", "messages", value=4)
        seen: list[Decimal] = []
        cursor = None
        for _ in range(10):
            page = ledger.events("c1", feature_id="messages", limit=1, cursor=cursor)
            seen += values(page)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == [D(4), D(3), D(2), D(1)]

    def test_default_limit_is_100(self, ledger: Ledger) -> None:
        """events() returns at most 100 events by default."""
        ledger.create("c1", "messages", included=1000)
        for _ in range(101):
            ledger.track("c1", "messages")
        page = ledger.events("c1")
        assert len(page.events) == 100
        assert page.next_cursor is not None
        rest = ledger.events("c1", cursor=page.next_cursor)
        assert len(rest.events) == 1
        assert rest.next_cursor is None

    def test_empty(self, ledger: Ledger) -> None:
        """A customer without events has an empty page and no cursor."""
        ledger.create_customer("c1")
        page = ledger.events("c1")
        assert (list(page.events), page.next_cursor) == ([], None)
        assert page.to_dict() == {"list": [], "next_cursor": None}


class TestEventToDict:
    """Event.to_dict is Autumn's event list item: epoch ms timestamp, rounded value."""

    def test_shape(self, ledger: Ledger) -> None:
        """A feature track's event serialises with its timestamp in epoch ms."""
        ledger.create("c1", "messages", included=10)
        ledger.track("c1", "messages", value="0.123456789012", properties={"a": 1})
        page = ledger.events("c1")
        d = page.to_dict()
        assert d["next_cursor"] is None
        (item,) = d["list"]
        assert item["timestamp"] == int(START.timestamp() * 1000)
        assert (item["customer_id"], item["feature_id"], item["entity_id"]) == (
            "c1",
            "messages",
            None,
        )
        assert item["value"] == 0.1234567890
        assert item["properties"] == {"a": 1}
        assert [x["value"] for x in item["deductions"]] == [0.1234567890]
