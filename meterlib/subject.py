"""A customer's grants as one unit of work sees them: loaded, caught up to now, changed, saved.

The Ledger opens a transaction, builds a `Subject`, lets the pure functions (resets,
deduction, views) decide, and saves what changed. Nothing here knows how a store stores.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from attrs import evolve

from meterlib import limits
from meterlib.models import (
    Customer,
    DeductionRecord,
    EventRecord,
    Feature,
    Grant,
    Lock,
    LockItem,
)
from meterlib.quantity import ZERO
from meterlib.results import Balance, Flag
from meterlib.rules import resets
from meterlib.rules.balances import balance_of, flag_of
from meterlib.rules.deduction import CAP, REJECT, Change, Entry, Outcome, deduct
from meterlib.rules.ordering import in_deduction_order
from meterlib.state import Catalogue
from meterlib.stores.protocol import StoreSession

if TYPE_CHECKING:
    from meterlib.controls.reactions import Enforcement


class View:
    """Every grant of one customer at `now`, read-only: what balances and flags are computed from.

    A `Subject` is a View that also changes; `Subject.snapshot()` freezes one moment of it, which
    results keep to build their Balances when (if ever) they are read.
    """

    def __init__(
        self, catalogue: Catalogue, grants: dict[str, Grant], *, now: int, reverse: bool
    ) -> None:
        self.catalogue = catalogue
        self.grants = grants
        self.now = now
        self.reverse = reverse

    def rows(
        self, wanted: Collection[str], entity_id: str | None
    ) -> tuple[list[Grant], list[Grant]]:
        """(usable grants in deduction order, grants only added to the displayed totals) of the
        features `wanted` (ids: a few, so a tuple or list is searched as fast as a set)."""
        now = self.now
        usable: list[Grant] = []
        extra: list[Grant] = []
        for grant in self.grants.values():
            if grant.feature_id not in wanted or not grant.live_at(now):
                continue
            if grant.entity_id is None or grant.entity_id == entity_id:
                usable.append(grant)
            elif entity_id is None:
                extra.append(grant)
        # most subjects have one grant of a feature: nothing to order, and no call to make
        if len(usable) > 1:
            usable = in_deduction_order(
                usable,
                self.catalogue.by_id,
                entity_view=entity_id is not None,
                reverse=self.reverse,
            )
        if len(extra) > 1:
            extra = in_deduction_order(
                extra, self.catalogue.by_id, entity_view=False, reverse=self.reverse
            )
        return usable, extra

    def settled_until(self) -> int | None:
        """The first instant after `now` at which time alone may change any grant of the view
        (`resets.settled_until`); None: never. Whatever the view answers holds until then."""
        now = self.now
        until: int | None = None
        for grant in self.grants.values():
            at = resets.settled_until(grant, now)
            if at is not None and (until is None or at < until):
                until = at
        return until

    def balance(
        self, feature: Feature, entity_id: str | None, *, display: bool = True
    ) -> Balance | None:
        """The subject's Balance; `display` adds entities' own grants to a customer's totals."""
        usable, extra = self.rows((feature.id,), entity_id)
        return balance_of(feature, usable, extra if display else ())

    def flag(self, feature: Feature, entity_id: str | None) -> Flag | None:
        """The flag of a boolean feature, if the subject has it."""
        usable, _ = self.rows((feature.id,), entity_id)
        return flag_of(feature, usable)

    def has_any(self, feature: Feature, entity_id: str | None, *, display: bool) -> bool:
        """Whether the subject has a live grant of `feature` (usable, or shown in totals)."""
        usable, extra = self.rows((feature.id,), entity_id)
        return bool(usable or (display and extra))


class Subject(View):
    """Every grant of one customer, advanced to `now`, plus the changes made since loading."""

    def __init__(
        self,
        session: StoreSession,
        catalogue: Catalogue,
        customer: Customer,
        *,
        now: int,
        write: bool,
        reverse: bool,
        persist_overage: bool,
        controls: Enforcement | None = None,
        make_controls: Callable[[], Enforcement] | None = None,
    ) -> None:
        super().__init__(catalogue, {}, now=now, reverse=reverse)
        self.session = session
        self.customer = customer
        self.write = write
        self.persist_overage = persist_overage
        # billing controls (None: the plain rules). The Ledger defers building them with
        # `make_controls` when the customer has none and nobody listens for notifications:
        # then they cannot bear on the customer itself, and most calls never need them.
        self._controls = controls
        self._make_controls = make_controls
        self.loaded: dict[str, Grant] = {}
        self.deleted: set[str] = set()
        self.locked = False  # whether the customer held a lock when loaded
        for grant in session.list_grants(customer.id):
            self.loaded[grant.id] = grant
            self.grants[grant.id] = grant
        self._release_expired_locks()
        for gid, grant in self.grants.items():
            self.grants[gid] = resets.advance(grant, now, persist_overage=persist_overage)
        self.rebind()

    def rebind(self) -> None:
        """Let the controls remember the subject as it is now, for the notifications of the
        operation about to start (deferred controls have no listeners to notify)."""
        if self._controls is not None:
            self._controls.bind(self)

    @property
    def controls(self) -> Enforcement | None:
        """The billing controls at work on this subject (built on first use if deferred)."""
        if self._make_controls is not None:
            self._controls, self._make_controls = self._make_controls(), None
        return self._controls

    def controlled(self, entity_id: str | None) -> bool:
        """Whether billing controls bear on the customer (`entity_id` None) or that entity."""
        if self._make_controls is not None and entity_id is None:
            return False  # deferred: the customer has none
        controls = self.controls
        return controls is not None and controls.active(entity_id)

    def snapshot(self) -> View:
        """This moment of the subject, unchanged by whatever the subject does next."""
        return View(self.catalogue, dict(self.grants), now=self.now, reverse=self.reverse)

    # ---- time

    def _release_expired_locks(self) -> None:
        """Locks whose expiry has passed are released at that instant, in expiry order."""
        held = self.session.list_locks(self.customer.id)
        if not held:
            return  # the usual case
        self.locked = True
        locks = [
            lock for lock in held if lock.expires_at is not None and lock.expires_at <= self.now
        ]
        for lock in sorted(locks, key=lambda lock: (lock.expires_at or 0, lock.created_at)):
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
        if self.controlled(entity_id):
            assert self.controls is not None
            return self.controls.deduct(
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
        """After an operation's deductions: notifications and auto top-ups (before `save`)."""
        if self._make_controls is not None:
            return  # deferred: no top-ups (the customer has no controls) and no listeners
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

    def settle_lock(
        self, lock: Lock, *, final_value: Decimal, properties: dict[str, object] | None, at: int
    ) -> None:
        """Finalize `lock` at `final_value` (0 = release): undo what it held, apply the rest."""
        held = lock.value
        if final_value != held:
            if held == 0:
                unwind, additional = ZERO, final_value
            elif final_value == 0 or (final_value > 0) != (held > 0):
                unwind, additional = abs(held), final_value
            elif abs(final_value) >= abs(held):
                unwind, additional = ZERO, final_value - held
            else:
                unwind, additional = abs(held) - abs(final_value), ZERO
            sign = Decimal(1) if held > 0 else Decimal(-1)
            skipped, changes = self._unwind(lock.items, unwind)
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
            self.session.delete_lock(lock.lock_id)

    def _unwind(self, items: tuple[LockItem, ...], amount: Decimal) -> tuple[Decimal, list[Change]]:
        """Give back up to `amount` (feature units) exactly where the lock took it, newest first.

        Returns how much could not be given back (its grant or rollover is gone) and the changes.
        """
        skipped = ZERO
        changes: list[Change] = []
        for item in reversed(items):
            if amount <= 0:
                break
            portion = min(amount, abs(item.value_delta))
            if portion == 0:
                continue
            amount -= portion
            units = (
                item.balance_delta
                if portion == abs(item.value_delta)
                else (portion * item.cost * (1 if item.balance_delta > 0 else -1))
            )
            grant = self.grants.get(item.grant_id)
            if grant is None or not grant.live_at(self.now):
                skipped += portion
                continue
            change = Change(
                grant_id=grant.id,
                rollover_id=item.rollover_id,
                cost=item.cost,
                balance_delta=-units,
                value_delta=-portion if item.value_delta > 0 else portion,
            )
            if item.rollover_id is None:
                self.grants[grant.id] = evolve(grant, balance=grant.balance + units)
                changes.append(change)
                continue
            lots = list(grant.rollovers)
            for index, lot in enumerate(lots):
                if lot.id == item.rollover_id:
                    lots[index] = evolve(lot, balance=lot.balance + units, usage=lot.usage - units)
                    self.grants[grant.id] = evolve(grant, rollovers=tuple(lots))
                    changes.append(change)
                    break
            else:
                skipped += portion
        return skipped, changes

    # ---- events and saving

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
        """Append a usage event (only in a write transaction)."""
        if not self.write:
            return None
        seq = self.session.next_seq("event")
        event = EventRecord(
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
        self.session.add_event(event)
        return event

    def save(self) -> None:
        """Write every grant that differs from what was loaded, and delete removed ones."""
        if not self.write:
            return
        loaded = self.loaded
        # identity, then the balance, decide almost every grant before all its fields are
        # compared: unchanged grants are the very objects loaded, deducted ones changed balance
        changed = [
            g
            for gid, g in self.grants.items()
            if (old := loaded.get(gid)) is not g
            and (old is None or old.balance != g.balance or old != g)
        ]
        if changed:
            self.session.put_grants(limits.within(changed, self.grants.values()))
        if self.deleted:
            self.session.delete_grants(self.deleted)
