"""Billing controls: validated, stored, and resolved for one subject. Pure.

A customer or an entity carries Autumn's `billing_controls`:

```
{"spend_limits": [...], "usage_limits": [...], "usage_alerts": [...],
 "overage_allowed": [...], "auto_topups": [...]}      # auto_topups: customers only
```

`validate()` checks an update at the API edge and returns the entries as they are stored:
Autumn's shape with its defaults written out (`enabled`, `purchase_limit.interval_count`),
amounts as Decimals and filter values as the strings Autumn compares. `merge()` applies an
update per top-level key: a key present replaces its whole list, `[]` clears it, an absent key
is kept. `Controls.from_stored()` reads the stored form into frozen values, and `Resolved`
answers, per feature, which entry a subject obeys: the entity's own entry, else the
customer's (meterlib has no plans, so Autumn's third tier never applies).

`judge()` is check's verdict with the controls applied (autumn-check-track §5.5 and Autumn's
`apiBalanceToAllowed`), also used to tell when a limit is reached and why.

Where meterlib deliberately differs from Autumn (which resolves controls from plans too and
charges top-ups through Stripe in a queued job):

* No plan tier: the nearest entry wins, the entity's then the customer's.
* One spend-limit rule for check and track: the nearest entry naming the feature wins, even
  without `overage_limit` (Autumn's check and track paths disagree on that one case).
* `usage_percentage` spend limits are a percentage of the included amounts of the subject's
  recurring grants (Autumn: of its main recurring plans). Standalone grants contribute 0 in
  Autumn, which would make such a limit a no-op; one-off grants (and so top-ups), rollovers
  and manual adjustments are left out, as Autumn leaves out one-off plans, prepaid packs,
  rollovers and adjustments. With no recurring allowance there is no cap, as in Autumn.
* Auto top-ups run inside the deducting operation (track, check with send_event or a lock,
  finalize) as a one-off grant of `quantity`, after paying down overage as Autumn does; the
  application approves (and charges) through `Ledger(approve_topup=...)`. A refusal counts
  as a failed attempt. A plain `check` never writes, so unlike Autumn it never tops up.
  Autumn's rate limits hold (2 attempts per 10 minutes, 1 failure per hour, suspension after
  3 failures in a row, the optional `purchase_limit`); writing `auto_topups` again lifts a
  suspension (Autumn waits for a new payment method).
* Autumn sends `billing.auto_topup_succeeded` / `billing.auto_topup_failed`; meterlib
  delivers both as `balances.auto_topup` with `data["status"]` (see `notifications`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from attrs import frozen

from meterlib.errors import InvalidRequest
from meterlib.models import Grant
from meterlib.quantity import ZERO, to_quantity

CUSTOMER_KEYS = ("spend_limits", "usage_limits", "usage_alerts", "overage_allowed", "auto_topups")
ENTITY_KEYS = CUSTOMER_KEYS[:4]
WINDOW_INTERVALS = ("day", "week", "month", "year")
ANCHORS = ("billing_cycle", "utc")
THRESHOLD_TYPES = ("usage", "usage_percentage", "remaining", "remaining_percentage")
LIMIT_TYPES = ("absolute", "usage_percentage")
PURCHASE_INTERVALS = ("hour", "day", "week", "month")
# keys Autumn shows in responses only; a body read back and sent again may carry them
_RESPONSE_ONLY = frozenset({"source", "usage"})
_FILTER_MAX_KEYS = 4
_FILTER_KEY_MAX = 64
_FILTER_VALUE_MAX = 128
_HUNDRED = Decimal(100)


# --- values -------------------------------------------------------------------------------


@frozen(kw_only=True)
class OverageAllowed:
    """`enabled` True lets a feature go into overage; False forbids it, even on pay-per-use rows."""

    feature_id: str
    enabled: bool


@frozen(kw_only=True)
class SpendLimit:
    """A cap on a feature's total overage units: absolute, or a percentage of the allowance."""

    feature_id: str | None
    enabled: bool
    overage_limit: Decimal | None = None
    limit_type: str = "absolute"


@frozen(kw_only=True)
class UsageLimit:
    """A hard cap on what a feature may consume per day / week / month / year window."""

    feature_id: str
    enabled: bool
    limit: Decimal
    interval: str
    anchor: str = "billing_cycle"
    filter: tuple[tuple[str, str], ...] = ()  # (key, value as a string), sorted by key

    @property
    def filter_key(self) -> str:
        """Autumn's filter identity: `k=v` pairs sorted by key, joined by `&` ("" unfiltered)."""
        return "&".join(f"{k}={v}" for k, v in self.filter)

    def matches(self, properties: Mapping[str, Any] | None) -> bool:
        """Whether an event with `properties` counts toward (and is gated by) this cap."""
        return filter_matches(self.filter, properties)


@frozen(kw_only=True)
class UsageAlert:
    """A threshold on usage, usage %, remaining or remaining % that notifies when crossed."""

    feature_id: str | None  # None: every feature
    enabled: bool
    threshold: Decimal
    threshold_type: str
    name: str | None = None

    def applies_to(self, feature_id: str) -> bool:
        """An alert without a feature watches every feature."""
        return self.feature_id is None or self.feature_id == feature_id


@frozen(kw_only=True)
class PurchaseLimit:
    """At most `limit` automatic top-ups per `interval_count` × `interval`."""

    interval: str
    interval_count: int
    limit: int


@frozen(kw_only=True)
class AutoTopup:
    """When a feature's balance falls to `threshold` or below, grant `quantity` more."""

    feature_id: str
    enabled: bool
    threshold: Decimal
    quantity: Decimal
    purchase_limit: PurchaseLimit | None = None


@frozen(kw_only=True)
class Controls:
    """The billing controls of one customer or entity, as frozen values."""

    spend_limits: tuple[SpendLimit, ...] = ()
    usage_limits: tuple[UsageLimit, ...] = ()
    usage_alerts: tuple[UsageAlert, ...] = ()
    overage_allowed: tuple[OverageAllowed, ...] = ()
    auto_topups: tuple[AutoTopup, ...] = ()

    @property
    def empty(self) -> bool:
        """No control at all: nothing changes how this subject is judged or deducted."""
        return not (
            self.spend_limits
            or self.usage_limits
            or self.usage_alerts
            or self.overage_allowed
            or self.auto_topups
        )

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> Controls:
        """The values of a stored `billing_controls` dict (as `validate` wrote it)."""
        if not stored:
            return EMPTY
        found = cls(
            spend_limits=tuple(
                SpendLimit(
                    feature_id=e.get("feature_id"),
                    enabled=bool(e.get("enabled", False)),
                    overage_limit=_opt_decimal(e.get("overage_limit")),
                    limit_type=e.get("limit_type") or "absolute",
                )
                for e in stored.get("spend_limits", ())
            ),
            usage_limits=tuple(
                UsageLimit(
                    feature_id=e["feature_id"],
                    enabled=bool(e.get("enabled", True)),
                    limit=to_quantity(e["limit"], field="limit"),
                    interval=e["interval"],
                    anchor=e.get("anchor") or "billing_cycle",
                    filter=tuple(sorted(((e.get("filter") or {}).get("properties") or {}).items())),
                )
                for e in stored.get("usage_limits", ())
            ),
            usage_alerts=tuple(
                UsageAlert(
                    feature_id=e.get("feature_id"),
                    enabled=bool(e.get("enabled", True)),
                    threshold=to_quantity(e["threshold"], field="threshold"),
                    threshold_type=e["threshold_type"],
                    name=e.get("name"),
                )
                for e in stored.get("usage_alerts", ())
            ),
            overage_allowed=tuple(
                OverageAllowed(feature_id=e["feature_id"], enabled=bool(e.get("enabled", False)))
                for e in stored.get("overage_allowed", ())
            ),
            auto_topups=tuple(_auto_topup(e) for e in stored.get("auto_topups", ())),
        )
        return EMPTY if found.empty else found  # callers test `is EMPTY` on the hot path


EMPTY = Controls()


def _opt_decimal(value: object) -> Decimal | None:
    return None if value is None else to_quantity(value, field="amount")


def _auto_topup(entry: Mapping[str, Any]) -> AutoTopup:
    limit = entry.get("purchase_limit")
    return AutoTopup(
        feature_id=entry["feature_id"],
        enabled=bool(entry.get("enabled", False)),
        threshold=to_quantity(entry["threshold"], field="threshold"),
        quantity=to_quantity(entry["quantity"], field="quantity"),
        purchase_limit=None
        if limit is None
        else PurchaseLimit(
            interval=limit["interval"],
            interval_count=int(limit.get("interval_count", 1)),
            limit=int(limit["limit"]),
        ),
    )


# --- filters ------------------------------------------------------------------------------


def js_string(value: object) -> str | None:
    """The string JavaScript's `String(value)` gives a scalar; None for anything else.

    Autumn stores filter values and compares event properties in this form: `true`, `5`
    (for 5 and 5.0), `0.1`, `1e+21`, `1e-7`.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
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


# --- validation ---------------------------------------------------------------------------


def _fail(path: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"billing_controls.{path}: {message}", field=f"billing_controls.{path}")


class _Entry:
    """One list entry being validated: typed getters that name the entry's path in errors."""

    def __init__(self, raw: object, path: str, allowed: Iterable[str]) -> None:
        if not isinstance(raw, Mapping):
            raise _fail(path, f"expected an object (received {raw!r})")
        unknown = sorted(set(raw) - set(allowed) - _RESPONSE_ONLY)
        if unknown:
            raise _fail(path, f"unknown keys {unknown}; expected some of {sorted(allowed)}")
        self.raw = raw
        self.path = path

    def fail(self, key: str, message: str) -> InvalidRequest:
        return _fail(f"{self.path}.{key}", message)

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                raise self.fail(key, "Required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected a non-empty string (received {value!r})")
        return value

    def choice(self, key: str, options: Sequence[str], *, required: bool = False) -> str | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                raise self.fail(key, f"Required; expected one of {', '.join(options)}")
            return None
        if value not in options:
            raise self.fail(key, f"expected one of {', '.join(options)} (received {value!r})")
        return str(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false (received {value!r})")
        return value

    def number(self, key: str, *, required: bool = False, minimum: int | None = None) -> Decimal:
        value = self.raw.get(key)
        if value is None:
            if required:
                raise self.fail(key, "Required")
            return ZERO
        try:
            amount = to_quantity(value, field=f"{self.path}.{key}")
        except InvalidRequest:
            raise self.fail(key, f"expected a number (received {value!r})") from None
        if minimum is not None and amount < minimum:
            raise self.fail(key, f"must be >= {minimum} (received {amount})")
        return amount

    def whole(self, key: str, *, minimum: int, default: int | None = None) -> int:
        value = self.raw.get(key)
        if value is None and default is not None:
            return default
        amount = self.number(key, required=True, minimum=minimum)
        if amount != amount.to_integral_value():
            raise self.fail(key, f"expected a whole number (received {value!r})")
        return int(amount)


@frozen(kw_only=True)
class Update:
    """A validated `billing_controls` update: the lists to store, and runtime top-up counts."""

    stored: dict[str, list[dict[str, Any]]]
    purchase_counts: dict[str, int]  # feature_id -> `purchase_limit.count` given (not stored)


def validate(raw: object, *, entity: bool = False) -> Update:
    """Check a `billing_controls` update; InvalidRequest names the first bad value.

    Entities take every key but `auto_topups` (Autumn has no entity top-ups).
    """
    keys = ENTITY_KEYS if entity else CUSTOMER_KEYS
    if not isinstance(raw, Mapping):
        raise InvalidRequest(
            f"billing_controls: expected an object with some of {', '.join(keys)}",
            field="billing_controls",
        )
    unknown = sorted(set(raw) - set(keys))
    if unknown:
        where = "an entity" if entity else "a customer"
        raise InvalidRequest(
            f"billing_controls: unknown keys {unknown} for {where}; expected some of "
            f"{', '.join(keys)}",
            field="billing_controls",
        )
    stored: dict[str, list[dict[str, Any]]] = {}
    counts: dict[str, int] = {}
    for key in keys:
        if key not in raw:
            continue
        items = raw[key]
        if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
            raise _fail(key, f"expected a list (received {items!r}); [] clears it")
        stored[key] = [
            _VALIDATORS[key](_Entry(item, f"{key}[{i}]", _ALLOWED[key]), counts)
            for i, item in enumerate(items)
        ]
        _check_unique(key, stored[key], entity=entity)
    return Update(stored=stored, purchase_counts=counts)


def _overage_allowed(e: _Entry, _: dict[str, int]) -> dict[str, Any]:
    return {"feature_id": e.text("feature_id", required=True), "enabled": e.flag("enabled", False)}


def _spend_limit(e: _Entry, _: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    feature_id = e.text("feature_id")
    if feature_id is None and (e.has("overage_limit") or e.has("skip_overage_billing")):
        raise e.fail(
            "feature_id", "feature_id is required when overage_limit or skip_overage_billing "
            "is provided"
        )  # fmt: skip
    if feature_id is not None:
        out["feature_id"] = feature_id
    out["enabled"] = e.flag("enabled", False)
    if e.has("limit_type"):
        out["limit_type"] = e.choice("limit_type", LIMIT_TYPES)
    if e.has("overage_limit"):
        out["overage_limit"] = e.number("overage_limit", minimum=0)
    if e.has("skip_overage_billing"):
        out["skip_overage_billing"] = e.flag("skip_overage_billing", False)
    return out


def _usage_limit(e: _Entry, _: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "feature_id": e.text("feature_id", required=True),
        "enabled": e.flag("enabled", True),
        "limit": e.number("limit", required=True, minimum=0),
        "interval": e.choice("interval", WINDOW_INTERVALS, required=True),
    }
    if e.has("anchor"):
        out["anchor"] = e.choice("anchor", ANCHORS)
    if e.has("filter"):
        out["filter"] = {"properties": _filter(e)}
    return out


def _filter(e: _Entry) -> dict[str, str]:
    raw = e.raw["filter"]
    if not isinstance(raw, Mapping) or set(raw) - {"properties"}:
        raise e.fail("filter", 'expected {"properties": {key: value}}')
    props = raw.get("properties")
    if not isinstance(props, Mapping) or not 1 <= len(props) <= _FILTER_MAX_KEYS:
        raise e.fail("filter.properties", "filter.properties must have between 1 and 4 keys")
    out: dict[str, str] = {}
    for key, value in props.items():
        if not isinstance(key, str) or not 1 <= len(key) <= _FILTER_KEY_MAX:
            raise e.fail("filter.properties", f"a key must be 1 to 64 characters (got {key!r})")
        text = None if value is None or isinstance(value, str) else js_string(value)
        if isinstance(value, str) and 1 <= len(value) <= _FILTER_VALUE_MAX:
            text = value
        if text is None:
            raise e.fail(
                f"filter.properties.{key}",
                f"expected a string of 1 to 128 characters, a number or a boolean "
                f"(received {value!r})",
            )
        out[key] = text
    return out


def _usage_alert(e: _Entry, _: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    feature_id = e.text("feature_id")
    if feature_id is not None:
        out["feature_id"] = feature_id
    out["enabled"] = e.flag("enabled", True)
    out["threshold"] = e.number("threshold", required=True, minimum=0)
    out["threshold_type"] = e.choice("threshold_type", THRESHOLD_TYPES, required=True)
    if out["threshold_type"] == "remaining_percentage" and out["threshold"] > _HUNDRED:
        raise e.fail("threshold", "Threshold must be between 0 and 100 for remaining_percentage")
    name = e.text("name")
    if name is not None:
        out["name"] = name
    return out


def _auto_topup_entry(e: _Entry, counts: dict[str, int]) -> dict[str, Any]:
    feature_id = e.text("feature_id", required=True)
    assert feature_id is not None
    out: dict[str, Any] = {
        "feature_id": feature_id,
        "enabled": e.flag("enabled", False),
        "threshold": e.number("threshold", required=True),
        "quantity": e.number("quantity", required=True, minimum=1),
    }
    if e.has("purchase_limit"):
        limit = _Entry(
            e.raw["purchase_limit"],
            f"{e.path}.purchase_limit",
            ("interval", "interval_count", "limit", "count"),
        )
        out["purchase_limit"] = {
            "interval": limit.choice("interval", PURCHASE_INTERVALS, required=True),
            "interval_count": limit.whole("interval_count", minimum=1, default=1),
            "limit": limit.whole("limit", minimum=1),
        }
        if limit.has("count"):
            counts[feature_id] = limit.whole("count", minimum=0)
    if e.has("invoice_mode"):
        out["invoice_mode"] = e.flag("invoice_mode", False)
    return out


_VALIDATORS = {
    "overage_allowed": _overage_allowed,
    "spend_limits": _spend_limit,
    "usage_limits": _usage_limit,
    "usage_alerts": _usage_alert,
    "auto_topups": _auto_topup_entry,
}
_ALLOWED = {
    "overage_allowed": ("feature_id", "enabled"),
    "spend_limits": (
        "feature_id", "enabled", "overage_limit", "limit_type", "skip_overage_billing",
    ),
    "usage_limits": ("feature_id", "enabled", "limit", "interval", "anchor", "filter"),
    "usage_alerts": ("feature_id", "enabled", "threshold", "threshold_type", "name"),
    "auto_topups": (
        "feature_id", "enabled", "threshold", "quantity", "purchase_limit", "invoice_mode",
    ),
}  # fmt: skip
_NOUNS = {
    "overage_allowed": "overage_allowed",
    "spend_limits": "spend limit",
    "usage_limits": "usage limit",
    "auto_topups": "auto top-up",
}


def _check_unique(key: str, entries: list[dict[str, Any]], *, entity: bool) -> None:
    """Autumn's uniqueness rules: one entry per feature (per feature and filter for a
    customer's usage limits); usage alerts may repeat."""
    if key == "usage_alerts":
        return
    seen: set[tuple[str, str]] = set()
    by_filter = key == "usage_limits" and not entity
    for index, entry in enumerate(entries):
        feature_id = entry.get("feature_id")
        if feature_id is None:
            continue
        props = (entry.get("filter") or {}).get("properties") or {}
        identity = (feature_id, "&".join(f"{k}={v}" for k, v in sorted(props.items())))
        if not by_filter:
            identity = (feature_id, "")
        if identity in seen:
            suffix = " and filter" if by_filter else ""
            raise _fail(
                f"{key}[{index}]",
                f"Only one {_NOUNS[key]} entry is allowed per feature_id{suffix} "
                f"(feature_id {feature_id!r} repeats)",
            )
        seen.add(identity)


def merge(stored: Mapping[str, Any], update: Update) -> dict[str, Any]:
    """Autumn's per-key patch: a key in the update replaces its whole list; others are kept."""
    return {**stored, **update.stored}


# --- resolution ---------------------------------------------------------------------------


@frozen(kw_only=True)
class Resolved:
    """The controls one subject obeys: an entity's own entries first, then its customer's."""

    customer: Controls
    entity: Controls | None = None  # None: the operation names no entity
    entity_id: str | None = None

    @property
    def empty(self) -> bool:
        """Neither the customer nor the entity has any control."""
        return self.customer.empty and (self.entity is None or self.entity.empty)

    @property
    def windowed(self) -> bool:
        """Whether any usage limit is configured for this subject."""
        return bool(self.customer.usage_limits or (self.entity and self.entity.usage_limits))

    def _tiers(self) -> tuple[Controls, ...]:
        return (self.customer,) if self.entity is None else (self.entity, self.customer)

    def overage_allowed(self, feature_id: str) -> bool | None:
        """The nearest overage_allowed entry's `enabled`, None without one."""
        for tier in self._tiers():
            for entry in tier.overage_allowed:
                if entry.feature_id == feature_id:
                    return entry.enabled
        return None

    def spend_limit(self, feature_id: str) -> SpendLimit | None:
        """The nearest spend limit naming the feature, if it is enabled and has a limit.

        The nearest entry wins even when it has no `overage_limit` (it then shadows the
        customer's): one rule for check and track, where Autumn's two paths differ.
        """
        for tier in self._tiers():
            for entry in tier.spend_limits:
                if entry.feature_id == feature_id:
                    if entry.enabled and entry.overage_limit is not None:
                        return entry
                    return None
        return None

    def usage_limits(self, feature_id: str) -> list[tuple[UsageLimit, str | None]]:
        """The armed caps on a feature, one per filter identity, each with its counter's scope.

        The entity's own entry wins its identity and counts in an entity window (scope = the
        entity id); otherwise the customer's entry counts in the customer's shared window
        (scope None). A disabled winner leaves its identity uncapped.
        """
        own = () if self.entity is None else self.entity.usage_limits
        keys: dict[str, None] = {}
        for entry in (*own, *self.customer.usage_limits):
            if entry.feature_id == feature_id:
                keys.setdefault(entry.filter_key)
        out: list[tuple[UsageLimit, str | None]] = []
        for key in keys:
            mine = next(
                (e for e in own if e.feature_id == feature_id and e.filter_key == key), None
            )
            if mine is not None:
                winner, scope = mine, self.entity_id
            else:
                winner = next(
                    e
                    for e in self.customer.usage_limits
                    if e.feature_id == feature_id and e.filter_key == key
                )
                scope = None
            if winner.enabled:
                out.append((winner, scope))
        return out

    def auto_topup(self, feature_id: str) -> AutoTopup | None:
        """The customer's enabled auto top-up for the feature (entities have none)."""
        for entry in self.customer.auto_topups:
            if entry.feature_id == feature_id:
                return entry if entry.enabled else None
        return None


# --- the verdict --------------------------------------------------------------------------


@frozen(kw_only=True)
class Verdict:
    """Whether an amount is allowed, and if not, which limit stands in the way."""

    allowed: bool
    limit_type: str | None = None  # "usage_limit" | "included" | "spend_limit" | "max_purchase"


ALLOWED = Verdict(allowed=True)


def spend_cap(limit: SpendLimit, grants: Sequence[Grant]) -> Decimal | None:
    """A spend limit as overage units; None when it resolves to no cap.

    `usage_percentage` is a percentage of the recurring grants' included amounts (meterlib's
    stand-in for Autumn's main-plan allowance; one-off grants, top-ups, rollovers and manual
    adjustments are left out). With no such allowance it is no cap at all, as in Autumn.
    """
    if limit.overage_limit is None:
        return None
    if limit.limit_type != "usage_percentage":
        return limit.overage_limit
    allowance = sum(
        (g.included for g in grants if g.interval != "one_off" and not g.unlimited), ZERO
    )
    if allowance == 0:
        return None
    return limit.overage_limit / _HUNDRED * allowance


def judge(
    grants: Sequence[Grant],
    required: Decimal,
    *,
    headroom: Decimal | None,
    overage_control: bool | None,
    spend: Decimal | None,
) -> Verdict:
    """Check's verdict over a pool's usable grants, the billing controls applied.

    `headroom` is the usage-window room left (None: no cap applies), `overage_control` the
    resolved overage_allowed entry, `spend` the resolved spend limit in overage units.
    """
    if not grants:
        return Verdict(allowed=False)
    if required < 0 or any(g.unlimited for g in grants):
        return ALLOWED
    if headroom is not None and required > headroom:
        return Verdict(allowed=False, limit_type="usage_limit")
    remaining = sum((max(ZERO, g.balance) for g in grants), ZERO) + sum(
        (lot.balance for g in grants for lot in g.rollovers), ZERO
    )
    if overage_control is False:
        return ALLOWED if remaining >= required else Verdict(allowed=False, limit_type="included")
    if overage_control or any(g.overage_allowed for g in grants):
        overage = sum((max(ZERO, -g.balance) for g in grants), ZERO)
        if spend is not None:
            room, reason = max(ZERO, spend - overage), "spend_limit"
        else:
            caps = [g.max_purchase for g in grants if g.overage_allowed]
            if not caps or any(cap is None for cap in caps):
                return ALLOWED
            total = sum((cap for cap in caps if cap is not None), ZERO)
            room, reason = max(ZERO, total - overage), "max_purchase"
        if room + remaining >= required:
            return ALLOWED
        return Verdict(allowed=False, limit_type=reason)
    return ALLOWED if remaining >= required else Verdict(allowed=False, limit_type="included")
