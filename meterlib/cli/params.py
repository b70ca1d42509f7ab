"""The command line's plumbing: the ledger file it opens, its value types, its errors.

Values cross the command line as text. Times are ISO 8601 (no offset means UTC) or epoch
milliseconds; dict arguments are JSON; numbers stay text and the Ledger parses them, so a
bad number gets the library's own message. A `MeterError` becomes `CommandError`: its
message on stderr and exit status 2, never a traceback; with `--json` stdout also gets
`{"error": {"code": ..., "message": ...}}`, so a script reading stdout always has a document.
Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Any

import click

from meterlib.cli.render import clip
from meterlib.clock import Clock
from meterlib.errors import InvalidRequest, MeterError
from meterlib.ledger import Ledger
from meterlib.stores.protocol import Store
from meterlib.stores.urls import open_store

DEFAULT_DB = "meterlib.db"
BAD_INPUT = 2  # exit status for bad input and library errors (click's usage errors agree)
NOT_ALLOWED = 1  # exit status of a check that is not allowed

_EPOCH_MS = re.compile(r"-?\d+(\.\d+)?")


class CommandError(click.ClickException):
    """A library error or bad input, shown as `Error: <message>` on stderr with exit status 2."""

    exit_code = BAD_INPUT

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code

    def format_message(self) -> str:
        """The message, prefixed with the library's stable error code when there is one."""
        return f"{self.message} ({self.code})" if self.code else self.message

    def show(self, file: IO[Any] | None = None) -> None:
        """Print to stderr, as click does, without a traceback."""
        click.echo(f"Error: {self.format_message()}", file=file, err=file is None)


def parse_time(text: str) -> int | datetime:
    """Epoch ms from digits, else an aware datetime from ISO 8601 (an offset-less time is UTC)."""
    text = text.strip()
    if _EPOCH_MS.fullmatch(text):
        return int(Decimal(text))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(
            f"{clip(text)!r} is not a time: expected ISO 8601 (2026-01-31T12:00:00Z) or epoch ms",
            field="time",
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads(text: str) -> Any:
    """JSON with exact decimals (0.1 stays Decimal("0.1")); NaN and Infinity are refused.

    Raises ValueError (json.JSONDecodeError for malformed text) for anything it cannot read,
    a nesting too deep for the parser and an integer of thousands of digits included.
    """
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None


class TimeType(click.ParamType):  # type: ignore[type-arg]
    """A time: ISO 8601 or epoch milliseconds."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse the text; a bad time is a usage error (exit 2)."""
        if not isinstance(value, str):
            return value
        try:
            return parse_time(value)
        except InvalidRequest as exc:
            self.fail(exc.message, param, ctx)


class JsonType(click.ParamType):  # type: ignore[type-arg]
    """A JSON object (`dict`) or, with `allow_text`, a bare word such as `month`."""

    name = "JSON"

    def __init__(self, *, allow_text: bool = False) -> None:
        self.allow_text = allow_text

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse the text into a dict (or keep a bare word); anything else is a usage error."""
        if not isinstance(value, str):
            return value
        if self.allow_text and not value.lstrip().startswith("{"):
            return value
        try:
            parsed = loads(value)
        except ValueError as exc:
            self.fail(f"{clip(value)!r} is not valid JSON: {exc}", param, ctx)
        if not isinstance(parsed, dict):
            self.fail(
                f"expected a JSON object like '{{\"key\": 1}}', got {clip(value)!r}", param, ctx
            )
        return parsed


TIME = TimeType()
JSON_OBJECT = JsonType()
JSON_OR_WORD = JsonType(allow_text=True)


class State:
    """What the group options chose: the ledger, its settings and the output format."""

    def __init__(
        self,
        db: str,
        *,
        as_json: bool,
        reverse_deduction_order: bool = False,
        persist_overage_on_reset: bool = False,
    ) -> None:
        self.db = db
        self.as_json = as_json
        self.reverse_deduction_order = reverse_deduction_order
        self.persist_overage_on_reset = persist_overage_on_reset
        self._ledger: Ledger | None = None

    def ledger(self, *, write: bool = True) -> Ledger:
        """The Ledger over `db` on the system clock, opened once per command.

        With `write=False` (commands that only read) a missing file is an error rather
        than a new empty ledger left behind, and the file is opened read-only, so a ledger
        this user may only read can still be read.
        """
        if self._ledger is None:
            self._ledger = self.new_ledger(self.store(write=write))
        return self._ledger

    def looking(self) -> Ledger:
        """The Ledger for a report (`usage`, `report`): writable when the file may be written,
        because looking releases expired locks on record and their release is usage given
        back; read-only otherwise, and then such a release waits for the next write."""
        db = self.db
        writable = "://" in db or (os.path.exists(db) and os.access(db, os.W_OK))
        return self.ledger(write=writable)

    def new_ledger(self, store: Store, clock: Clock | None = None) -> Ledger:
        """A Ledger over `store` with the settings the group options chose."""
        return Ledger(
            store,
            clock=clock,
            reverse_deduction_order=self.reverse_deduction_order,
            persist_overage_on_reset=self.persist_overage_on_reset,
        )

    def store(self, *, write: bool = True) -> Store:
        """A new store over `db`: a SQLite file, or a store URL such as postgresql://..."""
        if "://" in self.db:
            if not write and self.db.startswith("sqlite://") and "mode=" not in self.db:
                return open_store(self.db + ("&" if "?" in self.db else "?") + "mode=ro")
            return open_store(self.db)
        if not write and not os.path.exists(self.db):
            raise CommandError(
                f"no ledger file at {self.db!r}: pass --db PATH (or set METERLIB_DB), "
                "or create one with `meterlib demo` or `meterlib create`"
            )
        from meterlib.stores.sqlite.store import SQLiteStore  # noqa: PLC0415

        return SQLiteStore(self.db, read_only=not write)

    def close(self) -> None:
        """Close the ledger if a command opened it."""
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


pass_state = click.make_pass_decorator(State)


class MeterGroup(click.Group):
    """A click group that turns every `MeterError` into `CommandError` (exit 2, no traceback)
    and, under `--json`, also prints each error as a JSON document on stdout."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, translating library errors."""
        try:
            try:
                return super().invoke(ctx)
            except MeterError as exc:
                raise CommandError(exc.message, code=exc.code) from exc
        except click.ClickException as exc:
            if ctx.params.get("as_json"):
                code = getattr(exc, "code", None) or "invalid_inputs"
                echo_json({"error": {"code": code, "message": exc.message}})
            raise


def echo_json(document: object) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(document, indent=2, default=json_default))


def json_default(value: object) -> object:
    """Decimals as JSON numbers and datetimes as ISO 8601, for free-form dicts."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
