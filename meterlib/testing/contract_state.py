"""The state seam of the store contract: `load`, `apply`, `reserve`, `lock_owner`, `read`.

`StateContract` is used like `StoreContract` (subclass it, give it `make_store()`): every
operation of a Ledger reads one `CustomerState` and writes one `Effects`, so a store must
hand back after `apply` exactly what `CustomerState.after` says, in the same transaction and
after the commit, and nothing of an `apply` that was rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from meterlib.effects import Effects
from meterlib.models import Counter, Feature
from meterlib.state import CustomerState, Want
from meterlib.stores.protocol import Store
from meterlib.testing import T0, customer, entity, event, feature, grant, lock

__all__ = ["StateContract"]

_CONTROLS = {"spend_limits": [{"feature_id": "api_calls", "limit": 10}]}
_WANT = Want("cus_1", entity_ids=("seat_1", "seat_9"), keys=("k1",), lock_ids=("lk_1", "lk_9"))


class _Rollback(Exception):
    """Raised inside a transaction to abandon it."""


def _counter(key: str, used: str) -> Counter:
    return Counter(customer_id="cus_1", key=key, value=Decimal(used), window_start=T0)


def _comparable(state: CustomerState) -> tuple[object, ...]:
    """Everything a load answers, with the catalogue as its features and no revision (a
    store's own count, compared by `Recalls` tests)."""
    return (
        state.customer_id,
        state.customer,
        dict(state.entities),
        state.grants,
        state.locks,
        dict(state.counters),
        dict(state.named_locks),
        dict(state.claims),
        state.catalogue.features,
    )


class StateContract:
    """The state seam's rules, as tests; subclasses provide `make_store()`."""

    def make_store(self) -> Store:
        """A new, empty store (the one hook)."""
        raise NotImplementedError

    @contextmanager
    def _store(self) -> Iterator[Store]:
        store = self.make_store()
        try:
            with store.transaction() as tx:
                tx.add_feature(feature("api_calls", seq=1))
                tx.put_customer(customer("cus_1", billing_controls=_CONTROLS))
                tx.put_entity(entity("seat_1"))
                tx.put_grants([grant("g1", 1, balance=Decimal(5)), grant("g2", 2)])
                tx.put_lock(lock("lk_1"))
                tx.put_counters([_counter("a", "1")])
                tx.put_idempotency_key("k1", T0)
            yield store
        finally:
            store.close()

    def _effects(self) -> Effects:
        return Effects(
            features=(Feature(id="credits", seq=2),),
            customer=customer("cus_1", name="renamed", billing_controls=_CONTROLS),
            entities=(entity("seat_1", name="renamed"),),
            grants=(grant("g1", 1, balance=Decimal("4.5")), grant("g3", 3)),
            deleted_grants=("g2",),
            locks=(lock("lk_2", created_at=T0 + 1),),
            deleted_locks=("lk_1",),
            events=(event(7),),
            counters=(_counter("a", "2"), _counter("b", "0.1")),
            claims=(("k1", T0 + 5),),
        )

    def test_load_answers_what_was_written(self) -> None:
        """A load holds the customer, the wanted entities that exist, grants in seq order,
        open locks, counters (controls bear on the customer), named locks and claims."""
        with self._store() as store, store.transaction() as tx:
            state = tx.load(_WANT)
            assert state.customer == customer("cus_1", billing_controls=_CONTROLS)
            assert dict(state.entities) == {"seat_1": entity("seat_1")}
            assert state.grants == (grant("g1", 1, balance=Decimal(5)), grant("g2", 2))
            assert state.locks == (lock("lk_1"),)
            assert dict(state.counters) == {"a": _counter("a", "1")}
            assert dict(state.named_locks) == {"lk_1": lock("lk_1"), "lk_9": None}
            assert dict(state.claims) == {"k1": T0}
            assert [f.id for f in state.catalogue.features] == ["api_calls"]

    def test_load_holds_the_entities_of_open_locks(self) -> None:
        """An open lock's entity is loaded though the call did not name it."""
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_entity(entity("seat_2"))
                tx.put_lock(lock("lk_2", entity_id="seat_2", created_at=T0 + 1))
            state = store.read(Want("cus_1"))
            assert dict(state.entities) == {"seat_2": entity("seat_2")}

    def test_an_unknown_customer_loads_empty(self) -> None:
        """A customer that is not there loads as None with nothing of its own."""
        with self._store() as store:
            state = store.read(Want("nobody", keys=("k2",)))
            assert state.customer is None
            assert (state.grants, state.locks, dict(state.counters)) == ((), (), {})
            assert dict(state.claims) == {"k2": None}

    def test_load_after_apply_is_after(self) -> None:
        """In the same transaction and after the commit, a load sees exactly
        `state.after(effects)`."""
        with self._store() as store:
            effects = self._effects()
            with store.transaction() as tx:
                before = tx.load(_WANT)
                tx.apply(effects)
                expected = _comparable(before.after(effects))
                assert _comparable(tx.load(_WANT)) == expected
            assert _comparable(store.read(_WANT)) == expected
            with store.transaction(write=False) as tx:
                events = tx.list_events(
                    customer_id="cus_1",
                    feature_id=None,
                    entity_id=None,
                    start=None,
                    end=None,
                    before=None,
                    limit=10,
                )
                assert events == [event(7)]

    def test_read_is_a_load_in_a_read_transaction(self) -> None:
        """`store.read` answers what a read transaction's load answers."""
        with self._store() as store:
            with store.transaction(write=False) as tx:
                loaded = tx.load(_WANT)
            assert _comparable(store.read(_WANT)) == _comparable(loaded)

    def test_seqs_reserved_ascending_and_unique(self) -> None:
        """Numbers reserved by loads and `reserve` grow and never repeat, per kind."""
        with self._store() as store:
            got: list[int] = []
            for _ in range(2):
                with store.transaction() as tx:
                    state = tx.load(_WANT._replace(seqs=(("event", 3),)))
                    got += state.seqs["event"]
                    got += tx.reserve("event", 2)
            assert got == sorted(got)
            assert len(set(got)) == len(got) == 10
            with store.transaction() as tx:
                grants = tx.reserve("grant", 2)
                assert grants[0] < grants[1]

    def test_lock_owner(self) -> None:
        """The customer holding an open lock, None for an unknown one."""
        with self._store() as store, store.transaction() as tx:
            assert tx.lock_owner("lk_1") == "cus_1"
            assert tx.lock_owner("lk_9") is None

    def test_rollback_leaves_nothing(self) -> None:
        """An exception after `apply` leaves the state as it was."""
        with self._store() as store:
            before = _comparable(store.read(_WANT))
            try:
                with store.transaction() as tx:
                    tx.load(_WANT)
                    tx.apply(self._effects())
                    raise _Rollback
            except _Rollback:
                pass
            assert _comparable(store.read(_WANT)) == before
