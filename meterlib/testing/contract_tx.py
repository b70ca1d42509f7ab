"""The store contract's listings and transactions: orders and filters of every list, event
pages, sequences, rollback on an exception, and what a transaction sees."""

from __future__ import annotations

from decimal import Decimal

from meterlib.models import (
    DeductionRecord,
    EventRecord,
    RolloverLot,
)
from meterlib.stores.protocol import Store
from meterlib.testing.builders import (
    T0,
    customer,
    entity,
    event,
    events,
    feature,
    grant,
    lock,
    seqs,
)
from meterlib.testing.contract import Contract, Rollback


class Transactions(Contract):
    """Lists in their orders, event filters and pages, sequences, rollback and visibility."""

    # --- orders and filters ----------------------------------------------------------

    def test_list_features_in_seq_order(self) -> None:
        """Features are listed by seq, not by id or insertion."""
        with self._store() as store:
            with store.transaction() as tx:
                for fid, seq in (("b", 3), ("c", 1), ("a", 2)):
                    tx.add_feature(feature(fid, seq=seq))
            with store.transaction(write=False) as tx:
                assert [f.id for f in tx.list_features()] == ["c", "a", "b"]

    def test_list_customers_in_id_order(self) -> None:
        """Customers are listed by id."""
        with self._store() as store:
            with store.transaction() as tx:
                for cid in ("cus_b", "cus_c", "cus_a", "Cus_z"):
                    tx.put_customer(customer(cid))
            with store.transaction(write=False) as tx:
                assert [c.id for c in tx.list_customers()] == ["Cus_z", "cus_a", "cus_b", "cus_c"]

    def test_list_grants_per_customer_in_seq_order(self) -> None:
        """A customer's grants, its entities' and expired ones included, come in seq order."""
        mine = [
            grant("g_c", 3, expires_at=T0 - 1),
            grant("g_a", 1, entity_id="seat_1"),
            grant("g_b", 2),
        ]
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_grants(mine)
                tx.put_grants(iter([grant("g_other", 0, customer_id="cus_2")]))
            with store.transaction(write=False) as tx:
                assert [g.id for g in tx.list_grants("cus_1")] == ["g_a", "g_b", "g_c"]
                assert [g.id for g in tx.list_grants("cus_2")] == ["g_other"]
                assert tx.list_grants("nobody") == []

    def test_delete_grants(self) -> None:
        """Deleted grants (and their rollovers) are gone; unknown ids are ignored."""
        lots = (RolloverLot(id="ro_1", balance=Decimal(1)),)
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_grants([grant("g1", 1, rollovers=lots), grant("g2", 2), grant("g3", 3)])
                tx.put_grants([grant("h1", 4, customer_id="cus_2")])
            with store.transaction() as tx:
                tx.delete_grants(iter(["g1", "h1", "nope"]))
                tx.delete_grants([])
            with store.transaction(write=False) as tx:
                assert [g.id for g in tx.list_grants("cus_1")] == ["g2", "g3"]
                assert tx.list_grants("cus_2") == []
            with store.transaction() as tx:
                tx.put_grants([grant("g1", 1)])
            with store.transaction(write=False) as tx:
                assert tx.list_grants("cus_1")[0] == grant("g1", 1)

    def test_locks_per_customer_in_creation_order(self) -> None:
        """Open locks are listed per customer by (created_at, lock_id); deleted ones vanish."""
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_lock(lock("lk_b", created_at=T0))
                tx.put_lock(lock("lk_c", created_at=T0 - 1))
                tx.put_lock(lock("lk_a", created_at=T0))
                tx.put_lock(lock("lk_x", customer_id="cus_2"))
            with store.transaction(write=False) as tx:
                assert [x.lock_id for x in tx.list_locks("cus_1")] == ["lk_c", "lk_a", "lk_b"]
            with store.transaction() as tx:
                tx.delete_lock("lk_a")
                tx.delete_lock("missing")
            with store.transaction(write=False) as tx:
                assert [x.lock_id for x in tx.list_locks("cus_1")] == ["lk_c", "lk_b"]
                assert tx.get_lock("lk_a") is None
                assert [x.lock_id for x in tx.list_locks("cus_2")] == ["lk_x"]
                assert tx.list_locks("nobody") == []

    def _with_events(self, store: Store, recorded: list[EventRecord]) -> None:
        with store.transaction() as tx:
            for e in recorded:
                tx.add_event(e)

    def test_events_newest_first(self) -> None:
        """Events come newest first by (timestamp, seq), whatever order they were added in."""
        recorded = [event(3, T0), event(1, T0 + 5), event(2, T0), event(4, T0 - 5)]
        with self._store() as store:
            self._with_events(store, recorded)
            with store.transaction(write=False) as tx:
                assert seqs(events(tx)) == [1, 3, 2, 4]
                assert seqs(events(tx, limit=2)) == [1, 3]
                assert seqs(events(tx, limit=1)) == [1]

    def test_events_before_cursor(self) -> None:
        """`before=(timestamp, seq)` keeps only strictly older events, and pages cover all."""
        recorded = [event(s, T0 + (s // 3)) for s in range(1, 11)]
        with self._store() as store:
            self._with_events(store, recorded)
            with store.transaction(write=False) as tx:
                assert seqs(events(tx, before=(T0 + 1, 4))) == [3, 2, 1]
                assert seqs(events(tx, before=(T0 + 1, 5))) == [4, 3, 2, 1]
                assert seqs(events(tx, before=(T0 + 2, 0))) == [5, 4, 3, 2, 1]
                pages: list[int] = []
                cursor: tuple[int, int] | None = None
                while True:
                    page = events(tx, before=cursor, limit=3)
                    if not page:
                        break
                    pages += seqs(page)
                    cursor = (page[-1].timestamp, page[-1].seq)
                assert pages == list(range(10, 0, -1))

    def test_events_window_start_inclusive_end_exclusive(self) -> None:
        """`start` is inclusive and `end` exclusive."""
        recorded = [event(s, T0 + s) for s in range(1, 6)]
        with self._store() as store:
            self._with_events(store, recorded)
            with store.transaction(write=False) as tx:
                assert seqs(events(tx, start=T0 + 2, end=T0 + 4)) == [3, 2]
                assert seqs(events(tx, start=T0 + 5)) == [5]
                assert seqs(events(tx, end=T0 + 1)) == []
                assert seqs(events(tx, start=T0 + 2, end=T0 + 5, before=(T0 + 4, 4))) == [3, 2]

    def test_events_filters(self) -> None:
        """Customer, entity and feature filters; a feature matches an event or its deductions."""
        via_credits = (DeductionRecord(feature_id="credits", balance_id="b", value=Decimal(2)),)
        recorded = [
            event(1, T0 + 1, feature_id="api_calls"),
            event(2, T0 + 2, feature_id="tokens", deductions=via_credits),
            event(3, T0 + 3, feature_id=None, deductions=via_credits, entity_id="seat_1"),
            event(4, T0 + 4, customer_id="cus_2", feature_id="credits"),
            event(5, T0 + 5, feature_id="api_calls", entity_id="seat_2"),
        ]
        with self._store() as store:
            self._with_events(store, recorded)
            with store.transaction(write=False) as tx:
                assert seqs(events(tx, customer_id="cus_1")) == [5, 3, 2, 1]
                assert seqs(events(tx, customer_id="cus_2")) == [4]
                assert seqs(events(tx, feature_id="credits")) == [4, 3, 2]
                assert seqs(events(tx, customer_id="cus_1", feature_id="credits")) == [3, 2]
                assert seqs(events(tx, feature_id="tokens")) == [2]
                assert seqs(events(tx, feature_id="api_calls", entity_id="seat_2")) == [5]
                assert seqs(events(tx, customer_id="cus_1", entity_id="seat_1")) == [3]
                assert seqs(events(tx, feature_id="cred")) == []
                assert seqs(events(tx, customer_id="nobody")) == []

    # --- sequences and transactions --------------------------------------------------

    def test_next_seq_is_monotone_per_kind(self) -> None:
        """`next_seq` grows strictly per kind, within and across transactions; an event seq
        is larger than every stored event's."""
        with self._store() as store:
            with store.transaction() as tx:
                grants_1 = [tx.next_seq("grant") for _ in range(3)]
                events_1 = [tx.next_seq("event") for _ in range(2)]
                tx.add_event(event(events_1[-1]))
            with store.transaction() as tx:
                grants_2 = [tx.next_seq("grant") for _ in range(2)]
                event_2 = tx.next_seq("event")
                tx.add_event(event(event_2))
                event_3 = tx.next_seq("event")
                feature_1 = tx.next_seq("feature")
            with store.transaction() as tx:
                event_4 = tx.next_seq("event")
        found = grants_1 + grants_2
        assert found == sorted(set(found))
        assert events_1[0] < events_1[1] < event_2 < event_3
        assert event_4 > event_2
        assert isinstance(feature_1, int)

    def test_rollback_on_exception(self) -> None:
        """An exception inside a transaction undoes all of it and propagates unchanged."""
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_customer(customer("cus_1", name="kept"))
                tx.put_grants([grant("g1", 1, balance=Decimal(5))])
                tx.put_lock(lock("lk_1"))
                last_seq = tx.next_seq("event")
                tx.add_event(event(last_seq))
                tx.put_idempotency_key("k", T0)
            before = self._snapshot(store)
            error = Rollback("abandon")
            try:
                with store.transaction() as tx:
                    tx.add_feature(feature("new", seq=1))
                    tx.put_customer(customer("cus_1", name="changed"))
                    tx.put_customer(customer("cus_2"))
                    tx.put_entity(entity("seat_1"))
                    tx.put_grants([grant("g1", 1, balance=Decimal(0)), grant("g2", 2)])
                    tx.delete_lock("lk_1")
                    tx.put_lock(lock("lk_2"))
                    tx.add_event(event(tx.next_seq("event")))
                    tx.put_idempotency_key("k", T0 + 1)
                    tx.put_idempotency_key("k2", T0 + 1)
                    tx.next_seq("event")
                    tx.delete_grants(["g1"])
                    raise error
            except Rollback as caught:
                assert caught is error
            else:
                raise AssertionError("the exception did not propagate")
            assert self._snapshot(store) == before
            with store.transaction() as tx:
                assert tx.next_seq("event") > last_seq

    def test_reads_see_own_writes_and_commits(self) -> None:
        """A transaction sees its own writes; a later read transaction sees committed data."""
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_customer(customer("cus_1"))
                tx.put_grants([grant("g1", 1)])
                assert tx.get_customer("cus_1") == customer("cus_1")
                assert tx.list_grants("cus_1") == [grant("g1", 1)]
            with store.transaction(write=False) as tx:
                assert tx.get_customer("cus_1") == customer("cus_1")
                assert tx.list_grants("cus_1") == [grant("g1", 1)]
            with store.transaction() as tx:
                tx.put_grants([grant("g1", 1, balance=Decimal(-1))])
            with store.transaction(write=False) as tx:
                assert tx.list_grants("cus_1") == [grant("g1", 1, balance=Decimal(-1))]

    def _snapshot(self, store: Store) -> dict[str, object]:
        with store.transaction(write=False) as tx:
            return {
                "features": tx.list_features(),
                "customers": tx.list_customers(),
                "entities": tx.list_entities("cus_1"),
                "grants": [tx.list_grants(c) for c in ("cus_1", "cus_2")],
                "locks": tx.list_locks("cus_1"),
                "events": events(tx),
                "keys": [tx.get_idempotency_key(k) for k in ("k", "k2")],
            }
