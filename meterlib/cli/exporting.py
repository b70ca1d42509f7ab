"""`meterlib export`: the ledger as JSON lines, a report for people and audits.

Not a backup: `import` replays track events and refuses export records (a dump / restore
of a whole ledger comes later).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import IO, Any

import click

from meterlib import balance_shapes, shapes
from meterlib.catalogue_edits import every_customer
from meterlib.cli.params import State, echo_json, json_default, pass_state
from meterlib.ledger import Ledger
from meterlib.results import Event

KINDS = ("feature", "customer", "balance", "flag", "event")


def export_records(ledger: Ledger, customer_id: str | None) -> Iterator[dict[str, Any]]:
    """The ledger as records: features, customers, balances and flags (per customer and per
    entity, as of now), then events oldest first."""
    for feature in ledger.list_features():
        yield {"kind": "feature", "feature": shapes.feature(feature)}
    customers = (
        [ledger.get_customer(customer_id)] if customer_id is not None else every_customer(ledger)
    )
    for customer in customers:
        yield {"kind": "customer", "customer": shapes.customer(customer)}
        with ledger.store.transaction(write=False) as session:
            entity_ids = [e.id for e in session.list_entities(customer.id)]
        for entity_id in [None, *entity_ids]:
            subject = {"customer_id": customer.id, "entity_id": entity_id}
            for feature_id, balance in ledger.balances(customer.id, entity_id=entity_id).items():
                yield {
                    "kind": "balance",
                    **subject,
                    "feature_id": feature_id,
                    "balance": balance_shapes.balance(balance),
                }
            for feature_id, flag in ledger.flags(customer.id, entity_id=entity_id).items():
                yield {
                    "kind": "flag",
                    **subject,
                    "feature_id": feature_id,
                    "flag": balance_shapes.flag(flag),
                }
    newest_first: list[Event] = []
    cursor = None
    while True:
        page = ledger.events(customer_id, limit=1000, cursor=cursor)
        newest_first.extend(page.events)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    for event in reversed(newest_first):
        yield {"kind": "event", "event": shapes.event(event)}


def grouped(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The records as one document, `{"features": [...], ..., "events": [...]}`: a feature,
    customer or event as Autumn's object itself; a balance or flag as that object beside
    the customer and entity it belongs to."""
    out: dict[str, list[dict[str, Any]]] = {f"{kind}s": [] for kind in KINDS}
    for record in records:
        kind = record["kind"]
        if kind in ("balance", "flag"):
            item = {"customer_id": record["customer_id"], "entity_id": record["entity_id"]}
            item.update(record[kind])
        else:
            item = record[kind]
        out[f"{kind}s"].append(item)
    return out


@click.command("export")
@click.option(
    "--output", "-o", type=click.File("w", encoding="utf-8"), help="A file instead of stdout."
)
@click.option("--customer", "--customer-id", "customer_id", help="Only this customer.")
@pass_state
def export(state: State, /, *, output: IO[str] | None, customer_id: str | None) -> None:
    """Write the ledger as JSON lines.

    Features, customers, balances, flags and events, one JSON object a line.

    Each line is {"kind": ..., <kind>: <Autumn's object>}; balances and flags are as of now,
    events oldest first. With --json (and no --output) one document groups them by kind.
    An export is a report, not a backup: `meterlib import` does not read it back.
    """
    records = list(export_records(state.ledger(write=False), customer_id))
    counts: dict[str, int] = {}
    for record in records:
        counts[record["kind"]] = counts.get(record["kind"], 0) + 1
    if output is None and state.as_json:
        echo_json(grouped(records))
        return
    sink = output or sys.stdout
    for record in records:
        sink.write(json.dumps(record, default=json_default) + "\n")
    if output is not None:
        if state.as_json:
            echo_json({"output": output.name, "records": len(records), "kinds": counts})
        else:
            summary = ", ".join(f"{kind}: {n}" for kind, n in counts.items())
            click.echo(f"wrote {len(records)} records to {output.name} ({summary})")
