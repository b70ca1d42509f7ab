"""Checking arguments at the API edge, before anything is read or written."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from meterlib.errors import InvalidRequest
from meterlib.instants import optional_ms
from meterlib.models import FEATURE_TYPES, INTERVALS, ONE_OFF, RolloverRule
from meterlib.quantity import ZERO, to_quantity

BEHAVIORS = ("cap", "overflow")


def require_id(value: object, field: str) -> str:
    """A non-empty string id."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(
            f"{field}: must be a non-empty string (received {value!r})", field=field
        )
    return value


def optional_id(value: object, field: str) -> str | None:
    """None, or a non-empty string id."""
    return None if value is None else require_id(value, field)


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
        raise InvalidRequest(f"{field}: must be true or false (received {value!r})", field=field)
    return value


def properties(value: object, field: str = "properties") -> dict[str, Any]:
    """A JSON object (event properties, metadata): string keys, JSON values; None gives {}.

    Checked here so that every store keeps exactly what it was given.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"{field}: must be an object with string keys", field=field)
    return _json_value(value, field)  # type: ignore[no-any-return]


def _json_value(value: object, path: str) -> Any:
    if value is None or isinstance(value, str | bool | int | Decimal):
        if isinstance(value, Decimal) and not value.is_finite():
            raise InvalidRequest(f"{path}: must be a finite number", field=path)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRequest(f"{path}: must be a finite number", field=path)
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidRequest(f"{path}: keys must be strings (got {key!r})", field=path)
            out[key] = _json_value(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_json_value(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise InvalidRequest(
        f"{path}: {type(value).__name__} is not a JSON value (use str, number, bool, None, "
        "list or dict)",
        field=path,
    )


def interval(value: object, field: str = "interval") -> str:
    """One of Autumn's reset intervals, or "one_off"."""
    if value not in (*INTERVALS, ONE_OFF):
        raise InvalidRequest(
            f"{field}: unknown interval {value!r}; expected one of "
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
    unknown = set(value) - {"interval", "interval_count"}
    if unknown:
        raise InvalidRequest(f"reset: unknown keys {sorted(unknown)}", field="reset")
    name = interval(value.get("interval"), "reset.interval")
    count = value.get("interval_count", 1)
    if count is None:
        count = 1
    amount = to_quantity(count, field="reset.interval_count")
    if amount != amount.to_integral_value() or amount < 1:
        raise InvalidRequest(
            f"reset.interval_count: must be a whole number >= 1 (received {count!r})",
            field="reset.interval_count",
        )
    return name, int(amount)


def rollover(value: object) -> RolloverRule | None:
    """`create(rollover=...)`: {"max", "max_percentage", "length", "duration"}."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidRequest("rollover: expected an object", field="rollover")
    unknown = set(value) - {"max", "max_percentage", "length", "duration"}
    if unknown:
        raise InvalidRequest(f"rollover: unknown keys {sorted(unknown)}", field="rollover")
    duration = value.get("duration") or "month"
    if duration not in ("month", "forever"):
        raise InvalidRequest(
            f'rollover.duration: expected "month" or "forever" (received {duration!r})',
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
                f"rollover.length: must be a whole number of months >= 1 (received {raw!r})",
                field="rollover.length",
            )
        length = int(amount)
    return RolloverRule(max=cap, max_percentage=percentage, length=length, duration=duration)


def feature_type(value: object) -> str:
    """One of the feature types meterlib knows."""
    if value not in FEATURE_TYPES:
        raise InvalidRequest(
            f"type: unknown feature type {value!r}; expected one of {', '.join(FEATURE_TYPES)}",
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
            f'overage_behavior: expected "cap" or "overflow" (received {value!r})',
            field="overage_behavior",
        )
    return str(value)


def lock(value: object) -> tuple[str, int | None] | None:
    """`check(lock=...)`: {"lock_id": ..., "expires_at": t (optional)}."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidRequest('lock: expected {"lock_id": ..., "expires_at": ...}', field="lock")
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
