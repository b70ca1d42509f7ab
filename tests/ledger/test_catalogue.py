"""The catalogue: features, customers, entities, and the balance and flag getters (API.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterlib import (
    CustomerNotFound,
    EntityNotFound,
    FeatureNotFound,
    Ledger,
    ManualClock,
)

START = datetime(2025, 1, 31, 12, tzinfo=UTC)


class TestFeatures:
    """create_feature stores each kind of feature exactly as described."""

    def test_metered_consumable_is_the_default(self, ledger: Ledger) -> None:
        """A feature created without options is metered and consumable."""
        f = ledger.create_feature("messages", name="Messages")
        assert (f.id, f.name, f.type, f.consumable) == ("messages", "Messages", "metered", True)
        assert tuple(f.event_names) == ()
        assert f.credit_schema is None

    def test_metered_non_consumable(self, ledger: Ledger) -> None:
        """A metered feature can be non-consumable (seats, workspaces)."""
        f = ledger.create_feature("seats", consumable=False)
        assert (f.type, f.consumable) == ("metered", False)

    def test_boolean(self, ledger: Ledger) -> None:
        """A boolean feature is stored with type 'boolean'."""
        f = ledger.create_feature("sso", type="boolean")
        assert f.type == "boolean"

    def test_credit_system_keeps_its_schema_as_decimals(self, ledger: Ledger) -> None:
        """A credit system keeps its credit_schema: metered feature id -> exact credit cost."""
        ledger.create_feature("requests")
        ledger.create_feature("images")
        f = ledger.create_feature(
            "credits", type="credit_system", credit_schema={"requests": 2, "images": "0.5"}
        )
        assert f.type == "credit_system"
        assert dict(f.credit_schema or {}) == {"requests": Decimal(2), "images": Decimal("0.5")}
        assert all(isinstance(v, Decimal) for v in (f.credit_schema or {}).values())

    def test_event_names(self, ledger: Ledger) -> None:
        """A feature keeps the event names it listens to, in order."""
        f = ledger.create_feature("messages", event_names=("chat", "sms"))
        assert tuple(f.event_names) == ("chat", "sms")

    def test_get_feature_returns_what_was_created(self, ledger: Ledger) -> None:
        """get_feature returns the stored feature."""
        created = ledger.create_feature("messages", name="Messages", event_names=("chat",))
        got = ledger.get_feature("messages")
        assert got.to_dict() == created.to_dict()
        assert (got.id, got.name, tuple(got.event_names)) == ("messages", "Messages", ("chat",))

    def test_list_features_in_creation_order(self, ledger: Ledger) -> None:
        """list_features returns every feature in catalogue (creation) order."""
        for fid in ("zeta", "alpha", "mid"):
            ledger.create_feature(fid)
        assert [f.id for f in ledger.list_features()] == ["zeta", "alpha", "mid"]

    def test_list_features_empty(self, ledger: Ledger) -> None:
        """A fresh ledger has no features."""
        assert list(ledger.list_features()) == []

    def test_unknown_feature_is_feature_not_found(self, ledger: Ledger) -> None:
        """get_feature of an unknown id raises FeatureNotFound with code feature_not_found."""
        with pytest.raises(FeatureNotFound) as info:
            ledger.get_feature("nope")
        assert info.value.code == "feature_not_found"
        assert info.value.feature_id == "nope"

    def test_feature_to_dict(self, ledger: Ledger) -> None:
        """Feature.to_dict gives Autumn's feature shape, credit_schema as a list of costs."""
        ledger.create_feature("requests")
        f = ledger.create_feature("credits", type="credit_system", credit_schema={"requests": 2})
        d = f.to_dict()
        assert d["id"] == "credits"
        assert d["type"] == "credit_system"
        assert d["credit_schema"] == [{"metered_feature_id": "requests", "credit_cost": 2}]


class TestCustomers:
    """create_customer is get-or-create; get_customer raises for an unknown id."""

    def test_create_customer_records_its_fields(self, ledger: Ledger, clock: ManualClock) -> None:
        """A new customer has the given name, email, metadata and the clock's time."""
        c = ledger.create_customer(
            "c1", name="Ada", email="ada@example.com", metadata={"tier": "gold"}
        )
        assert (c.id, c.name, c.email) == ("c1", "Ada", "ada@example.com")
        assert dict(c.metadata) == {"tier": "gold"}
        assert c.created_at == clock.now() == START

    def test_metadata_defaults_to_empty(self, ledger: Ledger) -> None:
        """A customer created without metadata has empty metadata."""
        c = ledger.create_customer("c1")
        assert dict(c.metadata) == {}
        assert c.name is None
        assert c.email is None

    def test_create_customer_is_get_or_create(self, ledger: Ledger, clock: ManualClock) -> None:
        """Creating an existing customer returns it unchanged (get-or-create)."""
        first = ledger.create_customer("c1", name="Ada")
        clock.advance(days=1)
        again = ledger.create_customer("c1", name="Other")
        assert again.id == "c1"
        assert again.created_at == first.created_at
        assert again.name == "Ada"
        assert ledger.get_customer("c1").created_at == START

    def test_get_customer(self, ledger: Ledger) -> None:
        """get_customer returns the stored customer."""
        ledger.create_customer("c1", name="Ada")
        assert ledger.get_customer("c1").name == "Ada"

    def test_unknown_customer_is_customer_not_found(self, ledger: Ledger) -> None:
        """get_customer of an unknown id raises CustomerNotFound with code customer_not_found."""
        with pytest.raises(CustomerNotFound) as info:
            ledger.get_customer("ghost")
        assert info.value.code == "customer_not_found"
        assert info.value.customer_id == "ghost"


class TestEntities:
    """create_entity adds a sub-account to an existing customer."""

    def test_create_entity_records_its_fields(self, ledger: Ledger, clock: ManualClock) -> None:
        """An entity has its id, customer, feature, name and the clock's time."""
        ledger.create_feature("seats", consumable=False)
        ledger.create_customer("c1")
        e = ledger.create_entity("c1", "e1", feature_id="seats", name="Seat 1")
        assert (e.id, e.customer_id, e.feature_id, e.name) == ("e1", "c1", "seats", "Seat 1")
        assert e.created_at == clock.now()

    def test_entity_without_feature(self, ledger: Ledger) -> None:
        """An entity needs no feature."""
        ledger.create_customer("c1")
        e = ledger.create_entity("c1", "e1")
        assert e.feature_id is None

    def test_entity_of_unknown_customer(self, ledger: Ledger) -> None:
        """create_entity for an unknown customer raises CustomerNotFound."""
        with pytest.raises(CustomerNotFound):
            ledger.create_entity("ghost", "e1")

    def test_entity_with_unknown_feature(self, ledger: Ledger) -> None:
        """create_entity naming an unknown feature raises FeatureNotFound."""
        ledger.create_customer("c1")
        with pytest.raises(FeatureNotFound):
            ledger.create_entity("c1", "e1", feature_id="nope")

    def test_created_entity_can_be_used(self, ledger: Ledger) -> None:
        """A created entity can be named by check (it inherits the customer-level grants)."""
        ledger.create("c1", "messages", included=10)
        ledger.create_entity("c1", "e1")
        result = ledger.check("c1", "messages", entity_id="e1")
        assert result.allowed is True
        assert result.balance is not None
        assert result.balance.remaining == Decimal(10)

    def test_unknown_entity_is_entity_not_found(self, ledger: Ledger) -> None:
        """Naming an unknown entity raises EntityNotFound with code entity_not_found."""
        ledger.create("c1", "messages", included=10)
        with pytest.raises(EntityNotFound) as info:
            ledger.check("c1", "messages", entity_id="ghost")
        assert info.value.code == "entity_not_found"
        assert info.value.entity_id == "ghost"


class TestBalanceGetters:
    """balance/balances/flags read the catalogue and raise for unknown names."""

    def test_known_feature_without_grant_is_none(self, ledger: Ledger) -> None:
        """balance() of a known customer and known feature without any grant is None."""
        ledger.create_customer("c1")
        ledger.create_feature("messages")
        assert ledger.balance("c1", "messages") is None

    def test_unknown_feature_is_an_error(self, ledger: Ledger) -> None:
        """balance() of an unknown feature raises FeatureNotFound."""
        ledger.create_customer("c1")
        with pytest.raises(FeatureNotFound):
            ledger.balance("c1", "nope")

    def test_unknown_customer_is_an_error(self, ledger: Ledger) -> None:
        """balance(), balances() and flags() of an unknown customer raise CustomerNotFound."""
        ledger.create_feature("messages")
        with pytest.raises(CustomerNotFound):
            ledger.balance("ghost", "messages")
        with pytest.raises(CustomerNotFound):
            ledger.balances("ghost")
        with pytest.raises(CustomerNotFound):
            ledger.flags("ghost")

    def test_unknown_entity_is_an_error(self, ledger: Ledger) -> None:
        """balance() naming an unknown entity raises EntityNotFound."""
        ledger.create("c1", "messages", included=1)
        with pytest.raises(EntityNotFound):
            ledger.balance("c1", "messages", entity_id="ghost")

    def test_balances_holds_metered_and_credit_features_only(self, ledger: Ledger) -> None:
        """balances() maps metered and credit-system features; boolean ones are flags."""
        ledger.create_feature("requests")
        ledger.create_feature("credits", type="credit_system", credit_schema={"requests": 1})
        ledger.create_feature("sso", type="boolean")
        ledger.create("c1", "requests", included=5)
        ledger.create("c1", "credits", included=50)
        ledger.create("c1", "sso")
        balances = ledger.balances("c1")
        assert set(balances) == {"requests", "credits"}
        assert balances["requests"].remaining == Decimal(5)
        assert balances["credits"].remaining == Decimal(50)
        flags = ledger.flags("c1")
        assert set(flags) == {"sso"}
        assert flags["sso"].feature_id == "sso"

    def test_balances_of_a_customer_without_grants(self, ledger: Ledger) -> None:
        """A customer without grants has no balances and no flags."""
        ledger.create_customer("c1")
        assert dict(ledger.balances("c1")) == {}
        assert dict(ledger.flags("c1")) == {}


class TestReturnedObjectsAreCopies:
    """Changing the dicts inside a returned feature, customer, entity or event (frozen objects
    that hold dicts) changes nothing in the ledger, on any store."""

    def test_customer_metadata_and_controls(self, ledger: Ledger) -> None:
        created = ledger.create_customer("cus_1", metadata={"plan": {"seats": 3}})
        created.metadata["plan"]["seats"] = 99
        got = ledger.get_customer("cus_1")
        got.metadata["plan"]["seats"] = 98
        got.metadata["added"] = True
        got.billing_controls["spend_limits"] = [{"feature_id": "x"}]
        ledger.list_customers().customers[0].metadata.clear()
        again = ledger.get_customer("cus_1")
        assert again.metadata == {"plan": {"seats": 3}}
        assert again.billing_controls == {}

    def test_feature_credit_schema(self, ledger: Ledger) -> None:
        ledger.create_feature("messages")
        made = ledger.create_feature(
            "credits", type="credit_system", credit_schema={"messages": Decimal(2)}
        )
        assert made.credit_schema is not None
        made.credit_schema["messages"] = Decimal(5)
        got = ledger.get_feature("credits")
        assert got.credit_schema is not None
        got.credit_schema.clear()
        ledger.list_features()[1].credit_schema["messages"] = Decimal(7)  # type: ignore[index]
        assert ledger.get_feature("credits").credit_schema == {"messages": Decimal(2)}

    def test_entity_controls(self, ledger: Ledger) -> None:
        ledger.create_customer("cus_1")
        ledger.create_entity("cus_1", "seat_1").billing_controls["spend_limits"] = []
        ledger.get_entity("cus_1", "seat_1").billing_controls["x"] = 1
        assert ledger.get_entity("cus_1", "seat_1").billing_controls == {}

    def test_event_properties(self, ledger: Ledger) -> None:
        ledger.create("cus_1", "messages", included=10)
        ledger.track("cus_1", "messages", properties={"tags": {"a": 1}})
        (event,) = ledger.events(customer_id="cus_1").events
        event.properties["tags"]["a"] = 2
        (again,) = ledger.events(customer_id="cus_1").events
        assert again.properties == {"tags": {"a": 1}}
