"""What one operation writes and asks: the output of a decision, applied by the shell.

A decision returns a `Decision`: its result, the `Effects` a store writes in one call inside
the same transaction, the notifications delivered after the commit, and, rarely, `Asks`
the shell must answer (more sequence numbers, an `approve_topup` call) before the decision
is made again with the answers.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from decimal import Decimal
from typing import Generic, NamedTuple, TypeVar

from attrs import frozen

from meterlib.models import Counter, Customer, Entity, EventRecord, Feature, Grant, Lock
from meterlib.notifications import Notification

R = TypeVar("R")


class Effects(NamedTuple):
    """Everything a store writes for one operation (each part in the order given)."""

    features: tuple[Feature, ...] = ()  # added (ids the catalogue does not have)
    customer: Customer | None = None  # inserted or replaced
    entities: tuple[Entity, ...] = ()  # inserted or replaced
    grants: tuple[Grant, ...] = ()  # inserted or replaced by id (the changed and the new)
    deleted_grants: tuple[str, ...] = ()  # with their rollovers
    locks: tuple[Lock, ...] = ()  # inserted or replaced by lock_id
    deleted_locks: tuple[str, ...] = ()
    events: tuple[EventRecord, ...] = ()  # appended; seqs from CustomerState.seqs or Asks
    counters: tuple[Counter, ...] = ()  # inserted or replaced by (customer_id, key)
    claims: tuple[tuple[str, int], ...] = ()  # idempotency key → claimed until (ms)
    # now, when keys are claimed: keys claimed until then or earlier are spent, and the store
    # removes a few of them (`KEYS_SWEPT_PER_CLAIM` per claim), so the table never piles up
    keys_spent_by: int | None = None

    def __or__(self, other: object) -> Effects:
        """Both, `other` after `self`: a later version of the same row wins."""
        if not isinstance(other, Effects):
            return NotImplemented
        return Effects(
            _merged(self.features, other.features, lambda f: f.id),
            other.customer if other.customer is not None else self.customer,
            _merged(self.entities, other.entities, lambda e: (e.customer_id, e.id)),
            _merged(
                tuple(g for g in self.grants if g.id not in other.deleted_grants),
                other.grants,
                lambda g: g.id,
            ),
            (*self.deleted_grants, *other.deleted_grants),
            _merged(
                tuple(lk for lk in self.locks if lk.lock_id not in other.deleted_locks),
                other.locks,
                lambda lk: lk.lock_id,
            ),
            (*self.deleted_locks, *other.deleted_locks),
            (*self.events, *other.events),
            _merged(self.counters, other.counters, lambda c: (c.customer_id, c.key)),
            _merged(self.claims, other.claims, lambda c: c[0]),
            _later(self.keys_spent_by, other.keys_spent_by),
        )

    def __bool__(self) -> bool:
        """Whether there is anything to write."""
        return any(self)


NO_EFFECTS = Effects()

# How many spent idempotency keys a store removes per key claimed: more than one, so a backlog
# (keys left from before, or a day of released keys) drains while keyed traffic goes on.
KEYS_SWEPT_PER_CLAIM = 2


def _later(first: int | None, other: int | None) -> int | None:
    if first is None:
        return other
    return first if other is None else max(first, other)


T = TypeVar("T")


def _merged(
    first: tuple[T, ...], later: tuple[T, ...], key: Callable[[T], Hashable]
) -> tuple[T, ...]:
    out = {key(x): x for x in first}
    for x in later:
        out.pop(key(x), None)
        out[key(x)] = x
    return tuple(out.values())


@frozen(kw_only=True)
class TopupRequest:
    """What `Ledger(approve_topup=...)` is asked to approve (and to charge for)."""

    customer_id: str
    feature_id: str
    quantity: Decimal
    threshold: Decimal
    balance: Decimal  # the balance that fell to the threshold or below


class Asks(NamedTuple):
    """What a decision needs answered before it can finish (rare: top-ups, new ids)."""

    seqs: tuple[tuple[str, int], ...] = ()  # more numbers: (("grant", 1),)
    approvals: tuple[TopupRequest, ...] = ()  # `approve_topup` must be asked, once each


class Decision(NamedTuple, Generic[R]):
    """A decision's output: what to answer, what to write, what to tell after the commit."""

    result: R
    effects: Effects = NO_EFFECTS
    notifications: tuple[Notification, ...] = ()
    asks: Asks | None = None  # the shell answers, then decides again (decisions are pure)
    remember: int | bool | None = False  # plain check: keep the answer until this instant
    # (None: forever; False: do not keep it)
