"""Exact amounts: the one door through which numbers enter meterlib, and how they leave it.

Inside the range (magnitude below `LIMIT`, at most `PLACES` decimal places) every amount is
exact: `WIDE` carries enough digits that no sum or product of such amounts is ever rounded.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from typing import Any

from meterlib.errors import InvalidRequest

Quantity = Decimal
ZERO = Decimal(0)
ONE = Decimal(1)
LIMIT = 10**18  # amounts, balances and usages stay below this in magnitude
PLACES = 20  # decimal places an amount may carry (a double carries 17 significant digits)
_DECIMAL_LIMIT = Decimal(LIMIT)
_TEN_PLACES = Decimal("1e-10")
_MOST_PLACES = Decimal(f"1e-{PLACES}")
# 18 integer + 20 decimal digits, products of two such (76 digits) and sums of them: no
# arithmetic inside the range comes near 100 digits, so none of it is ever rounded
WIDE = Context(prec=100, rounding=ROUND_HALF_UP, Emax=999_999, Emin=-999_999)


def exact_arithmetic() -> Any:
    """`with exact_arithmetic():` the decimal context every ledger call computes in."""
    return localcontext(WIDE)


def to_quantity(value: object, *, field: str = "value") -> Decimal:
    """Return `value` as an exact Decimal; floats are taken by their shortest repr (0.1 is 0.1).

    bools, NaN, ±inf, non-numeric strings, magnitudes of 10^18 or more and more than 20
    decimal places raise `InvalidRequest` (invalid_inputs).
    """
    if type(value) is int:  # exact, finite and normal already: the common `value=1`
        if -LIMIT < value < LIMIT:
            return Decimal(value)
        raise _out_of_range(field)
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
        except (InvalidOperation, ValueError):
            raise InvalidRequest(
                f"{field}: must be a number (received {_shown(value)})", field=field
            ) from None
    if not result.is_finite():
        raise InvalidRequest(
            f"{field}: must be a finite number (received {_shown(value)})", field=field
        )
    if not -_DECIMAL_LIMIT < result < _DECIMAL_LIMIT:
        raise _out_of_range(field)
    if result.as_tuple().exponent < -PLACES and result != result.quantize(  # type: ignore[operator]
        _MOST_PLACES, context=WIDE
    ):
        raise InvalidRequest(
            f"{field}: at most {PLACES} decimal places (received {_shown(value)})", field=field
        )
    # normalise -0 and exponent noise so equal amounts compare and print alike
    return WIDE.plus(result) if result else ZERO


def _out_of_range(field: str) -> InvalidRequest:
    return InvalidRequest(
        f"{field}: must be below 10^18 in magnitude (amounts from -999999999999999999 to "
        "999999999999999999)",
        field=field,
    )


def _shown(value: object) -> str:
    """`repr(value)` cut short: a message must never fail (or grow) on a huge value."""
    text = value if isinstance(value, str) else str(value)
    return repr(text if len(text) <= 40 else text[:40] + "...")


def in_range(value: Decimal) -> bool:
    """Whether a computed amount stays inside meterlib's range (below 10^18 in magnitude)."""
    return -_DECIMAL_LIMIT < value < _DECIMAL_LIMIT


def round10(value: Decimal) -> Decimal:
    """Round half-up to 10 decimal places, as Autumn does for amounts it reports."""
    return value.quantize(_TEN_PLACES, rounding=ROUND_HALF_UP, context=WIDE)


class ExactNumber(float):
    """A JSON number a float cannot hold exactly: a float for Python callers, and the exact
    decimal text (`.text`) for the wire, which writes it as is."""

    text: str

    def __new__(cls, value: Decimal) -> ExactNumber:
        number = super().__new__(cls, value)
        text = format(value, "f")
        number.text = text.rstrip("0") if "." in text else text
        return number


def to_json_number(value: Decimal) -> int | float:
    """The JSON number Autumn would send for `value`: rounded to 10 dp, an int when whole.

    A fraction a float cannot hold exactly comes back as an `ExactNumber` (a float carrying
    its exact text), so the wire can still write it digit for digit.
    """
    rounded = round10(value)
    if rounded == rounded.to_integral_value():
        return int(rounded)
    number = float(rounded)
    if Decimal(repr(number)) == rounded:
        return number
    return ExactNumber(rounded)


def json_safe(value: object) -> object:
    """`value` with every Decimal inside it turned into Autumn's JSON number."""
    if isinstance(value, Decimal):
        return to_json_number(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
