"""Ledger calls for the catalogue: features, customers, entities and their billing controls."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from attrs import evolve

from meterlib import controls, validation
from meterlib.errors import (
    AlreadyExists,
    InvalidRequest,
)
from meterlib.instants import to_datetime
from meterlib.ledger_core import LedgerCore
from meterlib.models import (
    Customer,
    Entity,
    Feature,
)
from meterlib.operations.customers import decide_configured
from meterlib.state import Want

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
        with self._tx(write=True) as session:
            catalogue = session.catalogue()
            if feature_id in catalogue.by_id:
                raise AlreadyExists(f"Feature {feature_id} already exists", code="already_exists")
            feature = Feature(
                id=feature_id,
                name=name,
                type=kind,
                consumable=consumable if kind == "metered" else kind != "boolean",
                event_names=names,
                credit_schema=schema,
                seq=session.next_seq("feature"),
            )
            session.add_feature(feature)
            return detached(feature)

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
        now = self._now()
        with self._tx(write=True) as session:
            existing = session.get_customer(customer_id)
            if existing is not None:
                return detached(existing)
            customer = Customer(
                id=customer_id, name=name, email=email, metadata=meta, created_at=to_datetime(now)
            )
            session.put_customer(customer)
            return detached(customer)

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
        now = self._now()
        with self._notifying() as outbox, self._tx(write=True) as session:
            customer = self._customer(session, customer_id)
            before = customer.billing_controls
            customer = evolve(
                customer,
                name=customer.name if name is None else name,
                email=customer.email if email is None else email,
                metadata=customer.metadata if meta is None else meta,
                billing_controls=before if update is None else controls.merge(before, update),
            )
            session.put_customer(customer)
            if update is not None and "auto_topups" in update.stored:
                # loaded after the write: the working copy obeys the new controls
                state = session.load(Want(customer_id))
                decide = partial(
                    decide_configured,
                    before=controls.Controls.from_stored(before),
                    purchase_counts=update.purchase_counts,
                )
                decision = self._decided(session, state, decide, now)
                session.apply(decision.effects)
                outbox.extend(decision.notifications)
            return detached(customer)

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
        with self._tx(write=True) as session:
            self._customer(session, customer_id)
            entity = self._entity(session, customer_id, entity_id)
            assert entity is not None
            if update is not None:
                entity = evolve(
                    entity, billing_controls=controls.merge(entity.billing_controls, update)
                )
                session.put_entity(entity)
            return detached(entity)

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
        now = self._now()
        with self._tx(write=True) as session:
            catalogue = session.catalogue()
            self._customer(session, customer_id)
            if feature_id is not None:
                self._feature(catalogue, feature_id)
            existing = session.get_entity(customer_id, entity_id)
            if existing is not None:
                return detached(existing)
            entity = Entity(
                id=entity_id,
                customer_id=customer_id,
                feature_id=feature_id,
                name=name,
                created_at=to_datetime(now),
            )
            session.put_entity(entity)
            return detached(entity)

    def get_entity(self, customer_id: str, entity_id: str) -> Entity:
        """The entity; CustomerNotFound / EntityNotFound if absent."""
        customer_id = validation.require_id(customer_id, "customer_id")
        entity_id = validation.require_id(entity_id, "entity_id")
        with self._tx(write=False) as session:
            self._customer(session, customer_id)
            entity = self._entity(session, customer_id, entity_id)
            assert entity is not None
            return detached(entity)
