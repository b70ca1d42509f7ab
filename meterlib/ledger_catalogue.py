"""Ledger calls for the catalogue: features, customers, entities and their billing controls."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from meterlib import controls, validation
from meterlib.errors import (
    InvalidRequest,
)
from meterlib.ledger_core import LedgerCore
from meterlib.models import (
    Customer,
    Entity,
    Feature,
)
from meterlib.operation import single
from meterlib.operations.customers import (
    CustomerArgs,
    EntityArgs,
    decide_create_customer,
    decide_create_entity,
    decide_update_customer,
    decide_update_entity,
)
from meterlib.operations.features import FeatureArgs, decide_create_feature

_T = TypeVar("_T")


def detached(value: _T) -> _T:
    """A deep copy of what a call returns. Features, customers and entities are frozen but
    hold dicts (credit schema, metadata, billing controls) that a store or its cache keeps
    and hands out again: a caller changing what it got must not change the ledger."""
    return copy.deepcopy(value)


class CatalogueCalls(LedgerCore):
    """Creating, reading and changing features, customers and entities."""

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
        feature_id = validation.require_id(feature_id, "feature_id")
        name = validation.optional_text(name, "name")
        kind = validation.feature_type(type)
        consumable = validation.flag(consumable, "consumable")
        names = validation.event_names(event_names)
        schema = validation.credit_schema(credit_schema)
        if kind == "credit_system" and schema is None:
            raise InvalidRequest(
                "credit_schema: a credit_system needs {metered_feature_id: credit_cost}",
                field="credit_schema",
            )
        if kind != "credit_system" and schema is not None:
            raise InvalidRequest(
                f"credit_schema: only a credit_system has one, not a {kind} feature",
                field="credit_schema",
            )
        args = FeatureArgs(feature_id, name, kind, consumable, names, schema)
        decide = partial(decide_create_feature, args=args)
        return detached(self._write_catalogue(decide, self._now()))

    def get_feature(self, feature_id: str) -> Feature:
        """The feature; FeatureNotFound if it is not in the catalogue."""
        feature_id = validation.require_id(feature_id, "feature_id")
        with self._tx(write=False) as session:
            catalogue = session.catalogue()
            return detached(self._feature(catalogue, feature_id))

    def list_features(self) -> list[Feature]:
        """Every feature, in the order they were created."""
        with self._tx(write=False) as session:
            catalogue = session.catalogue()
            return detached(list(catalogue.ordered))

    def create_customer(
        self,
        customer_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Customer:
        """The customer, created if it does not exist yet (an existing one is returned as is)."""
        customer_id = validation.require_id(customer_id, "customer_id")
        name = validation.optional_text(name, "name")
        email = validation.optional_text(email, "email")
        meta = validation.properties(metadata, "metadata")
        args = CustomerArgs(customer_id, name, email, meta)
        return detached(
            self._write((args.want(),), single(decide_create_customer, args), self._now())
        )

    def get_customer(self, customer_id: str) -> Customer:
        """The customer; CustomerNotFound if absent."""
        customer_id = validation.require_id(customer_id, "customer_id")
        with self._tx(write=False) as session:
            return detached(self._customer(session, customer_id))

    def list_customers(self) -> list[Customer]:
        """Every customer, in id order."""
        with self._tx(write=False) as session:
            return detached(session.list_customers())

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
        customer_id = validation.require_id(customer_id, "customer_id")
        name = validation.optional_text(name, "name")
        email = validation.optional_text(email, "email")
        meta = None if metadata is None else validation.properties(metadata, "metadata")
        update = None if billing_controls is None else controls.validate(billing_controls)
        args = CustomerArgs(customer_id, name, email, meta, update)
        return detached(
            self._write((args.want(),), single(decide_update_customer, args), self._now())
        )

    def update_entity(
        self,
        customer_id: str,
        entity_id: str,
        *,
        billing_controls: Mapping[str, Any] | None = None,
    ) -> Entity:
        """Change an entity's billing controls, patched per key as `update_customer` does
        (an entity takes every key but `auto_topups`)."""
        customer_id = validation.require_id(customer_id, "customer_id")
        entity_id = validation.require_id(entity_id, "entity_id")
        update = (
            None if billing_controls is None else controls.validate(billing_controls, entity=True)
        )
        args = EntityArgs(customer_id, entity_id, billing_controls=update)
        return detached(
            self._write((args.want(),), single(decide_update_entity, args), self._now())
        )

    def create_entity(
        self,
        customer_id: str,
        entity_id: str,
        *,
        feature_id: str | None = None,
        name: str | None = None,
    ) -> Entity:
        """The customer's entity, created if it does not exist yet."""
        customer_id = validation.require_id(customer_id, "customer_id")
        entity_id = validation.require_id(entity_id, "entity_id")
        feature_id = validation.optional_id(feature_id, "feature_id")
        name = validation.optional_text(name, "name")
        args = EntityArgs(customer_id, entity_id, feature_id, name)
        return detached(
            self._write((args.want(),), single(decide_create_entity, args), self._now())
        )

    def get_entity(self, customer_id: str, entity_id: str) -> Entity:
        """The entity; CustomerNotFound / EntityNotFound if absent."""
        customer_id = validation.require_id(customer_id, "customer_id")
        entity_id = validation.require_id(entity_id, "entity_id")
        with self._tx(write=False) as session:
            self._customer(session, customer_id)
            entity = self._entity(session, customer_id, entity_id)
            assert entity is not None
            return detached(entity)
