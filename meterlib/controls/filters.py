"""Usage-limit filters: event properties compared as Autumn compares them. Pure.

A usage limit's `filter.properties` is stored with each value as JavaScript's `String(value)`
gives it, and an event's properties are compared in that same form. Kept apart because both
validation (`controls_updates`) and the values (`controls_values`) need it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any


def js_string(value: object) -> str | None:
    """The string JavaScript's `String(value)` gives a scalar; None for anything else.

    Autumn stores filter values and compares event properties in this form: `true`, `5`
    (for 5 and 5.0), `0.1`, `1e+21`, `1e-7`.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int) and -(10**21) < value < 10**21:
        return str(value)
    if isinstance(value, int):  # JavaScript writes these with an exponent
        return _js_number(Decimal(value))
    if isinstance(value, float | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else value
        if not number.is_finite():
            return None
        return _js_number(number)
    return None


def _js_number(number: Decimal) -> str:
    """ECMAScript Number::toString of an exact finite decimal, shortest digits first."""
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    digits_tuple = number.normalize().as_tuple()
    digits = "".join(str(d) for d in digits_tuple.digits)
    exponent = int(digits_tuple.exponent)
    k = len(digits)
    n = k + exponent  # value = 0.digits × 10^n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    e = n - 1
    return f"{sign}{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def filter_matches(pairs: Sequence[tuple[str, str]], properties: Mapping[str, Any] | None) -> bool:
    """No filter matches everything; otherwise every key must be present with an equal value."""
    if not pairs:
        return True
    if not properties:
        return False
    for key, wanted in pairs:
        if key not in properties or js_string(properties[key]) != wanted:
            return False
    return True
