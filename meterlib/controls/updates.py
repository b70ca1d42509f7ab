"""A `billing_controls` update: validated at the API edge, then merged into the stored form.

`validate()` checks an update and returns the entries as they are stored: Autumn's shape with
its defaults written out (`enabled`, `purchase_limit.interval_count`), amounts as Decimals and
filter values as the strings Autumn compares. `merge()` applies an update per top-level key: a
key present replaces its whole list, `[]` clears it, an absent key is kept. Works on dicts
only; `controls_values` reads the stored result (see `controls` for the overview).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from attrs import frozen

from meterlib.controls.filters import js_string
from meterlib.errors import InvalidRequest
from meterlib.quantity import ZERO, to_quantity
from meterlib.validation import json_like, shown

CUSTOMER_KEYS = ("spend_limits", "usage_limits", "usage_alerts", "overage_allowed", "auto_topups")
ENTITY_KEYS = CUSTOMER_KEYS[:4]
WINDOW_INTERVALS = ("day", "week", "month", "year")
ANCHORS = ("billing_cycle", "utc")
THRESHOLD_TYPES = ("usage", "usage_percentage", "remaining", "remaining_percentage")
LIMIT_TYPES = ("absolute", "usage_percentage")
PURCHASE_INTERVALS = ("hour", "day", "week", "month")
# keys Autumn shows in responses only; a body read back and sent again may carry them
_RESPONSE_ONLY = frozenset({"source", "usage"})
_FILTER_MAX_KEYS = 4
_FILTER_KEY_MAX = 64
_FILTER_VALUE_MAX = 128
_HUNDRED = Decimal(100)


def _fail(path: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"billing_controls.{path}: {message}", field=f"billing_controls.{path}")


class _Entry:
    """One list entry being validated: typed getters that name the entry's path in errors."""

    def __init__(self, raw: object, path: str, allowed: Iterable[str]) -> None:
        if not isinstance(raw, Mapping):
            raise _fail(path, f"expected an object (received {shown(raw)})")
        unknown = sorted(set(raw) - set(allowed) - _RESPONSE_ONLY)
        if unknown:
            raise _fail(path, f"unknown keys {unknown}; expected some of {sorted(allowed)}")
        self.raw = raw
        self.path = path

    def fail(self, key: str, message: str) -> InvalidRequest:
        return _fail(f"{self.path}.{key}", message)

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                raise self.fail(key, "Required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected a non-empty string (received {shown(value)})")
        return value

    def choice(self, key: str, options: Sequence[str], *, required: bool = False) -> str | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                raise self.fail(key, f"Required; expected one of {', '.join(options)}")
            return None
        if value not in options:
            raise self.fail(key, f"expected one of {', '.join(options)} (received {shown(value)})")
        return str(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false (received {shown(value)})")
        return value

    def number(self, key: str, *, required: bool = False, minimum: int | None = None) -> Decimal:
        value = self.raw.get(key)
        if value is None:
            if required:
                raise self.fail(key, "Required")
            return ZERO
        try:
            amount = to_quantity(value, field=f"{self.path}.{key}")
        except InvalidRequest:
            raise self.fail(key, f"expected a number (received {shown(value)})") from None
        if minimum is not None and amount < minimum:
            raise self.fail(key, f"must be >= {minimum} (received {amount})")
        return amount

    def whole(self, key: str, *, minimum: int, default: int | None = None) -> int:
        value = self.raw.get(key)
        if value is None and default is not None:
            return default
        amount = self.number(key, required=True, minimum=minimum)
        if amount != amount.to_integral_value():
            raise self.fail(key, f"expected a whole number (received {shown(value)})")
        return int(amount)


@frozen(kw_only=True)
class Update:
    """A validated `billing_controls` update: the lists to store, and runtime top-up counts."""

    stored: dict[str, list[dict[str, Any]]]
    purchase_counts: dict[str, int]  # feature_id -> `purchase_limit.count` given (not stored)


def validate(raw: object, *, entity: bool = False) -> Update:
    """Check a `billing_controls` update; InvalidRequest names the first bad value.

    Entities take every key but `auto_topups` (Autumn has no entity top-ups).
    """
    keys = ENTITY_KEYS if entity else CUSTOMER_KEYS
    if not isinstance(raw, Mapping):
        raise InvalidRequest(
            f"billing_controls: expected an object with some of {', '.join(keys)}",
            field="billing_controls",
        )
    json_like(raw, "billing_controls")
    unknown = sorted(set(raw) - set(keys))
    if unknown:
        where = "an entity" if entity else "a customer"
        raise InvalidRequest(
            f"billing_controls: unknown keys {unknown} for {where}; expected some of "
            f"{', '.join(keys)}",
            field="billing_controls",
        )
    stored: dict[str, list[dict[str, Any]]] = {}
    counts: dict[str, int] = {}
    for key in keys:
        if key not in raw:
            continue
        items = raw[key]
        if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
            raise _fail(key, f"expected a list (received {shown(items)}); [] clears it")
        stored[key] = [
            _VALIDATORS[key](_Entry(item, f"{key}[{i}]", _ALLOWED[key]), counts)
            for i, item in enumerate(items)
        ]
        _check_unique(key, stored[key], entity=entity)
    return Update(stored=stored, purchase_counts=counts)


def _overage_allowed(e: _Entry, _: dict[str, int]) -> dict[str, Any]:
    return {"feature_id": e.text("feature_id", required=True), "enabled": e.flag("enabled", False)}


def _spend_limit(e: _Entry, _: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    feature_id = e.text("feature_id")
    if feature_id is None and (e.has("overage_limit") or e.has("skip_overage_billing")):
        raise e.fail(
            "feature_id", "feature_id is required when overage_limit or skip_overage_billing "
            "is provided"
        )  # fmt: skip
    if feature_id is not None:
        out["feature_id"] = feature_id
    out["enabled"] = e.flag("enabled", False)
    if e.has("limit_type"):
        out["limit_type"] = e.choice("limit_type", LIMIT_TYPES)
    if e.has("overage_limit"):
        out["overage_limit"] = e.number("overage_limit", minimum=0)
    if e.has("skip_overage_billing"):
        out["skip_overage_billing"] = e.flag("skip_overage_billing", False)
    return out


def _usage_limit(e: _Entry, _: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "feature_id": e.text("feature_id", required=True),
        "enabled": e.flag("enabled", True),
        "limit": e.number("limit", required=True, minimum=0),
        "interval": e.choice("interval", WINDOW_INTERVALS, required=True),
    }
    if e.has("anchor"):
        out["anchor"] = e.choice("anchor", ANCHORS)
    if e.has("filter"):
        out["filter"] = {"properties": _filter(e)}
    return out


def _filter(e: _Entry) -> dict[str, str]:
    raw = e.raw["filter"]
    if not isinstance(raw, Mapping) or set(raw) - {"properties"}:
        raise e.fail("filter", 'expected {"properties": {key: value}}')
    props = raw.get("properties")
    if not isinstance(props, Mapping) or not 1 <= len(props) <= _FILTER_MAX_KEYS:
        raise e.fail("filter.properties", "filter.properties must have between 1 and 4 keys")
    out: dict[str, str] = {}
    for key, value in props.items():
        if not isinstance(key, str) or not 1 <= len(key) <= _FILTER_KEY_MAX:
            raise e.fail(
                "filter.properties", f"a key must be 1 to 64 characters (got {shown(key)})"
            )
        text = None if value is None or isinstance(value, str) else js_string(value)
        if isinstance(value, str) and 1 <= len(value) <= _FILTER_VALUE_MAX:
            text = value
        if text is None:
            raise e.fail(
                f"filter.properties.{key}",
                f"expected a string of 1 to 128 characters, a number or a boolean "
                f"(received {shown(value)})",
            )
        out[key] = text
    return out


def _usage_alert(e: _Entry, _: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    feature_id = e.text("feature_id")
    if feature_id is not None:
        out["feature_id"] = feature_id
    out["enabled"] = e.flag("enabled", True)
    out["threshold"] = e.number("threshold", required=True, minimum=0)
    out["threshold_type"] = e.choice("threshold_type", THRESHOLD_TYPES, required=True)
    if out["threshold_type"] == "remaining_percentage" and out["threshold"] > _HUNDRED:
        raise e.fail("threshold", "Threshold must be between 0 and 100 for remaining_percentage")
    name = e.text("name")
    if name is not None:
        out["name"] = name
    return out


def _auto_topup_entry(e: _Entry, counts: dict[str, int]) -> dict[str, Any]:
    feature_id = e.text("feature_id", required=True)
    assert feature_id is not None
    out: dict[str, Any] = {
        "feature_id": feature_id,
        "enabled": e.flag("enabled", False),
        "threshold": e.number("threshold", required=True),
        "quantity": e.number("quantity", required=True, minimum=1),
    }
    if e.has("purchase_limit"):
        limit = _Entry(
            e.raw["purchase_limit"],
            f"{e.path}.purchase_limit",
            ("interval", "interval_count", "limit", "count"),
        )
        out["purchase_limit"] = {
            "interval": limit.choice("interval", PURCHASE_INTERVALS, required=True),
            "interval_count": limit.whole("interval_count", minimum=1, default=1),
            "limit": limit.whole("limit", minimum=1),
        }
        if limit.has("count"):
            counts[feature_id] = limit.whole("count", minimum=0)
    if e.has("invoice_mode"):
        out["invoice_mode"] = e.flag("invoice_mode", False)
    return out


_VALIDATORS = {
    "overage_allowed": _overage_allowed,
    "spend_limits": _spend_limit,
    "usage_limits": _usage_limit,
    "usage_alerts": _usage_alert,
    "auto_topups": _auto_topup_entry,
}
_ALLOWED = {
    "overage_allowed": ("feature_id", "enabled"),
    "spend_limits": (
        "feature_id", "enabled", "overage_limit", "limit_type", "skip_overage_billing",
    ),
    "usage_limits": ("feature_id", "enabled", "limit", "interval", "anchor", "filter"),
    "usage_alerts": ("feature_id", "enabled", "threshold", "threshold_type", "name"),
    "auto_topups": (
        "feature_id", "enabled", "threshold", "quantity", "purchase_limit", "invoice_mode",
    ),
}  # fmt: skip
_NOUNS = {
    "overage_allowed": "overage_allowed",
    "spend_limits": "spend limit",
    "usage_limits": "usage limit",
    "auto_topups": "auto top-up",
}


def _check_unique(key: str, entries: list[dict[str, Any]], *, entity: bool) -> None:
    """Autumn's uniqueness rules: one entry per feature (per feature and filter for a
    customer's usage limits); usage alerts may repeat."""
    if key == "usage_alerts":
        return
    seen: set[tuple[str, str]] = set()
    by_filter = key == "usage_limits" and not entity
    for index, entry in enumerate(entries):
        feature_id = entry.get("feature_id")
        if feature_id is None:
            continue
        props = (entry.get("filter") or {}).get("properties") or {}
        identity = (feature_id, "&".join(f"{k}={v}" for k, v in sorted(props.items())))
        if not by_filter:
            identity = (feature_id, "")
        if identity in seen:
            suffix = " and filter" if by_filter else ""
            raise _fail(
                f"{key}[{index}]",
                f"Only one {_NOUNS[key]} entry is allowed per feature_id{suffix} "
                f"(feature_id {feature_id!r} repeats)",
            )
        seen.add(identity)


def merge(stored: Mapping[str, Any], update: Update) -> dict[str, Any]:
    """Autumn's per-key patch: a key in the update replaces its whole list; others are kept."""
    return {**stored, **update.stored}
