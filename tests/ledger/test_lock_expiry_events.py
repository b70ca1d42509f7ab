"""A lock past its expiry is finalized with `release` at its instant, as Autumn's expiry job
does (check-track §7.2, §7.4): an event of −L stamped at `expires_at`, recorded whoever looks
next (a read, a listing, a report) and whenever. Every store, on a ManualClock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from meterlib import Ledger, ManualClock

D = Decimal
START = datetime(2025, 1, 31, 12, tzinfo=UTC)  # the `clock` fixture's start
EXPIRY = START + timedelta(hours=1)


def _locked(ledger: Ledger, value: int = 8) -> None:
    ledger.create("c1", "messages", included=10)
    ledger.check(
        "c1", "messages", required_balance=value, lock={"lock_id": "l1", "expires_at": EXPIRY}
    )


def _events(ledger: Ledger) -> list[tuple[Decimal, object]]:
    return [(e.value, e.timestamp) for e in ledger.events("c1").events]


class TestExpiredLockRecorded:
    def test_a_balance_read_records_the_release(self, ledger: Ledger, clock: ManualClock) -> None:
        """Only a read after the expiry: the release event is there, at expires_at."""
        _locked(ledger)
        clock.set(EXPIRY + timedelta(hours=5))
        balance = ledger.balance("c1", "messages")
        assert balance is not None and balance.remaining == D(10)
        with ledger.store.transaction(write=False) as tx:
            assert tx.list_locks("c1") == []
            newest = tx.list_events(
                customer_id="c1",
                feature_id=None,
                entity_id=None,
                start=None,
                end=None,
                before=None,
                limit=1,
            )
            assert [(e.value, e.timestamp) for e in newest] == [
                (D(-8), int(EXPIRY.timestamp() * 1000))
            ]

    def test_a_listing_records_the_release(self, ledger: Ledger, clock: ManualClock) -> None:
        """Nobody read the customer: listing its events records the release first."""
        _locked(ledger)
        clock.set(EXPIRY + timedelta(days=2))
        assert _events(ledger) == [(D(-8), EXPIRY), (D(8), START)]

    def test_a_listing_of_every_customer(self, ledger: Ledger, clock: ManualClock) -> None:
        """Without a customer, every customer's overdue lock is released first."""
        _locked(ledger)
        clock.set(EXPIRY)
        assert [e.value for e in ledger.events().events] == [D(-8), D(8)]

    def test_before_the_expiry_nothing_is_recorded(
        self, ledger: Ledger, clock: ManualClock
    ) -> None:
        """One millisecond before expires_at the lock still holds and no release exists."""
        _locked(ledger)
        clock.set(EXPIRY - timedelta(milliseconds=1))
        assert _events(ledger) == [(D(8), START)]
        balance = ledger.balance("c1", "messages")
        assert balance is not None and balance.remaining == D(2)

    def test_recorded_once(self, ledger: Ledger, clock: ManualClock) -> None:
        """Reads, a plain check and a track after the expiry: one release, never two."""
        _locked(ledger)
        clock.set(EXPIRY + timedelta(minutes=1))
        ledger.balances("c1")
        assert ledger.check("c1", "messages", required_balance=10).allowed
        ledger.track("c1", "messages", value=1)
        assert _events(ledger) == [
            (D(1), EXPIRY + timedelta(minutes=1)),
            (D(-8), EXPIRY),
            (D(8), START),
        ]

    def test_a_plain_check_records_the_release(self, ledger: Ledger, clock: ManualClock) -> None:
        """The plain check that gates a request is a look too."""
        _locked(ledger, 3)
        clock.set(EXPIRY)
        assert ledger.check("c1", "messages", required_balance=10).allowed
        with ledger.store.transaction(write=False) as tx:
            assert tx.list_locks("c1") == []
