"""Autumn's customers and entities operations: get_or_create, get and update of a customer;
create, get and update of an entity; and the Customer and Entity payloads they answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meterlib import shapes, validation
from meterlib.autumn.billing_controls import (
    _billing_controls,
    _controls_payload,
    _tags_source,
    _unsupported,
)
from meterlib.autumn.wire import Body, invalid, strip_none
from meterlib.catalogue_edits import every_customer
from meterlib.errors import (
    AlreadyExists,
    CustomerNotFound,
    EntityNotFound,
    InvalidRequest,
    NotFound,
)

if TYPE_CHECKING:
    from meterlib.autumn.call import Call
    from meterlib.ledger import Ledger


# --- customers ----------------------------------------------------------------------------


def _customer_payload(call: Call, customer_id: str, expand: list[str]) -> dict[str, Any]:
    """Autumn's Customer: every required key, balances and flags never null, billing controls
    with their windows' usage."""
    ledger = call.ledger
    customer = ledger.get_customer(customer_id)
    billing_controls = _controls_payload(
        ledger,
        customer.billing_controls,
        customer_id,
        None,
        source="customer" if _tags_source(call) else None,
    )
    out = shapes.customer_document(
        customer,
        ledger.balances(customer_id),
        ledger.flags(customer_id),
        billing_controls=billing_controls,
    )
    if expand:
        features = {f.id: shapes.feature(f) for f in ledger.list_features()}
        for key in ("balances", "flags"):
            if f"{key}.feature" in expand:
                for fid, item in out[key].items():
                    if fid in features:
                        item["feature"] = features[fid]
    return out


def _customer_details(body: Body) -> dict[str, Any]:
    """What a new customer is made with (get_or_create's body, entities.create's
    customer_data), checked whole: `create_customer` arguments plus `billing_controls`."""
    details = strip_none(
        {
            "name": validation.optional_id(body.text("name"), body.field("name")),
            "email": validation.optional_id(body.text("email"), body.field("email")),
            "billing_controls": _billing_controls(body),
        }
    )
    metadata = body.mapping("metadata")
    if metadata is not None:
        details["metadata"] = validation.properties(metadata, body.field("metadata"))
    for key in ("fingerprint", "stripe_id", "currency", "auto_enable_plan_id"):
        body.text(key)
    for key in ("create_in_stripe", "send_email_receipts"):
        body.boolean(key)
    body.nested("config")
    return details


def _ensure_customer(ledger: Ledger, customer_id: str, details: dict[str, Any]) -> None:
    """Create the customer with `details` (billing controls applied) unless it exists; an
    existing customer is left as it is, as Autumn does."""
    try:
        ledger.get_customer(customer_id)
    except CustomerNotFound:
        pass
    else:
        return
    kwargs = dict(details)
    billing_controls = kwargs.pop("billing_controls", None)
    ledger.create_customer(customer_id, **kwargs)
    if billing_controls:
        ledger.update_customer(customer_id, billing_controls=billing_controls)


def get_or_create_customer(call: Call) -> Any:
    """`POST /v1/customers.get_or_create`: the customer, created with the given details if new.

    The whole body, billing controls included, is checked before anything is created.
    """
    body = Body(call.body)
    if body.data.get("customer_id") is None:
        invalid("customer_id", "meterlib needs a customer_id (customers without one are not kept)")
    customer_id = body.required_text("customer_id")
    details = _customer_details(body)
    body.nested("billing_details")
    expand = body.texts("expand") or []
    _ensure_customer(call.ledger, customer_id, details)
    return _customer_payload(call, customer_id, expand)


def get_customer(call: Call) -> Any:
    """`POST /v1/customers.get`: 404 `customer_not_found` for an unknown id."""
    body = Body(call.body)
    customer_id = body.required_text("customer_id")
    expand = body.texts("expand") or []
    return _customer_payload(call, customer_id, expand)


def update_customer(call: Call) -> Any:
    """`POST /v1/customers.update`: name, email, metadata and billing controls, in one write.

    Billing controls are patched per key (a key given replaces its list, `[]` clears it);
    metadata is merged into the stored one, a key sent as null is removed. Fields meterlib
    does not keep (fingerprint, stripe_id, currency, config, ...) are checked and ignored.
    """
    body = Body(call.body)
    customer_id = body.required_text("customer_id")
    name = validation.optional_id(body.text("name"), "name")
    email = validation.optional_id(body.text("email"), "email")
    metadata = body.mapping("metadata")
    for key in ("fingerprint", "stripe_id", "currency"):
        body.text(key)
    body.boolean("send_email_receipts")
    body.nested("config")
    body.nested("billing_details")
    new_id = body.nullable_text("new_customer_id")
    billing_controls = _billing_controls(body)
    customer = call.ledger.get_customer(customer_id)
    if new_id is None:
        raise InvalidRequest("Customer ID cannot be set to null", code="invalid_request")
    if isinstance(new_id, str) and new_id != customer_id:
        _unsupported("new_customer_id", "changing a customer's id is")
    merged = None
    if metadata is not None:
        merged = {**customer.metadata, **metadata}
        merged = {k: v for k, v in merged.items() if v is not None}
    call.ledger.update_customer(
        customer_id,
        **strip_none(
            {
                "name": name,
                "email": email,
                "metadata": merged,
                "billing_controls": billing_controls,
            }
        ),
    )
    return _customer_payload(call, customer_id, [])


# --- entities -----------------------------------------------------------------------------


def _entity_payload(ledger: Ledger, customer_id: str, entity_id: str) -> dict[str, Any]:
    """Autumn's Entity: its balances and flags as the entity sees them, and its own billing
    controls (never the customer's it inherits), each usage limit with its `usage`."""
    entity = ledger.get_entity(customer_id, entity_id)
    return shapes.entity_document(
        entity,
        ledger.balances(customer_id, entity_id=entity_id),
        ledger.flags(customer_id, entity_id=entity_id),
        billing_controls=_controls_payload(
            ledger, entity.billing_controls, customer_id, entity_id, source=None
        ),
    )


def _entity_owner(ledger: Ledger, entity_id: str) -> str | None:
    """The customer that has an entity of this id (entities.get / update without customer_id);
    400 `entity_id_required` when several do, None when none does."""
    owners = []
    for customer in every_customer(ledger):
        try:
            ledger.get_entity(customer.id, entity_id)
        except EntityNotFound:
            continue
        owners.append(customer.id)
    if len(owners) > 1:
        raise InvalidRequest(
            f"More than one customer has an entity with ID '{entity_id}'. Include customer_id "
            f"in the request so we know which one to use.",
            code="entity_id_required",
        )
    return owners[0] if owners else None


def create_entity(call: Call) -> Any:
    """`POST /v1/entities.create`: an entity of a non-consumable feature (a seat, a workspace),
    its customer created from `customer_data` if missing; everything is checked first."""
    body = Body(call.body)
    feature_id = body.required_text("feature_id")
    customer_id = body.required_text("customer_id")
    entity_id = validation.require_id(body.required_text("entity_id"), "entity_id")
    name = validation.optional_id(body.text("name"), "name")
    billing_controls = _billing_controls(body, entity=True)
    customer_data = body.nested("customer_data")
    details = {} if customer_data is None else _customer_details(customer_data)
    feature = call.ledger.get_feature(feature_id)
    if feature.consumable:
        raise InvalidRequest(
            f"Feature '{feature_id}' is consumable (e.g. credits, API calls). Entities can only "
            f"be created for non-consumable features (e.g. seats).",
            code="invalid_request",
        )
    try:
        call.ledger.get_entity(customer_id, entity_id)
    except (CustomerNotFound, EntityNotFound):
        pass
    else:
        call.subject = "entity"
        raise AlreadyExists(f"Entity {entity_id} already exists")
    _ensure_customer(call.ledger, customer_id, details)
    call.ledger.create_entity(
        customer_id, entity_id, feature_id=feature_id, **strip_none({"name": name})
    )
    if billing_controls:
        call.ledger.update_entity(customer_id, entity_id, billing_controls=billing_controls)
    return _entity_payload(call.ledger, customer_id, entity_id)


def get_entity(call: Call) -> Any:
    """`POST /v1/entities.get`: without customer_id, the entity is looked for in every customer
    (404 `entity_not_found` where Autumn answers a 500)."""
    body = Body(call.body)
    entity_id = body.required_text("entity_id")
    customer_id = body.text("customer_id") or _entity_owner(call.ledger, entity_id)
    if customer_id is None:
        raise EntityNotFound(entity_id)
    return _entity_payload(call.ledger, customer_id, entity_id)


def update_entity(call: Call) -> Any:
    """`POST /v1/entities.update`: the entity's billing controls, patched per key as a
    customer's (an entity has no auto_topups)."""
    body = Body(call.body)
    entity_id = body.required_text("entity_id")
    customer_id = body.text("customer_id")
    billing_controls = _billing_controls(body, entity=True)
    if customer_id is None:
        customer_id = _entity_owner(call.ledger, entity_id)
        if customer_id is None:
            raise NotFound(
                f"No customer found for entity '{entity_id}'. Pass customer_id to identify "
                f"the customer.",
                code="customer_not_found",
            )
    if billing_controls is None:
        call.ledger.get_entity(customer_id, entity_id)
    else:
        call.ledger.update_entity(customer_id, entity_id, billing_controls=billing_controls)
    return _entity_payload(call.ledger, customer_id, entity_id)
