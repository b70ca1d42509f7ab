"""`meterlib`: inspect and fix a ledger file without writing Python.

    meterlib [--db PATH] [--json] COMMAND ...

The ledger is a SQLite file (`--db`, else `$METERLIB_DB`, else `./meterlib.db`; a store URL
such as `postgresql://...` works too) read and written on the system clock. Commands mirror
the Ledger's methods (`cli_commands`, `cli_catalogue`), plus `import` / `export` and `demo`.
Output is a table, or with `--json` exactly one JSON document in Autumn's shape. Exit status:
0 success, 1 a check that is not allowed, 2 bad input or a library error (message on stderr).
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from meterlib.cli import catalogue, catalogue_edits, commands, retention, usage
from meterlib.cli.demo import build, default_start
from meterlib.cli.exporting import export
from meterlib.cli.importing import import_
from meterlib.cli.params import DEFAULT_DB, TIME, MeterGroup, State, echo_json, pass_state
from meterlib.clock import ManualClock


@click.group(cls=MeterGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    envvar="METERLIB_DB",
    default=DEFAULT_DB,
    show_default=True,
    help="The ledger: a SQLite file (or a store URL). Also $METERLIB_DB.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (Autumn's shape).")
@click.option(
    "--reverse-deduction-order",
    is_flag=True,
    help="Ledger setting: drain non-resetting and longer-interval grants first.",
)
@click.option(
    "--persist-overage-on-reset",
    is_flag=True,
    help="Ledger setting: keep free overage (a negative balance) across a reset.",
)
@click.version_option(package_name="meterlib")
@click.pass_context
def cli(ctx: click.Context, /, *, db: str, as_json: bool, **settings: bool) -> None:
    """Usage metering with Autumn's balance semantics, over a local ledger file.

    The ledger's settings are not stored in the file: pass the ones the application
    using the file passes to Ledger(...), so deductions here run as they do there.
    """
    state = State(db, as_json=as_json, **settings)
    ctx.obj = state
    ctx.call_on_close(state.close)


@cli.command()
@click.option("--start", type=TIME, help="When the scenario begins (default: a month ago).")
@pass_state
def demo(state: State, start: object) -> None:
    """Build a demo scenario and print its balances.

    A plan grant that resets monthly and rolls over, a one-off top-up, an AI credit system,
    and a month of time travel. Safe to repeat: each run adds a new customer (acme, acme-2...).
    """
    if start is not None:
        _check_demo_start(start)
    clock = ManualClock(default_start() if start is None else start)  # type: ignore[arg-type]
    with state.new_ledger(state.store(), clock) as ledger:
        customer, steps = build(ledger, clock)
    if state.as_json:
        echo_json({"customer_id": customer, "steps": [s.to_dict() for s in steps]})
        return
    click.echo("\n\n".join(step.text() for step in steps))
    db = "" if state.db == DEFAULT_DB else f"--db {state.db} "
    click.echo(
        f"\nSaved in {state.db}. Next: meterlib {db}balances {customer}"
        f"   meterlib {db}events --customer {customer}"
    )


DEMO_FIRST = datetime(1970, 1, 1, tzinfo=UTC)
DEMO_LAST = datetime(9999, 10, 31, tzinfo=UTC)  # the demo plays a month on from its start


def _check_demo_start(start: object) -> None:
    """A usage error for a --start the demo's month of time travel cannot run from."""
    ms = start if isinstance(start, int) else None
    inside = (
        DEMO_FIRST.timestamp() * 1000 <= ms <= DEMO_LAST.timestamp() * 1000
        if ms is not None
        else isinstance(start, datetime) and DEMO_FIRST <= start <= DEMO_LAST
    )
    if not inside:
        raise click.BadParameter(
            "the demo plays a month from its start: give a time from 1970-01-01 to "
            "9999-10-31 (ISO 8601 or epoch ms)",
            param_hint="'--start'",
        )


assert catalogue_edits.features_delete  # its commands join catalogue's groups
for command in (
    catalogue.features,
    catalogue.customers,
    catalogue.entities,
    commands.create,
    commands.update,
    commands.delete,
    commands.check,
    commands.track,
    commands.balances,
    commands.flags,
    commands.events,
    commands.finalize,
    import_,
    export,
    usage.usage,
    usage.report,
    retention.dump,
    retention.restore,
    retention.copy,
    retention.prune,
):
    cli.add_command(command)


def main() -> None:
    """The `meterlib` console script."""
    cli(prog_name="meterlib")
