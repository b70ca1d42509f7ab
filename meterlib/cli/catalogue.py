"""The catalogue commands: `features create|list`, `customers create|list`, `entities create`."""

from __future__ import annotations

from typing import Any

import click

from meterlib import shapes
from meterlib.catalogue_edits import every_customer
from meterlib.cli import render
from meterlib.cli.params import JSON_OBJECT, State, echo_json, pass_state
from meterlib.ledger import Ledger


def customer_document(ledger: Ledger, customer_id: str) -> dict[str, Any]:
    """Autumn's Customer object: the customer, its balances and its flags."""
    return shapes.customer_document(
        ledger.get_customer(customer_id), ledger.balances(customer_id), ledger.flags(customer_id)
    )


@click.group()
def features() -> None:
    """Create and list features (metered, boolean, credit_system)."""


@features.command("create")
@click.argument("feature_id")
@click.option("--name", help="A display name.")
@click.option(
    "--type",
    "kind",
    default="metered",
    show_default=True,
    help="metered | boolean | credit_system",
)
@click.option(
    "--consumable/--non-consumable",
    default=True,
    show_default=True,
    help="Usage is used up (messages) or held (seats, which do not reset).",
)
@click.option(
    "--event-names",
    multiple=True,
    help="An event name that deducts from this feature (repeat it, or separate with commas).",
)
@click.option(
    "--credit-schema",
    type=JSON_OBJECT,
    help="For a credit_system: JSON {metered_feature_id: credit_cost}, e.g. '{\"ai_calls\": 5}'.",
)
@pass_state
def features_create(
    state: State,
    /,
    *,
    feature_id: str,
    name: str | None,
    kind: str,
    consumable: bool,
    event_names: tuple[str, ...],
    credit_schema: dict[str, Any] | None,
) -> None:
    """Add FEATURE_ID to the catalogue."""
    names = [n.strip() for raw in event_names for n in raw.split(",") if n.strip()]
    feature = state.ledger().create_feature(
        feature_id,
        name=name,
        type=kind,
        consumable=consumable,
        event_names=names,
        credit_schema=credit_schema,
    )
    if state.as_json:
        echo_json(shapes.feature(feature))
    else:
        click.echo(render.features_table([feature]))


@features.command("list")
@pass_state
def features_list(state: State, /) -> None:
    """List features in the order they were created."""
    found = state.ledger(write=False).list_features()
    if state.as_json:
        echo_json(shapes.listing(shapes.feature(f) for f in found))
    else:
        click.echo(render.features_table(found))


@click.group()
def customers() -> None:
    """Create and list customers."""


@customers.command("create")
@click.argument("customer_id")
@click.option("--name", help="A display name.")
@click.option("--email", help="The customer's email address.")
@click.option(
    "--metadata", type=JSON_OBJECT, help='Free-form JSON object, e.g. \'{"tier": "gold"}\'.'
)
@pass_state
def customers_create(
    state: State,
    /,
    *,
    customer_id: str,
    name: str | None,
    email: str | None,
    metadata: dict[str, Any] | None,
) -> None:
    """Create CUSTOMER_ID (an existing customer is shown unchanged)."""
    ledger = state.ledger()
    customer = ledger.create_customer(customer_id, name=name, email=email, metadata=metadata)
    if state.as_json:
        echo_json(customer_document(ledger, customer.id))
    else:
        click.echo(render.customers_table([customer]))


@customers.command("list")
@pass_state
def customers_list(state: State, /) -> None:
    """List customers in id order."""
    found = every_customer(state.ledger(write=False))
    if state.as_json:
        echo_json(shapes.listing(shapes.customer(c) for c in found))
    else:
        click.echo(render.customers_table(found))


@click.group()
def entities() -> None:
    """Create entities (seats, workspaces) under a customer."""


@entities.command("create")
@click.argument("customer_id")
@click.argument("entity_id")
@click.option("--feature-id", help="The feature this entity counts as (e.g. seats).")
@click.option("--name", help="A display name.")
@pass_state
def entities_create(
    state: State, /, *, customer_id: str, entity_id: str, feature_id: str | None, name: str | None
) -> None:
    """Create ENTITY_ID under CUSTOMER_ID (an existing one is shown unchanged)."""
    entity = state.ledger().create_entity(customer_id, entity_id, feature_id=feature_id, name=name)
    if state.as_json:
        echo_json(shapes.entity(entity))
    else:
        click.echo(f"entity {entity.id} of {entity.customer_id}")
