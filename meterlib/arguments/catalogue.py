"""The catalogue calls' arguments: features, customers, entities, and the reads by subject."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from meterlib import controls, validation
from meterlib.errors import InvalidRequest
from meterlib.operations.customers import CustomerArgs, EntityArgs
from meterlib.operations.features import FeatureArgs
from meterlib.state import Want


def feature_args(  # noqa: PLR0917  (a method's parameters, in its order)
    feature_id: str,
    name: str | None,
    type: str,
    consumable: bool,
    event_names: Sequence[str],
    credit_schema: Mapping[str, object] | None,
) -> FeatureArgs:
    """`Ledger.create_feature`'s arguments: only a credit system has (and needs) a schema."""
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
    return FeatureArgs(feature_id, name, kind, consumable, names, schema)


def customer_args(
    customer_id: str,
    name: str | None,
    email: str | None,
    metadata: Mapping[str, Any] | None,
    billing_controls: Mapping[str, Any] | None = None,
    *,
    update: bool,
) -> CustomerArgs:
    """create_customer's (`update` False: no metadata is {}) or update_customer's arguments
    (`update` True: None keeps a field)."""
    customer_id = validation.require_id(customer_id, "customer_id")
    name = validation.optional_text(name, "name")
    email = validation.optional_text(email, "email")
    keep = update and metadata is None
    meta = None if keep else validation.properties(metadata, "metadata")
    patch = None if billing_controls is None else controls.validate(billing_controls)
    return CustomerArgs(customer_id, name, email, meta, patch)


def entity_args(
    customer_id: str,
    entity_id: str,
    feature_id: str | None = None,
    name: str | None = None,
    billing_controls: Mapping[str, Any] | None = None,
) -> EntityArgs:
    """create_entity's or update_entity's arguments."""
    customer_id = validation.require_id(customer_id, "customer_id")
    entity_id = validation.require_id(entity_id, "entity_id")
    feature_id = validation.optional_id(feature_id, "feature_id")
    name = validation.optional_text(name, "name")
    patch = None if billing_controls is None else controls.validate(billing_controls, entity=True)
    return EntityArgs(customer_id, entity_id, feature_id, name, patch)


def subject(customer_id: str, entity_id: str | None = None) -> Want:
    """What a read of one subject loads: the customer, and the entity when one is named."""
    customer_id = validation.require_id(customer_id, "customer_id")
    entity_id = validation.optional_id(entity_id, "entity_id")
    return Want(customer_id, () if entity_id is None else (entity_id,))


def statuses(given: Sequence[str]) -> set[str]:
    """`Ledger.grants`' statuses: some of "active", "expired"."""
    found = list(given) if isinstance(given, list | tuple | set | frozenset) else None
    if found is None or not all(s in ("active", "expired") for s in found):
        raise InvalidRequest(
            "statuses: expected a list of some of 'active', 'expired' (received "
            f"{validation.shown(given)})",
            field="statuses",
        )
    return set(found)


def subject_feature(
    customer_id: str, feature_id: str, entity_id: str | None = None
) -> tuple[Want, str]:
    """What a read of one subject's feature loads, and the feature's id."""
    customer_id = validation.require_id(customer_id, "customer_id")
    feature_id = validation.require_id(feature_id, "feature_id")
    return subject(customer_id, entity_id), feature_id
