"""What the Ledger answers: balances, flags, check and track results, event pages.

Native attributes are exact Decimals and aware UTC datetimes; `.to_dict()` gives Autumn's JSON
shape (snake_case keys, epoch ms, numbers rounded to 10 dp), built in `meterlib.balance_shapes`
and `meterlib.shapes`, which the bridge and the CLI call directly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from attrs import field, frozen

from meterlib import balance_shapes, shapes
from meterlib.models import slot_setters
from meterlib.quantity import WIDE


class _Deferred:
    """A result whose `DEFERRED` fields are built on first read, by calling its `_details`.

    Building Balances (breakdown items, datetimes) costs more than deciding a check or a track,
    and most callers read only `allowed`: so a result keeps a frozen view of the grants and
    builds the rest when asked. Equality, repr and `to_dict` read the fields, so they build too.
    The fields are declared `field(init=False)`: their slots stay empty until then.
    """

    __slots__ = ()
    DEFERRED: ClassVar[tuple[str, ...]] = ()

    if not TYPE_CHECKING:  # keep mypy's attribute checks: the fields are declared on the class

        def __getattr__(self, name: str) -> Any:
            # only called for an empty slot (or a name the class does not have)
            if name not in type(self).DEFERRED:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            details = object.__getattribute__(self, "_details")
            if details is None:  # another thread built them meanwhile (answers are shared)
                return object.__getattribute__(self, name)
            for key, value in zip(type(self).DEFERRED, details(), strict=True):
                object.__setattr__(self, key, value)
            object.__setattr__(self, "_details", None)  # let the view go
            return object.__getattribute__(self, name)


@frozen(kw_only=True)
class Reset:
    """A grant's reset rule as the breakdown shows it."""

    interval: str
    interval_count: int = 1
    resets_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Autumn's reset object: interval_count only when it is not 1."""
        return balance_shapes.reset(self)


@frozen(kw_only=True)
class BreakdownItem:
    """One grant, as seen by the subject asking."""

    id: str
    plan_id: str | None
    included_grant: Decimal
    prepaid_grant: Decimal
    remaining: Decimal
    usage: Decimal
    unlimited: bool
    reset: Reset | None
    expires_at: datetime | None
    overage_allowed: bool = False
    max_purchase: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        """Autumn's breakdown item; an overage row shows a usage-based price."""
        return balance_shapes.breakdown_item(self)


@frozen(kw_only=True)
class Rollover:
    """A carried-over amount: `granted` = what was carried, `balance` = what is left of it."""

    granted: Decimal
    balance: Decimal
    expires_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """Autumn reports a never-expiring rollover with expires_at 0."""
        return balance_shapes.rollover(self)


@frozen(kw_only=True)
class Balance:
    """A subject's balance of one feature: totals over its grants and rollovers."""

    feature_id: str
    granted: Decimal
    remaining: Decimal
    usage: Decimal
    unlimited: bool
    overage_allowed: bool
    max_purchase: Decimal | None
    next_reset_at: datetime | None
    breakdown: tuple[BreakdownItem, ...]
    rollovers: tuple[Rollover, ...] = ()
    has_rollover_rule: bool = False  # Autumn omits `rollovers` unless some grant can roll over

    def to_dict(self) -> dict[str, Any]:
        """Autumn's Balance object."""
        return balance_shapes.balance(self)


@frozen(kw_only=True)
class Flag:
    """A boolean feature the subject has."""

    id: str
    feature_id: str
    plan_id: str | None
    expires_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """Autumn's Flag object."""
        return balance_shapes.flag(self)


@frozen(kw_only=True)
class Deduction:
    """What a track took from one grant or rollover, in that grant's units."""

    feature_id: str
    balance_id: str
    value: Decimal
    plan_id: str | None = None
    reset: Reset | None = None

    def to_dict(self) -> dict[str, Any]:
        """Autumn's deduction object."""
        return balance_shapes.deduction(self)


@frozen(kw_only=True)
class Preview:
    """Why a check was denied, for an upgrade prompt (plans are out of scope: no products)."""

    scenario: str  # "usage_limit" | "feature_flag"
    title: str
    message: str
    feature_id: str
    feature_name: str
    products: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Autumn's preview object."""
        return balance_shapes.preview(self)


CheckDetails = tuple[
    "Balance | None", "Flag | None", "Preview | None", "dict[str, Balance | None] | None"
]


@frozen(kw_only=True)
class CheckResult(_Deferred):
    """The answer to "may this subject use `required_balance` of this feature now?".

    `balance`, `flag`, `preview` and `balances` are built when first read.
    """

    DEFERRED: ClassVar[tuple[str, ...]] = ("balance", "flag", "preview", "balances")

    allowed: bool
    customer_id: str
    entity_id: str | None
    feature_id: str
    required_balance: Decimal
    balance: Balance | None = field(init=False)
    flag: Flag | None = field(init=False)
    preview: Preview | None = field(init=False)
    balances: dict[str, Balance | None] | None = field(init=False)
    with_preview: bool = False
    _details: Callable[[], CheckDetails] | None = field(alias="details", eq=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Autumn's check response."""
        return balance_shapes.check(self)


TrackDetails = tuple["Balance | None", "dict[str, Balance | None]", "tuple[Deduction, ...]"]


@frozen(kw_only=True)
class TrackResult(_Deferred):
    """What a track did: the balances after it and every deduction it made.

    `balance`, `balances` and `deductions` are built when first read.
    """

    DEFERRED: ClassVar[tuple[str, ...]] = ("balance", "balances", "deductions")

    customer_id: str
    entity_id: str | None
    event_name: str | None
    value: Decimal
    balance: Balance | None = field(init=False)
    balances: dict[str, Balance | None] = field(init=False)
    deductions: tuple[Deduction, ...] = field(init=False)
    _details: Callable[[], TrackDetails] | None = field(alias="details", eq=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Autumn's track response; `balances` only when it holds two or more features."""
        return balance_shapes.track(self)


_CHECK_SETTERS = slot_setters(CheckResult)
_TRACK_SETTERS = slot_setters(TrackResult)


def check_result(
    *,
    allowed: bool,
    customer_id: str,
    entity_id: str | None,
    feature_id: str,
    required_balance: Decimal,
    with_preview: bool,
    details: Callable[[], CheckDetails],
) -> CheckResult:
    """`CheckResult(...)`, built slot by slot: every check builds one, and this costs a
    third of the constructor. CheckResult has no validators, converters or init hooks to
    skip; tests hold this to the constructor, field by field (tests/test_results_built.py)."""
    s_allowed, s_customer, s_entity, s_feature, s_required, s_preview, s_details = _CHECK_SETTERS
    new = object.__new__(CheckResult)
    s_allowed(new, allowed)
    s_customer(new, customer_id)
    s_entity(new, entity_id)
    s_feature(new, feature_id)
    s_required(new, required_balance)
    s_preview(new, with_preview)
    s_details(new, details)
    return new


def track_result(
    customer_id: str,
    entity_id: str | None,
    event_name: str | None,
    value: Decimal,
    details: Callable[[], TrackDetails],
) -> TrackResult:
    """`TrackResult(...)`, built slot by slot like `check_result` (every track builds one)."""
    s_customer, s_entity, s_event, s_value, s_details = _TRACK_SETTERS
    new = object.__new__(TrackResult)
    s_customer(new, customer_id)
    s_entity(new, entity_id)
    s_event(new, event_name)
    s_value(new, value)
    s_details(new, details)
    return new


@frozen(kw_only=True)
class Event:
    """A recorded usage event."""

    id: str
    customer_id: str
    entity_id: str | None
    feature_id: str | None
    event_name: str | None
    value: Decimal
    properties: dict[str, Any]
    timestamp: datetime
    idempotency_key: str | None
    deductions: tuple[Deduction, ...]

    def to_dict(self) -> dict[str, Any]:
        """Autumn's event list item."""
        return shapes.event(self)


@frozen(kw_only=True)
class EventPage:
    """One page of events, newest first; pass `next_cursor` back for the next page."""

    events: tuple[Event, ...]
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        """Autumn's events.list response."""
        return shapes.event_page(self)


@frozen(kw_only=True)
class GrantRow:
    """One grant on its own (what Autumn's balances.list returns): a breakdown item plus owner."""

    item: BreakdownItem
    feature_id: str
    customer_id: str
    entity_id: str | None
    status: str  # "active" | "expired"
    rollovers: tuple[Rollover, ...]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """Autumn's balances.list row."""
        return balance_shapes.grant_row(self)


@frozen(kw_only=True)
class UsageWindow:
    """A usage limit a customer or entity obeys now, and what its current window has counted.

    `entity_id` names whose window counts: the entity's own (its own entry won), or None for
    the customer's window, which the customer and every entity without its own entry share.
    """

    feature_id: str
    limit: Decimal
    interval: str  # "day" | "week" | "month" | "year"
    anchor: str  # "billing_cycle" | "utc"
    filter: dict[str, str] = field(factory=dict)  # event properties the limit counts ({}: all)
    entity_id: str | None = None
    usage: Decimal
    window_start: datetime
    window_end: datetime

    @property
    def remaining(self) -> Decimal:
        """What the limit still lets through before its window ends (never below 0)."""
        return max(Decimal(0), WIDE.subtract(self.limit, self.usage))  # read outside a call
