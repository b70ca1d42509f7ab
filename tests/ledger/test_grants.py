"""Ledger.grants: every grant on its own, caught up to now."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterlib import InvalidRequest, Ledger, ManualClock


class TestGrants:
    """One row per grant, live ones in deduction order, expired ones after them."""

    def test_rows_follow_the_deduction_order(self, ledger: Ledger) -> None:
        """A lifetime grant is listed after a monthly one, whatever the creation order."""
        ledger.create("c1", "messages", included=200, balance_id="lifetime")
        ledger.create("c1", "messages", included=500, reset="month", balance_id="monthly")
        ledger.track("c1", "messages", value=50)
        rows = ledger.grants("c1")
        assert [r.item.id for r in rows] == ["monthly", "lifetime"]
        assert [r.item.remaining for r in rows] == [Decimal(450), Decimal(200)]
        assert all(r.status == "active" and r.customer_id == "c1" for r in rows)

    def test_expired_grants_only_when_asked(self, ledger: Ledger, clock: ManualClock) -> None:
        """An expired grant is listed with status "expired" only if that status is asked for."""
        ledger.create("c1", "messages", included=10, expires_at=clock() + 1000, balance_id="soon")
        ledger.create("c1", "messages", included=20, balance_id="kept")
        clock.advance(seconds=1)
        assert [r.item.id for r in ledger.grants("c1")] == ["kept"]
        rows = ledger.grants("c1", statuses=("active", "expired"))
        assert [(r.item.id, r.status) for r in rows] == [("kept", "active"), ("soon", "expired")]

    def test_an_entity_sees_only_its_own_grants(self, ledger: Ledger) -> None:
        """With entity_id only that entity's own grants are listed; without it, all of them."""
        ledger.create("c1", "messages", included=100, balance_id="shared")
        ledger.create("c1", "messages", included=5, entity_id="e1", balance_id="seat")
        assert [r.item.id for r in ledger.grants("c1", entity_id="e1")] == ["seat"]
        assert {r.item.id for r in ledger.grants("c1")} == {"shared", "seat"}
        assert ledger.grants("c1", entity_id="e1")[0].entity_id == "e1"

    def test_rollovers_are_caught_up(self, ledger: Ledger, clock: ManualClock) -> None:
        """A reset nobody has written yet still shows its rollover on the grant's row."""
        ledger.create("c1", "messages", included=100, reset="month", rollover={"max": 50})
        ledger.track("c1", "messages", value=30)
        clock.advance(months=1)
        (row,) = ledger.grants("c1")
        assert row.item.remaining == Decimal(100)
        assert [(r.granted, r.balance) for r in row.rollovers] == [(Decimal(50), Decimal(50))]
        assert row.to_dict()["rollovers"][0]["balance"] == 50

    def test_unknown_status_is_refused(self, ledger: Ledger) -> None:
        """A status other than active or expired is invalid input."""
        ledger.create_customer("c1")
        with pytest.raises(InvalidRequest):
            ledger.grants("c1", statuses=("deleted",))
