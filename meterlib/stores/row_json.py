"""Values inside rows, shared by every row conversion: JSON text (free-form dicts keep their
Decimals exact) and amounts as text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

Row = Sequence[Any]

# --- JSON --------------------------------------------------------------------------------

dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
loads = json.JSONDecoder().decode
string = json.encoder.encode_basestring  # a str as a JSON string literal, as `dumps` writes it

# Free-form dicts (metadata, properties, billing controls) may hold Decimals anywhere: they
# are written as {"__decimal__": "0.1"}; a caller's own one-key dict that looks like a tag
# is escaped as {"__dict__": [[key, value]]}, so every dict reads back exactly as written.
_DECIMAL_TAG = "__decimal__"
_DICT_TAG = "__dict__"
_TAGS = frozenset((_DECIMAL_TAG, _DICT_TAG))


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in _TAGS:
            return {_DICT_TAG: [[k, _freeze(v)] for k, v in value.items()]}
        return {k: _freeze(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_freeze(v) for v in value]
    if isinstance(value, Decimal):
        return {_DECIMAL_TAG: str(value)}
    return value


def _thaw(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        tagged = obj.get(_DECIMAL_TAG)
        if isinstance(tagged, str):
            return Decimal(tagged)
        pairs = obj.get(_DICT_TAG)
        if isinstance(pairs, list):
            return dict(pairs)
    return obj


_loads_any = json.JSONDecoder(object_hook=_thaw).decode


def dump_dict(value: dict[str, Any]) -> str:
    """A free-form dict as JSON text, Decimals kept exact."""
    return dumps(_freeze(value)) if value else "{}"


def load_dict(text: str) -> dict[str, Any]:
    """The dict `dump_dict` wrote."""
    if text == "{}":
        return {}
    value: dict[str, Any] = _loads_any(text)
    return value


def amount(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)
