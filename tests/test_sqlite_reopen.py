"""Reopening a SQLite file: everything a ledger wrote is there, and behaves, as before.

A ledger on a file is built up (features of every kind, a customer with metadata and billing
controls, an entity, grants that reset, roll over and expire, tracks with idempotency keys and
properties, open locks), closed, and opened again in a new SQLiteStore and a new Ledger. Every
read must give what it gave before closing, and what was pending must carry on: a lock can be
finalized, a used idempotency key is still refused, rollovers made before the close expire and
are consumed in time. A twin ledger that is closed and reopened after every single operation
must answer exactly like one that never is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from meterlib import DuplicateIdempotencyKey, Ledger, LockNotFound, ManualClock, MeterError
from meterlib.results import Balance
from meterlib.stores import SQLiteStore

START = datetime(2025, 3, 10, 12, tzinfo=UTC)
HOUR = 3_600_000
DAY = 24 * HOUR

Step = Callable[[Ledger, ManualClock], object]


def _shape(value: object) -> object:
    """A result as compared: its repr (exact Decimals, datetimes) and its JSON shape."""
    if isinstance(value, list | tuple):
        return [_shape(v) for v in value]
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    to_dict = getattr(value, "to_dict", None)
    return (repr(value), to_dict()) if to_dict is not None else repr(value)


def _outcome(call: Callable[[], object]) -> object:
    """What a call returned, or the class, code and message of the MeterError it raised."""
    try:
        return ("ok", _shape(call()))
    except MeterError as exc:
        return ("error", type(exc).__name__, exc.code, str(exc))


def _lock(lock_id: str, hours: int | None = None) -> Step:
    def step(ledger: Ledger, clock: ManualClock) -> object:
        lock: dict[str, Any] = {"lock_id": lock_id}
        if hours is not None:
            lock["expires_at"] = clock() + hours * HOUR
        return ledger.check("c1", "messages", required_balance=10, lock=lock)

    return step


def _advance(**move: int) -> Step:
    def step(ledger: Ledger, clock: ManualClock) -> object:
        clock.advance(**move)
        return clock()

    return step


# The history every test starts from: grants that reset, roll over and expire, usage with
# keys and properties, two open locks (L1 expires in 12 h, L2 never), billing controls.
HISTORY: list[Step] = [
    lambda led, _: led.create_feature("messages", name="Messages", event_names=("chat",)),
    lambda led, _: led.create_feature("seats", consumable=False),
    lambda led, _: led.create_feature(
        "credits", type="credit_system", credit_schema={"messages": "0.5"}
    ),
    lambda led, _: led.create_feature("sso", type="boolean"),
    lambda led, _: led.create_customer(
        "c1", name="Ada", email="ada@example.com", metadata={"tier": "gold", "rate": "1.50"}
    ),
    lambda led, _: led.create_entity("c1", "e1", feature_id="seats", name="Seat 1"),
    lambda led, _: led.create(
        "c1",
        "messages",
        included=100,
        reset="month",
        rollover={"max": 50, "length": 2},
        balance_id="monthly",
    ),
    lambda led, clock: led.create(
        "c1", "credits", included="40.25", expires_at=clock() + 60 * DAY, plan_id="pro"
    ),
    lambda led, _: led.create("c1", "seats", included=5),
    lambda led, _: led.create("c1", "sso"),
    lambda led, _: led.create(
        "c1", "messages", entity_id="e1", included=20, reset="day", balance_id="e1-daily"
    ),
    lambda led, _: led.create(
        "c1", "messages", included=0, overage_allowed=True, max_purchase=30, balance_id="payg"
    ),
    lambda led, _: led.update_customer(
        "c1",
        billing_controls={
            "usage_limits": [{"feature_id": "messages", "limit": 500, "interval": "day"}],
            "usage_alerts": [
                {"feature_id": "messages", "threshold": 50, "threshold_type": "usage"}
            ],
        },
    ),
    lambda led, _: led.track("c1", "messages", value=30, idempotency_key="req-1"),
    lambda led, _: led.track("c1", event_name="chat", value="2.5", properties={"room": "a"}),
    lambda led, _: led.track("c1", "messages", entity_id="e1", value=7),
    lambda led, _: led.track("c1", "seats", value=2),
    _advance(months=1, hours=1),  # a reset: 100 - 32.5 = 67.5, capped at 50, rolls over
    lambda led, _: led.track("c1", "messages", value=20, idempotency_key="req-2"),
    lambda led, _: led.batch_track(
        [
            {"customer_id": "c1", "feature_id": "credits", "value": 3},
            {"customer_id": "c1", "feature_id": "messages", "value": -4},
        ]
    ),
    _lock("L1", hours=12),
    _lock("L2"),
]


def _build(path: Path) -> tuple[Ledger, ManualClock]:
    """A ledger on the file at `path` after HISTORY (its clock too)."""
    clock = ManualClock(START)
    ledger = Ledger(SQLiteStore(path), clock=clock)
    for step in HISTORY:
        step(ledger, clock)
    return ledger, clock


def _all_events(ledger: Ledger) -> list[object]:
    """Every event page, 3 events at a time, following the cursors."""
    pages: list[object] = []
    cursor: str | None = None
    while True:
        page = ledger.events("c1", limit=3, cursor=cursor)
        pages.append(_shape(page))
        cursor = page.next_cursor
        if cursor is None:
            return pages


def _snapshot(ledger: Ledger) -> dict[str, object]:
    """Every read of the ledger about c1, e1 and the catalogue."""
    return {
        "features": _outcome(ledger.list_features),
        "customers": _outcome(ledger.list_customers),
        "customer": _outcome(lambda: ledger.get_customer("c1")),
        "entity": _outcome(lambda: ledger.get_entity("c1", "e1")),
        "balances": _outcome(lambda: ledger.balances("c1")),
        "entity balances": _outcome(lambda: ledger.balances("c1", entity_id="e1")),
        "flags": _outcome(lambda: ledger.flags("c1")),
        "grants": _outcome(lambda: ledger.grants("c1", statuses=("active", "expired"))),
        "entity grants": _outcome(lambda: ledger.grants("c1", entity_id="e1")),
        "events": _outcome(lambda: _all_events(ledger)),
        "check": _outcome(lambda: ledger.check("c1", "messages", required_balance=1_000)),
    }


def _lots(balance: Balance) -> list[tuple[Decimal, Decimal, datetime | None]]:
    """The rollovers as (granted, balance, expires_at)."""
    return [(r.granted, r.balance, r.expires_at) for r in balance.rollovers]


def _messages(ledger: Ledger) -> Balance:
    balance = ledger.balance("c1", "messages")
    assert balance is not None
    return balance


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """Where the test's database file goes."""
    return tmp_path / "meter.db"


@pytest.fixture
def reopened(path: Path) -> Iterator[tuple[Ledger, ManualClock, dict[str, object]]]:
    """A ledger on the file after HISTORY, closed and opened again; with the snapshot taken
    just before closing."""
    ledger, clock = _build(path)
    before = _snapshot(ledger)
    ledger.close()
    with Ledger(SQLiteStore(path), clock=clock) as again:
        yield again, clock, before


class TestEverythingIsAsItWas:
    """A closed and reopened file reads exactly as it did before closing."""

    def test_every_read_is_unchanged(
        self, reopened: tuple[Ledger, ManualClock, dict[str, object]]
    ) -> None:
        """Catalogue, customer, entity, balances, flags, grants, event pages and a check agree."""
        ledger, _, before = reopened
        after = _snapshot(ledger)
        assert after.keys() == before.keys()
        for key in before:
            assert after[key] == before[key], key

    def test_the_history_is_really_there(
        self, reopened: tuple[Ledger, ManualClock, dict[str, object]]
    ) -> None:
        """The reopened file holds the rollover, the customer, the entity and the events."""
        ledger, _, _ = reopened
        messages = _messages(ledger)
        # 67.5 left at the April reset, capped to a lot of 50, of which the two locks and
        # req-2 took 40; the monthly row is new, e1's daily row has reset
        assert _lots(messages) == [(50, 10, datetime(2025, 6, 10, 12, tzinfo=UTC))]
        assert (messages.granted, messages.remaining, messages.usage) == (170, 130, 40)
        assert _messages(ledger).next_reset_at == datetime(2025, 4, 11, 12, tzinfo=UTC)
        customer = ledger.get_customer("c1")
        assert (customer.name, customer.email, dict(customer.metadata)) == (
            "Ada",
            "ada@example.com",
            {"tier": "gold", "rate": "1.50"},
        )
        entity = ledger.get_entity("c1", "e1")
        assert (entity.feature_id, entity.name) == ("seats", "Seat 1")
        assert [f.id for f in ledger.list_features()] == ["messages", "seats", "credits", "sso"]
        assert ledger.get_feature("credits").credit_schema == {"messages": Decimal("0.5")}
        assert list(ledger.flags("c1")) == ["sso"]
        assert len(ledger.events("c1", limit=100).events) == 9  # locks record events too

    def test_ledger_open_by_url(self, path: Path) -> None:
        """Ledger.open("sqlite:////absolute/path") reopens the same file."""
        ledger, clock = _build(path)
        before = _snapshot(ledger)
        ledger.close()
        with Ledger.open(f"sqlite:///{path}", clock=clock) as again:
            assert _snapshot(again) == before

    def test_a_second_store_on_the_open_file_sees_everything(self, path: Path) -> None:
        """A second SQLiteStore opened while the first is still open reads the same."""
        ledger, clock = _build(path)
        with ledger, Ledger(SQLiteStore(path), clock=clock) as other:
            assert _snapshot(other) == _snapshot(ledger)


class TestPendingWorkCarriesOn:
    """Locks, idempotency keys, resets and rollovers pick up where they were."""

    def test_a_lock_can_be_finalized_after_reopening(
        self, reopened: tuple[Ledger, ManualClock, dict[str, object]]
    ) -> None:
        """Confirming L2 with an override of 4 gives back 6; it is gone afterwards."""
        ledger, _, _ = reopened
        before = _messages(ledger).remaining
        ledger.finalize("L2", override_value=4)
        assert _messages(ledger).remaining == before + 6
        with pytest.raises(LockNotFound):
            ledger.finalize("L2")

    def test_a_lock_expires_while_the_file_is_closed(
        self, reopened: tuple[Ledger, ManualClock, dict[str, object]]
    ) -> None:
        """L1 (12 h) is released when the clock passes its expiry; L2 is kept."""
        ledger, clock, _ = reopened
        before = _messages(ledger).remaining
        clock.advance(hours=13)
        assert _messages(ledger).remaining == before + 10
        with pytest.raises(LockNotFound):
            ledger.finalize("L1", action="release")
        ledger.finalize("L2", action="release")
        assert _messages(ledger).remaining == before + 20

    def test_an_idempotency_key_is_still_refused(
        self, reopened: tuple[Ledger, ManualClock, dict[str, object]]
    ) -> None:
        """A repeat of req-2 is DuplicateIdempotencyKey and changes nothing, until 24 h pass."""
        ledger, clock, _ = reopened
        before = _messages(ledger)
        with pytest.raises(DuplicateIdempotencyKey):
            ledger.track("c1", "messages", value=20, idempotency_key="req-2")
        assert _messages(ledger) == before
        assert len(ledger.events("c1", limit=100).events) == 9
        clock.advance(days=1)
        ledger.track("c1", "messages", value=1, idempotency_key="req-2")

    def test_rollovers_carry_on_across_resets(
        self, reopened: tuple[Ledger, ManualClock, dict[str, object]]
    ) -> None:
        """The lot made before closing is spent first, then replaced at the next reset by a
        new one under the cap of 50, which expires two resets later."""
        ledger, clock, _ = reopened
        ledger.finalize("L1", action="release")
        ledger.finalize("L2", action="release")
        assert _lots(_messages(ledger)) == [(50, 30, datetime(2025, 6, 10, 12, tzinfo=UTC))]
        ledger.track("c1", "messages", value=35)  # 30 from the lot, then 5 from the month
        assert _lots(_messages(ledger)) == [(50, 0, datetime(2025, 6, 10, 12, tzinfo=UTC))]
        clock.advance(months=1)
        messages = _messages(ledger)
        assert _lots(messages) == [(50, 50, datetime(2025, 7, 10, 12, tzinfo=UTC))]
        assert (messages.granted, messages.remaining, messages.usage) == (170, 170, 0)


# What follows HISTORY in the twin test: every kind of operation, and time passing.
FUTURE: list[Step] = [
    lambda led, _: led.finalize("L2", override_value="2.5"),
    lambda led, _: led.track("c1", "messages", value=20, idempotency_key="req-2"),
    lambda led, _: led.track("c1", "messages", value=500, overage_behavior="overflow"),
    _advance(hours=13),
    lambda led, _: led.finalize("L1"),
    lambda led, _: led.check("c1", "credits", required_balance=3, send_event=True),
    lambda led, _: led.update("c1", "messages", balance_id="monthly", add_to_balance=15),
    _advance(months=1),
    lambda led, _: led.track("c1", "messages", value=70, idempotency_key="req-1"),
    _lock("L3", hours=20),
    _advance(days=1),
    lambda led, _: led.finalize("L3"),
    lambda led, _: led.delete("c1", feature_id="messages", balance_id="payg"),
    lambda led, _: led.track("c1", "messages", entity_id="e1", value=25),
    _advance(months=2, days=3),
    lambda led, _: led.create("c1", "messages", included=10, reset="week", balance_id="weekly"),
    lambda led, _: led.track("c1", event_name="chat", value=200),
    _advance(years=1),
    lambda led, _: led.track("c1", "credits", value=1),
]


class TestReopeningChangesNothing:
    """A ledger reopened after every operation answers exactly like one never closed."""

    def test_twins(self, tmp_path: Path) -> None:
        """Each step's result and the full snapshot after it agree between the twins."""
        steady_clock, twin_clock = ManualClock(START), ManualClock(START)
        twin_path = tmp_path / "twin.db"
        with Ledger(SQLiteStore(tmp_path / "steady.db"), clock=steady_clock) as steady:
            for index, step in enumerate([*HISTORY, *FUTURE]):
                expected = _outcome(lambda step=step: step(steady, steady_clock))  # type: ignore[misc]
                with Ledger(SQLiteStore(twin_path), clock=twin_clock) as twin:
                    got = _outcome(lambda step=step, twin=twin: step(twin, twin_clock))  # type: ignore[misc]
                assert got == expected, f"step {index}"
                with Ledger(SQLiteStore(twin_path), clock=twin_clock) as twin:
                    assert _snapshot(twin) == _snapshot(steady), f"after step {index}"
