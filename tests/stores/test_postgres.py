"""PostgresStore: the store contract, plus what only a store shared by servers must do."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from postgres_server import (
    drop_schema,
    new_schema,
    psycopg_or_skip,
    server_url,
    throwaway_store,
)

psycopg = psycopg_or_skip()

from attrs import evolve  # noqa: E402

from meterlib import Ledger  # noqa: E402
from meterlib.errors import InvalidRequest, StoreError  # noqa: E402
from meterlib.models import Counter, Feature  # noqa: E402
from meterlib.stores import Store  # noqa: E402
from meterlib.stores.postgres import rows as pg  # noqa: E402
from meterlib.stores.postgres.store import PostgresStore, translate_error  # noqa: E402
from meterlib.stores.urls import open_store  # noqa: E402
from meterlib.testing import StoreContract, customer, grant  # noqa: E402

QUICK = 0.3  # seconds a store under test waits for a lock or a connection before giving up


class TestPostgresContract(StoreContract):
    """The contract on PostgreSQL, each test in a schema of its own."""

    def make_store(self) -> Store:
        """A fresh PostgresStore in an empty schema."""
        return throwaway_store()


@pytest.fixture
def store() -> Iterator[PostgresStore]:
    """A PostgresStore in an empty schema (this module's own `store`: PostgreSQL only)."""
    s = throwaway_store()
    yield s
    s.close()


@pytest.fixture
def impatient(store: PostgresStore) -> Iterator[PostgresStore]:
    """A second store on the same schema, which gives up waiting after QUICK seconds."""
    other = PostgresStore(store.url, schema=store.schema, timeout=QUICK)
    yield other
    other.close()


@pytest.fixture
def schema() -> Iterator[str]:
    """A schema name of its own, dropped after the test."""
    name = new_schema()
    yield name
    drop_schema(server_url(), name)


def sql(url: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on a connection of its own; its rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def run_together(work: Callable[[int], object], threads: int) -> list[object]:
    """Run work(i) in `threads` threads released at once; each outcome (or exception)."""
    barrier = threading.Barrier(threads)
    outcomes: list[object] = [None] * threads

    def body(i: int) -> None:
        try:
            barrier.wait()
            outcomes[i] = work(i)
        except BaseException as exc:  # handed back to the test
            outcomes[i] = exc

    pool = [threading.Thread(target=body, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)  # a guard against a hang, not a wait for time to pass
        assert not t.is_alive(), "a worker thread hung"
    return outcomes


def lock_timeout(caught: pytest.ExceptionInfo[StoreError]) -> bool:
    """Whether a StoreError is PostgreSQL's lock_timeout (another transaction held the lock)."""
    return getattr(caught.value.__cause__, "sqlstate", None) == "55P03"


class TestSchema:
    """The schema is created, versioned and guarded on first use."""

    def test_first_use_creates_and_versions_the_schema(self, schema: str) -> None:
        """Opening an empty schema creates the tables and records each migration, once."""
        url = server_url()
        PostgresStore(url, schema=schema).close()
        PostgresStore(url, schema=schema).close()
        rows = sql(url, f'SELECT version, name FROM "{schema}".schema_version ORDER BY 1')
        assert rows == [(version, name) for version, name, _ in pg.MIGRATIONS]
        tables = {
            r[0]
            for r in sql(url, "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
        }
        assert tables >= {"customers", "grants", "events", "locks", "idempotency_keys"}

    def test_concurrent_first_use_migrates_once(self, schema: str) -> None:
        """Eight stores opened at once on a new schema all work; the schema is made once."""
        url = server_url()

        def open_and_use(i: int) -> None:
            with PostgresStore(url, schema=schema) as s, s.transaction() as tx:
                tx.put_customer(customer(f"cus_{i}"))

        assert run_together(open_and_use, 8) == [None] * 8
        versions = sql(url, f'SELECT version FROM "{schema}".schema_version ORDER BY 1')
        assert versions == [(version,) for version, _, _ in pg.MIGRATIONS]
        assert sql(url, f'SELECT count(*) FROM "{schema}".customers') == [(8,)]

    def test_older_schema_is_upgraded_in_place(self, schema: str) -> None:
        """A schema at version 1 gets the later migrations on first use; its rows are kept."""
        url = server_url()
        quoted = f'"{schema}"'
        version, name, ddl = pg.MIGRATIONS[0]
        sql(url, f"CREATE SCHEMA {quoted}")
        sql(url, pg.SCHEMA_VERSION_TABLE.format(s=quoted))
        sql(url, ddl.format(s=quoted))
        sql(url, f"INSERT INTO {quoted}.schema_version VALUES (%s, %s)", (version, name))
        with PostgresStore(url, schema=schema) as s, s.transaction() as tx:
            tx.put_customer(customer("cus_1"))
        with PostgresStore(url, schema=schema) as s, s.transaction() as tx:
            assert tx.get_customer("cus_1") == customer("cus_1")
            tx.put_counters([Counter(customer_id="cus_1", key="k", value=Decimal(1))])
        found = sql(url, f"SELECT version, name FROM {quoted}.schema_version ORDER BY version")
        assert found == [(v, n) for v, n, _ in pg.MIGRATIONS]
        assert len(found) >= 2

    def test_newer_schema_is_refused(self, schema: str) -> None:
        """A schema written by a newer meterlib is refused, not written into."""
        url = server_url()
        PostgresStore(url, schema=schema).close()
        sql(url, f"INSERT INTO \"{schema}\".schema_version (version, name) VALUES (99, 'later')")
        with pytest.raises(StoreError, match="newer meterlib"):
            PostgresStore(url, schema=schema)

    def test_foreign_schema_is_refused(self, schema: str) -> None:
        """A schema holding someone else's tables is refused, not written into."""
        url = server_url()
        sql(url, f'CREATE SCHEMA "{schema}"')
        sql(url, f'CREATE TABLE "{schema}".customers (id int)')
        with pytest.raises(StoreError, match="not meterlib's"):
            PostgresStore(url, schema=schema)

    def test_column_types(self, store: PostgresStore) -> None:
        """Amounts are numeric, instants bigint, the caller's dicts json, flags boolean."""
        found = dict(
            sql(
                store.url,
                "SELECT table_name || '.' || column_name, data_type "
                "FROM information_schema.columns WHERE table_schema = %s",
                (store.schema,),
            )
        )
        assert found["grants.balance"] == found["events.value"] == found["locks.value"] == "numeric"
        assert found["grants.next_reset_at"] == found["events.timestamp"] == "bigint"
        assert found["customers.metadata"] == found["events.properties"] == "json"
        assert found["grants.rollovers"] == found["events.feature_ids"] == "jsonb"
        assert found["grants.unlimited"] == "boolean"

    def test_amounts_numeric_cannot_spell(self, store: PostgresStore) -> None:
        """1E+30 and -0 come back digit for digit, while the numeric column holds their value."""
        g = grant("g1", 1, balance=Decimal("1E+30"), included=Decimal("-0"))
        with store.transaction() as tx:
            tx.put_grants([g])
        with store.transaction(write=False) as tx:
            (got,) = tx.list_grants("cus_1")
        assert (repr(got.balance), repr(got.included)) == ("Decimal('1E+30')", "Decimal('-0')")
        rows = sql(store.url, f'SELECT balance, included, spellings FROM "{store.schema}".grants')
        assert rows[0][:2] == (Decimal(10) ** 30, Decimal(0))
        assert rows[0][2] == {"balance": "1E+30", "included": "-0"}

    def test_queries_use_indexes(self, store: PostgresStore) -> None:
        """The per-customer, per-key and event-page queries are index scans needing no sort."""
        statements = store._sql
        plans = {
            "grants": (statements.list_grants, ("cus_1",)),
            "locks": (statements.list_locks, ("cus_1",)),
            "customer": (statements.get_customer, ("cus_1",)),
            "key": (statements.get_key, ("k",)),
            "events by customer": (
                statements.list_events((True, False, False, False, True, False)),
                ("cus_1", 5, 5, 100),
            ),
            "events by time": (
                statements.list_events((False, False, True, True, False, False)),
                (1, 9, 100),
            ),
        }
        with psycopg.connect(store.url, autocommit=True) as conn:
            # Tiny test tables make any plan cheap: forbid the plans an index makes needless,
            # so a sequential scan or a sort shows up only if no index can serve the query.
            conn.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
            conn.execute("SET enable_sort = off")
            for name, (query, params) in plans.items():
                found = conn.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()
                assert found is not None
                text = json.dumps(found[0])
                assert "Index" in text, name
                assert "Seq Scan" not in text, name
                if name.startswith("events"):
                    assert '"Sort"' not in text, name


class TestWritersSerialisePerCustomer:
    """A write transaction holds its customer until it ends; no update is ever lost."""

    def test_second_writer_of_a_customer_waits(
        self, store: PostgresStore, impatient: PostgresStore
    ) -> None:
        """While one transaction holds a customer, another writer of it cannot read it."""
        with store.transaction() as tx:
            assert tx.get_customer("cus_1") is None
            with (
                pytest.raises(StoreError, match="held the customer") as caught,
                impatient.transaction() as other,
            ):
                other.list_grants("cus_1")
            assert lock_timeout(caught)
            tx.put_customer(customer("cus_1"))
        with impatient.transaction() as other:
            assert other.get_customer("cus_1") == customer("cus_1")

    def test_other_customers_and_readers_do_not_wait(
        self, store: PostgresStore, impatient: PostgresStore
    ) -> None:
        """Writers of other customers and read transactions go ahead, seeing only commits."""
        with store.transaction() as tx:
            tx.put_customer(customer("cus_1"))
        with store.transaction() as tx:
            tx.put_grants([grant("g1", 1, balance=Decimal(7))])
            with impatient.transaction() as other:
                other.put_grants([grant("h1", 2, customer_id="cus_2")])
            with impatient.transaction(write=False) as reader:
                assert reader.list_grants("cus_1") == []
                assert reader.get_customer("cus_1") == customer("cus_1")

    def test_read_modify_write_loses_no_update(self, store: PostgresStore) -> None:
        """8 threads × 25 read-then-write increments of one grant: exactly 200 added."""
        with store.transaction() as tx:
            tx.put_grants([grant("g1", 1, balance=Decimal(0))])

        def increment(_: int) -> None:
            for _ in range(25):
                with store.transaction() as tx:
                    (g,) = tx.list_grants("cus_1")
                    tx.put_grants([evolve(g, balance=g.balance + 1)])

        assert run_together(increment, 8) == [None] * 8
        with store.transaction(write=False) as tx:
            assert tx.list_grants("cus_1")[0].balance == 200

    def test_idempotency_key_is_claimed_once(
        self, store: PostgresStore, impatient: PostgresStore
    ) -> None:
        """Reading a key in a write transaction holds it: no second server can claim it too."""
        with store.transaction() as tx:
            assert tx.get_idempotency_key("k") is None
            with pytest.raises(StoreError) as caught, impatient.transaction() as other:
                other.get_idempotency_key("k")
            assert lock_timeout(caught)
            tx.put_idempotency_key("k", 5)
        with impatient.transaction() as other:
            assert other.get_idempotency_key("k") == 5

    def test_new_lock_id_is_taken_once(
        self, store: PostgresStore, impatient: PostgresStore
    ) -> None:
        """Looking up an unused lock id in a write transaction holds the id until it ends."""
        with store.transaction() as tx:
            assert tx.get_lock("lk_1") is None
            with pytest.raises(StoreError) as caught, impatient.transaction() as other:
                other.get_lock("lk_1")
            assert lock_timeout(caught)

    def test_deadlock_is_a_store_error(self, store: PostgresStore) -> None:
        """Two transactions taking two customers in opposite orders: one fails, cleanly."""
        first = threading.Barrier(2)

        def cross(i: int) -> None:
            mine, theirs = ("cus_1", "cus_2") if i == 0 else ("cus_2", "cus_1")
            with store.transaction() as tx:
                tx.get_customer(mine)
                first.wait()
                tx.get_customer(theirs)

        outcomes = run_together(cross, 2)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(failures) == 1
        assert isinstance(failures[0], StoreError)
        assert "deadlock" in str(failures[0])
        assert isinstance(failures[0].__cause__, psycopg.errors.DeadlockDetected)

    def test_feature_created_twice(self, store: PostgresStore) -> None:
        """A feature id already taken (by another server, say) keeps its first definition:
        an identical one is accepted as it is, a different one is a StoreError."""
        with store.transaction() as tx:
            tx.add_feature(Feature(id="messages", seq=1))
            tx.add_feature(Feature(id="messages", seq=2))
            with pytest.raises(StoreError, match="different definition"):
                tx.add_feature(Feature(id="messages", seq=3, name="Messages"))
        with store.transaction(write=False) as tx:
            assert tx.list_features() == [Feature(id="messages", seq=1)]


class TestCounters:
    """Counters: kept per (customer, key), exact, and held with their customer."""

    def test_counters_round_trip(self, store: PostgresStore) -> None:
        """Counters come back equal and exact, per customer, in code-point order of key."""
        mine = [
            Counter(customer_id="cus_1", key="b", value=Decimal("1E+30"), window_start=0),
            Counter(customer_id="cus_1", key="B", value=Decimal("-0"), window_end=5),
            Counter(customer_id="cus_1", key="a", value=Decimal("0.1")),
        ]
        with store.transaction() as tx:
            tx.put_counters(mine)
            tx.put_counters([Counter(customer_id="cus_2", key="a")])
            tx.put_counters([])
        with store.transaction() as tx:
            tx.put_counters([evolve(mine[2], value=Decimal("2.50"))])
        with store.transaction(write=False) as tx:
            got = tx.list_counters("cus_1")
            assert got == [mine[1], evolve(mine[2], value=Decimal("2.50")), mine[0]]
            assert [repr(c.value) for c in got] == [
                "Decimal('-0')",
                "Decimal('2.50')",
                "Decimal('1E+30')",
            ]
            assert tx.list_counters("cus_2") == [Counter(customer_id="cus_2", key="a")]
            assert tx.list_counters("nobody") == []

    def test_counters_are_held_with_their_customer(
        self, store: PostgresStore, impatient: PostgresStore
    ) -> None:
        """Reading a customer's counters in a write transaction holds the customer."""
        with store.transaction() as tx:
            assert tx.list_counters("cus_1") == []
            with pytest.raises(StoreError) as caught, impatient.transaction() as other:
                other.get_customer("cus_1")
            assert lock_timeout(caught)


class TestTransactions:
    """Read-only and nested transactions, and sequences of any kind."""

    def test_read_only_transaction_refuses_writes(self, store: PostgresStore) -> None:
        """A write inside `transaction(write=False)` raises RuntimeError before reaching SQL."""
        with store.transaction(write=False) as tx, pytest.raises(RuntimeError):
            tx.put_customer(customer("cus_1"))
        with store.transaction() as tx:
            assert tx.get_customer("cus_1") is None

    def test_nested_transaction_is_a_savepoint(self, store: PostgresStore) -> None:
        """An inner transaction that fails undoes only its own writes."""
        with store.transaction() as outer:
            outer.put_customer(customer("cus_1"))
            with pytest.raises(KeyError), store.transaction() as inner:
                inner.put_customer(customer("cus_2"))
                raise KeyError("inner")
            with store.transaction() as inner:
                inner.put_customer(customer("cus_3"))
        with store.transaction(write=False) as tx:
            assert [c.id for c in tx.list_customers()] == ["cus_1", "cus_3"]

    def test_write_nested_in_read_is_refused(self, store: PostgresStore) -> None:
        """A write transaction cannot be opened inside a read transaction."""
        with store.transaction(write=False), pytest.raises(RuntimeError):
            store.transaction().__enter__()

    def test_next_seq_of_a_new_kind(self, store: PostgresStore) -> None:
        """A kind meterlib has not used before gets its own sequence on first use."""
        with store.transaction() as tx:
            assert [tx.next_seq("widget"), tx.next_seq("widget")] == [1, 2]
        with store.transaction() as tx:
            assert tx.next_seq("widget") == 3
            with pytest.raises(ValueError, match="lowercase name"):
                tx.next_seq("Robert'); DROP TABLE customers")


class TestErrors:
    """Backend failures are StoreErrors that say what to do, with the cause attached."""

    def test_unreachable_server(self) -> None:
        """A server that does not answer is a StoreError that hides the password."""
        with pytest.raises(StoreError, match="connection failed") as caught:
            PostgresStore("postgresql://meterlib:s3cret@127.0.0.1:1/meterlib", timeout=1)
        assert "s3cret" not in str(caught.value)
        assert isinstance(caught.value.__cause__, psycopg.OperationalError)

    def test_wrong_password(self) -> None:
        """A refused login is a StoreError naming the cause."""
        info = psycopg.conninfo.conninfo_to_dict(server_url())
        info["password"] = "wrong"
        url = psycopg.conninfo.make_conninfo(**info)
        try:
            psycopg.connect(url).close()
        except psycopg.OperationalError:
            pass
        else:
            pytest.skip("the test server lets any password in (trust authentication)")
        with pytest.raises(StoreError, match="authentication failed"):
            PostgresStore(url, timeout=5)

    def test_connection_lost_mid_transaction(self) -> None:
        """A connection killed mid-transaction is a StoreError; the next transaction works."""
        name = f"meterlib_test_{uuid.uuid4().hex[:12]}"
        url = _with_application_name(server_url(), name)
        with throwaway_store_at(url) as s:
            with (
                pytest.raises(StoreError, match="connection failed or was lost") as caught,
                s.transaction() as tx,
            ):
                tx.put_customer(customer("cus_1"))
                _terminate(name)
                tx.get_customer("cus_1")
            assert isinstance(caught.value.__cause__, psycopg.OperationalError)
            with s.transaction() as tx:
                assert tx.get_customer("cus_1") is None

    def test_idle_connection_lost_is_replaced(self) -> None:
        """A pooled connection the server dropped while idle is replaced, unnoticed."""
        name = f"meterlib_test_{uuid.uuid4().hex[:12]}"
        url = _with_application_name(server_url(), name)
        with throwaway_store_at(url, min_size=1, max_size=1) as s:
            with s.transaction() as tx:
                tx.put_customer(customer("cus_1"))
            assert _terminate(name) == 1
            with s.transaction(write=False) as tx:
                assert tx.get_customer("cus_1") == customer("cus_1")

    def test_no_free_connection(self, store: PostgresStore) -> None:
        """With every connection in use, a transaction waits `timeout`, then StoreError."""
        small = PostgresStore(store.url, schema=store.schema, max_size=1, timeout=QUICK)
        with small, small.transaction():
            outcome = run_together(lambda _: small.transaction().__enter__(), 1)[0]
        assert isinstance(outcome, StoreError)
        assert "no free connection" in str(outcome)

    def test_closed_store(self, store: PostgresStore) -> None:
        """A closed store refuses new transactions with a StoreError; close is idempotent."""
        other = PostgresStore(store.url, schema=store.schema)
        other.close()
        other.close()
        with pytest.raises(StoreError, match="closed"), other.transaction():
            pass

    @pytest.mark.parametrize(
        ("error", "says"),
        [
            (lambda: psycopg.errors.SerializationFailure("x"), "serialization failure"),
            (lambda: psycopg.errors.DeadlockDetected("x"), "deadlock"),
            (lambda: psycopg.errors.LockNotAvailable("x"), "held the customer"),
            (lambda: psycopg.errors.QueryCanceled("x"), "cancelled"),
            (lambda: psycopg.errors.InsufficientPrivilege("x"), "permission denied"),
            (lambda: psycopg.errors.TooManyConnections("x"), "refuses more connections"),
            (lambda: psycopg.OperationalError("x"), "connection failed or was lost"),
            (lambda: psycopg.errors.UniqueViolation("x"), "unexpected PostgreSQL error"),
        ],
    )
    def test_translated_messages(self, error: Callable[[], Exception], says: str) -> None:
        """Each kind of backend failure gets a message that says what happened."""
        translated = translate_error(error(), where="PostgreSQL database 'd'", timeout=1)
        assert isinstance(translated, StoreError)
        assert says in str(translated)

    @pytest.mark.parametrize(
        "settings",
        [
            {"max_size": 0},
            {"min_size": 3, "max_size": 2},
            {"min_size": -1},
            {"timeout": 0},
            {"schema": 'bad"name'},
        ],
    )
    def test_bad_settings(self, settings: dict[str, Any]) -> None:
        """Impossible pool sizes, timeouts or schema names are refused before connecting."""
        with pytest.raises(InvalidRequest):
            PostgresStore("postgresql://u:p@127.0.0.1:1/x", **settings)


class TestOpening:
    """PostgresStore by URL, and a Ledger over it."""

    def test_open_store_by_url(self) -> None:
        """`Ledger.open("postgresql://...")` gives a Ledger over a PostgresStore."""
        url = server_url()
        try:
            with Ledger.open(url) as ledger:
                assert isinstance(ledger.store, PostgresStore)
                assert ledger.store.schema == "meterlib"
                ledger.create("c1", "messages", included=10)
                ledger.track("c1", "messages", value=3)
            store = open_store(url)
            try:
                with store.transaction(write=False) as tx:
                    assert [g.balance for g in tx.list_grants("c1")] == [7]
            finally:
                store.close()
        finally:
            drop_schema(url, "meterlib")

    def test_repr_hides_the_password(self, store: PostgresStore) -> None:
        """The store's repr names the database and schema, never the password."""
        password = psycopg.conninfo.conninfo_to_dict(store.url).get("password")
        assert password is None or str(password) not in repr(store)
        assert store.schema in repr(store)


# --- helpers for the connection-loss tests ------------------------------------------------


def _with_application_name(url: str, name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["application_name"] = name
    made: str = psycopg.conninfo.make_conninfo(**info)
    return made


def _terminate(application_name: str) -> int:
    """Terminate every backend of `application_name`; how many there were."""
    rows = sql(
        server_url(),
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        (application_name,),
    )
    return len(rows)


def throwaway_store_at(url: str, **settings: Any) -> PostgresStore:
    """A PostgresStore at `url` in a fresh schema, dropped on close."""
    schema = new_schema()

    class Dropped(PostgresStore):
        def close(self) -> None:
            super().close()
            drop_schema(server_url(), schema)

    return Dropped(url, schema=schema, **settings)
