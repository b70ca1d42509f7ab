"""SQLiteStore only: the file on disk, its schema, refusals, errors, threads and processes."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from meterlib.errors import StoreError
from meterlib.models import DeductionRecord, RolloverLot, RolloverRule
from meterlib.stores import SQLiteStore
from meterlib.stores.sqlite import tx as sql
from meterlib.stores.sqlite.schema import MIGRATIONS
from meterlib.stores.sqlite.store import translate_error
from meterlib.testing import (
    CREATED,
    T0,
    customer,
    entity,
    event,
    events,
    feature,
    grant,
    lock,
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """Where the test's database file goes."""
    return tmp_path / "meter.db"


@pytest.fixture
def store(path: Path) -> Iterator[SQLiteStore]:
    """A fresh SQLiteStore on a file."""
    with SQLiteStore(path) as store:
        yield store


def raw(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection to the file, in autocommit mode."""
    return sqlite3.connect(path, isolation_level=None)


def fill(store: SQLiteStore) -> None:
    """One of everything, with awkward amounts."""
    with store.transaction() as tx:
        schema = {"a": Decimal("0.1")}
        tx.add_feature(feature("credits", type="credit_system", credit_schema=schema))
        tx.put_customer(customer("cus_1", metadata={"price": Decimal("1E-10")}))
        tx.put_entity(entity("seat_1"))
        tx.put_grants(
            [
                grant(
                    "g1",
                    tx.next_seq("grant"),
                    balance=Decimal("0.1"),
                    included=Decimal("123456789012345678901234567890.5"),
                    rollover=RolloverRule(max=Decimal(10)),
                    rollovers=(RolloverLot(id="ro_1", balance=Decimal("-0.5"), expires_at=T0),),
                )
            ]
        )
        tx.put_lock(lock("lk_1", properties={"n": Decimal("2.50")}))
        tx.add_event(
            event(
                tx.next_seq("event"),
                deductions=(DeductionRecord(feature_id="a", balance_id="g1", value=Decimal(3)),),
                idempotency_key="req-1",
            )
        )
        tx.put_idempotency_key("req-1", T0 + 86_400_000)


def snapshot(store: SQLiteStore) -> dict[str, object]:
    """Everything `fill` wrote, as read back."""
    with store.transaction(write=False) as tx:
        return {
            "features": tx.list_features(),
            "customers": tx.list_customers(),
            "entities": tx.list_entities("cus_1"),
            "grants": tx.list_grants("cus_1"),
            "locks": tx.list_locks("cus_1"),
            "events": events(tx),
            "key": tx.get_idempotency_key("req-1"),
        }


def add_one(store: SQLiteStore, times: int) -> None:
    """Read-modify-write the balance of grant g1 `times` times, one event each."""
    for _ in range(times):
        with store.transaction() as tx:
            (g,) = tx.list_grants("cus_1")
            tx.put_grants([grant("g1", 1, balance=g.balance + 1)])
            tx.add_event(event(tx.next_seq("event")))


def balance_and_events(store: SQLiteStore) -> tuple[Decimal, list[int]]:
    """g1's balance and the seqs of every event."""
    with store.transaction(write=False) as tx:
        (g,) = tx.list_grants("cus_1")
        return g.balance, sorted(e.seq for e in events(tx, limit=100_000))


def increment_in_process(path: str, times: int) -> None:
    """A child process's work: open the file on its own and add to g1 `times` times."""
    with SQLiteStore(path) as store:
        add_one(store, times)


class TestFile:
    """What lands on disk, and what comes back after reopening."""

    def test_reopen_finds_everything(self, path: Path) -> None:
        """Closing and reopening a file gives back every model exactly as written."""
        with SQLiteStore(path) as store:
            fill(store)
            before = snapshot(store)
        with SQLiteStore(path) as store:
            assert snapshot(store) == before
            with store.transaction() as tx:
                assert tx.next_seq("event") == 2
                assert tx.next_seq("grant") == 2

    def test_amounts_are_text(self, store: SQLiteStore, path: Path) -> None:
        """Amounts are TEXT columns holding str(Decimal), and no column anywhere is REAL."""
        fill(store)
        conn = raw(path)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        types = {(t, c[1]): c[2] for t in tables for c in conn.execute(f"PRAGMA table_info({t})")}
        assert "REAL" not in types.values()
        for column in ("included", "balance", "adjustment", "max_purchase"):
            assert types["grants", column] == "TEXT"
        query = "SELECT typeof(balance), balance, typeof(included), included FROM grants"
        row = conn.execute(query)
        assert row.fetchone() == ("text", "0.1", "text", "123456789012345678901234567890.5")
        assert conn.execute("SELECT typeof(value), value FROM events").fetchone() == ("text", "1")
        assert '"-0.5"' in conn.execute("SELECT rollovers FROM grants").fetchone()[0]

    def test_instants_are_integer_ms(self, store: SQLiteStore, path: Path) -> None:
        """Instants, catalogue datetimes included, are INTEGER epoch milliseconds."""
        fill(store)
        conn = raw(path)
        row = conn.execute("SELECT typeof(created_at), created_at FROM customers").fetchone()
        assert row == ("integer", int(CREATED.timestamp() * 1000))
        assert conn.execute("SELECT typeof(timestamp), timestamp FROM events").fetchone() == (
            "integer",
            T0,
        )

    def test_schema_version_and_wal(self, store: SQLiteStore, path: Path) -> None:
        """The file records every migration applied, is in WAL mode and has its indexes."""
        conn = raw(path)
        applied = conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = 'meterlib' ORDER BY rowid"
        ).fetchall()
        assert [name for (name,) in applied] == [name for name, _ in MIGRATIONS]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {
            "grants_by_customer",
            "events_by_customer",
            "events_by_time",
            "locks_by_customer",
            "features_by_seq",
        } <= indexes

    def test_hot_queries_use_indexes(self, store: SQLiteStore, path: Path) -> None:
        """Every per-customer and per-key query searches an index instead of scanning."""
        conn = raw(path)
        queries = [
            sql._LIST_GRANTS,
            sql._GET_LOCK,
            sql._LIST_LOCKS,
            sql._GET_KEY,
            sql._GET_CUSTOMER_AND_LOCKED,
            sql._GET_ENTITY,
            sql._LIST_ENTITIES,
            sql._events_sql((True, False, False, False, False, False)),
            sql._events_sql((True, True, True, True, True, True)),
            sql._events_sql((False, False, True, True, False, False)),
        ]
        for query in queries:
            plan = conn.execute("EXPLAIN QUERY PLAN " + query, [1] * query.count("?")).fetchall()
            steps = [step[3] for step in plan]
            assert not any("TEMP B-TREE" in s for s in steps), query
            assert not any(s.startswith("SCAN ") and "json_each" not in s for s in steps), query

    def test_grant_update_finds_its_row_through_the_customer_index(
        self, store: SQLiteStore, path: Path
    ) -> None:
        """put_grants' UPDATE reads the index page list_grants has just read, not the id one."""
        plan = raw(path).execute("EXPLAIN QUERY PLAN " + sql._UPDATE_GRANT, [1] * 22).fetchall()
        assert [step[3] for step in plan] == [
            "SEARCH grants USING INDEX grants_by_customer (customer_id=? AND seq=?)"
        ]

    def test_empty_file_becomes_a_database(self, path: Path) -> None:
        """A zero-byte file (as `touch` leaves) is a new, empty database."""
        path.touch()
        with SQLiteStore(path) as store, store.transaction(write=False) as tx:
            assert tx.list_customers() == []

    def test_memory_stores_are_separate(self) -> None:
        """Each ":memory:" store is its own database."""
        with SQLiteStore(":memory:") as one, SQLiteStore(":memory:") as two:
            fill(one)
            with two.transaction(write=False) as tx:
                assert tx.list_customers() == []


class TestRefusals:
    """Files SQLiteStore will not write into."""

    def test_newer_schema_is_refused(self, path: Path) -> None:
        """A file with a migration this version does not know raises StoreError."""
        SQLiteStore(path).close()
        raw(path).execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('meterlib', '9999_from_the_future', '')"
        )
        with pytest.raises(StoreError, match=r"newer meterlib.*9999_from_the_future"):
            SQLiteStore(path)

    def test_foreign_database_is_refused_untouched(self, path: Path) -> None:
        """A non-empty database without the meterlib schema raises and is left as it was."""
        conn = raw(path)
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO users (name) VALUES ('ada')")
        conn.close()
        before = path.read_bytes()
        with pytest.raises(StoreError, match=r"not a meterlib database.*users"):
            SQLiteStore(path)
        assert path.read_bytes() == before

    def test_garbage_file_is_refused(self, path: Path) -> None:
        """A file that is not SQLite raises StoreError with sqlite3's error as the cause."""
        path.write_bytes(b"this is a text file, not a database\n" * 200)
        with pytest.raises(StoreError, match="not a meterlib database or is corrupt") as info:
            SQLiteStore(path)
        assert isinstance(info.value.__cause__, sqlite3.DatabaseError)

    def test_missing_folder(self, tmp_path: Path) -> None:
        """A path in a folder that does not exist raises StoreError saying so."""
        with pytest.raises(StoreError, match="check that its folder exists") as info:
            SQLiteStore(tmp_path / "nowhere" / "meter.db")
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)


class TestErrors:
    """Backend failures become StoreErrors that say what to do."""

    def test_locked_past_the_timeout(self, path: Path) -> None:
        """A write lock held elsewhere past `timeout` raises StoreError; the store recovers."""
        SQLiteStore(path).close()
        other = raw(path)
        other.execute("BEGIN IMMEDIATE")
        with SQLiteStore(path, timeout=0.01) as store:
            locked = pytest.raises(StoreError, match="another process holds the write lock")
            with locked as info, store.transaction() as tx:
                tx.put_customer(customer())
            assert "0.01 s; raise timeout=" in str(info.value)
            assert isinstance(info.value.__cause__, sqlite3.OperationalError)
            with store.transaction(write=False) as tx:
                assert tx.list_customers() == []
            other.execute("ROLLBACK")
            with store.transaction() as tx:
                tx.put_customer(customer())

    @pytest.mark.skipif(
        sys.platform == "win32" or os.geteuid() == 0, reason="root ignores file permissions"
    )
    def test_read_only_file(self, path: Path) -> None:
        """Writing to a read-only file raises StoreError saying it is read-only."""
        SQLiteStore(path).close()
        path.chmod(0o444)
        with SQLiteStore(path) as store:
            with store.transaction(write=False) as tx:
                assert tx.list_customers() == []
            with pytest.raises(StoreError, match="is read-only") as info, store.transaction() as tx:
                tx.put_customer(customer())
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)

    def test_translate_read_only_and_disk_full(self, path: Path) -> None:
        """Real read-only and disk-full errors from sqlite3 get messages saying what to do."""
        SQLiteStore(path).close()
        read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        with pytest.raises(sqlite3.OperationalError) as ro:
            read_only.execute("INSERT INTO seqs VALUES ('x', 1)")
        full = raw(path)
        full.execute(f"PRAGMA max_page_count = {full.execute('PRAGMA page_count').fetchone()[0]}")
        with pytest.raises(sqlite3.OperationalError) as disk:
            full.execute("INSERT INTO seqs VALUES (hex(randomblob(100000)), 1)")
        ro_error = translate_error(ro.value, path=str(path), timeout=1)
        full_error = translate_error(disk.value, path=str(path), timeout=1)
        assert "is read-only; give this process write permission" in str(ro_error)
        assert "the disk is full; free some space" in str(full_error)
        assert isinstance(ro_error, StoreError)

    def test_error_inside_a_transaction_rolls_it_back(self, store: SQLiteStore) -> None:
        """A SQLite error inside a transaction raises StoreError and undoes the transaction."""
        with pytest.raises(StoreError) as info, store.transaction() as tx:
            tx.put_customer(customer())
            tx.put_grants([grant("g1", 1, customer_id=None)])  # NOT NULL
        assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
        with store.transaction(write=False) as tx:
            assert tx.list_customers() == []

    def test_closed_store(self, path: Path) -> None:
        """A closed store raises StoreError; closing twice is harmless."""
        store = SQLiteStore(path)
        store.close()
        store.close()
        with pytest.raises(StoreError, match="closed"), store.transaction():
            pass

    def test_write_in_a_read_transaction(self, store: SQLiteStore) -> None:
        """Writing through a `write=False` transaction raises RuntimeError, as in memory."""
        with pytest.raises(RuntimeError), store.transaction(write=False) as tx:
            tx.put_customer(customer())

    def test_session_is_dead_after_its_transaction(self, store: SQLiteStore) -> None:
        """A session used after its transaction ended raises instead of writing unguarded."""
        with store.transaction() as tx:
            pass
        with pytest.raises(RuntimeError, match="transaction is over"):
            tx.put_customer(customer())
        with pytest.raises(RuntimeError, match="transaction is over"):
            tx.get_customer("cus_1")

    def test_nested_transaction_is_a_savepoint(self, store: SQLiteStore) -> None:
        """A failed inner transaction undoes only itself; the outer one still commits."""
        with store.transaction() as outer:
            outer.put_customer(customer("cus_1"))
            with pytest.raises(ZeroDivisionError), store.transaction() as inner:
                inner.put_customer(customer("cus_2"))
                _ = 1 / 0
            with store.transaction() as inner:
                inner.put_customer(customer("cus_3"))
        with store.transaction(write=False) as tx:
            assert [c.id for c in tx.list_customers()] == ["cus_1", "cus_3"]


class TestConcurrency:
    """Threads and processes sharing one file lose nothing."""

    def test_threads_lose_nothing(self, store: SQLiteStore) -> None:
        """Four threads doing read-modify-write transactions lose no update and no event."""
        with store.transaction() as tx:
            tx.put_grants([grant("g1", 1)])
        threads = [threading.Thread(target=add_one, args=(store, 100)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        balance, seqs = balance_and_events(store)
        assert balance == 400
        assert seqs == list(range(1, 401))

    def test_readers_run_beside_a_writer(self, store: SQLiteStore) -> None:
        """A read transaction is not blocked by an open write and sees the last commit."""
        with store.transaction() as tx:
            tx.put_grants([grant("g1", 1, balance=Decimal(1))])
        written, release = threading.Event(), threading.Event()

        def writer() -> None:
            with store.transaction() as tx:
                tx.put_grants([grant("g1", 1, balance=Decimal(2))])
                written.set()
                release.wait(timeout=10)

        thread = threading.Thread(target=writer)
        thread.start()
        assert written.wait(timeout=10)
        with store.transaction(write=False) as tx:
            assert tx.list_grants("cus_1")[0].balance == 1
        release.set()
        thread.join()
        with store.transaction(write=False) as tx:
            assert tx.list_grants("cus_1")[0].balance == 2

    def test_threads_open_a_new_file_together(self, path: Path) -> None:
        """Several stores created at once on a new file all open it; the schema is made once."""
        errors: list[BaseException] = []

        def open_and_write(n: int) -> None:
            try:
                with SQLiteStore(path) as store, store.transaction() as tx:
                    tx.put_customer(customer(f"cus_{n}"))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=open_and_write, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        migrations = raw(path).execute("SELECT count(*) FROM _sqlite_migrations").fetchone()
        assert migrations == (len(MIGRATIONS),)

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
    def test_forked_child_opens_its_own_connection(self, store: SQLiteStore) -> None:
        """A child forked after the store was opened writes through it safely."""
        with store.transaction() as tx:
            tx.put_grants([grant("g1", 1)])
        pid = os.fork()
        if pid == 0:  # the child: never return into pytest
            code = 1
            try:
                add_one(store, 5)
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        add_one(store, 5)
        assert balance_and_events(store) == (10, list(range(1, 11)))

    @pytest.mark.slow
    def test_processes_lose_nothing(self, path: Path) -> None:
        """Two spawned processes and this one, writing at once, lose no update and no event."""
        with SQLiteStore(path) as store:
            with store.transaction() as tx:
                tx.put_grants([grant("g1", 1)])
            context = multiprocessing.get_context("spawn")
            children = [
                context.Process(target=increment_in_process, args=(str(path), 200))
                for _ in range(2)
            ]
            for child in children:
                child.start()
            add_one(store, 200)
            for child in children:
                child.join(timeout=60)
                assert child.exitcode == 0
            balance, seqs = balance_and_events(store)
        assert balance == 600
        assert seqs == list(range(1, 601))

    @pytest.mark.slow
    def test_processes_create_a_new_file_together(self, path: Path) -> None:
        """Processes that open a brand-new file at the same moment all succeed."""
        context = multiprocessing.get_context("spawn")
        children = [
            context.Process(target=open_and_add_customer, args=(str(path), n)) for n in range(3)
        ]
        for child in children:
            child.start()
        for child in children:
            child.join(timeout=60)
            assert child.exitcode == 0
        with SQLiteStore(path) as store, store.transaction(write=False) as tx:
            assert [c.id for c in tx.list_customers()] == ["cus_0", "cus_1", "cus_2"]


def open_and_add_customer(path: str, n: int) -> None:
    """A child process's work: open (perhaps create) the file and add customer `cus_<n>`."""
    with SQLiteStore(path) as store, store.transaction() as tx:
        tx.put_customer(customer(f"cus_{n}"))
