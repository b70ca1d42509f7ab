"""`meterlib import` (replay track events from JSON lines) and `meterlib export`.

Import keys. Each line is applied by one `track` (one transaction), so a line is applied
whole or not at all. A line with an `idempotency_key` keeps it; a line without one gets a
derived key, `import:<sha256 of the line's JSON, keys sorted>:<n>` where n counts identical
lines so far in the file, so a re-run of the file (or of a file with lines appended) counts
nothing twice while two identical lines in one file still count twice. A key already recorded
on any event of the ledger counts as a duplicate whatever its age (the Ledger itself refuses a
repeat only for 24 hours). `--key-scope NAME` mixes NAME into derived keys, for identical
keyless lines that really are different events across files.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from typing import IO, Any

import click

from meterlib.cli_params import (
    BAD_INPUT,
    State,
    echo_json,
    json_default,
    loads,
    parse_time,
    pass_state,
)
from meterlib.errors import DuplicateIdempotencyKey, MeterError
from meterlib.ledger import Ledger
from meterlib.results import Event
from meterlib.tracking import TRACK_KEYS

BATCH = 500  # lines per batch_track; a batch that fails is retried line by line


class Report:
    """What an import did, line by line."""

    def __init__(self) -> None:
        self.applied = 0
        self.duplicated = 0
        self.rejected: list[tuple[int, str, str]] = []  # (line number, message, code)

    def reject(self, line: int, message: str, code: str = "invalid_inputs") -> None:
        """Count a line as rejected (lines of a failed batch are settled after later ones)."""
        self.rejected.append((line, message, code))
        self.rejected.sort()

    def echo_rejected(self) -> None:
        """Say on stderr why each rejected line was refused: `line N: <error>`."""
        for line, message, _ in self.rejected:
            click.echo(f"line {line}: {message}", err=True)

    def to_dict(self) -> dict[str, Any]:
        """The report as one JSON document."""
        return {
            "applied": self.applied,
            "duplicated": self.duplicated,
            "rejected": [
                {"line": line, "error": message, "code": code}
                for line, message, code in self.rejected
            ],
        }


def recorded_keys(ledger: Ledger) -> set[str]:
    """Every idempotency key recorded on an event of the ledger."""
    keys: set[str] = set()
    cursor = None
    while True:
        page = ledger.events(limit=1000, cursor=cursor)
        keys.update(e.idempotency_key for e in page.events if e.idempotency_key)
        if page.next_cursor is None:
            return keys
        cursor = page.next_cursor


def parse_line(text: str, *, seen: dict[str, int], scope: str | None) -> dict[str, Any]:
    """The track arguments of one line, with a derived idempotency key if it has none.

    Raises ValueError with a message for the report when the line is not a track object.
    """
    try:
        item = loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(item, dict):
        raise ValueError(f"expected a JSON object of track arguments, got {type(item).__name__}")
    unknown = set(item) - TRACK_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; expected some of {sorted(TRACK_KEYS)}")
    if scope is not None and item.get("idempotency_key") is None:
        canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)
        seen[canonical] = seen.get(canonical, 0) + 1
        digest = hashlib.sha256(f"{scope}\n{canonical}".encode()).hexdigest()[:32]
        item["idempotency_key"] = f"import:{digest}:{seen[canonical]}"
    if isinstance(item.get("timestamp"), str):
        item["timestamp"] = parse_time(item["timestamp"])
    return item


class Importer:
    """Applies parsed lines in order, a batch at a time, and fills a Report."""

    def __init__(self, ledger: Ledger, report: Report) -> None:
        self.ledger = ledger
        self.report = report
        self.known = recorded_keys(ledger)
        self.pending: list[tuple[int, dict[str, Any]]] = []
        self.pending_keys: set[object] = set()

    def add(self, number: int, item: dict[str, Any]) -> int:
        """Queue a line; returns how many lines were settled by doing so."""
        settled = 0
        key = item.get("idempotency_key")
        if key is not None and key in self.pending_keys:
            settled += self.flush()  # the earlier line decides whether this key is taken
        if key is not None and key in self.known:
            self.report.duplicated += 1
            return settled + 1
        self.pending.append((number, item))
        self.pending_keys.add(key)
        if len(self.pending) >= BATCH:
            settled += self.flush()
        return settled

    def flush(self) -> int:
        """Apply the queued lines: as one batch, else one by one. Returns how many."""
        batch, self.pending, self.pending_keys = self.pending, [], set()
        if not batch:
            return 0
        try:
            self.ledger.batch_track([item for _, item in batch])
        except MeterError:
            for number, item in batch:
                self._one(number, item)
        else:
            self.report.applied += len(batch)
            self.known.update(
                str(i["idempotency_key"]) for _, i in batch if i.get("idempotency_key")
            )
        return len(batch)

    def _one(self, number: int, item: dict[str, Any]) -> None:
        arguments = dict(item)
        customer_id = arguments.pop("customer_id", None)  # a missing one is the Ledger's to refuse
        try:
            self.ledger.track(customer_id, **arguments)
        except DuplicateIdempotencyKey:
            self.report.duplicated += 1
        except MeterError as exc:
            self.report.reject(number, exc.message, exc.code)
        else:
            self.report.applied += 1
            if item.get("idempotency_key"):
                self.known.add(str(item["idempotency_key"]))


@click.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option(
    "--key-scope",
    default="",
    help="Mixed into the keys derived for lines without an idempotency_key.",
)
@click.option(
    "--derive-keys/--no-derive-keys",
    default=True,
    show_default=True,
    help="Give lines without an idempotency_key a key derived from their content.",
)
@click.pass_context
def import_(ctx: click.Context, /, *, file: IO[str], key_scope: str, derive_keys: bool) -> None:
    """Replay track events from a JSON-lines FILE.

    FILE ('-' for stdin) holds one JSON object of track arguments a line.

    Each line is applied whole or not at all; a bad line is reported as `line N: <error>`
    and the rest go on. Exit status 2 if any line was rejected.
    """
    state = ctx.find_object(State)
    assert state is not None
    lines = file.read().splitlines()
    report = Report()
    importer = Importer(state.ledger(), report)
    seen: dict[str, int] = {}
    with click.progressbar(length=len(lines), label="importing", file=sys.stderr) as bar:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                bar.update(1)
                continue
            try:
                item = parse_line(text, seen=seen, scope=key_scope if derive_keys else None)
            except (ValueError, MeterError) as exc:
                report.reject(number, exc.message if isinstance(exc, MeterError) else str(exc))
                bar.update(1)
                continue
            bar.update(importer.add(number, item))
        bar.update(importer.flush())
    report.echo_rejected()
    if state.as_json:
        echo_json(report.to_dict())
    else:
        click.echo(
            f"applied {report.applied}, duplicated {report.duplicated}, "
            f"rejected {len(report.rejected)}"
        )
    if report.rejected:
        ctx.exit(BAD_INPUT)


def export_records(ledger: Ledger, customer_id: str | None) -> Iterator[dict[str, Any]]:
    """The ledger as records: features, customers, balances and flags (per customer and per
    entity, as of now), then events oldest first."""
    for feature in ledger.list_features():
        yield {"kind": "feature", "feature": feature.to_dict()}
    customers = (
        [ledger.get_customer(customer_id)] if customer_id is not None else ledger.list_customers()
    )
    for customer in customers:
        yield {"kind": "customer", "customer": customer.to_dict()}
        with ledger.store.transaction(write=False) as session:
            entity_ids = [e.id for e in session.list_entities(customer.id)]
        for entity_id in [None, *entity_ids]:
            subject = {"customer_id": customer.id, "entity_id": entity_id}
            for feature_id, balance in ledger.balances(customer.id, entity_id=entity_id).items():
                yield {
                    "kind": "balance",
                    **subject,
                    "feature_id": feature_id,
                    "balance": balance.to_dict(),
                }
            for feature_id, flag in ledger.flags(customer.id, entity_id=entity_id).items():
                yield {"kind": "flag", **subject, "feature_id": feature_id, "flag": flag.to_dict()}
    newest_first: list[Event] = []
    cursor = None
    while True:
        page = ledger.events(customer_id, limit=1000, cursor=cursor)
        newest_first.extend(page.events)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    for event in reversed(newest_first):
        yield {"kind": "event", "event": event.to_dict()}


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
    """
    records = list(export_records(state.ledger(create=False), customer_id))
    counts: dict[str, int] = {}
    for record in records:
        counts[record["kind"]] = counts.get(record["kind"], 0) + 1
    if output is None and state.as_json:
        grouped: dict[str, list[dict[str, Any]]] = {
            f"{kind}s": [] for kind in ("feature", "customer", "balance", "flag", "event")
        }
        for record in records:
            kind = record.pop("kind")
            grouped[f"{kind}s"].append(record)
        echo_json(grouped)
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
