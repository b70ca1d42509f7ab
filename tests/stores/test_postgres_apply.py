"""PostgresStore's deferred apply: the writes go with the commit, all or nothing; the locks a
load takes serialise writers without losing an update or deadlocking."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from pg_state import assembled, comparable, seed
from postgres_server import psycopg_or_skip, throwaway_store
from test_postgres import (
    QUICK,
    _terminate,
    _with_application_name,
    lock_timeout,
    run_together,
    server_url,
    sql,
    throwaway_store_at,
)

psycopg_or_skip()

from attrs import evolve  # noqa: E402

from meterlib.effects import Effects  # noqa: E402
from meterlib.errors import StoreError  # noqa: E402
from meterlib.models import Counter  # noqa: E402
from meterlib.state import Want  # noqa: E402
from meterlib.stores.postgres.store import PostgresStore  # noqa: E402
from meterlib.testing import T0, customer, entity, event, events, feature, grant, lock  # noqa: E402


@pytest.fixture
def store() -> Iterator[PostgresStore]:
    """A PostgresStore in an empty schema, cus_1 and cus_2 seeded."""
    s = throwaway_store()
    seed(s, "cus_1")
    seed(s, "cus_2")
    yield s
    s.close()


def balance(store: PostgresStore, grant_id: str = "cus_1_g1") -> Decimal:
    """The committed balance of one grant."""
    with store.transaction(write=False) as tx:
        return next(g.balance for g in tx.list_grants("cus_1") if g.id == grant_id)


def spend(store: PostgresStore, amount: int = 1) -> Decimal:
    """One load → decide → apply of cus_1_g1; the balance it read."""
    with store.transaction() as tx:
        state = tx.load(Want("cus_1", seqs=(("event", 1),)))
        (g,) = (g for g in state.grants if g.id == "cus_1_g1")
        seq = state.seqs["event"][0]
        tx.apply(Effects(grants=(evolve(g, balance=g.balance - amount),), events=(event(seq),)))
        return g.balance


class TestApply:
    """What apply writes, today's reads see; nothing of it before the commit elsewhere."""

    def test_every_part_is_written(self, store: PostgresStore) -> None:
        """Every part of an Effects, applied and committed, is what today's reads return."""
        want = Want("cus_1", ("seat_1", "seat_2"), ("track:a",), ("lk_new", "cus_1_lk1"))
        effects = Effects(
            features=(feature("tokens", seq=30),),
            customer=customer("cus_1", name="New", metadata={"y": Decimal("1E+30")}),
            # CustomerState.after adds no entity the state lacked: seat_9 is not wanted
            entities=(entity("seat_9", "cus_1", name="Nine"), entity("seat_2", "cus_1", name="2")),
            grants=(grant("cus_1_g1", 1, balance=Decimal("-0")), grant("cus_1_x", 50)),
            deleted_grants=("cus_1_g3",),
            locks=(lock("lk_new", "cus_1", value=Decimal("1.10")),),
            deleted_locks=("cus_1_lk1",),
            events=(event(900), event(901, value=Decimal("1E+30"))),
            counters=(Counter(customer_id="cus_1", key="k1", value=Decimal("2.50")),),
            claims=(("track:a", T0 + 9),),
        )
        with store.transaction() as tx:
            state = tx.load(want)
            tx.apply(effects)
        with store.transaction(write=False) as tx:
            now = assembled(tx, want)
            stored = events(tx, customer_id="cus_1")
            assert tx.get_feature("tokens") == feature("tokens", seq=30)
            assert tx.get_entity("cus_1", "seat_9") == entity("seat_9", "cus_1", name="Nine")
        assert comparable(now) == comparable(state.after(effects))
        assert stored[:2] == [event(901, value=Decimal("1E+30")), event(900)]

    def test_nothing_is_visible_before_the_commit(self, store: PostgresStore) -> None:
        """Applied effects wait for the commit: another connection sees the old state, this
        transaction (a read on its thread included) its own."""
        with store.transaction() as tx:
            tx.load(Want("cus_1"))
            tx.apply(Effects(customer=customer("cus_1", name="Later")))
            assert store.read(Want("cus_1")).customer.name == "Later"  # type: ignore[union-attr]
            (row,) = sql(
                store.url, f'SELECT name FROM "{store.schema}".customers WHERE id = %s', ("cus_1",)
            )
            assert row == (None,)
        assert store.read(Want("cus_1")).customer.name == "Later"  # type: ignore[union-attr]

    def test_a_rolled_back_transaction_writes_nothing(self, store: PostgresStore) -> None:
        """An exception after apply: the pending writes are dropped, never sent."""
        with pytest.raises(KeyError), store.transaction() as tx:
            tx.load(Want("cus_1"))
            tx.apply(Effects(customer=customer("cus_1", name="Never")))
            raise KeyError("decide failed")
        assert store.read(Want("cus_1")).customer.name is None  # type: ignore[union-attr]

    def test_identical_feature_is_kept_a_different_one_refused(self, store: PostgresStore) -> None:
        """add_feature's rule holds in a deferred apply: identical kept, different refused."""
        with store.transaction() as tx:
            tx.load(Want("cus_1"))
            tx.apply(Effects(features=(feature("api_calls", seq=77),)))
        with pytest.raises(StoreError, match="different definition"), store.transaction() as tx:
            tx.apply(
                Effects(
                    features=(feature("api_calls", seq=78, name="Other"),),
                    customer=customer("cus_1", name="Never"),
                )
            )
        with store.transaction(write=False) as tx:
            assert tx.get_feature("api_calls") == feature("api_calls", seq=1)
            assert tx.get_customer("cus_1").name is None  # type: ignore[union-attr]


class TestFailedWrite:
    """A write that fails inside the commit's pipeline: rollback, the error, a clean connection."""

    @pytest.fixture
    def failing(self, store: PostgresStore) -> Iterator[PostgresStore]:
        """A one-connection store whose schema refuses every INSERT INTO events."""
        s = store.schema
        sql(
            store.url,
            f'CREATE FUNCTION "{s}".refuse() RETURNS trigger LANGUAGE plpgsql AS '
            "$$ BEGIN RAISE EXCEPTION 'events are refused today'; END $$",
        )
        sql(
            store.url,
            f'CREATE TRIGGER refuse BEFORE INSERT ON "{s}".events '
            f'FOR EACH ROW EXECUTE FUNCTION "{s}".refuse()',
        )
        one = PostgresStore(store.url, schema=s, min_size=1, max_size=1)
        yield one
        one.close()
        sql(store.url, f'DROP FUNCTION "{s}".refuse() CASCADE')  # the schema is reused

    def test_nothing_remains_and_the_connection_is_usable(
        self, store: PostgresStore, failing: PostgresStore
    ) -> None:
        """The track's grant change is rolled back with the refused event; the error says
        why; the pooled connection serves the next transaction."""
        before = balance(store)
        with pytest.raises(StoreError, match="events are refused today") as caught:
            spend(failing)
        assert isinstance(caught.value.__cause__, psycopg_or_skip().Error)
        assert balance(store) == before
        with failing.transaction() as tx:  # the same (only) connection, clean again
            state = tx.load(Want("cus_1"))
            tx.apply(Effects(customer=evolve(state.customer, name="After")))  # type: ignore[arg-type]
        assert failing.read(Want("cus_1")).customer.name == "After"  # type: ignore[union-attr]

    def test_failure_flushed_by_a_read_is_raised_there(self, failing: PostgresStore) -> None:
        """Pending writes sent ahead of a read: the read raises, the transaction rolls back."""
        with pytest.raises(StoreError, match="events are refused"), failing.transaction() as tx:
            tx.apply(Effects(events=(event(5),)))
            tx.list_grants("cus_1")
        with failing.transaction() as tx:
            assert tx.load(Want("cus_1")).customer is not None


class TestNesting:
    """Savepoints: the writes of a failed inner transaction are dropped, not the outer's."""

    def test_inner_failure_drops_only_its_writes(self, store: PostgresStore) -> None:
        """Outer apply kept; inner apply (savepoint rolled back) dropped."""
        with store.transaction() as outer:
            outer.load(Want("cus_1"))
            outer.apply(Effects(customer=customer("cus_1", name="Outer")))
            with pytest.raises(KeyError), store.transaction() as inner:
                inner.apply(Effects(entities=(entity("seat_x", "cus_1"),)))
                raise KeyError
            with store.transaction() as inner:
                inner.apply(Effects(entities=(entity("seat_y", "cus_1"),)))
        state = store.read(Want("cus_1", entity_ids=("seat_x", "seat_y")))
        assert state.customer.name == "Outer"  # type: ignore[union-attr]
        assert list(state.entities) == ["seat_y"]


class TestLocks:
    """The load's locks: writers of one customer serialise, batches never deadlock."""

    def test_a_waiting_load_sees_the_holders_commit(self, store: PostgresStore) -> None:
        """The lost-update hazard: a load that waited for the customer reads the balance the
        holder committed (the lock is its own statement, ahead of the load's snapshot)."""
        loaded, go = threading.Event(), threading.Event()
        start = balance(store)
        seen: dict[str, Decimal] = {}

        def holder() -> None:
            with store.transaction() as tx:
                state = tx.load(Want("cus_1"))
                loaded.set()
                assert go.wait(60)
                (g,) = (g for g in state.grants if g.id == "cus_1_g1")
                tx.apply(Effects(grants=(evolve(g, balance=g.balance - 1),)))
            seen["holder"] = g.balance

        def second() -> None:
            assert loaded.wait(60)
            seen["second"] = spend(store)

        threads = [threading.Thread(target=holder), threading.Thread(target=second)]
        for t in threads:
            t.start()
        waiting = "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        for _ in range(10_000):  # until the second load waits for the customer's lock
            if sql(store.url, waiting):
                break
            threading.Event().wait(0.005)
        go.set()
        for t in threads:
            t.join(60)
        assert seen == {"holder": start, "second": start - 1}
        assert balance(store) == start - 2

    def test_no_update_is_lost(self, store: PostgresStore) -> None:
        """6 threads × 10 load → apply of one grant: exactly 60 spent."""
        start = balance(store)

        def ten(_: int) -> None:
            for _ in range(10):
                spend(store)

        assert run_together(ten, 6) == [None] * 6
        assert balance(store) == start - 60

    def test_a_held_customer_times_out(self, store: PostgresStore) -> None:
        """lock_timeout still bounds a load's wait for the customer."""
        impatient = PostgresStore(store.url, schema=store.schema, timeout=QUICK)
        with impatient, store.transaction() as tx:
            tx.load(Want("cus_1"))
            with (
                pytest.raises(StoreError, match="held the customer") as caught,
                impatient.transaction() as other,
            ):
                other.load(Want("cus_1"))
            assert lock_timeout(caught)

    def test_batches_in_any_order_never_deadlock(self, store: PostgresStore) -> None:
        """load_many takes customers sorted, then keys, then lock ids, whatever the order."""
        wants = [
            Want("cus_1", keys=("track:shared",), lock_ids=("lk_a",)),
            Want("cus_2", keys=("track:other",), lock_ids=("lk_b",)),
        ]

        def batch(i: int) -> None:
            for _ in range(10):
                with store.transaction() as tx:
                    states = tx.load_many(wants if i % 2 else wants[::-1])
                    tx.apply(Effects(claims=tuple((k, T0) for s in states for k in s.claims)))

        assert run_together(batch, 4) == [None] * 4


class TestLostConnection:
    """A pooled connection the server dropped while idle is replaced by the first call."""

    @pytest.mark.parametrize("first", ["load", "lock_owner", "reserve", "read"])
    def test_first_call_replaces_it(self, first: str) -> None:
        """Whichever call comes first: nothing had reached the server, so it goes again."""
        name = f"meterlib_test_{uuid.uuid4().hex[:12]}"
        with throwaway_store_at(_with_application_name(server_url(), name), max_size=1) as s:
            seed(s, "cus_1")
            assert _terminate(name) == 1
            if first == "read":
                assert s.read(Want("cus_1")).customer is not None
                return
            with s.transaction() as tx:
                if first == "lock_owner":
                    assert tx.lock_owner("cus_1_lk1") == "cus_1"
                elif first == "reserve":
                    assert len(tx.reserve("event", 2)) == 2
                assert tx.load(Want("cus_1")).customer is not None
