"""Autumn's features.update and features.delete, with Autumn's refusals.

Autumn refuses to rename a feature or change its type while any customer has a grant of it
(400 `invalid_feature`), and to delete one a credit system lists or any grant ever named
(409 `invalid_request`). What Autumn would allow and a ledger cannot do (a rename, a type
change, archiving) is a 400 `invalid_request` saying meterlib does not support it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meterlib import shapes
from meterlib.autumn.billing_controls import _unsupported
from meterlib.autumn.features_events import FEATURE_TYPES, credit_schema
from meterlib.autumn.wire import Body, strip_none
from meterlib.catalogue_edits import every_customer
from meterlib.errors import AlreadyExists, InvalidRequest
from meterlib.models import Feature

if TYPE_CHECKING:
    from meterlib.autumn.call import Call
    from meterlib.ledger import Ledger


def _granted_to(ledger: Ledger, feature_id: str) -> str | None:
    """A customer holding (or having held) a grant of the feature, or None."""
    for customer in every_customer(ledger):
        grants = ledger.grants(customer.id, statuses=("active", "expired"))
        if any(g.feature_id == feature_id for g in grants):
            return customer.id
    return None


def _invalid_feature(message: str) -> InvalidRequest:
    return InvalidRequest(message, code="invalid_feature")


def _checked_schema(ledger: Ledger, body: Body, feature: Feature) -> dict[str, Any] | None:
    """The new credit schema of a credit system (ignored on another feature, as Autumn)."""
    schema = credit_schema(body)
    if schema is None or feature.type != "credit_system":
        return None
    members = [item.get("metered_feature_id") for item in body.data["credit_schema"]]
    if not members or len(set(members)) != len(members):
        raise _invalid_feature("credit_schema must name each metered feature once, at least one")
    catalogue = {f.id: f for f in ledger.list_features()}
    for member in schema:
        found = catalogue.get(member)
        if found is not None and (found.type == "credit_system" or not found.consumable):
            raise _invalid_feature(f"credit_schema: {member} must be a consumable metered feature")
    return schema


def update_feature(call: Call) -> Any:
    """`POST /v1/features.update`: name, event_names and a credit system's schema change;
    Autumn's refusals of a rename or a type change come first."""
    body = Body(call.body)
    feature_id = body.required_text("feature_id")
    name = body.text("name", required=body.has("name"))
    kind = body.choice("type", FEATURE_TYPES)
    consumable = body.boolean("consumable")
    event_names = body.texts("event_names")
    archived = body.boolean("archived")
    new_id = body.text("new_feature_id")
    body.choice("combine", ("sum", "max", "min"))
    body.nested("display")
    ledger = call.ledger
    feature = ledger.get_feature(feature_id)
    if kind == "metered" and consumable is None:
        raise InvalidRequest("consumable is required when type is metered", code="invalid_request")
    if kind is not None and kind != feature.type:
        if "credit_system" in (kind, feature.type):
            raise InvalidRequest(
                f"Cannot change a {feature.type} feature into a {kind} one",
                code="invalid_request",
            )
        _refuse_if_used(ledger, feature, "change the type of")
        _unsupported("type", "changing a feature's type is")
    if consumable is not None and consumable != feature.consumable:
        _unsupported("consumable", "changing whether a feature is consumable is")
    if new_id is not None and new_id != feature_id:
        if new_id in {f.id for f in ledger.list_features()}:
            call.subject = "feature"
            raise AlreadyExists(f"Feature {new_id} already exists")
        _refuse_if_used(ledger, feature, "rename")
        _unsupported("new_feature_id", "renaming a feature is")
    if archived:
        _unsupported("archived", "archiving a feature is")
    schema = _checked_schema(ledger, body, feature)
    updated = ledger.update_feature(
        feature_id,
        **strip_none({"name": name, "event_names": event_names, "credit_schema": schema}),
    )
    return shapes.feature(updated)


def _refuse_if_used(ledger: Ledger, feature: Feature, what: str) -> None:
    systems = [c.id for c in ledger.list_features() if c.credit_cost(feature.id) is not None]
    owner = _granted_to(ledger, feature.id)
    if systems or owner is not None:
        used = f"credit system {systems[0]}" if systems else f"customer {owner}"
        raise _invalid_feature(f"Cannot {what} feature {feature.id}: it is used by {used}")


def delete_feature(call: Call) -> Any:
    """`POST /v1/features.delete`: 409 `invalid_request` while a credit system lists it or
    a grant names it (expired ones too, as Autumn keeps its grant rows)."""
    body = Body(call.body)
    feature_id = body.required_text("feature_id")
    ledger = call.ledger
    feature = ledger.get_feature(feature_id)
    call.subject = "feature_in_use"
    for system in ledger.list_features():
        if system.credit_cost(feature.id) is not None:
            raise InvalidRequest(
                f"Feature {feature_id} is used by credit system {system.id}",
                code="invalid_request",
            )
    owner = _granted_to(ledger, feature_id)
    if owner is not None:
        raise InvalidRequest(
            f"Feature {feature_id} is used by customer {owner}: delete its balances first",
            code="invalid_request",
        )
    ledger.delete_feature(feature_id)
    return {"success": True}
