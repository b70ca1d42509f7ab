"""A plain check answered again from the last identical one (`meterlib.recent_checks`).

On every store, a check after any change, or after time alone changed the balance, answers as
a Ledger that has never checked before. On a MemoryStore (the store with revisions), a check
nothing has changed since is answered without opening a transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, suppress
from datetime import UTC, datetime, timedelta
from itertools import product
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from meterlib import CheckResult, Ledger, ManualClock, MemoryStore, MeterError
from meterlib.recent_checks import LIMIT
from meterlib.state import CustomerState, Want
from meterlib.stores import SQLiteStore, StoreSession

START = datetime(2025, 1, 31, 12, tzinfo=UTC)  # the `clock` fixture's
DAY = 86_400_000
customers = st.sampled_from(["c1", "c1", "c2"])
entities = st.sampled_from([None, None, "e1"])


def fresh(ledger: Ledger, clock: ManualClock, *args: str, **kw: object) -> CheckResult:
    """The same check by a Ledger that has kept nothing."""
    return Ledger(ledger.store, clock=clock).check(*args, **kw)  # type: ignore[arg-type]


def same_as_fresh(ledger: Ledger, clock: ManualClock, *args: str, **kw: object) -> CheckResult:
    """Check twice (the second may be recalled); both answer as a Ledger that kept nothing."""
    first = ledger.check(*args, **kw)  # type: ignore[arg-type]
    again = ledger.check(*args, **kw)  # type: ignore[arg-type]
    expected = fresh(ledger, clock, *args, **kw)
    assert first == expected
    assert again == expected
    assert first.to_dict() == expected.to_dict()
    return first


class TestAfterAChange:
    """Every write to what a check reads is seen by the next check."""

    @pytest.fixture(autouse=True)
    def one_grant(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.create("c1", "messages", included=1, reset="month")
        assert same_as_fresh(ledger, clock, "c1", "messages").allowed

    def test_track(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.track("c1", "messages")
        assert not same_as_fresh(ledger, clock, "c1", "messages").allowed

    def test_update(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.update("c1", "messages", remaining=0)
        assert not same_as_fresh(ledger, clock, "c1", "messages").allowed

    def test_another_grant(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.create("c1", "messages", included=4, balance_id="more")
        answer = same_as_fresh(ledger, clock, "c1", "messages", required_balance=5)
        assert answer.allowed
        assert answer.balance is not None and answer.balance.remaining == 5

    def test_delete(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.delete("c1", feature_id="messages")
        assert not same_as_fresh(ledger, clock, "c1", "messages").allowed

    def test_lock_and_release(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.check("c1", "messages", lock={"lock_id": "l1"})
        assert not same_as_fresh(ledger, clock, "c1", "messages").allowed
        ledger.finalize("l1", action="release")
        assert same_as_fresh(ledger, clock, "c1", "messages").allowed

    def test_expiring_lock(self, ledger: Ledger, clock: ManualClock) -> None:
        """A held lock's expiry is time changing the balance: the answer is worked out again."""
        expires = START + timedelta(hours=1)
        ledger.check("c1", "messages", lock={"lock_id": "l1", "expires_at": expires})
        assert not same_as_fresh(ledger, clock, "c1", "messages").allowed
        clock.set(expires)
        assert same_as_fresh(ledger, clock, "c1", "messages").allowed

    def test_billing_controls(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.update_customer(
            "c1",
            billing_controls={
                "usage_limits": [{"feature_id": "messages", "limit": 0, "interval": "day"}]
            },
        )
        assert not same_as_fresh(ledger, clock, "c1", "messages").allowed

    def test_a_new_credit_system(self, ledger: Ledger, clock: ManualClock) -> None:
        """Only the catalogue changed, through another Ledger: a customer without grants is
        judged on the new credit system, at its cost."""
        ledger.create_feature("requests")
        assert same_as_fresh(ledger, clock, "c1", "requests").required_balance == 1
        other = Ledger(ledger.store, clock=clock)
        other.create_feature("credits", type="credit_system", credit_schema={"requests": 2})
        assert same_as_fresh(ledger, clock, "c1", "requests").required_balance == 2


class TestAfterTime:
    """Time alone changes a balance at a reset or an expiry; the answer changes with it."""

    def test_reset(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.create("c1", "messages", included=2, reset="minute")
        ledger.track("c1", "messages", value=2)
        assert not same_as_fresh(ledger, clock, "c1", "messages").allowed
        clock.advance(seconds=59)
        assert not same_as_fresh(ledger, clock, "c1", "messages").allowed
        clock.advance(seconds=1)
        assert same_as_fresh(ledger, clock, "c1", "messages").allowed

    def test_expiry(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.create("c1", "messages", included=2, expires_at=START + timedelta(hours=1))
        assert same_as_fresh(ledger, clock, "c1", "messages").allowed
        clock.advance(minutes=59, seconds=59)
        assert same_as_fresh(ledger, clock, "c1", "messages").allowed
        clock.advance(seconds=1)
        assert not same_as_fresh(ledger, clock, "c1", "messages").allowed

    def test_rollover_expiry(self, ledger: Ledger, clock: ManualClock) -> None:
        """Weekly lots live a month: the one made on Mar 10 expires on Apr 10, between resets."""
        clock.set(datetime(2025, 3, 3, 12, tzinfo=UTC))
        ledger.create("c1", "messages", included=5, reset="week", rollover={"length": 1})
        clock.set(datetime(2025, 4, 9, 12, tzinfo=UTC))
        assert same_as_fresh(ledger, clock, "c1", "messages", required_balance=30).allowed
        clock.set(datetime(2025, 4, 10, 12, tzinfo=UTC) - timedelta(milliseconds=1))
        assert same_as_fresh(ledger, clock, "c1", "messages", required_balance=30).allowed
        clock.advance(milliseconds=1)
        assert not same_as_fresh(ledger, clock, "c1", "messages", required_balance=30).allowed

    def test_clock_set_back(self, ledger: Ledger, clock: ManualClock) -> None:
        """Back before a reset the answer counted, the balance is the used one again."""
        ledger.create("c1", "messages", included=2, reset="minute")
        ledger.track("c1", "messages", value=2)
        clock.advance(minutes=1)
        assert same_as_fresh(ledger, clock, "c1", "messages").allowed
        clock.advance(seconds=-30)
        assert not same_as_fresh(ledger, clock, "c1", "messages").allowed


class Counting:
    """A MemoryStore that counts the transactions opened on it (a read is one)."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.opened = 0
        self.revision = self.inner.revision

    def transaction(self, *, write: bool = True) -> AbstractContextManager[StoreSession]:
        self.opened += 1
        return self.inner.transaction(write=write)

    def read(self, want: Want) -> CustomerState:
        self.opened += 1
        return self.inner.read(want)

    def close(self) -> None:
        self.inner.close()


class TestRecalledOnAMemoryStore:
    """What is kept, and what is not, where the store has revisions."""

    @pytest.fixture
    def store(self) -> Counting:
        return Counting()

    @pytest.fixture
    def ledger(self, store: Counting, clock: ManualClock) -> Iterator[Ledger]:
        ledger = Ledger(store, clock=clock)  # type: ignore[arg-type]
        ledger.create("c1", "messages", included=3, reset="month")
        yield ledger

    def opens(self, store: Counting, call: Callable[[], object]) -> int:
        before = store.opened
        call()
        return store.opened - before

    def test_an_unchanged_answer_opens_no_transaction(
        self, ledger: Ledger, store: Counting, clock: ManualClock
    ) -> None:
        first = ledger.check("c1", "messages")
        clock.advance(days=3)
        assert self.opens(store, lambda: ledger.check("c1", "messages")) == 0
        assert ledger.check("c1", "messages") is first
        # another amount or preview is another question
        assert self.opens(store, lambda: ledger.check("c1", "messages", required_balance=2)) == 1
        assert self.opens(store, lambda: ledger.check("c1", "messages", with_preview=True)) == 1

    def test_a_kept_answer_skips_parsing_the_same_arguments(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Arguments exactly as a kept answer was asked (str ids, an int amount, no
        properties, send_event or lock) find it before they are parsed again."""
        from meterlib.arguments import usage

        first = ledger.check("c1", "messages", entity_id=None, required_balance=2)

        def refused(*args: object, **kw: object) -> object:
            raise AssertionError("parsed again")

        monkeypatch.setattr(usage, "check_args", refused)
        assert ledger.check("c1", "messages", required_balance=2) is first
        with pytest.raises(AssertionError, match="parsed again"):  # not this question
            ledger.check("c1", "messages", required_balance=2, with_preview=True)

    @pytest.mark.parametrize(
        "bad",
        [
            {"required_balance": True},  # equal to 1 and hashed alike, but not an amount
            {"with_preview": 1},
            {"entity_id": 7},
            {"entity_id": ["e1"]},
            {"send_event": 0},
            {"properties": "not a dict"},
        ],
    )
    def test_a_kept_answer_never_passes_bad_arguments(self, ledger: Ledger, bad: dict) -> None:
        ledger.check("c1", "messages")
        ledger.check("c1", "messages", required_balance=1, with_preview=False)
        with pytest.raises(MeterError) as caught:
            ledger.check("c1", "messages", **bad)
        assert caught.value.code == "invalid_inputs"

    def test_odd_ids_are_refused_not_looked_up(self, ledger: Ledger) -> None:
        for customer_id in (["c1"], {"c1": 1}, 7):
            with pytest.raises(MeterError):
                ledger.check(customer_id, "messages")  # type: ignore[arg-type]

    def test_an_entity_and_properties(
        self, ledger: Ledger, store: Counting, clock: ManualClock
    ) -> None:
        """An entity's check is kept apart from its customer's; properties matter only to
        billing controls, so a check that differs only in them is answered alike."""
        ledger.create_entity("c1", "e1")
        ledger.create("c1", "messages", entity_id="e1", included=2)
        customer = ledger.check("c1", "messages", required_balance=4)
        entity = ledger.check("c1", "messages", entity_id="e1", required_balance=4)
        assert not customer.allowed and entity.allowed  # 3 of its own; 3 and the entity's 2
        assert ledger.check("c1", "messages", required_balance=4) is customer
        regional = ledger.check("c1", "messages", required_balance=4, properties={"region": "eu"})
        assert regional is customer
        assert ledger.check("c1", "messages", entity_id="e1", required_balance=4) is entity
        ledger.track("c1", "messages", entity_id="e1", value=2)
        assert not same_as_fresh(
            ledger, clock, "c1", "messages", entity_id="e1", required_balance=4
        ).allowed

    def test_not_kept_under_an_entitys_billing_controls(
        self, ledger: Ledger, store: Counting
    ) -> None:
        ledger.create_entity("c1", "e1")
        ledger.update_entity(
            "c1",
            "e1",
            billing_controls={
                "usage_limits": [{"feature_id": "messages", "limit": 9, "interval": "day"}]
            },
        )
        ledger.check("c1", "messages", entity_id="e1")
        assert self.opens(store, lambda: ledger.check("c1", "messages", entity_id="e1")) == 1
        # the customer's own check is not under the entity's controls
        ledger.check("c1", "messages")
        assert self.opens(store, lambda: ledger.check("c1", "messages")) == 0

    @pytest.mark.parametrize(
        "kw",
        [
            lambda n: {"send_event": True, "required_balance": 0},
            lambda n: {"lock": {"lock_id": f"l{n}"}, "required_balance": 0},
        ],
        ids=["send_event", "lock"],
    )
    def test_deducting_checks_are_always_worked_out(
        self, ledger: Ledger, store: Counting, kw: Callable[[int], dict[str, object]]
    ) -> None:
        ledger.create_entity("c1", "e1")
        for n in range(2):
            before = store.opened
            ledger.check("c1", "messages", **kw(n))  # type: ignore[arg-type]
            assert store.opened == before + 1

    def test_not_kept_while_a_lock_is_held(self, ledger: Ledger, store: Counting) -> None:
        ledger.check("c1", "messages", lock={"lock_id": "l1"})
        ledger.check("c1", "messages")
        assert self.opens(store, lambda: ledger.check("c1", "messages")) == 1

    def test_not_kept_under_billing_controls(self, ledger: Ledger, store: Counting) -> None:
        ledger.update_customer(
            "c1",
            billing_controls={
                "usage_limits": [{"feature_id": "messages", "limit": 9, "interval": "day"}]
            },
        )
        ledger.check("c1", "messages")
        assert self.opens(store, lambda: ledger.check("c1", "messages")) == 1

    def test_another_customers_change_keeps_the_answer(
        self, ledger: Ledger, store: Counting
    ) -> None:
        ledger.create("c2", "messages", included=3)
        ledger.check("c1", "messages")
        ledger.track("c2", "messages")
        assert self.opens(store, lambda: ledger.check("c1", "messages")) == 0

    def test_bounded(self, ledger: Ledger) -> None:
        for n in range(LIMIT + 10):
            ledger.check("c1", "messages", required_balance=n)
        assert ledger._recent is not None
        assert len(ledger._recent._kept) <= LIMIT

    def test_shared_answer_read_by_threads(self, ledger: Ledger) -> None:
        """Two threads reading the deferred balance of one recalled answer both get it."""
        answer = ledger.check("c1", "messages")
        assert ledger.check("c1", "messages") is answer
        start = threading.Barrier(8)
        seen: list[object] = []

        def read() -> None:
            start.wait()
            seen.append(answer.balance)

        threads = [threading.Thread(target=read) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(seen) == 8 and all(b == seen[0] for b in seen)

    def test_a_deferred_field_read_after_another_reader_built_them(self, ledger: Ledger) -> None:
        """The slot a reader found empty was filled by another before it looked at `_details`."""
        answer = ledger.check("c1", "messages")
        balance = answer.balance
        assert answer.__getattr__("balance") == balance  # what the late reader runs


def test_stores_without_revisions_keep_nothing() -> None:
    """Only a store offering `revision` gets answers kept."""
    assert Ledger(MemoryStore())._recent is not None
    with Ledger(SQLiteStore(":memory:")) as ledger:
        assert ledger._recent is None


def test_an_amount_is_answered_as_it_was_asked(ledger: Ledger) -> None:
    """1 and 1.0 are equal amounts but not the same answer: each keeps its own digits."""
    ledger.create("c1", "messages", included=3)
    for _ in range(2):
        assert repr(ledger.check("c1", "messages", required_balance="1.0").required_balance) == (
            "Decimal('1.0')"
        )
        assert repr(ledger.check("c1", "messages", required_balance=1).required_balance) == (
            "Decimal('1')"
        )


class Recall(RuleBasedStateMachine):
    """Random writes (entities' grants and billing controls among them) and clock moves on a
    MemoryStore, and after each, plain checks by a Ledger that keeps answers and by a new one:
    they must answer alike."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(START)
        self.store = MemoryStore()
        self.ledger = Ledger(self.store, clock=self.clock)
        self.ledger.create_feature("f")
        self.ledger.create_feature("g")
        self.ledger.create_feature("credits", type="credit_system", credit_schema={"f": 2})
        for customer in ("c1", "c2"):
            self.ledger.create_customer(customer)
            self.ledger.create_entity(customer, "e1")
        self.locks = 0

    @rule(
        customer=customers,
        entity=entities,
        feature=st.sampled_from(["f", "f", "g", "credits"]),
        included=st.integers(0, 5),
        reset=st.sampled_from([None, "minute", "hour", "day", "week", "month"]),
        rollover=st.booleans(),
        expires_in=st.one_of(st.none(), st.integers(1, 3 * DAY)),
    )
    def create(
        self,
        *,
        customer: str,
        entity: str | None,
        feature: str,
        included: int,
        reset: str | None,
        rollover: bool,
        expires_in: int | None,
    ) -> None:
        with suppress(MeterError):  # e.g. an expiry before the first rollover
            self.ledger.create(
                customer,
                feature,
                entity_id=entity,
                included=included,
                reset=reset,
                rollover={"length": 1, "max": 8} if rollover and reset is not None else None,
                expires_at=None if expires_in is None else self.clock() + expires_in,
            )

    @rule(
        customer=customers,
        entity=entities,
        feature=st.sampled_from(["f", "g"]),
        value=st.integers(-1, 4),
    )
    def track(self, customer: str, entity: str | None, feature: str, value: int) -> None:
        self.ledger.track(customer, feature, entity_id=entity, value=value)

    @rule(customer=customers, entity=entities, limit=st.one_of(st.none(), st.integers(0, 6)))
    def controls(self, customer: str, entity: str | None, limit: int | None) -> None:
        """A daily usage limit of f on the customer or its entity (None: cleared)."""
        limits = [] if limit is None else [{"feature_id": "f", "limit": limit, "interval": "day"}]
        if entity is None:
            self.ledger.update_customer(customer, billing_controls={"usage_limits": limits})
        else:
            self.ledger.update_entity(customer, entity, billing_controls={"usage_limits": limits})

    @rule(customer=customers, remaining=st.integers(0, 5))
    def update(self, customer: str, remaining: int) -> None:
        with suppress(MeterError):  # no grant of f yet, or more than one
            self.ledger.update(customer, "f", remaining=remaining)

    @rule(customer=customers, expires_in=st.one_of(st.none(), st.integers(1, DAY)))
    def lock(self, customer: str, expires_in: int | None) -> None:
        self.locks += 1
        held: dict[str, object] = {"lock_id": f"l{self.locks}"}
        if expires_in is not None:
            held["expires_at"] = self.clock() + expires_in
        with suppress(MeterError):
            self.ledger.check(customer, "f", required_balance=1, lock=held)

    @rule(n=st.integers(1, 20), release=st.booleans())
    def finalize(self, n: int, release: bool) -> None:
        with suppress(MeterError):
            self.ledger.finalize(f"l{n}", action="release" if release else "confirm")

    @rule(ms=st.sampled_from([1, 999, 30_000, 60_000, 3_600_000, DAY, 7 * DAY, 31 * DAY]))
    def advance(self, ms: int) -> None:
        self.clock.advance(milliseconds=ms)

    @rule(ms=st.sampled_from([1, 60_000, DAY]))
    def set_back(self, ms: int) -> None:
        self.clock.advance(milliseconds=-ms)

    def compare(self, customer: str) -> None:
        asked = product(("f", "g", "credits"), (1, 3, "2.5"), (None, "e1"), (None, {"n": 1}))
        for feature, required, entity, properties in asked:
            kw: dict[str, Any] = {
                "required_balance": required,
                "entity_id": entity,
                "properties": properties,
            }
            kept = self.ledger.check(customer, feature, **kw)
            new = Ledger(self.store, clock=self.clock).check(customer, feature, **kw)
            assert kept == new
            assert kept.to_dict() == new.to_dict()

    @rule(customer=customers)
    def check(self, customer: str) -> None:
        """Every feature and amount, now and then on each side of the instants the answers
        were kept from and until (where a wrong bound would show), a while later, and back."""
        self.compare(customer)
        assert self.ledger._recent is not None
        kept = list(self.ledger._recent._kept.values())
        instants = {since - 1 for _, since, _, _ in kept}
        for _, _, until, _ in kept:
            if until is not None:
                instants |= {until - 1, until}
        now = self.clock()
        # and later on, where something the bounds ignore (a usage window) may have moved on
        instants |= {now + 1, now + 3_600_000, now + DAY, now + 32 * DAY}
        for at in sorted(instants):
            self.clock.set(at)
            self.compare(customer)
        self.clock.set(now)


def test_recalled_answers_match_new_ones() -> None:
    run_state_machine_as_test(
        Recall, settings=settings(max_examples=60, stateful_step_count=40, deadline=None)
    )
