"""Instants: epoch milliseconds inside, aware UTC datetimes at the native edge."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from meterlib.errors import InvalidRequest

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST_MS = 0  # 1970-01-01T00:00:00.000Z: the first instant meterlib accepts
LAST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: the last one
# where a computed boundary lands when it would fall after LAST_MS: "never", kept as an int
# that orders after every accepted instant and still converts to a datetime (see to_datetime)
NEVER_MS = LAST_MS + 1


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


def instant(value: object, *, field: str) -> int:
    """`to_ms` of an instant given to the API: from 1970-01-01 to 9999-12-31 UTC, else
    `InvalidRequest` (invalid_inputs)."""
    ms = to_ms(value, field=field)
    if not FIRST_MS <= ms <= LAST_MS:
        raise InvalidRequest(
            f"{field}: must be an instant from 1970-01-01 to 9999-12-31 UTC (epoch ms "
            f"{FIRST_MS} to {LAST_MS})",
            field=field,
        )
    return ms


def optional_ms(value: object, *, field: str) -> int | None:
    """`instant`, passing None through."""
    if value is None:
        return None
    return instant(value, field=field)


def to_datetime(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds `ms`; past the last instant (a boundary
    computed beyond year 9999: `NEVER_MS`) it is the last datetime there is."""
    if ms > LAST_MS:
        return datetime.max.replace(tzinfo=UTC)
    return EPOCH + timedelta(milliseconds=ms)


def optional_datetime(ms: int | None) -> datetime | None:
    """`to_datetime`, passing None through."""
    return None if ms is None else to_datetime(ms)
