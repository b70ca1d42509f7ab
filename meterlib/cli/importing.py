"""`meterlib import`: replay track events from JSON lines, each bad line refused on its own.

Reading. The file is read as bytes and split on `\\n` alone, one line at a time: a line that
is not UTF-8 or not JSON is refused by itself, and a U+2028 inside a JSON string stays inside
its line (`str.splitlines()` would cut there). Nothing is held but the current batch.

Applying. Good lines are applied `BATCH` at a time by one `batch_track`, which is all or
nothing: if any line of a batch fails, the batch changes nothing and its lines are applied
again one `track` each, so a bad line is refused alone and the others still count. A batch
commits its events and their keys together, so a run that is interrupted keeps whole batches
only; running the same file again (with the same derived keys) applies exactly the rest.

Keys. A line with an `idempotency_key` keeps it; a line without one gets a derived key,
`import:<the first 32 hex digits of a sha256 of --key-scope and the line's JSON, keys
sorted>:<n>` where n counts identical lines so far in the file, so a re-run of the file (or
of a file with lines appended) counts nothing twice while two identical lines in one file
still count twice. A key any earlier track claimed counts as a duplicate whatever its age
(the Ledger itself refuses a repeat only for 24 hours): each batch looks up just its own
keys, never every key of the ledger.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

import click

from meterlib import validation
from meterlib.cli.params import BAD_INPUT, CommandError, State, echo_json, loads, parse_time
from meterlib.errors import DuplicateIdempotencyKey, MeterError, StoreError
from meterlib.ledger import Ledger
from meterlib.operations.track import TRACK_KEYS

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

BATCH = 500  # lines per batch_track; a batch that fails is applied again line by line
EXPORT_KINDS = frozenset({"feature", "customer", "balance", "flag", "event"})
NOT_A_BACKUP = (
    "`meterlib export` output is a report, not a backup: import replays track events only "
    '(objects of track arguments such as {"customer_id": "acme", "feature_id": "messages", '
    '"value": 3}); a dump and restore of a whole ledger comes in a later version'
)
# Ledger.track claims its keys under this prefix in the store's idempotency keys, which keep
# every key a committed track claimed (a failed track rolls its claim back).
_TRACK_SCOPE = "track:"


class Rejected(Exception):
    """A line refused before it reached the Ledger."""

    def __init__(self, message: str, code: str = "invalid_inputs") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Report:
    """What an import did, line by line."""

    def __init__(self) -> None:
        self.applied = 0
        self.duplicated = 0
        self._rejected: list[tuple[int, str, str]] = []  # (line number, message, code)

    def reject(self, line: int, message: str, code: str = "invalid_inputs") -> None:
        """Count a line as rejected (in any order: they are sorted once, when read)."""
        self._rejected.append((line, message, code))

    @property
    def rejected(self) -> list[tuple[int, str, str]]:
        """The rejected lines in line order (lines of a failed batch are settled late)."""
        self._rejected.sort()
        return self._rejected

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


def decode(raw: bytes) -> str:
    """The text of one line; Rejected if it is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(
            f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}; "
            "save the file as UTF-8"
        ) from None


def parse_line(text: str, *, seen: dict[str, int], scope: str | None) -> dict[str, Any]:
    """The track arguments of one line, with a derived idempotency key if it has none.

    Raises Rejected (or a MeterError for a bad time) when the line is not a track object.
    """
    try:
        item = loads(text)
    except json.JSONDecodeError as exc:
        raise Rejected(f"not JSON: {exc}") from None
    except ValueError as exc:  # NaN / Infinity, too deep, an integer of thousands of digits
        raise Rejected(f"not JSON meterlib reads: {exc}") from None
    if not isinstance(item, dict):
        raise Rejected(f"expected a JSON object of track arguments, got {type(item).__name__}")
    if item.get("kind") in EXPORT_KINDS:
        raise Rejected(NOT_A_BACKUP, "invalid_request")
    unknown = set(item) - TRACK_KEYS
    if unknown:
        raise Rejected(f"unknown keys {sorted(unknown)}; expected some of {sorted(TRACK_KEYS)}")
    if scope is not None and item.get("idempotency_key") is None:
        canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)
        seen[canonical] = seen.get(canonical, 0) + 1
        digest = hashlib.sha256(f"{scope}\n{canonical}".encode()).hexdigest()[:32]
        item["idempotency_key"] = f"import:{digest}:{seen[canonical]}"
    if isinstance(item.get("timestamp"), str):
        item["timestamp"] = parse_time(item["timestamp"])
    return item


def _key(item: dict[str, Any]) -> str | None:
    key = item.get("idempotency_key")
    return key if isinstance(key, str) else None


def claimed_keys(ledger: Ledger, keys: Iterable[str | None]) -> set[str]:
    """Those of `keys` a committed track ever claimed: one indexed lookup each."""
    wanted = []
    for key in keys:
        if key is None:
            continue
        try:
            validation.require_id(key, "idempotency_key")
            key.encode("utf-8")
        except (MeterError, UnicodeError):
            continue  # a key the Ledger refuses was never claimed; the Ledger says why
        wanted.append(key)
    if not wanted:
        return set()
    with ledger.store.transaction(write=False) as session:
        return {k for k in wanted if session.get_idempotency_key(_TRACK_SCOPE + k) is not None}


class Importer:
    """Applies parsed lines in order, a batch at a time, and fills a Report."""

    def __init__(self, ledger: Ledger, report: Report) -> None:
        self.ledger = ledger
        self.report = report
        self.pending: list[tuple[int, dict[str, Any]]] = []
        self.pending_keys: set[str] = set()

    def add(self, number: int, item: dict[str, Any]) -> None:
        """Queue a line; a full batch is applied."""
        key = item.get("idempotency_key")
        if isinstance(key, str) and key in self.pending_keys:
            self.flush()  # the earlier line decides whether this key is taken
        self.pending.append((number, item))
        if isinstance(key, str):  # any other type is the Ledger's to refuse
            self.pending_keys.add(key)
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Apply the queued lines: as one batch, else one by one."""
        batch, self.pending, self.pending_keys = self.pending, [], set()
        if not batch:
            return
        taken = claimed_keys(self.ledger, (_key(i) for _, i in batch))
        fresh = [(n, i) for n, i in batch if _key(i) not in taken]
        self.report.duplicated += len(batch) - len(fresh)
        if not fresh:
            return
        try:
            self.ledger.batch_track([item for _, item in fresh])
        except StoreError:
            raise  # the ledger failed, not a line: stop with one line, as any command does
        except MeterError:
            for number, item in fresh:
                self._one(number, item)
        else:
            self.report.applied += len(fresh)

    def _one(self, number: int, item: dict[str, Any]) -> None:
        arguments = dict(item)
        customer_id = arguments.pop("customer_id", None)  # a missing one is the Ledger's to refuse
        try:
            self.ledger.track(customer_id, **arguments)
        except DuplicateIdempotencyKey:
            self.report.duplicated += 1
        except StoreError:
            raise
        except MeterError as exc:
            self.report.reject(number, exc.message, exc.code)
        else:
            self.report.applied += 1


def _size(file: IO[bytes]) -> int | None:
    try:
        return os.fstat(file.fileno()).st_size or None
    except (OSError, ValueError, AttributeError):
        return None  # stdin, a pipe, an in-memory file


def run_import(
    ledger: Ledger, file: IO[bytes], *, name: str, scope: str | None, report: Report
) -> None:
    """Read `file` line by line into `ledger`, filling `report`."""
    importer = Importer(ledger, report)
    seen: dict[str, int] = {}
    first = True
    size = _size(file)  # the bar counts bytes of a file, lines of stdin
    bar: ProgressBar[bytes]
    with click.progressbar(
        file if size is None else None, length=size, label="importing", file=sys.stderr
    ) as bar:
        for number, raw in enumerate(bar if size is None else file, start=1):
            if size is not None:
                bar.update(len(raw))
            try:
                text = decode(raw)
                if not text.strip():
                    continue
                item = parse_line(text, seen=seen, scope=scope)
            except Rejected as exc:
                if first and exc.message == NOT_A_BACKUP:
                    raise CommandError(f"{name}: {NOT_A_BACKUP}", code=exc.code) from None
                report.reject(number, exc.message, exc.code)
            except MeterError as exc:
                report.reject(number, exc.message, exc.code)
            else:
                importer.add(number, item)
            first = False
        importer.flush()


@click.command("import")
@click.argument("file", type=click.File("rb"))
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
def import_(ctx: click.Context, /, *, file: IO[bytes], key_scope: str, derive_keys: bool) -> None:
    """Replay track events from a JSON-lines FILE.

    FILE ('-' for stdin) holds one JSON object of track arguments a line (UTF-8).

    Lines are applied in batches, each all or nothing; a bad line is left out of its batch,
    reported as `line N: <error>`, and the rest go on. Exit status 2 if any line was
    rejected. Backdated lines deduct from the grants the customer has today, as in Autumn.
    """
    state = ctx.find_object(State)
    assert state is not None
    report = Report()
    name = getattr(file, "name", "-")
    scope = key_scope if derive_keys else None
    run_import(state.ledger(), file, name=str(name), scope=scope, report=report)
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
