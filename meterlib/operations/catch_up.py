"""Open a working copy: the loaded state caught up to now, with its billing controls.

Expired locks are released at their instants (in expiry order), every grant is advanced
to now, and, when somebody listens for notifications, the controls remember the copy as the
operation found it. Without controls on the customer (or on a loaded entity) and with
nobody listening, no controls are built at all: the plain rules apply.
"""

from __future__ import annotations

from meterlib.controls.reactions import Enforcement
from meterlib.errors import CustomerNotFound, EntityNotFound, FeatureNotFound
from meterlib.models import Customer, Entity, Feature
from meterlib.notifications import Notification
from meterlib.rules.context import Context
from meterlib.rules.working import Working
from meterlib.state import Catalogue, CustomerState

_NOBODY: frozenset[str] = frozenset()


def feature_of(catalogue: Catalogue, feature_id: str) -> Feature:
    """The feature; FeatureNotFound when the catalogue lacks it."""
    feature = catalogue.by_id.get(feature_id)
    if feature is None:
        raise FeatureNotFound(feature_id)
    return feature


def customer_of(state: CustomerState) -> Customer:
    """The loaded customer; CustomerNotFound when it is not there."""
    customer = state.customer
    if customer is None:
        raise CustomerNotFound(state.customer_id)
    return customer


def entity_of(state: CustomerState, entity_id: str | None) -> Entity | None:
    """The loaded entity `entity_id` names (None for none); EntityNotFound when it is not there."""
    if entity_id is None:
        return None
    entity = state.entities.get(entity_id)
    if entity is None:
        raise EntityNotFound(entity_id, customer_id=state.customer_id)
    return entity


def open_working(
    state: CustomerState,
    ctx: Context,
    *,
    write: bool,
    notify: bool = False,
    free: dict[str, list[int]] | None = None,
    outbox: list[Notification] | None = None,
) -> Working:
    """The customer's working copy at `ctx.now` (CustomerNotFound when there is none).

    `notify`: the operation sets off notifications (only a write does). `free` and `outbox`:
    sequence numbers and notifications shared with other working copies (a batch numbers
    its events, and tells what they set off, in item order)."""
    customer = customer_of(state)
    working = Working(state, customer, ctx, write, free)
    listening = ctx.listening if notify else _NOBODY
    entities = state.entities
    if (
        listening
        or customer.billing_controls
        or (entities and any(e.billing_controls for e in entities.values()))
    ):
        working.controls = Enforcement(
            state,
            customer,
            now=ctx.now,
            write=write,
            notify=listening,
            approvals=ctx.approvals,
        )
        if outbox is not None:
            working.controls.outbox = outbox
    working.catch_up()
    if working.controls is not None:
        working.controls.bind(working)
    return working


def rebind(working: Working) -> None:
    """Let the controls remember the copy as it is now, for the notifications of the
    operation about to start (a batch rebinds before each item)."""
    controls = working.controls
    if controls is not None:
        controls.bind(working)
