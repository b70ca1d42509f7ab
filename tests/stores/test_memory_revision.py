"""MemoryStore.revision: grows with every change a check of the customer could read.

`meterlib.recent_checks` relies on it: an answer is given again only while the revision it
was worked out from is current. So every write of a customer's state must move it, a rollback
too (what was read inside the transaction is gone), and nothing else need.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from meterlib import MemoryStore
from meterlib.models import Counter
from meterlib.stores import StoreSession
from meterlib.testing import customer, entity, event, feature, grant, lock

Write = Callable[[StoreSession], None]


@pytest.fixture
def store() -> MemoryStore:
    """A store with a customer, a grant and a lock of "cus_1", and a customer "cus_2"."""
    store = MemoryStore()
    with store.transaction() as tx:
        tx.add_feature(feature("api_calls"))
        tx.put_customer(customer("cus_1"))
        tx.put_customer(customer("cus_2"))
        tx.put_grants([grant("g1", feature_id="api_calls")])
        tx.put_lock(lock("lk_1"))
    return store


CUSTOMER_WRITES: dict[str, Write] = {
    "put_customer": lambda tx: tx.put_customer(customer("cus_1", name="New")),
    "put_entity": lambda tx: tx.put_entity(entity("seat_1")),
    "put_grants": lambda tx: tx.put_grants([grant("g2", seq=2, feature_id="api_calls")]),
    "delete_grants": lambda tx: tx.delete_grants(["g1"]),
    "put_lock": lambda tx: tx.put_lock(lock("lk_2")),
    "delete_lock": lambda tx: tx.delete_lock("lk_1"),
    "put_counters": lambda tx: tx.put_counters(
        [Counter(customer_id="cus_1", key="k", value=Decimal(1))]
    ),
}
NEUTRAL_WRITES: dict[str, Write] = {
    "add_event": lambda tx: tx.add_event(event(tx.next_seq("event"))),
    "put_idempotency_key": lambda tx: tx.put_idempotency_key("k", 1),
}


@pytest.mark.parametrize("write", CUSTOMER_WRITES.values(), ids=CUSTOMER_WRITES.keys())
def test_a_customer_write_moves_its_revision_only(store: MemoryStore, write: Write) -> None:
    before, other = store.revision("cus_1"), store.revision("cus_2")
    with store.transaction() as tx:
        write(tx)
    assert store.revision("cus_1") > before
    assert store.revision("cus_2") == other


@pytest.mark.parametrize("write", NEUTRAL_WRITES.values(), ids=NEUTRAL_WRITES.keys())
def test_events_and_keys_move_nothing(store: MemoryStore, write: Write) -> None:
    before = store.revision("cus_1")
    with store.transaction() as tx:
        write(tx)
    assert store.revision("cus_1") == before


def test_a_new_feature_moves_every_customer(store: MemoryStore) -> None:
    before = {c: store.revision(c) for c in ("cus_1", "cus_2", "never_seen")}
    with store.transaction() as tx:
        tx.add_feature(feature("credits"))
    for customer_id, revision in before.items():
        assert store.revision(customer_id) > revision


def test_a_rollback_moves_it_again(store: MemoryStore) -> None:
    """Inside the transaction a reader saw the grant; after the rollback it is gone, and the
    revision is neither what that reader saw nor what stood before."""
    before = store.revision("cus_1")
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.put_grants([grant("g2", seq=2, feature_id="api_calls")])
        inside = store.revision("cus_1")
        raise RuntimeError
    after = store.revision("cus_1")
    assert len({before, inside, after}) == 3
    with store.transaction(write=False) as tx:
        assert [g.id for g in tx.list_grants("cus_1")] == ["g1"]


def test_reading_moves_nothing(store: MemoryStore) -> None:
    before = store.revision("cus_1")
    with store.transaction(write=False) as tx:
        tx.list_grants("cus_1")
        tx.list_locks("cus_1")
    assert store.revision("cus_1") == before
