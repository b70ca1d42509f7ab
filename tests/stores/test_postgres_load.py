"""PostgresStore's native load and read: exactly today's reads, in one round trip each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pg_state import WANTS, assembled, comparable, round_trips, seed
from postgres_server import psycopg_or_skip, throwaway_store

psycopg_or_skip()

from attrs import evolve  # noqa: E402

from meterlib.effects import Effects  # noqa: E402
from meterlib.models import Counter, Grant, RolloverLot  # noqa: E402
from meterlib.state import Want  # noqa: E402
from meterlib.stores.postgres.store import PostgresStore  # noqa: E402
from meterlib.testing import AMOUNTS, T0, customer, event, feature, grant, lock  # noqa: E402

NAME_TEXT = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))


@pytest.fixture
def store() -> Iterator[PostgresStore]:
    """A seeded PostgresStore on one connection (so its round trips can be counted)."""
    s = throwaway_store()
    one = PostgresStore(s.url, schema=s.schema, min_size=1, max_size=1)
    seed(one, "cus_1")
    seed(one, "cus_2")
    yield one
    one.close()
    s.close()


class TestLoadIsTodaysReads:
    """load and read hand back what today's session reads assemble, digit for digit."""

    @pytest.mark.parametrize("want", WANTS, ids=lambda w: repr(tuple(w))[:60])
    def test_write_load(self, store: PostgresStore, want: Want) -> None:
        """A write transaction's load."""
        with store.transaction(write=False) as tx:
            expected = assembled(tx, want)
        with store.transaction() as tx:
            got = tx.load(want)
        assert comparable(got) == comparable(expected)
        assert list(got.entities) == [e for e in want.entity_ids if e in expected.entities]

    @pytest.mark.parametrize("want", WANTS, ids=lambda w: repr(tuple(w))[:60])
    def test_read_and_read_session_load(self, store: PostgresStore, want: Want) -> None:
        """`store.read` and a read transaction's load."""
        with store.transaction(write=False) as tx:
            expected = assembled(tx, want)
            in_reader = tx.load(want)
        assert comparable(store.read(want)) == comparable(expected)
        assert comparable(in_reader) == comparable(expected)

    def test_metadata_keeps_its_key_order(self, store: PostgresStore) -> None:
        """The caller's dicts come back in the order they were written."""
        state = store.read(Want("cus_1"))
        assert state.customer is not None
        assert list(state.customer.metadata) == ["z", "a", "nested"]

    def test_seqs_are_reserved_ascending_and_never_reused(self, store: PostgresStore) -> None:
        """Want.seqs come back as fresh, ascending numbers of each kind."""
        with store.transaction() as tx:
            first = tx.load(Want("cus_1", seqs=(("event", 3), ("grant", 1))))
            later = tx.reserve("event", 2)
            single = tx.next_seq("event")
        events = first.seqs["event"]
        assert len(events) == 3 and list(events) == sorted(events)
        assert len(first.seqs["grant"]) == 1
        assert events[-1] < later[0] < later[1] < single

    def test_seqs_of_a_new_kind(self, store: PostgresStore) -> None:
        """A kind without a sequence yet gets one (as next_seq does)."""
        with store.transaction() as tx:
            assert tx.load(Want("cus_1", seqs=(("widget", 2),))).seqs == {"widget": (1, 2)}
            assert tx.reserve("widget", 1) == (3,)

    def test_a_read_reserves_nothing(self, store: PostgresStore) -> None:
        """Numbers are a write's: a read refuses to take them."""
        with pytest.raises(RuntimeError):
            store.read(Want("cus_1", seqs=(("event", 1),)))
        with pytest.raises(RuntimeError), store.transaction(write=False) as tx:
            tx.load(Want("cus_1", seqs=(("event", 1),)))

    def test_catalogue_is_shared_until_features_change(self, store: PostgresStore) -> None:
        """One Catalogue per feature set: the same object until a feature is added."""
        first = store.read(Want("cus_1")).catalogue
        with store.transaction() as tx:
            assert tx.load(Want("cus_1")).catalogue is first
            tx.add_feature(feature("tokens", seq=3))
            own = tx.load(Want("cus_1")).catalogue  # its own, uncommitted feature included
        assert [f.id for f in own.features] == ["api_calls", "credits", "tokens"]
        assert store.read(Want("cus_1")).catalogue.by_id.keys() == own.by_id.keys()

    def test_rolled_back_feature_never_enters_the_shared_catalogue(
        self, store: PostgresStore
    ) -> None:
        """A feature written by a transaction that rolled back is not in a later catalogue,
        even when another feature brings the count back to the same number."""
        with pytest.raises(ZeroDivisionError), store.transaction() as tx:
            tx.apply(Effects(features=(feature("ghost", seq=7),)))
            assert "ghost" in tx.load(Want("cus_1")).catalogue.by_id
            1 / 0  # noqa: B018
        with store.transaction() as tx:
            tx.add_feature(feature("real", seq=8))
        ids = list(store.read(Want("cus_1")).catalogue.by_id)
        assert ids == ["api_calls", "credits", "real"]


class TestAfter:
    """`state.after(effects)` is what a new load returns once the effects are applied."""

    def effects(self, first: Grant) -> Effects:
        """Changes of every kind to cus_1's state."""
        return Effects(
            customer=customer("cus_1", name="Renamed", metadata={"b": 1, "a": 2}),
            grants=(
                evolve(first, balance=Decimal("-0")),
                grant("cus_1_new", 99, "cus_1", balance=Decimal("1E+30")),
            ),
            deleted_grants=("cus_1_g2",),
            deleted_locks=("cus_1_lk1", "cus_1_lk2"),
            events=(event(1000, customer_id="cus_1"),),
            counters=(),
            claims=(("track:cus_1", T0 + 77), ("track:never", T0 + 1)),
        )

    @pytest.mark.parametrize("same_transaction", [False, True])
    def test_after_equals_a_new_load(self, store: PostgresStore, same_transaction: bool) -> None:
        """In a new transaction, and in the same one (the load sends the pending writes)."""
        want = Want("cus_1", ("seat_1",), ("track:cus_1", "track:never"), ("cus_1_lk1",))
        with store.transaction() as tx:
            state = tx.load(want)
            effects = self.effects(state.grants[0])
            tx.apply(effects)
            if same_transaction:
                again = tx.load(want)
        if not same_transaction:
            with store.transaction() as tx:
                again = tx.load(want)
        assert comparable(again) == comparable(state.after(effects))


class TestRoundTrips:
    """What each call costs on the wire (libpq's trace: one ReadyForQuery per round trip)."""

    WANT = Want("cus_1", ("seat_1",), ("track:k",), ("cus_1_lk1",), (("event", 1),))

    def load_apply_commit(self, store: PostgresStore, count: Any = lambda: 0) -> list[int]:
        """One transaction of a track's shape; the round trips counted after each step."""
        seen = []
        with store.transaction() as tx:
            state = tx.load(self.WANT)
            seen.append(count())
            tx.apply(Effects(grants=state.grants[:3], events=(event(state.seqs["event"][0]),)))
            tx.apply(Effects(claims=(("track:k", T0),)))
            seen.append(count())
        seen.append(count())
        return seen

    def test_load_apply_commit(self, store: PostgresStore) -> None:
        """load: 1 round trip, BEGIN included; apply: none; the commit with the writes: 1.
        (Once the connection has prepared the statements: the first use costs one more
        round trip for each exchange, `test_statements_are_prepared_once`.)"""
        self.load_apply_commit(store)
        with round_trips(store) as count:
            assert self.load_apply_commit(store, count) == [1, 1, 2]
        assert "BEGIN" in count.text()

    def test_statements_are_prepared_once(self, store: PostgresStore) -> None:
        """A connection's first exchange of each shape prepares its statements in a round
        trip of its own; they outlive a rolled-back transaction (psycopg's `rollback()`
        would drop them: meterlib rolls back past it), so the next one is back to 1 and 2."""
        with round_trips(store) as count:
            assert self.load_apply_commit(store, count) == [2, 2, 4]
        assert "PREPARE" in count.text()
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.load(self.WANT)
            raise RuntimeError("undone")
        with round_trips(store) as count:
            assert self.load_apply_commit(store, count) == [1, 1, 2]
        assert "PREPARE" not in count.text()

    def test_read(self, store: PostgresStore) -> None:
        """read: one autocommit statement, no BEGIN, no COMMIT."""
        with round_trips(store) as count:
            store.read(Want("cus_1", ("seat_1",), ("track:k",), ("cus_1_lk1",)))
            assert count() == 1
            assert "BEGIN" not in count.text() and "COMMIT" not in count.text()

    def test_reserve_and_lock_owner(self, store: PostgresStore) -> None:
        """reserve and lock_owner before anything else: one statement each, no BEGIN."""
        with round_trips(store) as count, store.transaction() as tx:
            assert len(tx.reserve("grant", 2)) == 2
            assert tx.lock_owner("cus_1_lk3") == "cus_1"
            assert tx.lock_owner("lk_none") is None
            assert count() == 3
        assert count() == 3  # nothing began, nothing to commit
        assert "BEGIN" not in count.text()

    def test_a_read_after_apply_carries_the_writes(self, store: PostgresStore) -> None:
        """Any statement after apply sends the pending writes in front of it, same trip."""
        for warm in (False, True):  # the first prepares the statements (more round trips)
            with round_trips(store) as count, store.transaction() as tx:
                state = tx.load(Want("cus_1"))
                tx.apply(Effects(grants=(evolve(state.grants[0], balance=Decimal(5)),)))
                before = count()
                assert tx.list_grants("cus_1")[0].balance == 5
                assert count() == before + 1 or not warm


def _effects(c: str) -> st.SearchStrategy[Effects]:
    """Random writes to customer `c`: grants with lots, deletions, locks, counters, claims."""
    ids = st.sampled_from("abc")
    amount = st.sampled_from(AMOUNTS)
    grants = st.lists(
        st.builds(
            lambda i, s, a: grant(
                f"{c}_{i}", s, c, balance=a, rollovers=(RolloverLot(id=i, balance=-a),)
            ),
            ids,
            st.integers(0, 3),
            amount,
        ),
        max_size=3,
        unique_by=lambda g: g.id,
    )
    locks = st.lists(
        st.builds(
            lambda i, t, a: lock(f"{c}_{i}", c, value=a, created_at=T0 + t),
            ids,
            st.integers(0, 2),
            amount,
        ),
        max_size=2,
        unique_by=lambda lk: lk.lock_id,
    )
    return st.builds(
        Effects,
        features=st.just(()),
        entities=st.just(()),
        events=st.just(()),
        # a name as validation lets one through: no NUL (PostgreSQL's text cannot hold it), no
        # lone surrogate
        customer=st.none()
        | st.builds(lambda n: customer(c, name=n), st.text(NAME_TEXT, max_size=3)),
        grants=grants.map(tuple),
        deleted_grants=st.lists(ids.map(lambda i: f"{c}_{i}"), max_size=2, unique=True).map(tuple),
        locks=locks.map(tuple),
        deleted_locks=st.lists(ids.map(lambda i: f"{c}_{i}"), max_size=1).map(tuple),
        counters=st.lists(
            st.builds(lambda k, a: Counter(customer_id=c, key=k, value=a), ids, amount),
            max_size=2,
            unique_by=lambda k: k.key,
        ).map(tuple),
        claims=st.lists(
            st.tuples(ids.map(lambda k: f"{c}:{k}"), st.integers(0, 2**40)),
            max_size=2,
            unique_by=lambda kv: kv[0],
        ).map(tuple),
        keys_spent_by=st.none(),  # which spent keys a sweep removes is the store's choice
    )


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_apply_then_load_is_after(store: PostgresStore, data: st.DataObject) -> None:
    """Any writes, applied and committed: a new load (and today's reads) give state.after."""
    c = f"cus_{uuid.uuid4().hex[:10]}"
    want = Want(c, keys=tuple(f"{c}:{k}" for k in "abc"), lock_ids=tuple(f"{c}_{k}" for k in "abc"))
    for _ in range(data.draw(st.integers(1, 3))):
        effects = data.draw(_effects(c))
        with store.transaction() as tx:
            state = tx.load(want)
            tx.apply(effects)
        assert comparable(store.read(want)) == comparable(state.after(effects))
    with store.transaction(write=False) as tx:
        assert comparable(tx.load(want)) == comparable(assembled(tx, want))
