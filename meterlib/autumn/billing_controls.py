"""Autumn's `billing_controls` object: checking one from a request body, and the payload of a
customer's or an entity's stored controls, each usage limit with its window's usage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn, cast

from meterlib import controls
from meterlib.autumn.wire import Body, invalid
from meterlib.errors import (
    InvalidRequest,
)
from meterlib.quantity import json_safe, to_json_number

if TYPE_CHECKING:
    from meterlib.autumn.call import Call
    from meterlib.ledger import Ledger


# --- billing controls ---------------------------------------------------------------------

# the key order of Autumn's billing_controls object
_CONTROL_KEYS = ("auto_topups", "spend_limits", "usage_limits", "usage_alerts", "overage_allowed")
_BASES = ("balance", "included", "recurring", "usage_limit")  # a usage alert's 100%
_SOURCE_SINCE = (2, 3)  # API versions from 2.3 tag each customer control with its `source`


def _unsupported(path: str, what: str) -> NoReturn:
    raise InvalidRequest(f"{path}: {what} not supported by meterlib", code="invalid_request")


def _billing_controls(body: Body, *, entity: bool = False) -> dict[str, Any] | None:
    """The body's `billing_controls`, checked whole before anything is read or written.

    A malformed one is a 400 `invalid_inputs` naming the entry (`billing_controls.
    usage_limits[0].interval: ...`). The SDK sends every usage alert with `basis: "balance"`,
    which is what meterlib's alerts measure; it is dropped. What meterlib does not model
    (`balance_allocations`, a usage limit entry that sets its window's `usage`, another
    `basis`, an alert's `filter`) is a 400 `invalid_request`.
    """
    raw = body.mapping("billing_controls")
    if raw is None:
        return None
    path = body.field("billing_controls")
    if not entity and raw.get("balance_allocations") is not None:
        _unsupported(f"{path}.balance_allocations", "balance allocations are")
    limits = raw.get("usage_limits")
    for i, entry in enumerate(limits if isinstance(limits, list) else ()):
        if isinstance(entry, dict) and entry.get("usage") is not None and "limit" not in entry:
            _unsupported(f"{path}.usage_limits[{i}].usage", "setting a window's usage is")
    alerts = raw.get("usage_alerts")
    if isinstance(alerts, list):
        raw = {
            **raw,
            "usage_alerts": [
                _usage_alert(a, f"{path}.usage_alerts[{i}]") for i, a in enumerate(alerts)
            ],
        }
    try:
        controls.validate(raw, entity=entity)
    except InvalidRequest as exc:
        if path == "billing_controls":
            raise
        prefix = path.removesuffix("billing_controls")
        raise InvalidRequest(f"{prefix}{exc}", field=f"{prefix}{exc.field}") from None
    return raw


def _usage_alert(alert: object, path: str) -> object:
    """A usage alert without the SDK's default `basis`; other bases and filters are refused."""
    if not isinstance(alert, dict):
        return alert  # controls.validate names the bad entry
    basis = alert.get("basis")
    if basis is not None and basis not in _BASES:
        invalid(f"{path}.basis", f"expected one of {' | '.join(map(repr, _BASES))}")
    if basis not in (None, "balance"):
        _unsupported(f"{path}.basis", f"a usage alert's basis {basis!r} is")
    if alert.get("filter") is not None:
        _unsupported(f"{path}.filter", "a usage alert's filter is")
    return {k: v for k, v in alert.items() if k not in ("basis", "filter")}


def _filter_key(properties: Mapping[str, Any]) -> str:
    """Autumn's filter identity of a usage limit: `k=v` pairs sorted by key, joined by `&`."""
    return "&".join(f"{k}={v}" for k, v in sorted(properties.items()))


def _tags_source(call: Call) -> bool:
    """Whether the caller's API version shows `source` on each customer control (2.3 on)."""
    parts = (call.api_version or "").split(".")[:2]
    if not all(p.isdigit() for p in parts):
        return True  # no version (or one we cannot read): the SDK's default, 2.5.0
    return tuple(int(p) for p in parts) >= _SOURCE_SINCE


def _controls_payload(
    ledger: Ledger,
    stored: Mapping[str, Any],
    customer_id: str,
    entity_id: str | None,
    *,
    source: str | None,
) -> dict[str, Any]:
    """Autumn's `billing_controls` of a customer or an entity: the stored entries (a key only
    if it was ever written), each usage limit in force with its current window's `usage`."""
    used: dict[tuple[str, str], Any] = {}
    if stored.get("usage_limits"):
        used = {
            (w.feature_id, _filter_key(w.filter)): w.usage
            for w in ledger.usage_limits(customer_id, entity_id=entity_id)
            if w.entity_id == entity_id  # its own entries: the ones it shows
        }
    out: dict[str, Any] = {}
    for key in _CONTROL_KEYS:
        if key not in stored:
            continue
        entries: list[dict[str, Any]] = cast("list[dict[str, Any]]", json_safe(stored[key]))
        for entry in entries:  # fresh dicts: json_safe copies
            if key == "usage_limits":
                props = (entry.get("filter") or {}).get("properties") or {}
                usage = used.get((entry["feature_id"], _filter_key(props)))
                if usage is not None:
                    entry["usage"] = to_json_number(usage)
            if source is not None:
                entry["source"] = source
        out[key] = entries
    return out
