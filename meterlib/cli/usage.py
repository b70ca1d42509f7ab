"""`meterlib usage FEATURE ...` (a table with a bar per bin and the total; `--json` the
report, `--csv` for spreadsheets) and `meterlib report CUSTOMER -o report.html`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from meterlib.arguments.reports import zone
from meterlib.cli import report_html, usage_render
from meterlib.cli.params import JSON_OBJECT, TIME, State, echo_json, pass_state
from meterlib.clock import read_clock
from meterlib.instants import instant, to_datetime
from meterlib.quantity import json_safe
from meterlib.rules.bins import BIN_SIZES

REPORT_DAYS = 30


@click.command()
@click.argument("feature_id")
@click.option("--customer", "--customer-id", "customer_id", help="Only this customer's usage.")
@click.option("--entity", "--entity-id", "entity_id", help="Only this entity's usage.")
@click.option(
    "--bin-size",
    type=click.Choice(BIN_SIZES),
    default="day",
    show_default=True,
    help="Bins of an hour (UTC), a day, a week (from Monday) or a month.",
)
@click.option("--start", type=TIME, help="From this time (default: 30 days before --end).")
@click.option("--end", type=TIME, help="Up to this time, exclusive (default: now).")
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone of the bins.")
@click.option("--group-by", help='"properties.<key>", "$customer_id" or "$entity_id".')
@click.option("--filter-by", type=JSON_OBJECT, help='Exact property matches: \'{"model": "x"}\'.')
@click.option("--max-groups", type=int, default=9, show_default=True, help="Groups kept per bin.")
@click.option(
    "--measure",
    type=click.Choice(("sum", "count")),
    default="sum",
    show_default=True,
    help="Sum the events' values, or count the events.",
)
@click.option("--csv", "as_csv", is_flag=True, help="Comma-separated values for spreadsheets.")
@pass_state
def usage(state: State, /, *, feature_id: str, as_csv: bool, **options: Any) -> None:
    """Show FEATURE's recorded usage in bins, with a bar per bin and the total."""
    report = state.looking().usage(feature_id, **options)
    if state.as_json:
        echo_json(json_safe(report.to_dict()))
    elif as_csv:
        click.echo(usage_render.usage_csv(report), nl=False)
    else:
        table = usage_render.usage_table(
            report, feature_id, bin_size=options["bin_size"], zone=zone(options["timezone"])
        )
        click.echo(table)


@click.command()
@click.argument("customer_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The HTML file to write.",
)
@click.option("--end", type=TIME, help="The report's last instant (default: now).")
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone of the days.")
@pass_state
def report(state: State, /, *, customer_id: str, output: Path, end: object, timezone: str) -> None:
    """Write CUSTOMER's balances and the last 30 days of usage as one HTML file."""
    ledger = state.looking()
    upper = read_clock(ledger.clock) if end is None else instant(end, field="end")
    start = to_datetime(upper) - timedelta(days=REPORT_DAYS)
    balances = ledger.balances(customer_id)
    reports = {
        feature_id: ledger.usage(
            feature_id, customer_id=customer_id, start=start, end=upper, timezone=timezone
        )
        for feature_id in balances
    }
    html = report_html.page(customer_id, balances, reports, generated=to_datetime(upper))
    output.write_text(html, encoding="utf-8")
    if state.as_json:
        echo_json({"success": True, "path": str(output)})
    else:
        click.echo(f"wrote {output}")
