"""The dump format: a ledger as JSON lines, independent of the store that wrote it. Pure.

The first line is the header, `{"meterlib_dump": VERSION, "taken_at": ms, "columns": {...}}`;
every later line is one record, `{"<kind>": [cell, ...]}`, its cells in the order the header's
`columns` names for the kind. A cell is what meterlib's SQL stores write for the row (amounts
as exact decimal text, instants as epoch ms, nested values as their JSON text), so a dump is
exact to the digit and the millisecond, and a record reads back into the very model written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from meterlib.errors import InvalidRequest
from meterlib.hourly_totals import HourlyTotal
from meterlib.models import Counter, Customer, Entity, EventRecord, Feature, Grant, Lock
from meterlib.stores import grant_rows, rows

VERSION = 1
HEADER_TAG = "meterlib_dump"


class Kind(NamedTuple):
    """One kind of record: its columns and how a model becomes cells and back."""

    columns: tuple[str, ...]
    to_row: Callable[[Any], Sequence[Any]]
    from_row: Callable[[Sequence[Any]], Any]


def _pair(row: Sequence[Any]) -> tuple[str, int]:
    return (str(row[0]), int(row[1]))


def _total_to_row(t: HourlyTotal) -> tuple[Any, ...]:
    return (t.customer_id, t.entity_id, t.name, t.hour, str(t.value), t.events)


def _total_from_row(r: Sequence[Any]) -> HourlyTotal:
    return HourlyTotal(str(r[0]), r[1], str(r[2]), int(r[3]), Decimal(r[4]), int(r[5]))


def _instant(r: Sequence[Any]) -> int:
    return int(r[0])


KINDS: Mapping[str, Kind] = {
    "seq": Kind(("kind", "value"), tuple, _pair),
    "feature": Kind(rows.FEATURE_COLUMNS, rows.feature_to_row, rows.feature_from_row),
    "customer": Kind(rows.CUSTOMER_COLUMNS, rows.customer_to_row, rows.customer_from_row),
    "entity": Kind(rows.ENTITY_COLUMNS, rows.entity_to_row, rows.entity_from_row),
    "grant": Kind(rows.GRANT_COLUMNS, grant_rows.grant_to_row, grant_rows.grant_from_row),
    "lock": Kind(rows.LOCK_COLUMNS, grant_rows.lock_to_row, grant_rows.lock_from_row),
    "counter": Kind(rows.COUNTER_COLUMNS, rows.counter_to_row, rows.counter_from_row),
    "key": Kind(("idempotency_key", "expires_at"), tuple, _pair),
    "pruned": Kind(("pruned_through",), lambda ms: (ms,), _instant),
    "total": Kind(HourlyTotal._fields, _total_to_row, _total_from_row),
    "event": Kind(rows.EVENT_COLUMNS, grant_rows.event_to_row, grant_rows.event_from_row),
}

Model = (
    Feature | Customer | Entity | Grant | Lock | Counter | EventRecord | HourlyTotal
    | tuple[str, int] | int
)  # fmt: skip

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def header(taken_at: int) -> str:
    """The first line of a dump taken at `taken_at` (epoch ms)."""
    columns = {kind: list(k.columns) for kind, k in KINDS.items()}
    return _encode({HEADER_TAG: VERSION, "taken_at": taken_at, "columns": columns})


def record(kind: str, model: Model) -> str:
    """One line of the dump."""
    return _encode({kind: list(KINDS[kind].to_row(model))})


def read_header(line: str) -> int:
    """The `taken_at` of a dump's first line; InvalidRequest unless it is one this reads."""
    try:
        found = json.loads(line)
    except ValueError:
        found = None
    if not isinstance(found, dict) or HEADER_TAG not in found:
        raise InvalidRequest(
            "restore: line 1 is not a meterlib dump header (a dump starts with "
            f'{{"{HEADER_TAG}": {VERSION}, ...}}; write one with `Ledger.dump` or `meterlib dump`)'
        )
    version = found[HEADER_TAG]
    if version != VERSION:
        raise InvalidRequest(
            f"restore: the dump has format version {version!r}; this meterlib reads version "
            f"{VERSION} (restore it with the meterlib that wrote it, or a newer one)"
        )
    columns = found.get("columns")
    expected = {kind: list(k.columns) for kind, k in KINDS.items()}
    if columns != expected:
        raise InvalidRequest(
            "restore: the dump header's columns differ from this meterlib's; "
            "the dump was edited or written by another version"
        )
    taken_at = found.get("taken_at")
    if not isinstance(taken_at, int):
        raise InvalidRequest("restore: the dump header has no taken_at (epoch ms)")
    return taken_at


def read_record(line: str, number: int) -> tuple[str, Any]:
    """(kind, model) of one record line; InvalidRequest naming the line if it is not one."""
    try:
        found = json.loads(line)
        ((kind, cells),) = found.items()
        columns = KINDS[kind].columns
        if not isinstance(cells, list) or len(cells) != len(columns):
            raise ValueError(f"{kind} has the cells {', '.join(columns)}")
        return kind, KINDS[kind].from_row(cells)
    except Exception as exc:  # any malformed cell: one error saying where
        raise InvalidRequest(
            f"restore: line {number} is not a dump record ({exc.__class__.__name__}: {exc}); "
            f"expected one of {', '.join(KINDS)} as written by `Ledger.dump`; nothing was restored"
        ) from exc
