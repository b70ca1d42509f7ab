"""Enforcement's base: a working copy's billing controls and counters, applied to deductions
and checks.

`LimitEnforcement` reads the customer's and entities' controls and the window counters from the
loaded state, and applies overage_allowed, spend limits and usage limits to `deduct` and to
check's verdict (`judge`), counting consumption in the usage windows; the counters it changes
are collected for the effects, never written. Auto top-ups (`controls.topups`) and the
reactions after an operation (`controls.reactions`) build on it. No store, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from meterlib.controls import (
    EMPTY,
    Controls,
    Resolved,
    Verdict,
    judge,
    spend_cap,
    windows,
)
from meterlib.effects import TopupRequest
from meterlib.instants import to_datetime
from meterlib.limits import check_amounts
from meterlib.models import Counter, Customer, Feature, Lock
from meterlib.notifications import LIMIT_REACHED, USAGE_ALERT, Notification
from meterlib.rules.deduction import OVERFLOW, REJECT, Change, Entry, Outcome, deduct
from meterlib.rules.view import View
from meterlib.rules.working import Working
from meterlib.state import CustomerState


class LimitEnforcement:
    """The billing controls and counters of one working copy in one decision, applied."""

    def __init__(
        self,
        state: CustomerState,
        customer: Customer,
        *,
        now: int,
        write: bool,
        notify: frozenset[str] = frozenset(),
        approvals: Mapping[TopupRequest, str | None] | None = None,
    ) -> None:
        self.state = state
        self.customer = customer
        self.now = now
        self.write = write
        self.outbox: list[Notification] = []
        self.notify = notify
        # None: no approve_topup, every top-up is approved; else the shell's answers so far
        self.approvals = approvals
        self.controls = Controls.from_stored(customer.billing_controls)
        self._entities: dict[str, Controls] = {}
        self._counters: dict[str, Counter] | None = None
        self._changed: dict[str, Counter] = {}
        self._before: View | None = None
        self._before_counters: dict[str, Counter] | None = None

    # ---- controls

    def entity_controls(self, entity_id: str) -> Controls:
        """The entity's own controls (empty for an entity the state does not hold: the load
        holds every entity an operation can name)."""
        found = self._entities.get(entity_id)
        if found is None:
            entity = self.state.entities.get(entity_id)
            found = EMPTY if entity is None else Controls.from_stored(entity.billing_controls)
            self._entities[entity_id] = found
        return found

    def resolved(self, entity_id: str | None) -> Resolved:
        """The controls a customer, or one of its entities, obeys."""
        if entity_id is None:
            return Resolved(customer=self.controls)
        return Resolved(
            customer=self.controls, entity=self.entity_controls(entity_id), entity_id=entity_id
        )

    def active(self, entity_id: str | None) -> bool:
        """Whether any control bears on this subject (else the plain rules apply)."""
        if self.controls is not EMPTY:
            return True
        return entity_id is not None and self.entity_controls(entity_id) is not EMPTY

    # ---- counters

    def counters(self) -> dict[str, Counter]:
        """The customer's counters by key, as loaded and changed since."""
        if self._counters is None:
            self._counters = dict(self.state.counters)
            if self._before is not None and self._before_counters is None:
                self._before_counters = dict(self._counters)
        return self._counters

    def _put(self, changed: Sequence[Counter]) -> None:
        if not changed:
            return
        counters = self.counters()
        for counter in changed:
            counters[counter.key] = counter
        if self.write:
            check_amounts((c.value for c in changed), "a usage count")
            for counter in changed:
                self._changed.pop(counter.key, None)
                self._changed[counter.key] = counter

    def changed_counters(self) -> tuple[Counter, ...]:
        """The counters to write, in the order last changed."""
        return tuple(self._changed.values())

    def notifications(self) -> tuple[Notification, ...]:
        """The notifications set off, delivered after the commit."""
        return tuple(self.outbox)

    def caps(
        self,
        subject: View,
        feature: Feature,
        entity_id: str | None,
        properties: Mapping[str, Any] | None,
        *,
        at: int | None = None,
    ) -> list[windows.Cap]:
        """The armed usage limits on `feature` an event with `properties` meets, at `at`."""
        limits = self.resolved(entity_id).usage_limits(feature.id)
        if not limits:
            return []
        when = self.now if at is None else at
        credits = feature.type == "credit_system"
        out = []
        for limit, scope in limits:
            if not limit.matches(properties):
                continue
            anchor_at = None
            if limit.anchor != "utc":
                groups = [subject.rows((feature.id,), entity_id)[0]]
                if not credits:
                    pools = [p.id for p in subject.catalogue.credit_systems_of(feature)]
                    groups.append(subject.rows(pools, entity_id)[0])
                grant = windows.anchor_grant(groups, entity_scope=scope)
                anchor_at = None if grant is None else grant.next_reset_at
            start, end = windows.window(limit.interval, anchor_at, when)
            out.append(windows.Cap(limit=limit, scope=scope, credits=credits, start=start, end=end))
        return out

    # ---- deduction

    def bind(self, subject: Working) -> None:
        """Remember the subject as the operation found it, when a notification may need it."""
        if self.notify & {LIMIT_REACHED, USAGE_ALERT}:
            self._before = subject.snapshot()
            self._before_counters = None if self._counters is None else dict(self._counters)

    def deduct(
        self,
        subject: Working,
        feature: Feature,
        amount: Decimal,
        entity_id: str | None,
        *,
        behavior: str,
        properties: Mapping[str, Any] | None,
    ) -> Outcome:
        """A deduction under the subject's controls; consumption counts in its windows."""
        resolved = self.resolved(entity_id)
        entries = _with_overage_control(subject.entries(feature, entity_id, behavior), resolved)
        relevant = subject.catalogue.relevant(feature)
        spend: dict[str, Decimal] = {}
        for pool in relevant:
            limit = resolved.spend_limit(pool.id)
            if limit is not None:
                most = spend_cap(limit, [e.grant for e in entries if e.grant.feature_id == pool.id])
                if most is not None:
                    spend[pool.id] = most
        caps: list[windows.Cap] = []
        if amount > 0 and not any(e.grant.unlimited for e in entries):
            for pool in relevant:
                caps += self.caps(subject, pool, entity_id, properties)
        counters = self.counters() if caps else {}
        gate = None
        if caps and behavior != OVERFLOW:
            rooms = [windows.headroom(c, counters.get(c.key), self.now) for c in caps]
            gate = windows.Gate(caps, rooms)
        outcome = deduct(entries, amount, behavior=behavior, gate=gate, spend_limits=spend or None)
        if caps and not (behavior == REJECT and outcome.leftover > 0):
            pool_of = {gid: g.feature_id for gid, g in subject.grants.items()}
            counted = []
            for cap in caps:
                used = windows.consumed(cap, outcome.changes, pool_of)
                if used > 0:
                    counted.append(
                        windows.count(
                            cap, counters.get(cap.key), used, customer_id=self.customer.id
                        )
                    )
            self._put(counted)
        return outcome

    def unwound(self, subject: Working, lock: Lock, changes: Sequence[Change], at: int) -> None:
        """A lock gave units back at `at`: its windows get them back too (current window only)."""
        if not changes or not self.resolved(lock.entity_id).windowed:
            return
        feature = subject.catalogue.by_id.get(lock.feature_id)
        if feature is None:
            return
        if any((g := subject.grants.get(c.grant_id)) is not None and g.unlimited for c in changes):
            return
        caps: list[windows.Cap] = []
        for pool in subject.catalogue.relevant(feature):
            caps += self.caps(subject, pool, lock.entity_id, lock.properties, at=at)
        if not caps:
            return
        counters = self.counters()
        pool_of = {gid: g.feature_id for gid, g in subject.grants.items()}
        changed = []
        for cap in caps:
            counter = windows.give_back(
                cap, counters.get(cap.key), windows.freed(cap, changes, pool_of), at
            )
            if counter is not None:
                changed.append(counter)
        self._put(changed)

    # ---- check's verdict

    def judge(
        self,
        subject: View,
        pool: Feature,
        entity_id: str | None,
        required: Decimal,
        *,
        properties: Mapping[str, Any] | None = None,
        member: Feature | None = None,
        counters: Mapping[str, Counter] | None = None,
    ) -> Verdict:
        """Check's verdict on one pool with the controls applied (autumn-check-track §5.5).

        When the pool is a credit system judged for `member`, the member's own caps gate too,
        their room converted to credits.
        """
        usable, _ = subject.rows((pool.id,), entity_id)
        resolved = self.resolved(entity_id)
        room: Decimal | None = None
        caps = self.caps(subject, pool, entity_id, properties)
        scaled = [(cap, Decimal(1)) for cap in caps]
        if member is not None and member.id != pool.id:
            cost = pool.credit_cost(member.id)
            if cost is not None:
                scaled += [(c, cost) for c in self.caps(subject, member, entity_id, properties)]
        if scaled:
            seen = self.counters() if counters is None else counters
            room = min(windows.headroom(c, seen.get(c.key), self.now) * k for c, k in scaled)
        limit = resolved.spend_limit(pool.id)
        return judge(
            usable,
            required,
            headroom=room,
            overage_control=resolved.overage_allowed(pool.id),
            spend=None if limit is None else spend_cap(limit, usable),
        )

    # ---- notifications

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if kind in self.notify:
            self.outbox.append(
                Notification(type=kind, data=data, occurred_at=to_datetime(self.now))
            )


def _with_overage_control(entries: Sequence[Entry], resolved: Resolved) -> list[Entry]:
    """overage_allowed entries: `enabled` True lets a feature's rows go negative (unless one
    of them is pay-per-use already); False keeps them all at 0 or above."""
    if resolved.empty:
        return list(entries)
    native = {e.grant.feature_id for e in entries if e.grant.overage_allowed}
    out = []
    for entry in entries:
        control = resolved.overage_allowed(entry.grant.feature_id)
        if control is True and entry.grant.feature_id not in native:
            entry = entry._replace(allow_over=True)  # noqa: PLW2901
        elif control is False and not entry.grant.unlimited:
            entry = entry._replace(allow_over=False)  # noqa: PLW2901
        out.append(entry)
    return out
