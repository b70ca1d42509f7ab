"""Instants: epoch milliseconds inside, aware UTC datetimes at the native edge."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from meterlib.errors import InvalidRequest

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(value: object, *, field: str) -> int:
    """Epoch milliseconds from an aware datetime or an int/float of epoch ms."""
    if type(value) is int:  # the common case (every clock read), so tested first
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidRequest(
                f"{field}: naive datetime {value.isoformat()}; pass an aware datetime "
                "(e.g. tzinfo=UTC) or epoch milliseconds",
                field=field,
            )
        delta = value - EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(
            f"{field}: expected an aware datetime or epoch milliseconds, "
            f"got {type(value).__name__}",
            field=field,
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRequest(f"{field}: must be a finite number of epoch ms", field=field)
        return int(value)
    return value


def optional_ms(value: object, *, field: str) -> int | None:
    """`to_ms`, passing None (and Autumn's falsy 0) through as None."""
    if value is None:
        return None
    return to_ms(value, field=field)


def to_datetime(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds `ms`."""
    return EPOCH + timedelta(milliseconds=ms)


def optional_datetime(ms: int | None) -> datetime | None:
    """`to_datetime`, passing None through."""
    return None if ms is None else to_datetime(ms)
