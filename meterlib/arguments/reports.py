"""`Ledger.usage`'s arguments, checked before anything is read."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from meterlib import validation
from meterlib.errors import InvalidRequest
from meterlib.instants import optional_ms
from meterlib.rules.bins import BIN_SIZES

DAY_MS = 86_400_000
DEFAULT_DAYS = 30
MEASURES = ("sum", "count")
GROUP_COLUMNS = ("$customer_id", "$entity_id")
MAX_FILTERS = 5
MAX_GROUPS = 250  # Autumn's bound
_SEGMENT = re.compile(r"[A-Za-z0-9_]+\Z")


class UsageArgs(NamedTuple):
    """A validated usage request: epoch ms `[start, end)`, a zone, how to bin and group."""

    feature_ids: tuple[str, ...]
    customer_id: str | None
    entity_id: str | None
    start: int
    end: int
    bin_size: str
    zone: ZoneInfo
    group_by: str | None
    filter_by: dict[str, str]
    max_groups: int
    measure: str


def choice(value: object, field: str, allowed: tuple[str, ...]) -> str:
    """`value` if it is one of `allowed`; else InvalidRequest naming them."""
    if isinstance(value, str) and value in allowed:
        return value
    listed = ", ".join(f'"{a}"' for a in allowed)
    raise InvalidRequest(
        f"{field}: expected one of {listed} (received {validation.shown(value)})", field=field
    )


def zone(value: object) -> ZoneInfo:
    """An IANA time zone by name ("UTC", "Europe/Berlin")."""
    if isinstance(value, str) and value and not value.startswith(("/", ".")):
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise InvalidRequest(
        f"timezone: {validation.shown(value)} is not an IANA time zone name "
        '(e.g. "UTC", "America/New_York")',
        field="timezone",
    )


def property_path(value: object, field: str) -> str:
    """A property path: dot-separated segments of letters, digits and `_` (as Autumn)."""
    if isinstance(value, str) and all(_SEGMENT.match(part) for part in value.split(".")):
        return value
    raise InvalidRequest(
        f"{field}: invalid property path {validation.shown(value)}: use dot-separated names "
        "of letters, digits and _ (e.g. properties.region)",
        field=field,
    )


def group_key(value: object) -> str | None:
    """None, "$customer_id", "$entity_id" or "properties.<path>"."""
    if value is None or value in GROUP_COLUMNS:
        return value
    if isinstance(value, str) and value.startswith("properties."):
        return property_path(value, "group_by")
    raise InvalidRequest(
        f'group_by: expected "properties.<key>", "$customer_id" or "$entity_id" '
        f"(received {validation.shown(value)})",
        field="group_by",
    )


def filters(value: object) -> dict[str, str]:
    """{property path: text}, at most five."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRequest("filter_by: expected a dict of {property: value}", field="filter_by")
    if len(value) > MAX_FILTERS:
        raise InvalidRequest(
            f"filter_by: at most {MAX_FILTERS} filters (received {len(value)})",
            field="filter_by",
        )
    out = {}
    for key, text in value.items():
        path = property_path(key, "filter_by")
        if not isinstance(text, str):
            raise InvalidRequest(
                f"filter_by.{path}: expected a string (received {validation.shown(text)})",
                field="filter_by",
            )
        out[path] = text
    return out


def group_count(value: object) -> int:
    """`max_groups`: a whole number from 1 to 250."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_GROUPS:
        return value
    raise InvalidRequest(
        f"max_groups: must be a whole number from 1 to {MAX_GROUPS} "
        f"(received {validation.shown(value)})",
        field="max_groups",
    )


def features(value: object) -> tuple[str, ...]:
    """One feature id or a list of them (each once, in the order given)."""
    if isinstance(value, str):
        return (validation.require_id(value, "feature_id"),)
    if isinstance(value, list | tuple) and value:
        return tuple(dict.fromkeys(validation.require_id(v, "feature_id") for v in value))
    raise InvalidRequest(
        "feature_id: expected a feature id or a non-empty list of them", field="feature_id"
    )


def usage_args(
    now: int,
    feature_id: object,
    *,
    customer_id: str | None,
    entity_id: str | None,
    start: object,
    end: object,
    bin_size: object,
    timezone: object,
    group_by: object,
    filter_by: object,
    max_groups: object,
    measure: object,
) -> UsageArgs:
    """`Ledger.usage`'s arguments: `end` defaults to now, `start` to 30 days before `end`."""
    ids = features(feature_id)
    customer = validation.optional_id(customer_id, "customer_id")
    entity = validation.optional_id(entity_id, "entity_id")
    upper = optional_ms(end, field="end")
    lower = optional_ms(start, field="start")
    upper = now if upper is None else upper
    lower = upper - DEFAULT_DAYS * DAY_MS if lower is None else lower
    if lower >= upper:
        raise InvalidRequest(
            f"start must be before end (start {lower}, end {upper} epoch ms)", field="start"
        )
    return UsageArgs(
        ids,
        customer,
        entity,
        max(lower, 0),
        upper,
        choice(bin_size, "bin_size", BIN_SIZES),
        zone(timezone),
        group_key(group_by),
        filters(filter_by),
        group_count(max_groups),
        choice(measure, "measure", MEASURES),
    )
