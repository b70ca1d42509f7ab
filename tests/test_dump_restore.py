"""A dump restored into any other store is the same ledger: it answers every read alike, and
goes on answering alike through the same later operations and clock moves.

The store-agreement machine (tests/test_store_agreement.py) runs its random operations on ONE
ledger (the source) until its `move` rule dumps it and restores the dump into a fresh store of
every other kind. From there on every rule runs on all of them in lockstep and every answer,
notification, balance and event page must agree, as in the agreement test; right after the
move, the restored ledgers' own dumps must equal the source's line for line.
"""

from __future__ import annotations

import difflib
import io
import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule, run_state_machine_as_test
from postgres_server import MODE_VARIABLE, URL_VARIABLE, throwaway_store
from test_store_agreement import CUSTOMERS, DAY, ENTITIES, FEATURES, StoreAgreement

from meterlib import Ledger, ManualClock, MemoryStore
from meterlib.stores import SQLiteStore, Store


def dumped(ledger: Ledger) -> str:
    out = io.StringIO()
    ledger.dump(out)
    return out.getvalue()


class DumpRestoreAgreement(StoreAgreement):
    """The agreement machine, on one store until `move` copies it into every other."""

    source = 0  # which of the agreement machine's stores the program starts on

    def __init__(self) -> None:
        super().__init__()
        self.moved = False
        # the others stay empty until the move: their stores are replaced then
        self.others = [ledger for n, ledger in enumerate(self.ledgers) if n != self.source]
        self.all_ledgers, self.all_clocks, self.all_inboxes = (
            self.ledgers,
            self.clocks,
            self.inboxes,
        )
        self.ledgers = [self.ledgers[self.source]]
        self.clocks = [self.clocks[self.source]]
        self.inboxes = [self.inboxes[self.source]]

    def _fresh(self, index: int) -> Store:
        if index == 1:
            self.path.unlink()  # the agreement machine's file: made anew, empty
            for suffix in ("-wal", "-shm"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
            return SQLiteStore(self.path)
        return (MemoryStore, SQLiteStore, lambda: SQLiteStore(":memory:"), throwaway_store)[index]()  # type: ignore[no-any-return,operator]

    @precondition(lambda self: not self.moved)
    @rule()
    def move(self) -> None:
        """Dump the source; restore it into a new store of every other kind."""
        source = self.ledgers[0]
        text = dumped(source)
        now = self.clocks[0].now()
        for index, ledger in enumerate(self.all_ledgers):
            if index == self.source:
                continue
            ledger.close()
            clock = ManualClock(now)
            restored = Ledger(self._fresh(index), clock=clock)
            assert restored.restore(io.StringIO(text)) == text.count("\n") - 1
            again = dumped(restored)
            assert again == text, f"{restored!r} dumps another ledger:\n" + "".join(
                difflib.unified_diff(text.splitlines(True), again.splitlines(True), n=0)
            )
            restored.subscribe(self.all_inboxes[index].append)
            self.all_ledgers[index], self.all_clocks[index] = restored, clock
        self.ledgers, self.clocks, self.inboxes = (
            self.all_ledgers,
            self.all_clocks,
            self.all_inboxes,
        )
        self.moved = True
        for customer in CUSTOMERS:
            self.read_catalogue(customer, ENTITIES[0])
            for entity in (None, *ENTITIES):
                self.read_subject(customer, entity, FEATURES[0])
                self.all(lambda lg, c=customer: lg.usage_limits(c))  # type: ignore[misc]
            self.read_usage(customer, "day", 45)

    @rule(ago=st.integers(0, 40 * DAY))
    def prune(self, ago: int) -> None:
        """Prune older events (their totals travel in the dump too) and spent keys. Only the
        events removed are compared: a dump carries live keys only, so the spent keys a store
        still held (and a prune then counts) stay behind by design."""
        self.all(lambda ledger: ledger.prune(self.now - ago).events_removed)

    @rule(
        customer=st.sampled_from([None, *CUSTOMERS]),
        bins=st.sampled_from(["hour", "day", "month"]),
        days=st.integers(1, 60),
    )
    def read_usage(self, customer: str | None, bins: str, days: int) -> None:
        """Usage over events and the hourly totals of pruned time (start on a whole hour)."""
        end = self.now
        start = end - end % 3_600_000 - days * DAY
        self.all(
            lambda ledger: ledger.usage(
                ["f", "credits"], customer_id=customer, start=start, end=end, bin_size=bins
            )
        )

    @rule()
    def reopen(self) -> None:
        """Reopen the SQLite file (before the move, only when it is the source)."""
        if self.moved:
            super().reopen()
        elif self.source == 1:
            self.ledgers[0].close()
            self.ledgers[0] = Ledger(SQLiteStore(self.path), clock=self.clocks[0])
            self.ledgers[0].subscribe(self.inboxes[0].append)
            self.all_ledgers[1] = self.ledgers[0]

    def teardown(self) -> None:
        if not self.moved:  # every program ends with a move at the latest
            self.move()
            self.same_balances_and_events()
        self.ledgers = self.all_ledgers
        super().teardown()


class FromSQLiteFile(DumpRestoreAgreement):
    source = 1


class WithPostgres(DumpRestoreAgreement):
    with_postgres = True


class FromPostgres(DumpRestoreAgreement):
    with_postgres = True
    source = 3


FAST = settings(
    max_examples=8,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
HEAVY = settings(
    max_examples=40,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
_POSTGRES = os.environ.get(MODE_VARIABLE) == "require" or os.environ.get(URL_VARIABLE)


@pytest.mark.parametrize(
    "machine", [DumpRestoreAgreement, FromSQLiteFile], ids=["memory", "sqlite"]
)
def test_a_restored_ledger_behaves_as_its_source(machine: type[DumpRestoreAgreement]) -> None:
    run_state_machine_as_test(machine, settings=FAST)


@pytest.mark.slow
@pytest.mark.parametrize(
    "machine", [DumpRestoreAgreement, FromSQLiteFile], ids=["memory", "sqlite"]
)
def test_many_long_programs(machine: type[DumpRestoreAgreement]) -> None:
    run_state_machine_as_test(machine, settings=HEAVY)


@pytest.mark.parametrize("machine", [WithPostgres, FromPostgres], ids=["to", "from"])
def test_postgres_dumps_and_restores(machine: type[DumpRestoreAgreement]) -> None:
    """PostgreSQL as a target and as the source (METERLIB_TEST_POSTGRES=require ... -k postgres)."""
    if not _POSTGRES:
        pytest.skip("PostgreSQL runs are opt-in: set METERLIB_TEST_POSTGRES=require")
    run_state_machine_as_test(machine, settings=FAST)
