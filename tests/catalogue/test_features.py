"""update_feature and delete_feature on every store (API.md "More catalogue calls")."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from meterlib import (
    FeatureNotFound,
    InvalidRequest,
    Ledger,
    ManualClock,
)
from meterlib.stores import SQLiteStore


def refused(call: object) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        call()  # type: ignore[operator]
    assert info.value.code == "invalid_request", str(info.value)
    return info.value


class TestUpdateFeature:
    """The fields given are replaced; the rest, the id and the catalogue order stay."""

    def test_unknown_feature(self, ledger: Ledger) -> None:
        """An unknown feature is FeatureNotFound."""
        with pytest.raises(FeatureNotFound):
            ledger.update_feature("nope", name="x")

    def test_name_only(self, ledger: Ledger) -> None:
        """A new name is kept; event names and the order are not touched."""
        ledger.create_feature("a", event_names=["sent"])
        ledger.create_feature("b")
        updated = ledger.update_feature("a", name="Messages")
        assert (updated.name, updated.event_names) == ("Messages", ("sent",))
        assert ledger.get_feature("a") == updated
        assert [f.id for f in ledger.list_features()] == ["a", "b"]

    def test_renamed_event_names_change_what_a_track_reaches(self, ledger: Ledger) -> None:
        """After event_names changes, the old name reaches nothing and the new one the feature."""
        ledger.create_feature("messages", event_names=["sent"])
        ledger.create("acme", "messages", included=10)
        ledger.track("acme", event_name="sent", value=1)
        ledger.update_feature("messages", event_names=["delivered"])
        with pytest.raises(FeatureNotFound):
            ledger.track("acme", event_name="sent")
        result = ledger.track("acme", event_name="delivered", value=2)
        assert [(d.feature_id, d.value) for d in result.deductions] == [("messages", 2)]
        assert ledger.balance("acme", "messages").remaining == 7  # type: ignore[union-attr]

    def test_credit_schema_changes_the_cost(self, ledger: Ledger) -> None:
        """A credit system's new schema prices the next track."""
        ledger.create_feature("ai")
        ledger.create_feature("credits", type="credit_system", credit_schema={"ai": 2})
        ledger.create("acme", "credits", included=100)
        ledger.track("acme", "ai", value=1)
        ledger.update_feature("credits", credit_schema={"ai": "0.5"})
        ledger.track("acme", "ai", value=1)
        assert ledger.balance("acme", "credits").remaining == Decimal("97.5")  # type: ignore[union-attr]

    def test_a_schema_only_on_a_credit_system(self, ledger: Ledger) -> None:
        """A metered feature takes no credit_schema; nothing changes."""
        ledger.create_feature("ai", name="AI")
        error = refused(lambda: ledger.update_feature("ai", name="x", credit_schema={"b": 1}))
        assert "credit_system" in str(error)
        assert ledger.get_feature("ai").name == "AI"

    def test_another_connection_sees_the_update(self, tmp_path: Path) -> None:
        """A second SQLite store on the same file reads the new definition (its feature cache
        cannot take an update, which keeps the count, for the old catalogue)."""
        path = tmp_path / "meter.db"
        clock = ManualClock(ManualClock(0).now())
        with (
            Ledger(SQLiteStore(path), clock=clock) as one,
            Ledger(SQLiteStore(path), clock=clock) as two,
        ):
            one.create_feature("messages", event_names=["sent"])
            one.create("acme", "messages", included=10)
            assert two.track("acme", event_name="sent").balance is not None
            one.update_feature("messages", event_names=["delivered"])
            with pytest.raises(FeatureNotFound):
                two.track("acme", event_name="sent")
            one.delete("acme", feature_id="messages")
            one.delete_feature("messages")
            one.create_feature("messages", event_names=["again"])  # the same count again
            assert two.get_feature("messages").event_names == ("again",)


class TestDeleteFeature:
    """A feature goes only while nothing live uses it; then it is unknown."""

    def test_unknown_feature(self, ledger: Ledger) -> None:
        """An unknown feature is FeatureNotFound."""
        with pytest.raises(FeatureNotFound):
            ledger.delete_feature("nope")

    def test_unused_feature_goes(self, ledger: Ledger) -> None:
        """A feature nothing uses is deleted, and can be created again."""
        ledger.create_feature("a")
        ledger.create_feature("b")
        ledger.delete_feature("a")
        with pytest.raises(FeatureNotFound):
            ledger.get_feature("a")
        assert [f.id for f in ledger.list_features()] == ["b"]
        assert ledger.create_feature("a", type="boolean").type == "boolean"

    def test_a_live_grant_keeps_it(self, ledger: Ledger) -> None:
        """A feature with a live grant is refused, naming the customer; deleting the grant
        frees it."""
        ledger.create("acme", "messages", included=10)
        error = refused(lambda: ledger.delete_feature("messages"))
        assert "'acme'" in str(error)
        assert ledger.balance("acme", "messages").remaining == 10  # type: ignore[union-attr]
        ledger.delete("acme", feature_id="messages")
        ledger.delete_feature("messages")
        with pytest.raises(FeatureNotFound):
            ledger.balance("acme", "messages")

    def test_a_credit_system_keeps_its_members(self, ledger: Ledger) -> None:
        """A member of a credit schema is refused until the schema no longer lists it."""
        ledger.create_feature("ai")
        ledger.create_feature("basic")
        ledger.create_feature("credits", type="credit_system", credit_schema={"ai": 2, "basic": 1})
        assert "credits" in str(refused(lambda: ledger.delete_feature("ai")))
        ledger.update_feature("credits", credit_schema={"basic": 1})
        ledger.delete_feature("ai")

    def test_an_entity_of_it_keeps_it(self, ledger: Ledger) -> None:
        """An entity whose feature it is keeps it until the entity goes."""
        ledger.create_feature("seats", consumable=False)
        ledger.create_customer("acme")
        ledger.create_entity("acme", "seat-1", feature_id="seats")
        assert "seat-1" in str(refused(lambda: ledger.delete_feature("seats")))
        ledger.delete_entity("acme", "seat-1")
        ledger.delete_feature("seats")

    def test_expired_grants_go_with_it(self, ledger: Ledger, clock: ManualClock) -> None:
        """Only expired grants left: the feature goes, and so do they."""
        ledger.create("acme", "promo", included=5, expires_at=clock() + 60_000)
        ledger.create("acme", "messages", included=1)
        refused(lambda: ledger.delete_feature("promo"))
        clock.advance(minutes=1)
        ledger.delete_feature("promo")
        grants = ledger.grants("acme", statuses=("active", "expired"))
        assert [g.feature_id for g in grants] == ["messages"]
