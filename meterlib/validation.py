"""Checking arguments at the API edge, before anything is read or written.

The limits (API.md "Limits at the edges") are kept here for ids and JSON-like arguments, in
`quantity` for amounts and in `instants` for times; `limits` refuses results out of range.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from meterlib.errors import InvalidRequest
from meterlib.instants import optional_ms
from meterlib.models import FEATURE_TYPES, INTERVALS, ONE_OFF, RolloverRule
from meterlib.quantity import ZERO, in_range, to_quantity

BEHAVIORS = ("cap", "overflow")
ID_LENGTH = 256
MAX_DEPTH = 32  # levels of a JSON-like argument; a flat dict is one
MAX_INTERVAL_COUNT = 1000
_ID_REFUSED = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")  # C0, DEL, lone surrogates
_TEXT_REFUSED = re.compile("[\x00\ud800-\udfff]")  # what no store can keep in text


def shown(value: object) -> str:
    """A value for a message, cut short: the message must stay one readable line, and never
    fail (a huge int has no str, a deep dict no repr)."""
    if isinstance(value, int) and not -(10**40) < value < 10**40:
        return "a huge int"
    if value is not None and not isinstance(value, str | int | float | Decimal):
        return f"a {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def require_id(value: object, field: str) -> str:
    """An id: a non-empty str of at most 256 characters, valid Unicode (no lone surrogate),
    no C0 control character and no DEL; else `InvalidRequest` (invalid_inputs)."""
    # every call checks ids: the good case in one expression, the reason only when refusing
    # (isprintable is false for every refused character, and for a few more that the
    # pattern then lets through: other spaces, format characters, unassigned code points)
    if (
        type(value) is str
        and len(value) <= ID_LENGTH
        and (value.isprintable() or _ID_REFUSED.search(value) is None)
        and value.strip()
    ):
        return value
    text = _non_empty(value, field)
    if len(text) > ID_LENGTH:
        raise InvalidRequest(
            f"{field}: at most {ID_LENGTH} characters (received {len(text)})", field=field
        )
    _refuse(
        _ID_REFUSED,
        text,
        field,
        "control characters (U+0000 to U+001F, U+007F) or lone surrogates",
    )
    return text


def optional_id(value: object, field: str) -> str | None:
    """None, or an id (`require_id`)."""
    return None if value is None else require_id(value, field)


def optional_text(value: object, field: str) -> str | None:
    """None, or a non-empty free text (a name, an email): valid Unicode, no NUL."""
    if value is None:
        return None
    text = _non_empty(value, field)
    _check_text(text, field)
    return text


def _non_empty(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(
            f"{field}: must be a non-empty string (received {shown(value)})", field=field
        )
    return value


def _check_text(value: str, field: str) -> None:
    _refuse(_TEXT_REFUSED, value, field, "NUL or lone surrogates")


def _refuse(pattern: re.Pattern[str], value: str, field: str, what: str) -> None:
    bad = pattern.search(value)
    if bad is not None:
        raise InvalidRequest(
            f"{field}: must be valid Unicode without {what}; found U+{ord(bad.group()):04X} "
            f"at {bad.start()}",
            field=field,
        )


def optional_quantity(value: object, field: str) -> Decimal | None:
    """None, or an exact amount."""
    return None if value is None else to_quantity(value, field=field)


def non_negative(value: object, field: str) -> Decimal | None:
    """None, or an amount >= 0."""
    amount = optional_quantity(value, field)
    if amount is not None and amount < 0:
        raise InvalidRequest(f"{field}: must be >= 0 (received {amount})", field=field)
    return amount


def flag(value: object, field: str) -> bool:
    """A real bool (not 0/1, not a string)."""
    if not isinstance(value, bool):
        raise InvalidRequest(
            f"{field}: must be true or false (received {shown(value)})", field=field
        )
    return value


def properties(value: object, field: str = "properties") -> dict[str, Any]:
    """A JSON object (event properties, metadata): string keys, JSON values; None gives {}.

    Checked here so that every store keeps exactly what it was given: at most 32 levels
    deep, strings valid Unicode without NUL, numbers finite (whole ones below 10^18).
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"{field}: must be an object with string keys", field=field)
    return _json_value(value, field, 1)  # type: ignore[no-any-return]


def json_like(value: object, field: str) -> None:
    """Refuse a JSON-like argument (`lock`, `billing_controls`, `reset`, ...) that is too
    deep or holds what is not JSON, before any rule looks inside it. Values of other types
    (a datetime for an instant) are left to the rule that reads them."""
    if isinstance(value, Mapping | list | tuple):
        _json_value(value, field, 1, strict=False)


def _json_value(value: object, path: str, depth: int, *, strict: bool = True) -> Any:
    # the depth is checked before going one level down: recursion stays within 32 frames
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        _check_text(value, path)
        return value
    if not strict and isinstance(value, int | float | Decimal):
        return value  # a number is for the rule that reads it (an amount, an instant)
    if isinstance(value, int | Decimal):
        if isinstance(value, Decimal) and not value.is_finite():
            raise InvalidRequest(f"{path}: must be a finite number", field=path)
        if not in_range(Decimal(value) if isinstance(value, int) else value):
            raise InvalidRequest(f"{path}: must be below 10^18 in magnitude", field=path)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRequest(f"{path}: must be a finite number", field=path)
        return value
    if isinstance(value, Mapping | list | tuple) and depth > MAX_DEPTH:
        raise InvalidRequest(
            f"{path}: nested too deep (at most {MAX_DEPTH} levels of objects and arrays)",
            field=path,
        )
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidRequest(
                    f"{path}: keys must be strings (got {type(key).__name__})", field=path
                )
            _check_text(key, f"{path} key")
            out[key] = _json_value(item, f"{path}.{key[:40]}", depth + 1, strict=strict)
        return out
    if isinstance(value, list | tuple):
        return [
            _json_value(item, f"{path}[{i}]", depth + 1, strict=strict)
            for i, item in enumerate(value)
        ]
    if not strict:
        return value
    raise InvalidRequest(
        f"{path}: {type(value).__name__} is not a JSON value (use str, number, bool, None, "
        "list or dict)",
        field=path,
    )


def interval(value: object, field: str = "interval") -> str:
    """One of Autumn's reset intervals, or "one_off"."""
    if value not in (*INTERVALS, ONE_OFF):
        raise InvalidRequest(
            f"{field}: unknown interval {shown(value)}; expected one of "
            f"{', '.join((*INTERVALS, ONE_OFF))}",
            field=field,
        )
    return str(value)


def reset(value: object) -> tuple[str, int] | None:
    """`create(reset=...)`: "month" or {"interval": "month", "interval_count": 2}."""
    if value is None:
        return None
    if isinstance(value, str):
        return interval(value, "reset"), 1
    if not isinstance(value, Mapping):
        raise InvalidRequest(
            'reset: expected an interval name or {"interval": ..., "interval_count": ...}',
            field="reset",
        )
    json_like(value, "reset")
    unknown = set(value) - {"interval", "interval_count"}
    if unknown:
        raise InvalidRequest(f"reset: unknown keys {sorted(unknown)}", field="reset")
    name = interval(value.get("interval"), "reset.interval")
    count = value.get("interval_count", 1)
    if count is None:
        count = 1
    amount = to_quantity(count, field="reset.interval_count")
    if amount != amount.to_integral_value() or not 1 <= amount <= MAX_INTERVAL_COUNT:
        raise InvalidRequest(
            f"reset.interval_count: must be a whole number from 1 to {MAX_INTERVAL_COUNT} "
            f"(received {shown(count)})",
            field="reset.interval_count",
        )
    return name, int(amount)


def rollover(value: object) -> RolloverRule | None:
    """`create(rollover=...)`: {"max", "max_percentage", "length", "duration"}."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidRequest("rollover: expected an object", field="rollover")
    json_like(value, "rollover")
    unknown = set(value) - {"max", "max_percentage", "length", "duration"}
    if unknown:
        raise InvalidRequest(f"rollover: unknown keys {sorted(unknown)}", field="rollover")
    duration = value.get("duration") or "month"
    if duration not in ("month", "forever"):
        raise InvalidRequest(
            f'rollover.duration: expected "month" or "forever" (received {shown(duration)})',
            field="rollover.duration",
        )
    cap = optional_quantity(value.get("max"), "rollover.max")
    if cap is not None and cap <= 0:
        raise InvalidRequest(f"rollover.max: must be > 0 (received {cap})", field="rollover.max")
    percentage = optional_quantity(value.get("max_percentage"), "rollover.max_percentage")
    if percentage is not None and not ZERO < percentage <= 100:
        raise InvalidRequest(
            f"rollover.max_percentage: must be in (0, 100] (received {percentage})",
            field="rollover.max_percentage",
        )
    length = 0
    if duration == "month":
        raw = value.get("length", 1)
        amount = to_quantity(raw, field="rollover.length")
        if amount != amount.to_integral_value() or amount < 1:
            raise InvalidRequest(
                f"rollover.length: must be a whole number of months >= 1 (received {shown(raw)})",
                field="rollover.length",
            )
        length = int(amount)
    return RolloverRule(max=cap, max_percentage=percentage, length=length, duration=duration)


def feature_type(value: object) -> str:
    """One of the feature types meterlib knows."""
    if value not in FEATURE_TYPES:
        raise InvalidRequest(
            f"type: unknown feature type {shown(value)}; expected one of "
            f"{', '.join(FEATURE_TYPES)}",
            field="type",
        )
    return str(value)


def credit_schema(value: object) -> dict[str, Decimal] | None:
    """{metered_feature_id: credit_cost}, costs >= 0."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value:
        raise InvalidRequest(
            "credit_schema: expected a non-empty {metered_feature_id: credit_cost} mapping",
            field="credit_schema",
        )
    json_like(value, "credit_schema")
    schema: dict[str, Decimal] = {}
    for key, cost in value.items():
        member = require_id(key, "credit_schema key")
        amount = to_quantity(cost, field=f"credit_schema[{member!r}]")
        if amount < 0:
            raise InvalidRequest(
                f"credit_schema[{member!r}]: credit cost must be >= 0 (received {amount})",
                field="credit_schema",
            )
        schema[member] = amount
    return schema


def event_names(value: object) -> tuple[str, ...]:
    """A list of non-empty event names."""
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidRequest("event_names: expected a list of strings", field="event_names")
    return tuple(require_id(name, "event_names[]") for name in value)


def behavior(value: object) -> str:
    """`overage_behavior`: "cap" or "overflow"."""
    if value not in BEHAVIORS:
        raise InvalidRequest(
            f'overage_behavior: expected "cap" or "overflow" (received {shown(value)})',
            field="overage_behavior",
        )
    return str(value)


def lock(value: object) -> tuple[str, int | None] | None:
    """`check(lock=...)`: {"lock_id": ..., "expires_at": t (optional)}."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidRequest('lock: expected {"lock_id": ..., "expires_at": ...}', field="lock")
    json_like(value, "lock")
    unknown = set(value) - {"lock_id", "expires_at", "enabled", "overage_behavior"}
    if unknown:
        raise InvalidRequest(f"lock: unknown keys {sorted(unknown)}", field="lock")
    if value.get("enabled", True) is not True:
        raise InvalidRequest("lock.enabled: must be true", field="lock.enabled")
    lock_id = require_id(value.get("lock_id"), "lock.lock_id")
    if len(lock_id) > 256:
        raise InvalidRequest("lock.lock_id: at most 256 characters", field="lock.lock_id")
    return lock_id, optional_ms(value.get("expires_at"), field="lock.expires_at")


def floor(value: Decimal) -> Decimal:
    """Round down to a whole number."""
    return value.to_integral_value(rounding=ROUND_FLOOR)
