"""delete_customer and delete_entity on every store (API.md "More catalogue calls")."""

from __future__ import annotations

import pytest

from meterlib import (
    CustomerNotFound,
    DuplicateIdempotencyKey,
    EntityNotFound,
    Ledger,
    LockNotFound,
    ManualClock,
)


@pytest.fixture
def seeded(ledger: Ledger) -> Ledger:
    """acme with a grant, a seat entity with its own grant, an event of each, a lock and a
    usage limit (so it has counters); globex beside it."""
    ledger.create("acme", "messages", included=100, reset="month")
    ledger.create("acme", "messages", entity_id="seat-1", included=10)
    ledger.update_customer(
        "acme",
        billing_controls={
            "usage_limits": [{"feature_id": "messages", "limit": 50, "interval": "day"}]
        },
    )
    ledger.track("acme", "messages", value=3, idempotency_key="acme-1")
    ledger.track("acme", "messages", entity_id="seat-1", value=2)
    ledger.check("acme", "messages", required_balance=1, lock={"lock_id": "job"})
    ledger.create("globex", "messages", included=7)
    ledger.track("globex", "messages", value=1)
    return ledger


class TestDeleteCustomer:
    """A deleted customer is unknown afterwards and can be created again from nothing."""

    def test_unknown_customer_is_customer_not_found(self, ledger: Ledger) -> None:
        """Deleting a customer that is not there raises and changes nothing."""
        with pytest.raises(CustomerNotFound):
            ledger.delete_customer("nobody")

    def test_every_call_then_names_an_unknown_customer(self, seeded: Ledger) -> None:
        """Reads, writes and listings of the deleted customer all say it is not there."""
        seeded.delete_customer("acme")
        for call in (
            lambda: seeded.get_customer("acme"),
            lambda: seeded.balances("acme"),
            lambda: seeded.track("acme", "messages"),
            lambda: seeded.events("acme"),
            lambda: seeded.list_entities("acme"),
            lambda: seeded.delete_customer("acme"),
        ):
            with pytest.raises(CustomerNotFound):
                call()
        assert [c.id for c in seeded.list_customers().customers] == ["globex"]
        assert {e.customer_id for e in seeded.events().events} == {"globex"}
        with pytest.raises(LockNotFound):
            seeded.finalize("job")

    def test_created_again_from_nothing(self, seeded: Ledger, clock: ManualClock) -> None:
        """The same id made again has no grants, entities, events, locks or counters."""
        seeded.delete_customer("acme")
        clock.advance(minutes=5)
        again = seeded.create_customer("acme", name="Acme again")
        assert (again.name, again.created_at) == ("Acme again", clock.now())
        assert again.billing_controls == {}
        assert seeded.balances("acme") == {}
        assert seeded.grants("acme", statuses=("active", "expired")) == []
        assert seeded.list_entities("acme").entities == ()
        assert seeded.events("acme").events == ()
        assert seeded.usage_limits("acme") == []
        seeded.create("acme", "messages", included=100)
        seeded.create_entity("acme", "seat-1")
        assert seeded.balance("acme", "messages", entity_id="seat-1").remaining == 100  # type: ignore[union-attr]
        assert seeded.check("acme", "messages", lock={"lock_id": "job"}).allowed  # id is free

    def test_its_pruned_usage_goes_too(self, seeded: Ledger, clock: ManualClock) -> None:
        """The hourly totals a prune kept of its events are the customer's: made again, it has
        used nothing, while the other customer's pruned usage stays."""
        start = clock.now()
        clock.advance(hours=2)
        seeded.prune(clock.now())
        seeded.delete_customer("acme")
        seeded.create_customer("acme")

        def used(customer_id: str) -> object:
            report = seeded.usage(
                "messages", customer_id=customer_id, start=start, end=clock.now(), bin_size="hour"
            )
            return report.total["messages"].sum if "messages" in report.total else 0

        assert used("acme") == 0
        assert used("globex") == 1

    def test_idempotency_keys_are_nobodys_and_stay(self, seeded: Ledger) -> None:
        """Keys are global, not the customer's: a retry within 24 h is still a repeat."""
        seeded.delete_customer("acme")
        seeded.create("acme", "messages", included=10)
        with pytest.raises(DuplicateIdempotencyKey):
            seeded.track("acme", "messages", idempotency_key="acme-1")


class TestDeleteEntity:
    """An entity goes with its grants and its locks; its events stay."""

    def test_unknown_entity_and_customer(self, seeded: Ledger) -> None:
        """An unknown entity is EntityNotFound, an unknown customer CustomerNotFound."""
        with pytest.raises(EntityNotFound):
            seeded.delete_entity("acme", "seat-9")
        with pytest.raises(CustomerNotFound):
            seeded.delete_entity("nobody", "seat-1")

    def test_its_grants_go_and_its_events_stay(self, seeded: Ledger) -> None:
        """The customer's balance no longer counts the seat's grant; the seat's event is kept."""
        assert seeded.balance("acme", "messages").granted == 110  # type: ignore[union-attr]
        seeded.delete_entity("acme", "seat-1")
        balance = seeded.balance("acme", "messages")
        assert balance is not None
        assert (balance.granted, len(balance.breakdown)) == (100, 1)
        with pytest.raises(EntityNotFound):
            seeded.balances("acme", entity_id="seat-1")
        assert [e.value for e in seeded.events("acme", entity_id="seat-1").events] == [2]

    def test_its_locks_go_and_the_customers_stay(self, ledger: Ledger) -> None:
        """A lock the entity holds is gone; the customer's own lock is untouched."""
        ledger.create("acme", "messages", included=100)
        ledger.create_entity("acme", "seat-1")
        ledger.check("acme", "messages", entity_id="seat-1", lock={"lock_id": "seat-job"})
        ledger.check("acme", "messages", required_balance=4, lock={"lock_id": "own-job"})
        ledger.delete_entity("acme", "seat-1")
        with pytest.raises(LockNotFound):
            ledger.finalize("seat-job")
        assert ledger.balance("acme", "messages").remaining == 96  # type: ignore[union-attr]
        ledger.finalize("own-job", action="release")
        assert ledger.balance("acme", "messages").remaining == 100  # type: ignore[union-attr]

    def test_created_again_from_nothing(self, seeded: Ledger) -> None:
        """The same entity id made again has no grants of its own."""
        seeded.delete_entity("acme", "seat-1")
        seeded.create_entity("acme", "seat-1")
        assert seeded.grants("acme", entity_id="seat-1") == []
        assert [e.id for e in seeded.list_entities("acme").entities] == ["seat-1"]


class TestEntityWindows:
    """An entity made again under a deleted one's id starts its usage windows from nothing."""

    def test_windows_start_over(self, ledger: Ledger) -> None:
        """Its own day window counted 3; the new entity of that id counts 0."""
        limit = {"usage_limits": [{"feature_id": "messages", "limit": 10, "interval": "day"}]}
        ledger.create("acme", "messages", included=100)
        ledger.create_entity("acme", "seat-1")
        ledger.update_entity("acme", "seat-1", billing_controls=limit)
        ledger.track("acme", "messages", entity_id="seat-1", value=3)
        assert [w.usage for w in ledger.usage_limits("acme", entity_id="seat-1")] == [3]
        ledger.delete_entity("acme", "seat-1")
        ledger.create_entity("acme", "seat-1")
        ledger.update_entity("acme", "seat-1", billing_controls=limit)
        assert [w.usage for w in ledger.usage_limits("acme", entity_id="seat-1")] == [0]
