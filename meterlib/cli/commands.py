"""The commands that mirror the Ledger's balance calls: create / update / delete, check, track,
balances, flags, events, finalize (the catalogue is in `cli_catalogue`). Keyword arguments
are `--kebab-case` options, booleans flags."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from meterlib import balance_shapes, shapes
from meterlib.cli import render
from meterlib.cli.params import (
    JSON_OBJECT,
    JSON_OR_WORD,
    NOT_ALLOWED,
    TIME,
    State,
    echo_json,
    parse_time,
    pass_state,
)
from meterlib.results import Balance

RESET_HELP = 'month, one_off, ... or JSON: \'{"interval": "month", "interval_count": 2}\''


FC = TypeVar("FC", bound=Callable[..., Any])


def included(text: str) -> Callable[[FC], FC]:
    """The --included option (with Autumn's aliases)."""
    names = ("--included", "--included-grant", "--granted-balance", "included")
    return click.option(*names, metavar="NUMBER", help=text)


ENTITY = click.option("--entity-id", "--entity", "entity_id", help="An entity of the customer.")


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
                "balance": None if balance is None else balance_shapes.balance(balance),
                "flag": None if flag is None else balance_shapes.flag(flag),
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


# ---------------------------------------------------------------- balances


@click.command()
@click.argument("customer_id")
@click.argument("feature_id")
@ENTITY
@included("Units granted per period (>= 0).")
@click.option("--unlimited", is_flag=True, help="No limit: every check is allowed.")
@click.option("--reset", type=JSON_OR_WORD, help=f"How often it refills: {RESET_HELP}.")
@click.option(
    "--rollover",
    type=JSON_OBJECT,
    help='JSON: \'{"max": 100, "max_percentage": null, "length": 1, "duration": "month"}\'.',
)
@click.option("--expires-at", type=TIME, help="When the grant ends (ISO 8601 or epoch ms).")
@click.option("--next-reset-at", type=TIME, help="The first reset (default: one period on).")
@click.option("--balance-id", help="The grant's id (default: grant_N).")
@click.option("--overage-allowed", is_flag=True, help="Usage may go past the grant (pay-per-use).")
@click.option("--max-purchase", metavar="NUMBER", help="Cap on overage units beyond included.")
@click.option("--plan-id", help="A label shown in the breakdown.")
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
@click.option(
    "--remaining", "--current-balance", "remaining", metavar="NUMBER", help="Set what is left."
)
@click.option("--add-to-balance", metavar="NUMBER", help="Add to (or, negative, take from) it.")
@click.option("--usage", metavar="NUMBER", help="Set the usage.")
@included("Set the units granted per period (>= 0).")
@click.option("--interval", help="Only the grants that reset on this interval.")
@click.option("--balance-id", help="Only this grant.")
@click.option("--next-reset-at", type=TIME, help="Move the next reset (ISO 8601 or epoch ms).")
@click.option("--expires-at", type=TIME, help="Set when the grants end.")
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
@click.option("--feature-id", help="Only this feature's grants.")
@ENTITY
@click.option("--balance-id", help="Only this grant.")
@click.option("--interval", help="Only the grants that reset on this interval.")
@click.option("--recalculate-balances", is_flag=True, help="Move their usage onto the grants left.")
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
    ledger = state.ledger(write=False)
    found = ledger.balances(customer_id, entity_id=entity_id)
    if state.as_json:
        echo_json({k: balance_shapes.balance(b) for k, b in found.items()})
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
    found = state.ledger(write=False).flags(customer_id, entity_id=entity_id)
    if state.as_json:
        echo_json({k: balance_shapes.flag(f) for k, f in found.items()})
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
@click.option(
    "--required-balance",
    default="1",
    metavar="NUMBER",
    show_default=True,
    help="How much must be available.",
)
@click.option("--send-event", is_flag=True, help="Also deduct it (all or nothing).")
@click.option("--properties", type=JSON_OBJECT, help="JSON object the billing controls match.")
@click.option(
    "--lock",
    type=JSON_OBJECT,
    help='Hold the amount until `finalize`: \'{"lock_id": "l1", "expires_at": "...Z"}\'.',
)
@click.option("--with-preview", is_flag=True, help="Also say what to offer when not allowed.")
@click.pass_context
def check(ctx: click.Context, /, *, customer_id: str, feature_id: str, **options: Any) -> None:
    """Check whether usage is allowed (exit 1 if not).

    May CUSTOMER_ID use --required-balance of FEATURE_ID now? With --send-event or --lock
    the amount is also deducted, all of it or nothing.
    """
    state = ctx.find_object(State)
    assert state is not None
    options["lock"] = _lock(options["lock"])
    result = state.ledger(write=bool(options["send_event"] or options["lock"])).check(
        customer_id, feature_id, **options
    )
    if state.as_json:
        echo_json(balance_shapes.check(result))
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
@click.option("--properties", type=JSON_OBJECT, help="JSON object stored with the event.")
@click.option("--idempotency-key", help="Counted once: a repeat within 24 h is refused.")
@click.option("--timestamp", type=TIME, help="When it happened (not in the future).")
@click.option(
    "--overage-behavior",
    type=click.Choice(["cap", "overflow"]),
    default="cap",
    show_default=True,
    help="Past the balance: deduct what is left (cap) or go negative (overflow).",
)
@pass_state
def track(state: State, /, *, customer_id: str, feature_id: str | None, **options: Any) -> None:
    """Record usage and deduct it.

    Deducts --value of FEATURE_ID (or of every feature listening to --event-name) in
    Autumn's order; a negative value gives back.
    """
    result = state.ledger().track(customer_id, feature_id, **options)
    if state.as_json:
        echo_json(balance_shapes.track(result))
    else:
        click.echo(render.track_text(result))


@click.command()
@click.argument("lock_id")
@click.option(
    "--action",
    type=click.Choice(["confirm", "release"]),
    default="confirm",
    show_default=True,
    help="Keep the amount held, or give it back.",
)
@click.option(
    "--override-value", metavar="NUMBER", help="Confirm this amount instead of the one held."
)
@click.option("--properties", type=JSON_OBJECT, help="JSON object stored with the event.")
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
@click.option("--feature", "--feature-id", "feature_id", help="Only events of this feature.")
@ENTITY
@click.option("--since", "--start", "start", type=TIME, help="From this time (inclusive).")
@click.option("--until", "--end", "end", type=TIME, help="Up to this time (exclusive).")
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=100, show_default=True, help="Page size."
)
@click.option("--cursor", help="next_cursor of the previous page.")
@pass_state
def events(
    state: State, /, *, customer_id: str | None, customer_option: str | None, **options: Any
) -> None:
    """List events, newest first, a page at a time."""
    if customer_id and customer_option and customer_id != customer_option:
        raise click.UsageError("give the customer once: CUSTOMER_ID or --customer")
    page = state.ledger(write=False).events(customer_id or customer_option, **options)
    if state.as_json:
        echo_json(shapes.event_page(page))
        return
    click.echo(render.events_table(page.events))
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}")
