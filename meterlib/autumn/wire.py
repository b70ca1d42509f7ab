"""JSON in and out: request bodies checked field by field, responses encoded without NaN.

Every malformed body becomes `InvalidRequest` (code `invalid_inputs`) whose message names the
field as Autumn's validator does: `"<path>: <reason>"`, e.g. `"lock.expires_at: must be a
number (received string)"`. Autumn's SDK sends floats for millisecond instants
(`1767225600000.0`); they are accepted and turned into ints here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from meterlib.errors import InvalidRequest
from meterlib.quantity import ExactNumber
from meterlib.validation import MAX_DEPTH

_ABSENT = object()
_JSON_TYPES = {
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def _kind(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def invalid(path: str, reason: str) -> NoReturn:
    """Raise the 400 `invalid_inputs` error Autumn gives for a bad field."""
    raise InvalidRequest(f"{path}: {reason}", code="invalid_inputs", field=path)


def _reject_constant(token: str) -> NoReturn:
    invalid("body", f"{token} is not valid JSON (numbers must be finite)")


def parse_json(content: bytes) -> Any:
    """The request body as JSON; an empty body (features.list sends none) is `{}`."""
    if not content.strip():
        return {}
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        invalid("body", "is not UTF-8 encoded JSON")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        invalid("body", f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
    except RecursionError:
        invalid("body", f"is nested too deep (at most {MAX_DEPTH} levels of objects and arrays)")
    except ValueError:  # an integer of more digits than Python converts (4300)
        invalid("body", "holds a number too long to read (amounts are below 10^18)")


def encode(payload: object) -> bytes:
    """Compact JSON; refuses NaN and infinities rather than emit tokens JSON does not have.

    Amounts a float cannot hold (`ExactNumber`) are written as their exact decimal text; any
    other payload is json.dumps' own bytes.
    """
    if _holds_exact(payload):
        return "".join(_exact_parts(payload)).encode("utf-8")
    return json.dumps(payload, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _holds_exact(payload: object) -> bool:
    pending = [payload]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list | tuple):
            pending.extend(value)
        elif isinstance(value, ExactNumber):
            return True
    return False


def _exact_parts(value: object) -> Iterator[str]:
    # payloads are at most a few levels deeper than the 32 an argument may have
    if isinstance(value, ExactNumber):
        yield value.text
    elif isinstance(value, dict):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield ("," if i else "") + json.dumps(str(key)) + ":"
            yield from _exact_parts(item)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ","
            yield from _exact_parts(item)
        yield "]"
    else:
        yield json.dumps(value, allow_nan=False)


class Body:
    """A JSON object of a request, read through typed getters that name the bad field.

    An optional field sent as `null` reads as absent, except through `nullable_text`,
    where null has a meaning of its own (balances.list `plan_id`).
    """

    def __init__(self, data: object, *, path: str = "") -> None:
        if not isinstance(data, dict):
            invalid(path or "body", f"expected an object, received {_kind(data)}")
        self.data: dict[str, Any] = data
        self.path = path

    def field(self, name: str) -> str:
        """The dotted path of a field, for messages."""
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        """Whether the key is present (even as null)."""
        return name in self.data

    def _get(self, name: str, *, required: bool) -> Any:
        value = self.data.get(name)
        if value is None and required:
            invalid(self.field(name), "Required")
        return value

    def _wrong(self, name: str, expected: str, value: object) -> NoReturn:
        invalid(self.field(name), f"must be {expected} (received {_kind(value)})")

    def text(self, name: str, *, required: bool = False) -> str | None:
        """A string field; an empty string counts as missing only when required."""
        value = self._get(name, required=required)
        if value is None:
            return None
        if not isinstance(value, str):
            self._wrong(name, "a string", value)
        if required and not value:
            invalid(self.field(name), "cannot be empty")
        return value

    def required_text(self, name: str) -> str:
        """A required, non-empty string field."""
        value = self.text(name, required=True)
        assert value is not None
        return value

    def nullable_text(self, name: str) -> str | object | None:
        """A string, `None` for an explicit null, or the `ABSENT` marker when the key is missing."""
        if name not in self.data:
            return _ABSENT
        value = self.data[name]
        if value is not None and not isinstance(value, str):
            self._wrong(name, "a string or null", value)
        return value

    def number(self, name: str) -> int | float | None:
        """A JSON number (bools are not numbers)."""
        value = self._get(name, required=False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._wrong(name, "a number", value)
        if isinstance(value, float) and not math.isfinite(value):
            self._wrong(name, "a finite number", value)
        return value

    def ms(self, name: str) -> int | None:
        """An epoch-millisecond instant: a positive number, floats truncated to whole ms."""
        value = self.number(name)
        if value is None:
            return None
        if value <= 0:
            invalid(self.field(name), f"must be a positive epoch-millisecond number, got {value}")
        return int(value)

    def whole(self, name: str, *, minimum: int = 0, maximum: int | None = None) -> int | None:
        """A whole number (an integral float such as `2.0` is accepted) within the bounds."""
        value = self.number(name)
        if value is None:
            return None
        if value != int(value):
            invalid(self.field(name), f"must be a whole number, got {value}")
        value = int(value)
        if value < minimum:
            invalid(self.field(name), f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            invalid(self.field(name), f"must be at most {maximum}, got {value}")
        return value

    def boolean(self, name: str) -> bool | None:
        """A JSON boolean."""
        value = self._get(name, required=False)
        if value is None:
            return None
        if not isinstance(value, bool):
            self._wrong(name, "a boolean", value)
        return value

    def choice(self, name: str, choices: tuple[str, ...], *, required: bool = False) -> str | None:
        """One string out of `choices`."""
        value = self.text(name, required=required)
        if value is None:
            return None
        if value not in choices:
            expected = " | ".join(repr(c) for c in choices)
            invalid(self.field(name), f"expected one of {expected}, received {value!r}")
        return value

    def mapping(self, name: str) -> dict[str, Any] | None:
        """A free-form JSON object (properties, metadata)."""
        value = self._get(name, required=False)
        if value is None:
            return None
        if not isinstance(value, dict):
            self._wrong(name, "an object", value)
        return value

    def nested(self, name: str, *, required: bool = False) -> Body | None:
        """A nested object, read with the same checks; its fields are named `name.field`."""
        value = self._get(name, required=required)
        if value is None:
            return None
        if not isinstance(value, dict):
            self._wrong(name, "an object", value)
        return Body(value, path=self.field(name))

    def texts(self, name: str) -> list[str] | None:
        """An array of strings."""
        value = self._get(name, required=False)
        if value is None:
            return None
        if not isinstance(value, list):
            self._wrong(name, "an array of strings", value)
        for i, item in enumerate(value):
            if not isinstance(item, str):
                invalid(f"{self.field(name)}.{i}", f"must be a string (received {_kind(item)})")
        return list(value)

    def text_or_texts(self, name: str) -> list[str] | None:
        """A string or an array of strings, always returned as a list."""
        value = self._get(name, required=False)
        if isinstance(value, str):
            return [value]
        return self.texts(name)


ABSENT = _ABSENT


def strip_none(values: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments that were given, so the native defaults apply to the others."""
    return {k: v for k, v in values.items() if v is not None}
