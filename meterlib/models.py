"""What a store keeps: the catalogue (features, customers, entities) and the ledger state
(grants with their rollovers, locks, events). Frozen attrs values; change them with `evolve`.

Instants inside the ledger state are epoch milliseconds (ints); the catalogue's public
`created_at` is an aware UTC datetime. Amounts are exact Decimals.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from attrs import field, fields, frozen

from meterlib import shapes
from meterlib.quantity import ZERO

_new_instance = object.__new__


def slot_setters(cls: type) -> tuple[Callable[[Any, Any], None], ...]:
    """The setters of the fields a frozen slotted class's `__init__` takes, in field order.

    Each writes its slot directly, where `object.__setattr__` (what attrs' `__init__` sets a
    frozen instance's fields with) looks the slot up by name first: the constructors that
    every catch-up, track or check runs (`RolloverLot.made`, `Grant.moved`, `EventRecord.made`,
    `results.check_result`, `results.track_result`) use these.
    """
    return tuple(cls.__dict__[f.name].__set__ for f in fields(cls) if f.init)


FEATURE_TYPES = ("metered", "boolean", "credit_system")
INTERVALS = ("minute", "hour", "day", "week", "month", "quarter", "semi_annual", "year")
ONE_OFF = "one_off"


@frozen(kw_only=True)
class Feature:
    """A catalogue entry: a metered (consumable or not), boolean or credit-system feature."""

    id: str
    name: str | None = None
    type: str = "metered"
    consumable: bool = True
    event_names: tuple[str, ...] = ()
    # {metered_feature_id: credits per unit}, in the order given
    credit_schema: dict[str, Decimal] | None = None
    seq: int = 0  # catalogue order: credit systems are visited in it

    def credit_cost(self, member_id: str) -> Decimal | None:
        """Credits one unit of `member_id` costs in this credit system, None if not a member."""
        if self.type != "credit_system" or self.credit_schema is None or member_id == self.id:
            return None
        return self.credit_schema.get(member_id)

    def to_dict(self) -> dict[str, Any]:
        """Autumn's Feature object."""
        return shapes.feature(self)


@frozen(kw_only=True)
class Customer:
    """A customer: the subject that owns grants."""

    id: str
    name: str | None = None
    email: str | None = None
    metadata: dict[str, Any] = field(factory=dict)
    created_at: datetime
    billing_controls: dict[str, Any] = field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The customer fields of Autumn's Customer object (callers add balances and flags)."""
        return shapes.customer(self)


@frozen(kw_only=True)
class Entity:
    """A sub-account of a customer (a seat, a workspace) that can own grants of its own."""

    id: str
    customer_id: str
    feature_id: str | None = None
    name: str | None = None
    created_at: datetime
    billing_controls: dict[str, Any] = field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Autumn's Entity object (without balances)."""
        return shapes.entity(self)


@frozen(kw_only=True)
class RolloverRule:
    """How a grant carries its unused balance over a reset boundary."""

    max: Decimal | None = None
    max_percentage: Decimal | None = None  # wins over max
    length: int = 1  # months a rollover lives (duration "month")
    duration: str = "month"  # "month" | "forever"


@frozen(kw_only=True)
class RolloverLot:
    """One carried-over amount: `balance` left of it, `usage` consumed since it was made."""

    id: str
    balance: Decimal
    usage: Decimal = ZERO
    expires_at: int | None = None  # None: never expires

    def live_at(self, now: int) -> bool:
        """Rollovers expire at exactly their instant (half-open)."""
        return self.expires_at is None or self.expires_at > now

    @classmethod
    def made(cls, id: str, balance: Decimal, expires_at: int | None) -> RolloverLot:
        """`RolloverLot(id=id, balance=balance, expires_at=expires_at)`: a lot nothing was used
        of yet, built as `Grant.moved` builds a grant (a catch-up makes a few for every check).
        A class called with keywords costs more: `type.__call__` packs them into a dict that
        `__init__` unpacks again. Tests check this equals the constructor.
        """
        set_id, set_balance, set_usage, set_expires_at = _LOT_SETTERS
        new = _new_instance(cls)
        set_id(new, id)
        set_balance(new, balance)
        set_usage(new, ZERO)
        set_expires_at(new, expires_at)
        return new


_LOT_SETTERS = slot_setters(RolloverLot)


@frozen(kw_only=True)
class Grant:
    """One balance row of the breakdown: a grant of one feature to a customer or an entity.

    `balance` is signed (negative = overage). Its reset boundaries are anchored:
    boundary k = `anchor` + k × interval; `next_reset_at` is boundary number `period`,
    kept beside them so reads need no calendar arithmetic.
    """

    id: str
    seq: int  # creation order: the last tie-breaker of the deduction order
    customer_id: str
    feature_id: str
    entity_id: str | None = None  # set: the grant belongs to that entity alone
    balance_id: str | None = None  # the caller's id; the public id is balance_id or id
    plan_id: str | None = None
    included: Decimal = ZERO  # the configured grant a reset restores
    unlimited: bool = False
    interval: str = ONE_OFF
    interval_count: int = 1
    anchor: int | None = None
    period: int = 0
    next_reset_at: int | None = None
    rollover: RolloverRule | None = None
    balance: Decimal = ZERO
    adjustment: Decimal = (
        ZERO  # included-grant changes made by update(included=...); cleared on reset
    )
    rollovers: tuple[RolloverLot, ...] = ()
    expires_at: int | None = None
    created_at: int = 0
    overage_allowed: bool = False
    max_purchase: Decimal | None = None

    @property
    def public_id(self) -> str:
        """The id shown in breakdowns and flags."""
        return self.balance_id if self.balance_id is not None else self.id

    @property
    def included_grant(self) -> Decimal:
        """What the breakdown shows as granted: the grant plus adjustments."""
        return self.included + self.adjustment

    @property
    def min_balance(self) -> Decimal | None:
        """The overage floor: −max_purchase for an overage row with a cap, else none."""
        if self.overage_allowed and self.max_purchase is not None:
            return -self.max_purchase
        return None

    def live_at(self, now: int) -> bool:
        """A grant is invisible from its expiry on."""
        return self.expires_at is None or self.expires_at > now

    def deducted(self, balance: Decimal, rollovers: tuple[RolloverLot, ...]) -> Grant:
        """This grant with a deduction's new balance and rollovers."""
        return self.moved(
            balance=balance,
            rollovers=rollovers,
            adjustment=self.adjustment,
            period=self.period,
            next_reset_at=self.next_reset_at,
        )

    def moved(
        self,
        *,
        balance: Decimal,
        rollovers: tuple[RolloverLot, ...],
        adjustment: Decimal,
        period: int,
        next_reset_at: int | None,
    ) -> Grant:
        """This grant with new values of the fields that deductions and resets move.

        Every track and catch-up makes one of these, so it is built slot by slot: `evolve`
        walks every field's metadata first, and even `Grant(...)` costs 1.6 times as much:
        Python turns a call with more than 15 keyword arguments into a dict, which
        `type.__call__` hands to `__init__` to unpack again, and attrs' `__init__` looks every
        slot up by name. Grant has no validators, converters or post-init hook to skip; tests
        check that this sets every field, each to its own value (tests/test_models.py).
        """
        (
            set_id,
            set_seq,
            set_customer_id,
            set_feature_id,
            set_entity_id,
            set_balance_id,
            set_plan_id,
            set_included,
            set_unlimited,
            set_interval,
            set_interval_count,
            set_anchor,
            set_period,
            set_next_reset_at,
            set_rollover,
            set_balance,
            set_adjustment,
            set_rollovers,
            set_expires_at,
            set_created_at,
            set_overage_allowed,
            set_max_purchase,
        ) = _GRANT_SETTERS
        new = _new_instance(Grant)
        set_id(new, self.id)
        set_seq(new, self.seq)
        set_customer_id(new, self.customer_id)
        set_feature_id(new, self.feature_id)
        set_entity_id(new, self.entity_id)
        set_balance_id(new, self.balance_id)
        set_plan_id(new, self.plan_id)
        set_included(new, self.included)
        set_unlimited(new, self.unlimited)
        set_interval(new, self.interval)
        set_interval_count(new, self.interval_count)
        set_anchor(new, self.anchor)
        set_period(new, period)
        set_next_reset_at(new, next_reset_at)
        set_rollover(new, self.rollover)
        set_balance(new, balance)
        set_adjustment(new, adjustment)
        set_rollovers(new, rollovers)
        set_expires_at(new, self.expires_at)
        set_created_at(new, self.created_at)
        set_overage_allowed(new, self.overage_allowed)
        set_max_purchase(new, self.max_purchase)
        return new


_GRANT_SETTERS = slot_setters(Grant)


@frozen(kw_only=True)
class LockItem:
    """One change a lock's deduction made, so finalize can undo exactly it."""

    grant_id: str
    rollover_id: str | None
    cost: Decimal  # row units per unit of the locked feature
    balance_delta: Decimal  # row units taken (positive) or given back (negative)
    value_delta: Decimal  # the same in units of the locked feature


@frozen(kw_only=True)
class Lock:
    """A reservation made by `check(lock=...)`, held until finalized or expired."""

    lock_id: str
    customer_id: str
    feature_id: str
    entity_id: str | None
    value: Decimal
    items: tuple[LockItem, ...]
    created_at: int
    expires_at: int | None = None
    properties: dict[str, Any] = field(factory=dict)


@frozen(kw_only=True)
class DeductionRecord:
    """What one track took from one grant or rollover (in that row's units)."""

    feature_id: str
    balance_id: str
    value: Decimal
    plan_id: str | None = None
    interval: str | None = None
    interval_count: int = 1
    resets_at: int | None = None


@frozen(kw_only=True)
class EventRecord:
    """A recorded usage event: one per successful track, lock or finalize that changed usage."""

    id: str
    seq: int  # recording order, for ties on timestamp
    customer_id: str
    entity_id: str | None
    feature_id: str | None
    event_name: str | None
    value: Decimal
    properties: dict[str, Any]
    timestamp: int
    idempotency_key: str | None = None
    deductions: tuple[DeductionRecord, ...] = ()

    @property
    def feature_ids(self) -> frozenset[str]:
        """Every feature this event named or deducted from (what a feature filter matches)."""
        ids = {d.feature_id for d in self.deductions}
        if self.feature_id is not None:
            ids.add(self.feature_id)
        return frozenset(ids)

    @staticmethod
    def made(
        *,
        id: str,
        seq: int,
        customer_id: str,
        entity_id: str | None,
        feature_id: str | None,
        event_name: str | None,
        value: Decimal,
        properties: dict[str, Any],
        timestamp: int,
        idempotency_key: str | None,
        deductions: tuple[DeductionRecord, ...],
    ) -> EventRecord:
        """`EventRecord(...)`, built slot by slot as `Grant.moved` is: every track records
        one. Tests hold it to the constructor, field by field (tests/test_models.py)."""
        (
            set_id,
            set_seq,
            set_customer_id,
            set_entity_id,
            set_feature_id,
            set_event_name,
            set_value,
            set_properties,
            set_timestamp,
            set_idempotency_key,
            set_deductions,
        ) = _EVENT_SETTERS
        new = _new_instance(EventRecord)
        set_id(new, id)
        set_seq(new, seq)
        set_customer_id(new, customer_id)
        set_entity_id(new, entity_id)
        set_feature_id(new, feature_id)
        set_event_name(new, event_name)
        set_value(new, value)
        set_properties(new, properties)
        set_timestamp(new, timestamp)
        set_idempotency_key(new, idempotency_key)
        set_deductions(new, deductions)
        return new


_EVENT_SETTERS = slot_setters(EventRecord)


@frozen(kw_only=True)
class Counter:
    """A customer's counter, kept by `key`: a value counted within a window.

    Usage windows and auto top-up rate limits keep their counts here. `window_start` /
    `window_end` (epoch ms, half-open) are the window the value was counted in, None for a
    counter without one; whether that window is still current is for the reader to decide
    from the clock, so a store keeps counters without knowing what they count.
    """

    customer_id: str
    key: str
    value: Decimal = ZERO
    window_start: int | None = None
    window_end: int | None = None
