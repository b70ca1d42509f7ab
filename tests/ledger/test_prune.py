"""`Ledger.prune(before)`: older events go, their hourly totals stay, balances never change;
spent idempotency keys go too. Every test runs over every store."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterlib import InvalidRequest, Ledger, ManualClock, PruneReport
from meterlib.hourly_totals import HOUR_MS, HourlyTotal, totals_of
from meterlib.models import EventRecord
from meterlib.pruning import prune

ALL = 1 << 62
_customers = itertools.count()


def totals(ledger: Ledger) -> list[HourlyTotal]:
    with ledger.store.transaction(write=False) as tx:
        return tx.list_hourly_totals(-ALL, ALL)


@pytest.fixture
def metered(ledger: Ledger, clock: ManualClock) -> Ledger:
    ledger.create("c1", "api", included=1000, reset="month")
    ledger.create("c1", "seats", included=10)
    ledger.create_entity("c1", "e1")
    for n in range(6):  # one track every 20 minutes: 10 past 12:00 ... 12:50, 13:10, 13:30, 13:50
        clock.advance(minutes=10 if n == 0 else 20)
        ledger.track("c1", "api", value=Decimal("1.5") * (n + 1), entity_id="e1" if n % 2 else None)
    return ledger


def test_older_events_go_and_their_hourly_totals_stay(metered: Ledger, clock: ManualClock) -> None:
    start = clock() - 110 * 60_000  # 12:00
    before_balances = metered.balances("c1")
    listed = metered.events(limit=100).events
    report = metered.prune(start + 75 * 60_000)  # 13:15: the first four events
    assert report == PruneReport(events_removed=4, keys_removed=0)
    assert metered.events(limit=100).events == listed[:2]
    assert metered.balances("c1") == before_balances
    hour = start - start % HOUR_MS
    assert totals(metered) == [
        HourlyTotal("c1", None, "api", hour, Decimal("1.5") + Decimal("4.5"), 2),
        HourlyTotal("c1", "e1", "api", hour, Decimal("3.0"), 1),
        HourlyTotal("c1", "e1", "api", hour + HOUR_MS, Decimal("6.0"), 1),
    ]


def test_a_second_prune_adds_to_the_same_hour(metered: Ledger, clock: ManualClock) -> None:
    start = clock() - 110 * 60_000
    metered.prune(start + 75 * 60_000)
    report = metered.prune(clock() + 1)
    assert report.events_removed == 2
    assert metered.events(limit=100).events == ()
    found = {(t.entity_id, t.hour): (t.value, t.events) for t in totals(metered)}
    hour = start - start % HOUR_MS
    assert found[("e1", hour + HOUR_MS)] == (Decimal("6.0") + Decimal("9.0"), 2)
    assert found[(None, hour + HOUR_MS)] == (Decimal("7.5"), 1)
    with metered.store.transaction(write=False) as tx:
        assert tx.pruned_through() == clock() + 1


def test_pruned_through_never_moves_back(metered: Ledger, clock: ManualClock) -> None:
    metered.prune(clock())
    metered.prune(clock() - 3 * HOUR_MS)
    with metered.store.transaction(write=False) as tx:
        assert tx.pruned_through() == clock()


def test_spent_keys_go_and_live_ones_stay(ledger: Ledger, clock: ManualClock) -> None:
    ledger.create("c1", "api", included=100)
    for n in range(5):
        ledger.claim_idempotency_key(f"old{n}")
    clock.advance(days=2)
    ledger.claim_idempotency_key("new")  # sweeps two of the five on its way
    report = ledger.prune(clock() - 3 * 86_400_000)
    assert report == PruneReport(events_removed=0, keys_removed=3)
    with ledger.store.transaction(write=False) as tx:
        assert [k for k, _ in tx.list_idempotency_keys(-1)] == ["request:new"]


def test_bad_before_writes_nothing(metered: Ledger) -> None:
    with pytest.raises(InvalidRequest, match="before"):
        metered.prune("yesterday")
    with metered.store.transaction(write=False) as tx:
        assert tx.pruned_through() is None


values = st.decimals(min_value=-50, max_value=500, places=2)
steps = st.lists(
    st.tuples(
        st.integers(0, 3 * HOUR_MS),  # clock move before the track
        st.sampled_from(["api", "seats"]),
        values,
        st.sampled_from([None, "e1"]),
    ),
    min_size=1,
    max_size=12,
)


def records(ledger: Ledger, customer: str | None) -> list[EventRecord]:
    """The customer's stored events, newest first."""
    with ledger.store.transaction(write=False) as tx:
        return tx.list_events(
            customer_id=customer,
            feature_id=None,
            entity_id=None,
            start=None,
            end=None,
            before=None,
            limit=1000,
        )


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(program=steps, cut=st.integers(0, 40 * HOUR_MS), chunk=st.integers(1, 5))
def test_any_prune_keeps_balances_and_sums(
    ledger: Ledger,
    clock: ManualClock,
    program: list[tuple[int, str, Decimal, str | None]],
    cut: int,
    chunk: int,
) -> None:
    """Whatever was tracked and wherever the cut (in chunks of any size): balances are
    unchanged, the newer events stay, and the older ones are summed into hourly totals."""
    customer = f"c{next(_customers)}"  # one ledger serves every example: a new customer each
    clock.advance(days=2)  # and a new time: an earlier example's prune cut stays behind
    ledger.create(customer, "api", included=1000, reset="day")
    ledger.create(customer, "seats", included=10)
    ledger.create_entity(customer, "e1")
    start = clock()
    for move, feature, value, entity in program:
        clock.advance(milliseconds=move)
        ledger.track(customer, feature, value=value, entity_id=entity)
    stored = records(ledger, customer)
    balances = ledger.balances(customer)
    before = start + cut
    everyone = records(ledger, None)  # earlier examples' customers left some events too
    report = prune(ledger.store, clock(), before, chunk=chunk, pause=lambda seconds: None)
    assert report.events_removed == sum(1 for e in everyone if e.timestamp < before)
    older = [e for e in stored if e.timestamp < before]
    assert records(ledger, customer) == [e for e in stored if e.timestamp >= before]
    assert ledger.balances(customer) == balances
    assert [t for t in totals(ledger) if t.customer_id == customer] == totals_of(older)


def test_event_ids_are_never_reused_after_a_prune(metered: Ledger, clock: ManualClock) -> None:
    """Pruning the newest events too must not hand their numbers out again."""
    pruned = {e.id for e in metered.events(limit=100).events}
    metered.prune(clock() + 1)
    clock.advance(seconds=1)
    metered.track("c1", "api", value=1)
    (event,) = metered.events(limit=100).events
    assert event.id not in pruned
