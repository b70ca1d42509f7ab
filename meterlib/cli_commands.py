"""The commands that mirror the Ledger: catalogue, create / update / delete, check, track,
balances, events, finalize. Keyword arguments are `--kebab-case` options, booleans flags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from meterlib import cli_render as render
from meterlib.cli_params import (
    JSON_OBJECT,
    JSON_OR_WORD,
    NOT_ALLOWED,
    TIME,
    State,
    echo_json,
    parse_time,
    pass_state,
)
from meterlib.ledger import Ledger
from meterlib.results import Balance

RESET_HELP = 'month, one_off, ... or JSON: \'{"interval": "month", "interval_count": 2}\''
ENTITY = click.option("--entity-id", "--entity", "entity_id", help="An entity of the customer.")


def customer_document(ledger: Ledger, customer_id: str) -> dict[str, Any]:
    """Autumn's Customer object: the customer, its balances and its flags."""
    out = ledger.get_customer(customer_id).to_dict()
    out.update(subscriptions=[], purchases=[], licenses=[])
    out["balances"] = {k: b.to_dict() for k, b in ledger.balances(customer_id).items()}
    out["flags"] = {k: f.to_dict() for k, f in ledger.flags(customer_id).items()}
    return out


def _grant_outcome(
    state: State,
    customer_id: str,
    feature_id: str,
    entity_id: str | None,
    balance: Balance | None,
) -> None:
    """Show a create / update result: the balance, or the flag of a boolean feature."""
    ledger = state.ledger()
    flag = None
    if balance is None:
        flag = ledger.flags(customer_id, entity_id=entity_id).get(feature_id)
    if state.as_json:
        echo_json(
            {
                "success": True,
                "balance": None if balance is None else balance.to_dict(),
                "flag": None if flag is None else flag.to_dict(),
            }
        )
    elif balance is not None:
        click.echo(render.balance_table(balance))
    elif flag is not None:
        click.echo(render.flags_table({feature_id: flag}))
    else:
        click.echo(f"no {feature_id} balance")


def _success(state: State, text: str) -> None:
    if state.as_json:
        echo_json({"success": True})
    else:
        click.echo(text)


# ---------------------------------------------------------------- catalogue


@click.group()
def features() -> None:
    """Create and list features (metered, boolean, credit_system)."""


@features.command("create")
@click.argument("feature_id")
@click.option("--name")
@click.option(
    "--type",
    "kind",
    default="metered",
    show_default=True,
    help="metered | boolean | credit_system",
)
@click.option("--consumable/--non-consumable", default=True, show_default=True)
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
        echo_json(feature.to_dict())
    else:
        click.echo(render.features_table([feature]))


@features.command("list")
@pass_state
def features_list(state: State, /) -> None:
    """List features in the order they were created."""
    found = state.ledger(create=False).list_features()
    if state.as_json:
        echo_json({"list": [f.to_dict() for f in found]})
    else:
        click.echo(render.features_table(found))


@click.group()
def customers() -> None:
    """Create and list customers."""


@customers.command("create")
@click.argument("customer_id")
@click.option("--name")
@click.option("--email")
@click.option("--metadata", type=JSON_OBJECT, help="JSON object.")
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
    found = state.ledger(create=False).list_customers()
    if state.as_json:
        echo_json({"list": [c.to_dict() for c in found]})
    else:
        click.echo(render.customers_table(found))


@click.group()
def entities() -> None:
    """Create entities (seats, workspaces) under a customer."""


@entities.command("create")
@click.argument("customer_id")
@click.argument("entity_id")
@click.option("--feature-id", help="The feature this entity counts as (e.g. seats).")
@click.option("--name")
@pass_state
def entities_create(
    state: State, /, *, customer_id: str, entity_id: str, feature_id: str | None, name: str | None
) -> None:
    """Create ENTITY_ID under CUSTOMER_ID (an existing one is shown unchanged)."""
    entity = state.ledger().create_entity(customer_id, entity_id, feature_id=feature_id, name=name)
    if state.as_json:
        echo_json(entity.to_dict())
    else:
        click.echo(f"entity {entity.id} of {entity.customer_id}")


# ---------------------------------------------------------------- balances


@click.command()
@click.argument("customer_id")
@click.argument("feature_id")
@ENTITY
@click.option("--included", "--included-grant", "--granted-balance", "included", metavar="NUMBER")
@click.option("--unlimited", is_flag=True)
@click.option("--reset", type=JSON_OR_WORD, help=RESET_HELP)
@click.option(
    "--rollover",
    type=JSON_OBJECT,
    help='JSON: \'{"max": 100, "max_percentage": null, "length": 1, "duration": "month"}\'.',
)
@click.option("--expires-at", type=TIME)
@click.option("--next-reset-at", type=TIME)
@click.option("--balance-id")
@click.option("--overage-allowed", is_flag=True)
@click.option("--max-purchase", metavar="NUMBER")
@click.option("--plan-id")
@pass_state
def create(state: State, /, *, customer_id: str, feature_id: str, **options: Any) -> None:
    """Grant a balance (grants stack).

    Adds a grant of FEATURE_ID to CUSTOMER_ID; a missing customer, entity or metered feature
    is created.
    """
    balance = state.ledger().create(customer_id, feature_id, **options)
    _grant_outcome(state, customer_id, feature_id, options["entity_id"], balance)


@click.command()
@click.argument("customer_id")
@click.argument("feature_id")
@ENTITY
@click.option("--remaining", "--current-balance", "remaining", metavar="NUMBER")
@click.option("--add-to-balance", metavar="NUMBER")
@click.option("--usage", metavar="NUMBER")
@click.option("--included", "--included-grant", "--granted-balance", "included", metavar="NUMBER")
@click.option("--interval", help="Only the grants that reset on this interval.")
@click.option("--balance-id", help="Only this grant.")
@click.option("--next-reset-at", type=TIME)
@click.option("--expires-at", type=TIME)
@pass_state
def update(state: State, /, *, customer_id: str, feature_id: str, **options: Any) -> None:
    """Change grants (Autumn's target / delta rules).

    --remaining, --add-to-balance and --usage act on the sum of the grants matched
    (all of FEATURE_ID's, or those of --interval / --balance-id).
    """
    balance = state.ledger().update(customer_id, feature_id, **options)
    _grant_outcome(state, customer_id, feature_id, options["entity_id"], balance)


@click.command()
@click.argument("customer_id")
@click.option("--feature-id")
@ENTITY
@click.option("--balance-id")
@click.option("--interval")
@click.option("--recalculate-balances", is_flag=True)
@pass_state
def delete(state: State, /, *, customer_id: str, **options: Any) -> None:
    """Remove grants that match the options."""
    state.ledger().delete(customer_id, **options)
    _success(state, "deleted")


@click.command()
@click.argument("customer_id")
@ENTITY
@pass_state
def balances(state: State, /, *, customer_id: str, entity_id: str | None) -> None:
    """Show balances with their breakdown.

    The table also lists the flags; --json prints {feature_id: Balance}.
    """
    ledger = state.ledger(create=False)
    found = ledger.balances(customer_id, entity_id=entity_id)
    if state.as_json:
        echo_json({k: b.to_dict() for k, b in found.items()})
        return
    click.echo(render.balances_text(found))
    flags = ledger.flags(customer_id, entity_id=entity_id)
    if flags:
        click.echo("\n" + render.flags_table(flags))


@click.command()
@click.argument("customer_id")
@ENTITY
@pass_state
def flags(state: State, /, *, customer_id: str, entity_id: str | None) -> None:
    """Show the boolean features a customer has."""
    found = state.ledger(create=False).flags(customer_id, entity_id=entity_id)
    if state.as_json:
        echo_json({k: f.to_dict() for k, f in found.items()})
    else:
        click.echo(render.flags_table(found))


# ---------------------------------------------------------------- check, track, locks


def _lock(lock: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A --lock object with its `expires_at` given as ISO 8601 or epoch ms."""
    if lock is None:
        return None
    out = dict(lock)
    if isinstance(out.get("expires_at"), str):
        out["expires_at"] = parse_time(out["expires_at"])
    return out


@click.command()
@click.argument("customer_id")
@click.argument("feature_id")
@ENTITY
@click.option("--required-balance", default="1", metavar="NUMBER", show_default=True)
@click.option("--send-event", is_flag=True, help="Also deduct it (all or nothing).")
@click.option("--properties", type=JSON_OBJECT)
@click.option(
    "--lock",
    type=JSON_OBJECT,
    help='Hold the amount until `finalize`: \'{"lock_id": "l1", "expires_at": "...Z"}\'.',
)
@click.option("--with-preview", is_flag=True)
@click.pass_context
def check(ctx: click.Context, /, *, customer_id: str, feature_id: str, **options: Any) -> None:
    """Check whether usage is allowed (exit 1 if not).

    May CUSTOMER_ID use --required-balance of FEATURE_ID now? With --send-event or --lock
    the amount is also deducted, all of it or nothing.
    """
    state = ctx.find_object(State)
    assert state is not None
    options["lock"] = _lock(options["lock"])
    result = state.ledger(create=bool(options["send_event"] or options["lock"])).check(
        customer_id, feature_id, **options
    )
    if state.as_json:
        echo_json(result.to_dict())
    else:
        click.echo(render.check_text(result))
    if not result.allowed:
        ctx.exit(NOT_ALLOWED)


@click.command()
@click.argument("customer_id")
@click.argument("feature_id", required=False)
@click.option("--event-name", help="Instead of FEATURE_ID: every feature listening to it.")
@click.option(
    "--value", default="1", metavar="NUMBER", show_default=True, help="Negative gives back."
)
@ENTITY
@click.option("--properties", type=JSON_OBJECT)
@click.option("--idempotency-key")
@click.option("--timestamp", type=TIME, help="When it happened (not in the future).")
@click.option(
    "--overage-behavior",
    type=click.Choice(["cap", "overflow"]),
    default="cap",
    show_default=True,
)
@pass_state
def track(state: State, /, *, customer_id: str, feature_id: str | None, **options: Any) -> None:
    """Record usage and deduct it.

    Deducts --value of FEATURE_ID (or of every feature listening to --event-name) in
    Autumn's order; a negative value gives back.
    """
    result = state.ledger().track(customer_id, feature_id, **options)
    if state.as_json:
        echo_json(result.to_dict())
    else:
        click.echo(render.track_text(result))


@click.command()
@click.argument("lock_id")
@click.option(
    "--action", type=click.Choice(["confirm", "release"]), default="confirm", show_default=True
)
@click.option(
    "--override-value", metavar="NUMBER", help="Confirm this amount instead of the one held."
)
@click.option("--properties", type=JSON_OBJECT)
@pass_state
def finalize(state: State, /, *, lock_id: str, **options: Any) -> None:
    """Settle a lock: confirm or release it.

    Confirm keeps what LOCK_ID holds (or --override-value); release gives it all back.
    """
    state.ledger().finalize(lock_id, **options)
    done = {"confirm": "confirmed", "release": "released"}[options["action"]]
    _success(state, f"lock {lock_id} {done}")


@click.command()
@click.argument("customer_id", required=False)
@click.option("--customer", "--customer-id", "customer_option", help="Same as CUSTOMER_ID.")
@click.option("--feature", "--feature-id", "feature_id")
@ENTITY
@click.option("--since", "--start", "start", type=TIME, help="From this time (inclusive).")
@click.option("--until", "--end", "end", type=TIME, help="Up to this time (exclusive).")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--cursor", help="next_cursor of the previous page.")
@pass_state
def events(
    state: State, /, *, customer_id: str | None, customer_option: str | None, **options: Any
) -> None:
    """List events, newest first, a page at a time."""
    if customer_id and customer_option and customer_id != customer_option:
        raise click.UsageError("give the customer once: CUSTOMER_ID or --customer")
    page = state.ledger(create=False).events(customer_id or customer_option, **options)
    if state.as_json:
        echo_json(page.to_dict())
        return
    click.echo(render.events_table(page.events))
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}")
