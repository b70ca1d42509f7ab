"""SQLiteStore's shortcuts never change an answer: the decoded-grant cache, what a connection
knows of the file while nobody else commits (customers, grants, locks, features, the last event
seq), and event seqs read from the rowid instead of counted in `seqs`."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterlib.errors import StoreError
from meterlib.models import Customer, DeductionRecord, Feature, Grant, Lock, RolloverLot
from meterlib.stores import SQLiteStore, grant_rows, rows
from meterlib.stores.sqlite import tx as sql
from meterlib.stores.sqlite import waiting
from meterlib.stores.sqlite.catalogue_edits import FEATURES_KEY
from meterlib.stores.sqlite.tx import SQLiteSession
from meterlib.testing import customer, event, events, feature, grant, lock


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """The store's file (the tests also open it with plain sqlite3)."""
    return tmp_path / "shortcuts.db"


@pytest.fixture
def store(path: Path) -> Iterator[SQLiteStore]:
    """A new SQLiteStore on a file, with cus_1 holding grant g1 (balance 5)."""
    store = SQLiteStore(path)
    with store:
        with store.transaction() as tx:
            tx.put_customer(customer("cus_1"))
            tx.put_grants([grant("g1", 1, balance=Decimal(5))])
        yield store


def balance(store: SQLiteStore) -> Decimal:
    """g1's balance, as a new read transaction sees it."""
    with store.transaction(write=False) as tx:
        (g,) = tx.list_grants("cus_1")
        return g.balance


class TestDecodedGrants:
    """A cached Grant is used only for the very row it was made from."""

    def test_a_row_read_again_unchanged_is_not_decoded_again(self, store: SQLiteStore) -> None:
        with store.transaction(write=False) as tx:
            first = tx.list_grants("cus_1")[0]
        with store.transaction(write=False) as tx:
            assert tx.list_grants("cus_1")[0] is first

    def test_another_process_write_is_seen(self, store: SQLiteStore, path: Path) -> None:
        """Another connection rewrites the row behind the cache's back: the read decodes it."""
        assert balance(store) == 5
        with sqlite3.connect(path, isolation_level=None) as other:
            other.execute("UPDATE grants SET balance = '7.5' WHERE id = 'g1'")
        assert balance(store) == Decimal("7.5")

    def test_a_rolled_back_write_is_not_read(self, store: SQLiteStore) -> None:
        """put_grants remembers the row it wrote; after a rollback that row is not there."""
        with pytest.raises(ZeroDivisionError), store.transaction() as tx:
            tx.put_grants([grant("g1", 1, balance=Decimal(1))])
            assert tx.list_grants("cus_1")[0].balance == 1
            _ = 1 / 0
        assert balance(store) == 5

    def test_every_column_takes_part(self, store: SQLiteStore, path: Path) -> None:
        """A change in any one column (the rollovers' JSON here) is a different row."""
        lots = (RolloverLot(id="r1", balance=Decimal(2)),)
        with store.transaction() as tx:
            tx.put_grants([grant("g1", 1, balance=Decimal(5), rollovers=lots)])
        with sqlite3.connect(path, isolation_level=None) as other:
            text = other.execute("SELECT rollovers FROM grants").fetchone()[0]
            other.execute("UPDATE grants SET rollovers = ?", (text.replace('"2"', '"3"'),))
        with store.transaction(write=False) as tx:
            assert tx.list_grants("cus_1")[0].rollovers[0].balance == 3

    def test_a_full_cache_starts_over(self, store: SQLiteStore) -> None:
        store._grants.limit = 3
        with store.transaction() as tx:
            tx.put_grants([grant(f"g{n}", n, balance=Decimal(n)) for n in range(2, 9)])
        assert len(store._grants.entries) <= 3
        with store.transaction(write=False) as tx:
            assert [g.balance for g in tx.list_grants("cus_1")] == [5, 2, 3, 4, 5, 6, 7, 8]


class TestLocklessCustomers:
    """A customer read with no lock lists none, until this transaction puts one."""

    def test_a_lock_put_after_reading_the_customer_is_listed(self, store: SQLiteStore) -> None:
        with store.transaction() as tx:
            assert tx.get_customer("cus_1") is not None
            assert tx.list_locks("cus_1") == []
            tx.put_lock(lock("lk_1"))
            assert [x.lock_id for x in tx.list_locks("cus_1")] == ["lk_1"]

    def test_a_customer_with_a_lock_lists_it(self, store: SQLiteStore) -> None:
        with store.transaction() as tx:
            tx.put_lock(lock("lk_1"))
        with store.transaction(write=False) as tx:
            assert tx.get_customer("cus_1") is not None
            assert [x.lock_id for x in tx.list_locks("cus_1")] == ["lk_1"]

    def test_a_lock_put_by_a_later_transaction_is_listed(self, store: SQLiteStore) -> None:
        with store.transaction(write=False) as tx:
            tx.get_customer("cus_1")
        with store.transaction() as tx:
            tx.put_lock(lock("lk_2"))
        with store.transaction(write=False) as tx:
            tx.get_customer("cus_1")
            assert [x.lock_id for x in tx.list_locks("cus_1")] == ["lk_2"]

    def test_a_lock_put_by_another_connection_is_listed(
        self, store: SQLiteStore, path: Path
    ) -> None:
        with store.transaction(write=False) as tx:
            tx.get_customer("cus_1")
            assert tx.list_locks("cus_1") == []
        with SQLiteStore(path) as other, other.transaction() as tx:
            tx.put_lock(lock("lk_3"))
        with store.transaction(write=False) as tx:
            tx.get_customer("cus_1")
            assert [x.lock_id for x in tx.list_locks("cus_1")] == ["lk_3"]

    def test_a_lock_put_in_a_savepoint_is_listed_after_it(self, store: SQLiteStore) -> None:
        with store.transaction() as outer:
            assert outer.get_customer("cus_1") is not None
            with store.transaction() as inner:
                inner.put_lock(lock("lk_1"))
            assert [x.lock_id for x in outer.list_locks("cus_1")] == ["lk_1"]

    def test_a_savepoint_rollback_brings_a_deleted_lock_back(self, store: SQLiteStore) -> None:
        with store.transaction() as tx:
            tx.put_lock(lock("lk_1"))
        with store.transaction() as outer:
            with pytest.raises(ZeroDivisionError), store.transaction() as inner:
                inner.delete_lock("lk_1")
                assert inner.get_customer("cus_1") is not None
                assert inner.list_locks("cus_1") == []
                _ = 1 / 0
            assert [x.lock_id for x in outer.list_locks("cus_1")] == ["lk_1"]


class TestEventSeqs:
    """An event's seq is its rowid; files that counted events in `seqs` keep counting above."""

    def test_seq_is_the_rowid(self, store: SQLiteStore, path: Path) -> None:
        with store.transaction() as tx:
            seqs = [tx.next_seq("event") for _ in range(2)]
            tx.add_event(event(seqs[1]))
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT rowid, seq FROM events").fetchall() == [(2, 2)]
            assert not conn.execute("SELECT * FROM seqs WHERE kind = 'event'").fetchall()

    def test_an_older_file_counts_on_from_seqs(self, store: SQLiteStore, path: Path) -> None:
        """Before, `seqs` counted every event seq handed out, stored or not."""
        with sqlite3.connect(path, isolation_level=None) as conn:
            conn.execute("INSERT INTO seqs (kind, value) VALUES ('event', 40)")
            conn.execute(
                "INSERT INTO events (id, seq, customer_id, value, properties, timestamp, "
                "deductions, feature_ids) VALUES ('evt_39', 39, 'cus_1', '1', '{}', 0, '[]', '[]')"
            )
        with store.transaction() as tx:
            seq = tx.next_seq("event")
            tx.add_event(event(seq))
        assert seq == 41
        with store.transaction(write=False) as tx:
            assert [e.seq for e in events(tx)] == [41, 39]

    def test_a_savepoint_hands_out_the_next_seq(self, store: SQLiteStore) -> None:
        """A seq handed out, not yet stored, is not handed out again by a nested transaction."""
        with store.transaction() as outer:
            first = outer.next_seq("event")
            with store.transaction() as inner:
                second = inner.next_seq("event")
                inner.add_event(event(second))
            outer.add_event(event(first))
        assert second > first

    def test_a_rolled_back_savepoint_keeps_the_seqs_handed_out(self, store: SQLiteStore) -> None:
        """The outer transaction may still store a seq it was given before the savepoint."""
        with store.transaction() as outer:
            first = outer.next_seq("event")
            with pytest.raises(ZeroDivisionError), store.transaction() as inner:
                inner.add_event(event(inner.next_seq("event")))
                _ = 1 / 0
            assert outer.next_seq("event") > first

    def test_read_once_per_transaction(self, store: SQLiteStore, path: Path) -> None:
        """After the first, seqs are counted on from what the transaction handed out or
        stored itself (it holds the write lock)."""
        with store.transaction() as tx:
            first = tx.next_seq("event")
            tx.add_event(event(first + 5))
            later = [tx.next_seq("event") for _ in range(3)]
        assert later == [first + 6, first + 7, first + 8]

    def test_a_seq_stored_twice_is_refused(self, store: SQLiteStore) -> None:
        with store.transaction() as tx:
            tx.add_event(event(tx.next_seq("event")))
        with pytest.raises(StoreError), store.transaction() as tx:
            tx.add_event(event(1))

    def test_the_next_seq_is_one_seek(self, path: Path, store: SQLiteStore) -> None:
        with sqlite3.connect(path) as conn:
            plan = [s[3] for s in conn.execute("EXPLAIN QUERY PLAN " + sql._LAST_EVENT_SEQ)]
        assert plan[-1] == "SEARCH events", plan


def statements(store: SQLiteStore, read: Callable[[SQLiteSession], object]) -> list[str]:
    """The statements a new read transaction running `read` sends."""
    sent: list[str] = []
    conn = store._slot().conn
    conn.set_trace_callback(sent.append)
    try:
        with store.transaction(write=False) as tx:
            read(tx)
    finally:
        conn.set_trace_callback(None)
    return sent


def everything(
    tx: SQLiteSession,
) -> tuple[list[Feature], Customer | None, list[Grant], list[Lock]]:
    """What loading a customer's balances reads."""
    return (
        tx.list_features(),
        tx.get_customer("cus_1"),
        tx.list_grants("cus_1"),
        tx.list_locks("cus_1"),
    )


class TestWhatTheConnectionKnows:
    """Read once, then known until another connection commits; kept by the connection's own
    writes; forgotten on any rollback."""

    def test_read_again_without_a_query(self, store: SQLiteStore) -> None:
        first = statements(store, everything)
        assert len(first) > 3
        assert statements(store, everything) == ["BEGIN", "PRAGMA data_version", "COMMIT"]

    def test_own_writes_are_known(self, store: SQLiteStore) -> None:
        statements(store, everything)
        with store.transaction() as tx:
            tx.put_grants([grant("g1", 1, balance=Decimal(4))])
            tx.put_customer(customer("cus_1", name="Ada"))
            tx.add_feature(feature("api_calls"))
        sent = statements(store, everything)
        assert FEATURES_KEY in sent  # a new feature: counted again
        assert not [s for s in sent if "FROM customers" in s or "FROM grants" in s]
        with store.transaction(write=False) as tx:
            _, known, grants, _ = everything(tx)
            assert [f.id for f in tx.list_features()] == ["api_calls"]
        assert known is not None and known.name == "Ada"
        assert [g.balance for g in grants] == [4]

    def test_another_connection_commit_is_read(self, store: SQLiteStore, path: Path) -> None:
        statements(store, everything)
        with sqlite3.connect(path, isolation_level=None) as other:
            other.execute("UPDATE grants SET balance = '7.5' WHERE id = 'g1'")
            other.execute("UPDATE customers SET name = 'Bea' WHERE id = 'cus_1'")
        assert len(statements(store, everything)) > 3
        assert balance(store) == Decimal("7.5")
        with store.transaction(write=False) as tx:
            found = tx.get_customer("cus_1")
            assert found is not None and found.name == "Bea"

    def test_another_thread_commit_is_read(self, store: SQLiteStore) -> None:
        """Each thread has its own connection; one's commit moves the others' version."""
        assert balance(store) == 5

        def write() -> None:
            with store.transaction() as tx:
                tx.put_grants([grant("g1", 1, balance=Decimal(2))])

        worker = threading.Thread(target=write)
        worker.start()
        worker.join()
        assert balance(store) == 2

    def test_a_rolled_back_transaction_is_forgotten(self, store: SQLiteStore) -> None:
        statements(store, everything)
        with pytest.raises(ZeroDivisionError), store.transaction() as tx:
            tx.put_grants([grant("g1", 1, balance=Decimal(1)), grant("g2", 2)])
            tx.put_customer(customer("cus_1", name="Gone"))
            tx.add_feature(feature("gone"))
            assert len(everything(tx)[2]) == 2
            _ = 1 / 0
        with store.transaction(write=False) as tx:
            features, found, grants, _ = everything(tx)
        assert features == [] and found is not None and found.name != "Gone"
        assert [(g.id, g.balance) for g in grants] == [("g1", 5)]

    def test_a_rolled_back_savepoint_is_forgotten(self, store: SQLiteStore) -> None:
        with store.transaction() as outer:
            assert outer.list_locks("cus_1") == [] and outer.get_customer("cus_1")
            with pytest.raises(ZeroDivisionError), store.transaction() as inner:
                inner.put_grants([grant("g1", 1, balance=Decimal(1))])
                inner.put_customer(customer("cus_1", name="Gone"))
                _ = 1 / 0
            found = outer.get_customer("cus_1")
            assert found is not None and found.name != "Gone"
            assert [g.balance for g in outer.list_grants("cus_1")] == [5]
        assert balance(store) == 5

    def test_a_new_or_deleted_grant_is_listed(self, store: SQLiteStore) -> None:
        statements(store, everything)
        with store.transaction() as tx:
            tx.put_grants([grant("g0", 0)])
        with store.transaction(write=False) as tx:
            assert [g.id for g in tx.list_grants("cus_1")] == ["g0", "g1"]
        with store.transaction() as tx:
            tx.delete_grants(["g1"])
        with store.transaction(write=False) as tx:
            assert [g.id for g in tx.list_grants("cus_1")] == ["g0"]

    def test_a_grant_given_to_another_customer_leaves_the_first(self, store: SQLiteStore) -> None:
        statements(store, everything)
        with store.transaction() as tx:
            tx.put_customer(customer("cus_2"))
            tx.put_grants([grant("g1", 1, customer_id="cus_2")])
        with store.transaction(write=False) as tx:
            assert tx.list_grants("cus_1") == []
            assert [g.id for g in tx.list_grants("cus_2")] == ["g1"]

    def test_lists_handed_out_are_copies(self, store: SQLiteStore) -> None:
        with store.transaction(write=False) as tx:
            tx.list_grants("cus_1").clear()
            tx.list_features().append(feature("x"))
        with store.transaction(write=False) as tx:
            assert len(tx.list_grants("cus_1")) == 1 and tx.list_features() == []

    def test_bounded(self, store: SQLiteStore) -> None:
        known = store._slot().known
        known.limit = 3
        with store.transaction() as tx:
            for n in range(2, 10):
                tx.put_customer(customer(f"cus_{n}"))
                tx.put_grants([grant(f"g{n}", n, customer_id=f"cus_{n}")])
                assert len(tx.list_grants(f"cus_{n}")) == 1
        assert len(known.customers) <= 3 and len(known.grants) <= 3

    def test_a_failed_version_read_leaves_no_transaction_open(
        self, store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(waiting, "_DATA_VERSION", "PRAGMA no such thing; SELECT")
        with pytest.raises(StoreError), store.transaction():
            pass
        monkeypatch.undo()
        assert not store._slot().conn.in_transaction
        assert balance(store) == 5

    def test_event_seqs_count_on_across_transactions(self, store: SQLiteStore, path: Path) -> None:
        """Known while nobody else adds events; another connection's insert is read."""
        with store.transaction() as tx:
            tx.add_event(event(tx.next_seq("event")))
        with store.transaction() as tx:
            assert tx.next_seq("event") == 2
        with sqlite3.connect(path, isolation_level=None) as other:
            other.execute(
                "INSERT INTO events (rowid, id, seq, customer_id, value, properties, timestamp, "
                "deductions, feature_ids) VALUES (9, 'evt_9', 9, 'cus_1', '1', '{}', 0, '[]', '[]')"
            )
        with store.transaction() as tx:
            assert tx.next_seq("event") == 10


_texts = st.text()  # every code point: quotes, backslashes, controls, surrogates, emoji
_optional_texts = st.none() | _texts
_records = st.builds(
    DeductionRecord,
    feature_id=_texts,
    balance_id=_texts,
    value=st.decimals(allow_nan=False, allow_infinity=False),
    plan_id=_optional_texts,
    interval=_optional_texts,
    interval_count=st.integers(min_value=-(2**70), max_value=2**70),
    resets_at=st.none() | st.integers(min_value=-(2**70), max_value=2**70),
)


class TestEventJson:
    """An event's deductions and feature ids are written out directly, as the encoder would."""

    @given(st.lists(_records, max_size=4))
    def test_deductions_as_the_encoder_writes_them(self, records: list[DeductionRecord]) -> None:
        as_dicts = [
            {
                "feature_id": d.feature_id,
                "balance_id": d.balance_id,
                "value": str(d.value),
                "plan_id": d.plan_id,
                "interval": d.interval,
                "interval_count": d.interval_count,
                "resets_at": d.resets_at,
            }
            for d in records
        ]
        assert grant_rows.deductions_json(records) == json.dumps(
            as_dicts, separators=(",", ":"), ensure_ascii=False
        )

    @given(st.lists(_records, min_size=1, max_size=3), _optional_texts)
    def test_feature_ids_as_the_encoder_writes_them(
        self, records: list[DeductionRecord], feature_id: str | None
    ) -> None:
        recorded = event(1, feature_id=feature_id, deductions=tuple(records))
        text = grant_rows.event_to_row(recorded)[rows.EVENT_COLUMNS.index("feature_ids")]
        assert text == json.dumps(
            sorted(recorded.feature_ids), separators=(",", ":"), ensure_ascii=False
        )
        assert set(json.loads(text)) == recorded.feature_ids
