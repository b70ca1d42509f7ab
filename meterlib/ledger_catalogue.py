"""The Ledger's catalogue calls: features, customers and entities (API.md "Catalogue" and
"More catalogue calls"). A part of `Ledger`, never used alone: each method parses its
arguments, then makes one call into the shell, as every Ledger method does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from meterlib import shell_catalogue as edits
from meterlib import shell_setup as shell
from meterlib import validation
from meterlib.arguments import catalogue, catalogue_edits
from meterlib.catalogue_edits import CustomerPage, EntityPage
from meterlib.models import Customer, Entity, Feature
from meterlib.operations import customers
from meterlib.operations.features import decide_create_feature


class CatalogueCalls(shell.Holds):
    """Features, customers and entities: create, read, list, change, delete."""

    def create_feature(
        self,
        feature_id: str,
        *,
        name: str | None = None,
        type: str = "metered",
        consumable: bool = True,
        event_names: Sequence[str] = (),
        credit_schema: Mapping[str, object] | None = None,
    ) -> Feature:
        """Add a feature to the catalogue; AlreadyExists if the id is taken."""
        args = catalogue.feature_args(**shell.given(locals()))
        return shell.detached(shell.write_catalogue(self, decide_create_feature, args))

    def get_feature(self, feature_id: str) -> Feature:
        """The feature; FeatureNotFound if it is not in the catalogue."""
        return shell.feature(self, validation.require_id(feature_id, "feature_id"))

    def list_features(self) -> list[Feature]:
        """Every feature, in the order they were created."""
        return shell.detached(list(shell.features(self).ordered))

    def create_customer(
        self,
        customer_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Customer:
        """The customer, created if it does not exist yet (an existing one is returned as is)."""
        args = catalogue.customer_args(customer_id, name, email, metadata, update=False)
        return shell.copy_written(self, customers.decide_create_customer, args)

    def get_customer(self, customer_id: str) -> Customer:
        """The customer; CustomerNotFound if absent."""
        return shell.customer(self, validation.require_id(customer_id, "customer_id"))

    def update_customer(
        self,
        customer_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        billing_controls: Mapping[str, Any] | None = None,
    ) -> Customer:
        """Change a customer's name, email, metadata or billing controls (None keeps a field).

        `billing_controls` is patched per key as in Autumn: a key given replaces its whole
        list (`[]` clears it), a key left out is kept. Enabling an auto top-up runs it at
        once if the balance is already at its threshold (the first such feature only).
        """
        args = catalogue.customer_args(
            customer_id, name, email, metadata, billing_controls, update=True
        )
        return shell.copy_written(self, customers.decide_update_customer, args)

    def create_entity(
        self,
        customer_id: str,
        entity_id: str,
        *,
        feature_id: str | None = None,
        name: str | None = None,
    ) -> Entity:
        """The customer's entity, created if it does not exist yet."""
        args = catalogue.entity_args(customer_id, entity_id, feature_id, name)
        return shell.copy_written(self, customers.decide_create_entity, args)

    def get_entity(self, customer_id: str, entity_id: str) -> Entity:
        """The entity; CustomerNotFound / EntityNotFound if absent."""
        customer_id = validation.require_id(customer_id, "customer_id")
        return shell.entity(self, customer_id, validation.require_id(entity_id, "entity_id"))

    def update_entity(
        self,
        customer_id: str,
        entity_id: str,
        *,
        billing_controls: Mapping[str, Any] | None = None,
    ) -> Entity:
        """Change an entity's billing controls, patched per key as `update_customer` does
        (an entity takes every key but `auto_topups`)."""
        args = catalogue.entity_args(customer_id, entity_id, billing_controls=billing_controls)
        return shell.copy_written(self, customers.decide_update_entity, args)

    def list_customers(self, *, limit: int = 100, cursor: str | None = None) -> CustomerPage:
        """Customers in id order, a page at a time: pass `next_cursor` back for the next."""
        return edits.customers(self, catalogue_edits.customer_page(limit, cursor))

    def delete_customer(self, customer_id: str) -> None:
        """Remove the customer and all it owns (entities, grants, locks, counters, events);
        the id may then be created again from nothing."""
        edits.delete_customer(self, catalogue_edits.entity_ref(customer_id, entity=False))

    def list_entities(
        self, customer_id: str | None = None, *, limit: int = 100, cursor: str | None = None
    ) -> EntityPage:
        """Entities (of one customer, or of all) in (customer id, id) order, a page at a time."""
        query = catalogue_edits.entity_page(customer_id, limit, cursor)
        return edits.entities(self, query)

    def delete_entity(self, customer_id: str, entity_id: str) -> None:
        """Remove the entity with its own grants and the locks it holds; its events stay."""
        edits.delete_entity(self, catalogue_edits.entity_ref(customer_id, entity_id, entity=True))

    def update_feature(
        self,
        feature_id: str,
        *,
        name: str | None = None,
        event_names: Sequence[str] | None = None,
        credit_schema: Mapping[str, object] | None = None,
    ) -> Feature:
        """Replace the fields given (None keeps one); `credit_schema` only on a credit system."""
        change = catalogue_edits.feature_change(feature_id, name, event_names, credit_schema)
        return edits.update_feature(self, change)

    def delete_feature(self, feature_id: str) -> None:
        """Remove the feature; InvalidRequest (invalid_request) while a credit schema, a live
        grant, an entity or an open lock uses it. Its expired grants go with it."""
        edits.delete_feature(self, validation.require_id(feature_id, "feature_id"))
