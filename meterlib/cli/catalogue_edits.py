"""The catalogue commands beyond create: `customers delete`, `entities list|delete`,
`features update|delete` (registered on the groups of `meterlib.cli.catalogue`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click

from meterlib import shapes
from meterlib.cli import render
from meterlib.cli.catalogue import customers, entities, features
from meterlib.cli.params import JSON_OBJECT, State, echo_json, pass_state
from meterlib.models import Entity

_DONE = {"success": True}


def entities_table(found: Iterable[Entity]) -> str:
    """Entities, one a row."""
    rows = [
        [e.customer_id, e.id, e.feature_id or "-", e.name or "-", render.when(e.created_at)]
        for e in found
    ]
    if not rows:
        return "no entities"
    return render._table(rows, headers=["customer", "entity", "feature", "name", "created"])


def _done(state: State, text: str) -> None:
    if state.as_json:
        echo_json(_DONE)
    else:
        click.echo(text)


@customers.command("delete")
@click.argument("customer_id")
@pass_state
def customers_delete(state: State, /, *, customer_id: str) -> None:
    """Delete CUSTOMER_ID and all it owns: entities, grants, locks, events."""
    state.ledger().delete_customer(customer_id)
    _done(state, f"deleted customer {customer_id}")


@entities.command("list")
@click.argument("customer_id", required=False)
@click.option(
    "--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Entities a page."
)
@click.option("--cursor", help="The next_cursor a previous page printed.")
@pass_state
def entities_list(
    state: State, /, *, customer_id: str | None, limit: int, cursor: str | None
) -> None:
    """List entities (of CUSTOMER_ID, or of every customer) in customer and id order."""
    page = state.ledger(write=False).list_entities(customer_id, limit=limit, cursor=cursor)
    if state.as_json:
        echo_json(
            {"list": [shapes.entity(e) for e in page.entities], "next_cursor": page.next_cursor}
        )
        return
    click.echo(entities_table(page.entities))
    if page.next_cursor is not None:
        click.echo(f"more: --cursor {page.next_cursor}")


@entities.command("delete")
@click.argument("customer_id")
@click.argument("entity_id")
@pass_state
def entities_delete(state: State, /, *, customer_id: str, entity_id: str) -> None:
    """Delete ENTITY_ID of CUSTOMER_ID with its grants (its locks released, events kept)."""
    state.ledger().delete_entity(customer_id, entity_id)
    _done(state, f"deleted entity {entity_id} of {customer_id}")


@features.command("update")
@click.argument("feature_id")
@click.option("--name", help="A new display name.")
@click.option(
    "--event-names",
    multiple=True,
    help="The event names that deduct from it, replacing the old ones (repeat it, or separate "
    "with commas; '' for none).",
)
@click.option(
    "--credit-schema",
    type=JSON_OBJECT,
    help="A credit_system's new JSON {metered_feature_id: credit_cost}.",
)
@pass_state
def features_update(
    state: State,
    /,
    *,
    feature_id: str,
    name: str | None,
    event_names: tuple[str, ...],
    credit_schema: dict[str, Any] | None,
) -> None:
    """Change FEATURE_ID's name, event names or credit schema (what is not given is kept)."""
    names = [n.strip() for raw in event_names for n in raw.split(",") if n.strip()]
    feature = state.ledger().update_feature(
        feature_id,
        name=name,
        event_names=names if event_names else None,
        credit_schema=credit_schema,
    )
    if state.as_json:
        echo_json(shapes.feature(feature))
    else:
        click.echo(render.features_table([feature]))


@features.command("delete")
@click.argument("feature_id")
@pass_state
def features_delete(state: State, /, *, feature_id: str) -> None:
    """Delete FEATURE_ID; refused while a credit schema, a live grant, an entity or a lock
    uses it."""
    state.ledger().delete_feature(feature_id)
    _done(state, f"deleted feature {feature_id}")
