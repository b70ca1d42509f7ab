"""Exact amounts: the one door through which numbers enter meterlib."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from meterlib.errors import InvalidRequest

Quantity = Decimal
ZERO = Decimal(0)
ONE = Decimal(1)
_TEN_PLACES = Decimal("1e-10")


def to_quantity(value: object, *, field: str = "value") -> Decimal:
    """Return `value` as an exact Decimal; floats are taken by their shortest repr (0.1 is 0.1).

    bools, NaN, ±inf and non-numeric strings raise `InvalidRequest` (invalid_inputs).
    """
    if type(value) is int:  # exact, finite and normal already: the common `value=1`
        return Decimal(value)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidRequest(
            f"{field}: must be a number (received {type(value).__name__})", field=field
        )
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        try:
            result = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise InvalidRequest(
                f"{field}: must be a number (received {value!r})", field=field
            ) from None
    if not result.is_finite():
        raise InvalidRequest(f"{field}: must be a finite number (received {value!r})", field=field)
    # normalise -0 and exponent noise so equal amounts compare and print alike
    return result + 0 if result else ZERO


def round10(value: Decimal) -> Decimal:
    """Round half-up to 10 decimal places, as Autumn does for amounts it reports."""
    return value.quantize(_TEN_PLACES, rounding=ROUND_HALF_UP)


def to_json_number(value: Decimal) -> int | float:
    """The JSON number Autumn would send for `value`: rounded to 10 dp, an int when whole."""
    rounded = round10(value)
    if rounded == rounded.to_integral_value():
        return int(rounded)
    return float(rounded)


def json_safe(value: object) -> object:
    """`value` with every Decimal inside it turned into Autumn's JSON number."""
    if isinstance(value, Decimal):
        return to_json_number(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
