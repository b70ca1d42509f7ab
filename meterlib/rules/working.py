"""The working copy of one customer inside a decision: loaded state, caught up to now, changed.

A decision builds a `Working` from a `CustomerState` (`meterlib.operations.catch_up.open`),
lets the pure rules (resets, deduction, locks, billing controls) change it, and hands the
shell `effects()`: the grants that differ from what was loaded, the events, the locks and the
counters. Nothing here reads a store or a clock; what a decision needs besides the state
(sequence numbers, approvals) it takes from the `Context` or asks for (`Asked`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from meterlib import limits
from meterlib.effects import Asks, Effects
from meterlib.models import Counter, Customer, DeductionRecord, EventRecord, Feature, Grant, Lock
from meterlib.quantity import ZERO
from meterlib.rules import locks as lock_rules
from meterlib.rules import resets
from meterlib.rules.context import Asked, Context
from meterlib.rules.deduction import CAP, REJECT, Change, Entry, Outcome, deduct
from meterlib.rules.view import View
from meterlib.state import CustomerState


class Verdict(Protocol):
    """What the working copy needs of a billing-control verdict."""

    @property
    def allowed(self) -> bool: ...


class Controls(Protocol):
    """The billing controls at work on a working copy (`meterlib.controls.reactions`):
    declared here so that the rules below the controls never import them."""

    def active(self, entity_id: str | None) -> bool: ...
    def bind(self, working: Working) -> None: ...
    def deduct(
        self,
        working: Working,
        feature: Feature,
        amount: Decimal,
        entity_id: str | None,
        *,
        behavior: str,
        properties: Mapping[str, Any] | None,
    ) -> Outcome: ...
    def judge(
        self,
        working: Working,
        pool: Feature,
        entity_id: str | None,
        required: Decimal,
        *,
        properties: Mapping[str, Any] | None = None,
        member: Feature | None = None,
    ) -> Verdict: ...
    def unwound(self, working: Working, lock: Lock, changes: Sequence[Change], at: int) -> None: ...
    def settle(
        self,
        working: Working,
        features: Iterable[Feature],
        entity_id: str | None,
        properties: Mapping[str, Any] | None,
        *,
        topups: bool,
    ) -> None: ...
    def changed_counters(self) -> tuple[Counter, ...]: ...
    def notifications(self) -> tuple[Any, ...]: ...


def free_seqs(state: CustomerState, ctx: Context) -> dict[str, list[int]]:
    """The numbers a decision may hand out: reserved by the load, then answered, ascending."""
    free: dict[str, list[int]] = {k: list(v) for k, v in state.seqs.items()}
    if not ctx.seqs:  # nothing asked for yet: the usual case
        return free
    for kind, more in ctx.seqs.items():
        free[kind] = sorted((*free.get(kind, ()), *more))
    return free


class Working(View):
    """Every grant of one customer, advanced to `now`, plus the changes made since loading."""

    def __init__(
        self,
        state: CustomerState,
        customer: Customer,
        ctx: Context,
        write: bool,
        free: dict[str, list[int]] | None = None,
    ) -> None:
        grants = {}
        for grant in state.grants:  # a loop: a comprehension costs one more function call
            grants[grant.id] = grant
        # what was loaded, by id: only a write compares with it (a read writes nothing)
        loaded = dict(grants) if write else grants
        # View's fields, set here: every check and track builds one (a call costs more)
        self.catalogue = state.catalogue
        self.grants = grants
        self.now = ctx.now
        self.reverse = ctx.reverse
        self.state = state
        self.customer = customer
        self.write = write
        self.persist_overage = ctx.persist_overage
        self.loaded = loaded
        self.deleted: set[str] = set()
        self.locked = bool(state.locks)  # whether the customer held a lock when loaded
        self.events: list[EventRecord] = []
        self.put_locks: dict[str, Lock] = {}
        self.deleted_locks: dict[str, None] = {}  # an ordered set
        self._free = free  # the numbers to hand out, worked out on first use
        self._ctx = ctx
        # billing controls (None: the plain rules); see `operations.catch_up.open`
        self.controls: Controls | None = None

    def catch_up(self) -> None:
        """Release the locks that expired (at their instants), then advance every grant."""
        if self.state.locks:
            self._release_expired_locks()
        persist, now, grants = self.persist_overage, self.now, self.grants
        for gid, grant in grants.items():
            due = grant.next_reset_at
            # nothing due and no rollover lot to expire: `advance` would return it as it is
            if (due is None or due > now) and not grant.rollovers:
                continue
            grants[gid] = resets.advance(grant, now, persist_overage=persist)

    def controlled(self, entity_id: str | None) -> bool:
        """Whether billing controls bear on the customer (`entity_id` None) or that entity."""
        controls = self.controls
        return controls is not None and controls.active(entity_id)

    def snapshot(self) -> View:
        """This moment of the working copy, unchanged by whatever it does next."""
        return View(self.catalogue, dict(self.grants), self.now, self.reverse)

    def take_seq(self, kind: str) -> int:
        """The next number of `kind` the shell reserved (asks for one more when none is left)."""
        if self._free is None:
            self._free = free_seqs(self.state, self._ctx)
        free = self._free.get(kind)
        if not free:
            raise Asked(Asks(seqs=((kind, 1),)))
        return free.pop(0)

    # ---- time

    def _release_expired_locks(self) -> None:
        """Locks whose expiry has passed are released at that instant, in expiry order."""
        held = self.state.locks
        if not held:
            return  # the usual case
        expired = [lk for lk in held if lk.expires_at is not None and lk.expires_at <= self.now]
        for lock in sorted(expired, key=lambda lk: (lk.expires_at or 0, lk.created_at)):
            at = lock.expires_at or self.now
            for gid, grant in self.grants.items():
                self.grants[gid] = resets.advance(grant, at, persist_overage=self.persist_overage)
            # the release happens at `at`: grants that expired since are still live then
            now, self.now = self.now, at
            try:
                self.settle_lock(lock, final_value=ZERO, properties=None, at=at)
            finally:
                self.now = now

    # ---- deduction

    def entries(self, feature: Feature, entity_id: str | None, behavior: str) -> list[Entry]:
        """The grants a deduction of `feature` walks, with their costs and overage rights."""
        catalogue = self.catalogue
        pools = catalogue.pools(feature)
        usable, _ = self.rows(pools, entity_id)
        out = []
        for grant in usable:
            pool = pools[grant.feature_id]
            allocated = pool.type == "metered" and not pool.consumable
            allow_over = (
                grant.overage_allowed or grant.unlimited or (allocated and behavior != REJECT)
            )
            out.append(Entry(grant, catalogue.cost(feature, pool), allow_over))
        return out

    def deduct(
        self,
        feature: Feature,
        amount: Decimal,
        entity_id: str | None,
        behavior: str = CAP,
        properties: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """Work out a deduction without applying it (billing controls, if any, apply)."""
        controls = self.controls
        if controls is not None and controls.active(entity_id):
            return controls.deduct(
                self, feature, amount, entity_id, behavior=behavior, properties=properties
            )
        return deduct(self.entries(feature, entity_id, behavior), amount, behavior=behavior)

    def settle(
        self,
        features: Iterable[Feature],
        entity_id: str | None,
        properties: Mapping[str, Any] | None,
        *,
        topups: bool = True,
    ) -> None:
        """After an operation's deductions: notifications and auto top-ups."""
        if self.controls is not None:
            self.controls.settle(self, features, entity_id, properties, topups=topups)

    def apply(self, grants: dict[str, Grant]) -> None:
        """Take changed grants into the working set."""
        self.grants.update(grants)

    def add(self, grant: Grant) -> None:
        """A new grant."""
        self.grants[grant.id] = grant

    def remove(self, grant_ids: Iterable[str]) -> None:
        """Grants to delete."""
        for gid in grant_ids:
            self.grants.pop(gid, None)
            if gid in self.loaded:
                self.deleted.add(gid)

    def deduction_records(self, changes: Iterable[Change]) -> tuple[DeductionRecord, ...]:
        """Changes summed per grant or rollover, in the order first touched; zero nets dropped."""
        totals: dict[tuple[str, str | None], Decimal] = {}
        for change in changes:
            key = (change.grant_id, change.rollover_id)
            totals[key] = totals.get(key, ZERO) + change.balance_delta
        out = []
        for (gid, rid), value in totals.items():
            if value == 0:
                continue
            grant = self.grants[gid]
            out.append(
                DeductionRecord(
                    feature_id=grant.feature_id,
                    balance_id=rid if rid is not None else grant.public_id,
                    value=value,
                    plan_id=grant.plan_id,
                    interval=grant.interval,
                    interval_count=grant.interval_count,
                    resets_at=grant.next_reset_at,
                )
            )
        return tuple(out)

    # ---- locks

    def named_lock(self, lock_id: str) -> Lock | None:
        """The lock `lock_id` as this operation leaves it (the state must have named it)."""
        if lock_id in self.put_locks:
            return self.put_locks[lock_id]
        if lock_id in self.deleted_locks:
            return None
        return self.state.named_locks.get(lock_id)

    def put_lock(self, lock: Lock) -> None:
        """Open (or replace) a lock."""
        self.put_locks[lock.lock_id] = lock

    def settle_lock(
        self, lock: Lock, *, final_value: Decimal, properties: dict[str, object] | None, at: int
    ) -> None:
        """Finalize `lock` at `final_value` (0 = release): undo what it held, apply the rest."""
        held = lock.value
        if final_value != held:
            unwind, additional = lock_rules.split(held, final_value)
            sign = Decimal(1) if held > 0 else Decimal(-1)
            skipped, changes = lock_rules.unwind(self.grants, lock.items, unwind, self.now)
            if self.controls is not None:
                self.controls.unwound(self, lock, changes, at)
            additional -= sign * skipped
            feature = self.catalogue.by_id.get(lock.feature_id)
            if additional and feature is not None:
                props = properties if properties is not None else lock.properties
                outcome = self.deduct(feature, additional, lock.entity_id, CAP, props)
                self.apply(outcome.grants)
                changes += outcome.changes
            self.record_event(
                feature_id=lock.feature_id,
                event_name=None,
                entity_id=lock.entity_id,
                value=final_value - held,
                properties=properties if properties is not None else lock.properties,
                timestamp=at,
                changes=changes,
            )
        if self.write:
            self.put_locks.pop(lock.lock_id, None)
            self.deleted_locks[lock.lock_id] = None

    # ---- events and effects

    def record_event(
        self,
        *,
        feature_id: str | None,
        event_name: str | None,
        entity_id: str | None,
        value: Decimal,
        properties: dict[str, object],
        timestamp: int,
        changes: Iterable[Change] = (),
        idempotency_key: str | None = None,
        deductions: tuple[DeductionRecord, ...] | None = None,
    ) -> EventRecord | None:
        """Append a usage event (only in a writing decision)."""
        if not self.write:
            return None
        seq = self.take_seq("event")
        event = EventRecord.made(
            id=f"evt_{seq}",
            seq=seq,
            customer_id=self.customer.id,
            entity_id=entity_id,
            feature_id=feature_id,
            event_name=event_name,
            value=value,
            properties=dict(properties),
            timestamp=timestamp,
            idempotency_key=idempotency_key,
            deductions=deductions if deductions is not None else self.deduction_records(changes),
        )
        self.events.append(event)
        return event

    def effects(self, claims: tuple[tuple[str, int], ...] = ()) -> Effects:
        """What to write: grants that differ from what was loaded, removed ones, locks,
        events, counters, and `claims`."""
        loaded = self.loaded
        # identity, then the balance, decide almost every grant before all its fields are
        # compared: unchanged grants are the very objects loaded, deducted ones changed balance
        changed = [
            g
            for gid, g in self.grants.items()
            if (old := loaded.get(gid)) is not g
            and (old is None or old.balance != g.balance or old != g)
        ]
        grants = tuple(limits.within(changed, self.grants.values())) if changed else ()
        counters = self.controls.changed_counters() if self.controls is not None else ()
        if not (self.deleted or self.put_locks or self.deleted_locks or counters):
            # positional: every track comes here (features, customer, entities, grants,
            # deleted grants, locks, deleted locks, events, counters, claims)
            return Effects((), None, (), grants, (), (), (), tuple(self.events), (), claims)
        return Effects(
            grants=grants,
            deleted_grants=tuple(self.deleted),
            locks=tuple(self.put_locks.values()),
            deleted_locks=tuple(k for k in self.deleted_locks if k not in self.put_locks),
            events=tuple(self.events),
            counters=counters,
            claims=claims,
        )

    def notifications(self) -> tuple[Any, ...]:
        """The notifications the controls set off, delivered after the commit."""
        return () if self.controls is None else self.controls.notifications()
