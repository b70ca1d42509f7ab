"""Locks: check(lock=...) reserves, finalize confirms or releases (autumn-check-track §7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterlib import AlreadyExists, InvalidRequest, Ledger, LockNotFound, ManualClock
from meterlib.results import Balance

D = Decimal
START = datetime(2025, 1, 31, 12, tzinfo=UTC)


def bal(ledger: Ledger, feature_id: str = "messages") -> Balance:
    b = ledger.balance("c1", feature_id)
    assert b is not None
    return b


def event_values(ledger: Ledger) -> list[Decimal]:
    """Event values, newest first."""
    return [e.value for e in ledger.events("c1").events]


@pytest.fixture
def fifteen(ledger: Ledger) -> Ledger:
    """15 to start: 5 hourly (drains first) + 10 monthly, as in §7.3."""
    ledger.create("c1", "messages", included=5, reset="hour", balance_id="hourly")
    ledger.create("c1", "messages", included=10, reset="month", balance_id="monthly")
    return ledger


def rows(b: Balance) -> dict[str, Decimal]:
    return {i.id: i.remaining for i in b.breakdown}


class TestFinalizeTable:
    """The worked lock outcomes of autumn-check-track §7.3."""

    @pytest.mark.parametrize(
        "row",
        [
            (8, "release", None, 15, -8),
            (8, "confirm", 5, 10, -3),
            (8, "confirm", 11, 4, 3),
            (8, "confirm", None, 7, None),
            (8, "confirm", 8, 7, None),
            (5, "confirm", -2, 15, -7),
        ],
        ids=["release", "confirm-less", "confirm-more", "confirm", "confirm-same", "confirm-neg"],
    )
    def test_outcome(
        self, fifteen: Ledger, row: tuple[int, str, int | None, int, int | None]
    ) -> None:
        """Lock L then finalize: remaining and the finalize event's value (V − L) per the table."""
        lock, action, override, remaining, event = row
        ledger = fifteen
        result = ledger.check("c1", "messages", required_balance=lock, lock={"lock_id": "l1"})
        assert result.allowed is True
        assert bal(ledger).remaining == D(15 - lock)
        assert event_values(ledger) == [D(lock)]
        ledger.finalize("l1", action=action, override_value=override)
        assert bal(ledger).remaining == D(remaining)
        expected_events = [D(lock)] if event is None else [D(event), D(lock)]
        assert event_values(ledger) == expected_events

    def test_release_restores_the_same_rows(self, fifteen: Ledger) -> None:
        """A lock of 8 takes 5 hourly + 3 monthly; release gives each back exactly."""
        fifteen.check("c1", "messages", required_balance=8, lock={"lock_id": "l1"})
        assert rows(bal(fifteen)) == {"hourly": D(0), "monthly": D(7)}
        fifteen.finalize("l1", action="release")
        assert rows(bal(fifteen)) == {"hourly": D(5), "monthly": D(10)}

    def test_partial_confirm_unwinds_last_taken_first(self, fifteen: Ledger) -> None:
        """Confirming 5 of 8 gives back the 3 last taken (monthly), keeping the hourly 5 used."""
        fifteen.check("c1", "messages", required_balance=8, lock={"lock_id": "l1"})
        fifteen.finalize("l1", override_value=5)
        assert rows(bal(fifteen)) == {"hourly": D(0), "monthly": D(10)}

    def test_zero_lock_confirmed_at_1_2(self, ledger: Ledger) -> None:
        """A lock of 0 on a 50 grant confirmed at 1.2 leaves 48.8 and an event of +1.2."""
        ledger.create("c1", "messages", included=50)
        result = ledger.check("c1", "messages", required_balance=0, lock={"lock_id": "l0"})
        assert result.allowed is True
        ledger.finalize("l0", action="confirm", override_value=1.2)
        assert bal(ledger).remaining == D("48.8")
        assert event_values(ledger)[0] == D("1.2")

    def test_confirm_more_than_available_is_capped(self, ledger: Ledger) -> None:
        """An override beyond what is left is capped silently, not an error."""
        ledger.create("c1", "messages", included=10)
        ledger.check("c1", "messages", required_balance=8, lock={"lock_id": "l1"})
        ledger.finalize("l1", override_value=100)
        assert (bal(ledger).remaining, bal(ledger).usage) == (D(0), D(10))

    def test_finalize_event_properties(self, ledger: Ledger) -> None:
        """The finalize event takes finalize's properties, else the check's."""
        ledger.create("c1", "messages", included=10)
        ledger.check(
            "c1", "messages", required_balance=4, lock={"lock_id": "a"}, properties={"p": 1}
        )
        ledger.finalize("a", override_value=2)
        assert dict(ledger.events("c1").events[0].properties) == {"p": 1}
        ledger.check(
            "c1", "messages", required_balance=4, lock={"lock_id": "b"}, properties={"p": 1}
        )
        ledger.finalize("b", override_value=2, properties={"q": 2})
        newest = ledger.events("c1").events[0]
        assert dict(newest.properties) == {"q": 2}
        assert newest.feature_id == "messages"


class TestLockHolds:
    """A lock deducts at once and holds until finalized or expired."""

    def test_held_amount_is_not_available(self, ledger: Ledger) -> None:
        """With 8 of 10 locked, another 8 is denied."""
        ledger.create("c1", "messages", included=10)
        ledger.check("c1", "messages", required_balance=8, lock={"lock_id": "l1"})
        assert ledger.check("c1", "messages", required_balance=8).allowed is False
        assert ledger.check("c1", "messages", required_balance=2).allowed is True

    def test_lock_without_expiry_holds(self, ledger: Ledger, clock: ManualClock) -> None:
        """A lock without expires_at still holds 30 days later and can then be released."""
        ledger.create("c1", "messages", included=10)
        ledger.check("c1", "messages", required_balance=8, lock={"lock_id": "l1"})
        clock.advance(days=30)
        assert bal(ledger).remaining == D(2)
        ledger.finalize("l1", action="release")
        assert bal(ledger).remaining == D(10)

    def test_lock_expires_at_its_instant(self, ledger: Ledger, clock: ManualClock) -> None:
        """A lock with expires_at releases itself exactly when the clock reaches it."""
        ledger.create("c1", "messages", included=10)
        expiry = START + timedelta(hours=1)
        ledger.check(
            "c1", "messages", required_balance=8, lock={"lock_id": "l1", "expires_at": expiry}
        )
        clock.set(expiry - timedelta(milliseconds=1))
        assert bal(ledger).remaining == D(2)
        clock.set(expiry)
        assert bal(ledger).remaining == D(10)
        with pytest.raises(LockNotFound):
            ledger.finalize("l1")
        assert ledger.check("c1", "messages", required_balance=3, lock={"lock_id": "l1"}).allowed
        assert bal(ledger).remaining == D(7)

    def test_expiry_in_epoch_ms(self, ledger: Ledger, clock: ManualClock) -> None:
        """Lock expires_at may be epoch milliseconds."""
        ledger.create("c1", "messages", included=10)
        expiry_ms = clock() + 60_000
        ledger.check(
            "c1", "messages", required_balance=8, lock={"lock_id": "l1", "expires_at": expiry_ms}
        )
        clock.advance(minutes=1)
        assert bal(ledger).remaining == D(10)

    def test_expiry_24h_ahead_is_the_limit(self, ledger: Ledger, clock: ManualClock) -> None:
        """expires_at exactly 24 h ahead is fine; later is InvalidRequest (invalid_request)."""
        ledger.create("c1", "messages", included=10)
        ok = clock.now() + timedelta(hours=24)
        assert ledger.check(
            "c1", "messages", required_balance=1, lock={"lock_id": "a", "expires_at": ok}
        ).allowed
        with pytest.raises(InvalidRequest) as info:
            ledger.check(
                "c1",
                "messages",
                required_balance=1,
                lock={"lock_id": "b", "expires_at": ok + timedelta(milliseconds=1)},
            )
        assert info.value.code == "invalid_request"
        assert bal(ledger).remaining == D(9)

    def test_lock_through_a_credit_pool(self, ledger: Ledger) -> None:
        """A lock of 10 requests at 2 credits holds 20 credits; release gives them back."""
        ledger.create_feature("requests")
        ledger.create_feature("credits", type="credit_system", credit_schema={"requests": 2})
        ledger.create("c1", "credits", included=100)
        assert ledger.check("c1", "requests", required_balance=10, lock={"lock_id": "l1"}).allowed
        assert bal(ledger, "credits").remaining == D(80)
        ledger.finalize("l1", action="release")
        assert bal(ledger, "credits").remaining == D(100)

    def test_lock_on_unlimited(self, ledger: Ledger) -> None:
        """An unlimited feature can be locked and finalized."""
        ledger.create("c1", "messages", unlimited=True)
        assert ledger.check("c1", "messages", required_balance=5, lock={"lock_id": "l1"}).allowed
        ledger.finalize("l1", override_value=3)
        assert bal(ledger).usage == D(3)


class TestLockOnExpiredGrant:
    """A lock whose grant expired before the finalize: what cannot go back charges nothing.

    Autumn adds the part it could not unwind to the finalize's own delta with the lock's
    sign reversed (a refund of it elsewhere), never as a further charge.
    """

    @pytest.fixture
    def held(self, ledger: Ledger, clock: ManualClock) -> Ledger:
        """A promo of 5 expiring in an hour (drained first) and a full main grant of 10;
        a lock takes the promo's 5, then the promo expires."""
        expiry = START + timedelta(hours=1)
        ledger.create("c1", "messages", included=5, expires_at=expiry, balance_id="promo")
        ledger.create("c1", "messages", included=10, balance_id="main")
        assert ledger.check("c1", "messages", required_balance=5, lock={"lock_id": "l1"}).allowed
        assert rows(bal(ledger)) == {"promo": D(0), "main": D(10)}
        clock.set(expiry)
        return ledger

    def test_release(self, held: Ledger) -> None:
        """Releasing charges the main grant nothing (a reversed sign would take 5 from it)."""
        held.finalize("l1", action="release")
        assert rows(bal(held)) == {"main": D(10)}

    def test_confirm_less(self, held: Ledger) -> None:
        """Confirming 2 of the 5 held charges nothing more either (reversed: 3 more)."""
        held.finalize("l1", override_value=2)
        assert rows(bal(held)) == {"main": D(10)}

    def test_unwound_part_is_refunded_elsewhere(self, held: Ledger) -> None:
        """With the main grant used, the 5 that cannot return to the promo refill it."""
        held.track("c1", "messages", value=7)
        held.finalize("l1", action="release")
        assert rows(bal(held)) == {"main": D(8)}


class TestLockErrors:
    """Lock ids are unique while live; unknown or finished locks are LockNotFound."""

    def test_reused_live_lock_id(self, ledger: Ledger) -> None:
        """A live lock_id reused raises AlreadyExists and deducts nothing."""
        # Autumn answers 409 `lock_already_exists` (check-track §7.1, §10); API.md fixes the
        # native code as `already_exists` for a reused balance_id *or* lock_id, and API.md wins.
        ledger.create("c1", "messages", included=10)
        ledger.check("c1", "messages", required_balance=2, lock={"lock_id": "l1"})
        with pytest.raises(AlreadyExists) as info:
            ledger.check("c1", "messages", required_balance=3, lock={"lock_id": "l1"})
        assert info.value.code == "already_exists"
        assert bal(ledger).remaining == D(8)
        assert len(ledger.events("c1").events) == 1

    def test_lock_id_free_after_finalize(self, ledger: Ledger) -> None:
        """After finalize the lock_id may be used again."""
        ledger.create("c1", "messages", included=10)
        ledger.check("c1", "messages", required_balance=2, lock={"lock_id": "l1"})
        ledger.finalize("l1")
        assert ledger.check("c1", "messages", required_balance=3, lock={"lock_id": "l1"}).allowed
        assert bal(ledger).remaining == D(5)

    def test_unknown_lock(self, ledger: Ledger) -> None:
        """finalize of an unknown lock raises LockNotFound with code lock_not_found."""
        with pytest.raises(LockNotFound) as info:
            ledger.finalize("nope")
        assert info.value.code == "lock_not_found"
        assert info.value.lock_id == "nope"

    def test_finalize_twice(self, ledger: Ledger) -> None:
        """A finalized lock is gone: a second finalize raises LockNotFound."""
        ledger.create("c1", "messages", included=10)
        ledger.check("c1", "messages", required_balance=2, lock={"lock_id": "l1"})
        ledger.finalize("l1", action="release")
        with pytest.raises(LockNotFound):
            ledger.finalize("l1", action="release")
        assert bal(ledger).remaining == D(10)

    def test_denied_lock_leaves_no_receipt(self, ledger: Ledger) -> None:
        """A denied lock deducts nothing and cannot be finalized."""
        ledger.create("c1", "messages", included=10)
        result = ledger.check("c1", "messages", required_balance=11, lock={"lock_id": "l1"})
        assert result.allowed is False
        assert bal(ledger).remaining == D(10)
        with pytest.raises(LockNotFound):
            ledger.finalize("l1")

    def test_override_with_release(self, ledger: Ledger) -> None:
        """override_value with release is InvalidRequest (invalid_inputs); the lock stays."""
        ledger.create("c1", "messages", included=10)
        ledger.check("c1", "messages", required_balance=2, lock={"lock_id": "l1"})
        with pytest.raises(InvalidRequest) as info:
            ledger.finalize("l1", action="release", override_value=1)
        assert info.value.code == "invalid_inputs"
        assert bal(ledger).remaining == D(8)
        ledger.finalize("l1", action="release")
        assert bal(ledger).remaining == D(10)

    def test_unknown_action(self, ledger: Ledger) -> None:
        """An action other than confirm or release is InvalidRequest (invalid_inputs)."""
        ledger.create("c1", "messages", included=10)
        ledger.check("c1", "messages", required_balance=2, lock={"lock_id": "l1"})
        with pytest.raises(InvalidRequest) as info:
            ledger.finalize("l1", action="cancel")
        assert info.value.code == "invalid_inputs"
        assert bal(ledger).remaining == D(8)

    def test_lock_on_boolean(self, ledger: Ledger) -> None:
        """A lock on a boolean feature is InvalidRequest (invalid_request)."""
        ledger.create_feature("sso", type="boolean")
        ledger.create("c1", "sso")
        with pytest.raises(InvalidRequest) as info:
            ledger.check("c1", "sso", lock={"lock_id": "l1"})
        assert info.value.code == "invalid_request"

    def test_lock_on_non_consumable(self, ledger: Ledger) -> None:
        """A lock on a non-consumable feature is InvalidRequest (invalid_request)."""
        ledger.create_feature("seats", consumable=False)
        ledger.create("c1", "seats", included=5)
        with pytest.raises(InvalidRequest) as info:
            ledger.check("c1", "seats", lock={"lock_id": "l1"})
        assert info.value.code == "invalid_request"
        assert bal(ledger, "seats").remaining == D(5)
