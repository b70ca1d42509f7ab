"""The store contract for the catalogue edits: pages of customers and entities, the rows
that use a feature, a feature replaced or deleted, a customer or an entity deleted."""

from __future__ import annotations

from meterlib.catalogue_edits import CatalogueEdits
from meterlib.testing.builders import customer, entity, event, events, feature, grant, lock
from meterlib.testing.contract import Contract


class CatalogueEditing(Contract):
    """`page_customers`, `page_entities`, `feature_users` and `apply_edits`."""

    def test_pages_in_code_point_order(self) -> None:
        """Customers after a key in code-point order, at most `limit`; entities by
        (customer, id), of one customer or of all."""
        with self._store() as store:
            with store.transaction() as tx:
                for cid in ("b", "Z", "a", "ä"):
                    tx.put_customer(customer(cid))
                for cid, eid in (("b", "y"), ("a", "y"), ("a", "x"), ("ä", "x")):
                    tx.put_entity(entity(eid, cid))
            with store.transaction(write=False) as tx:
                assert [c.id for c in tx.page_customers(after=None, limit=3)] == ["Z", "a", "b"]
                assert [c.id for c in tx.page_customers(after="a", limit=5)] == ["b", "ä"]
                keys = [
                    (e.customer_id, e.id)
                    for e in tx.page_entities(customer_id=None, after=("a", "x"), limit=2)
                ]
                assert keys == [("a", "y"), ("b", "y")]
                mine = tx.page_entities(customer_id="a", after=None, limit=5)
                assert [e.id for e in mine] == ["x", "y"]
                assert tx.page_entities(customer_id="a", after=("a", "y"), limit=5) == []

    def test_feature_users(self) -> None:
        """Every grant (of any customer), entity and lock naming the feature, nothing else."""
        with self._store() as store:
            with store.transaction() as tx:
                tx.add_feature(feature("api_calls", seq=1))
                tx.put_customer(customer("cus_1"))
                tx.put_customer(customer("cus_2"))
                tx.put_grants(
                    [
                        grant("g1", 1),
                        grant("g2", 2, customer_id="cus_2"),
                        grant("g3", 3, feature_id="other"),
                    ]
                )
                tx.put_entity(entity("seat_1", feature_id="api_calls"))
                tx.put_entity(entity("seat_2", feature_id="other"))
                tx.put_lock(lock("lk_1"))
            with store.transaction(write=False) as tx:
                users = tx.feature_users("api_calls")
            assert [g.id for g in users.grants] == ["g1", "g2"]
            assert [e.id for e in users.entities] == ["seat_1"]
            assert [lk.lock_id for lk in users.locks] == ["lk_1"]

    def test_features_replaced_and_deleted(self) -> None:
        """A replaced feature is what the next catalogue holds (its place kept); a deleted
        one is gone, in this transaction and in later ones."""
        with self._store() as store:
            with store.transaction() as tx:
                tx.add_feature(feature("a", seq=1))
                tx.add_feature(feature("b", seq=2))
                tx.catalogue()  # a store may keep it: the edits must not be hidden by that
            changed = feature("a", name="A", event_names=("sent",), seq=1)
            with store.transaction() as tx:
                tx.apply_edits(CatalogueEdits(features=(changed,), deleted_features=("b",)))
                assert tx.catalogue().ordered == [changed]
            with store.transaction(write=False) as tx:
                assert tx.catalogue().ordered == [changed]
                assert tx.get_feature("b") is None

    def test_customer_deleted_with_all_it_owns(self) -> None:
        """Its entities, grants, locks and events go; another customer's stay."""
        with self._store() as store:
            with store.transaction() as tx:
                for cid in ("cus_1", "cus_2"):
                    tx.put_customer(customer(cid))
                    tx.put_entity(entity("seat_1", cid))
                    tx.put_grants([grant(f"{cid}_g", 1 if cid == "cus_1" else 2, customer_id=cid)])
                    tx.put_lock(lock(f"{cid}_lk", cid))
                    tx.add_event(event(tx.next_seq("event"), customer_id=cid))
            with store.transaction() as tx:
                tx.apply_edits(CatalogueEdits(deleted_customers=("cus_1",)))
            with store.transaction(write=False) as tx:
                assert tx.get_customer("cus_1") is None
                assert tx.list_entities("cus_1") == []
                assert tx.list_grants("cus_1") == []
                assert tx.list_locks("cus_1") == []
                assert events(tx, customer_id="cus_1") == []
                assert [g.id for g in tx.list_grants("cus_2")] == ["cus_2_g"]
                assert [e.customer_id for e in events(tx)] == ["cus_2"]
                assert tx.get_entity("cus_2", "seat_1") is not None

    def test_entity_deleted_alone(self) -> None:
        """The entity row goes; the customer and the other entity stay."""
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_customer(customer())
                tx.put_entity(entity("seat_1"))
                tx.put_entity(entity("seat_2"))
            with store.transaction() as tx:
                tx.apply_edits(CatalogueEdits(deleted_entities=(("cus_1", "seat_1"),)))
            with store.transaction(write=False) as tx:
                assert [e.id for e in tx.list_entities("cus_1")] == ["seat_2"]
                assert tx.get_customer("cus_1") is not None
