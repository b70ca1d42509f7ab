"""Billing controls at work inside one transaction on one customer.

The Ledger gives each `Subject` an `Enforcement`. It loads what the pure rules need (the
customer's and entities' controls, the window and rate-limit counters), calls them, and
keeps what changes: counters are written to the same transaction as the grants, top-up
grants join the subject, and notifications go to the operation's outbox, which the Ledger
delivers after the commit.

It costs nothing on the hot path: without controls on the customer (and on the entity
asked about) `active()` is False and deductions and checks run exactly as before; counters
are read only when a usage limit or an auto top-up needs them; before-snapshots for
notifications are kept only while somebody subscribes to them.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from attrs import evolve

from meterlib import alerts, windows
from meterlib.controls import (
    EMPTY,
    AutoTopup,
    Controls,
    Resolved,
    Verdict,
    judge,
    spend_cap,
)
from meterlib.deduction import OVERFLOW, REJECT, Change, Entry, Outcome, deduct
from meterlib.instants import to_datetime
from meterlib.models import ONE_OFF, Counter, Customer, Entity, Feature, Grant, Lock
from meterlib.notifications import AUTO_TOPUP, LIMIT_REACHED, USAGE_ALERT, Notification
from meterlib.stores.protocol import StoreSession

if TYPE_CHECKING:
    from meterlib.subject import Subject

ApproveTopup = Callable[[alerts.TopupRequest], object]

logger = logging.getLogger("meterlib.notifications")


class Enforcement:
    """The billing controls, counters and notifications of one subject in one transaction."""

    def __init__(
        self,
        session: StoreSession,
        customer: Customer,
        *,
        now: int,
        write: bool,
        notify: frozenset[str] = frozenset(),
        outbox: list[Notification] | None = None,
        approve_topup: ApproveTopup | None = None,
        entity: Entity | None = None,
    ) -> None:
        self.session = session
        self.customer = customer
        self.now = now
        self.write = write
        self.outbox = outbox
        self.notify = notify if outbox is not None else frozenset()
        self.approve_topup = approve_topup
        self.controls = Controls.from_stored(customer.billing_controls)
        self._entities: dict[str, Controls] = {}
        if entity is not None:  # the entity the Ledger already loaded: no second lookup
            self._entities[entity.id] = Controls.from_stored(entity.billing_controls)
        self._counters: dict[str, Counter] | None = None
        self._before: Subject | None = None
        self._before_counters: dict[str, Counter] | None = None

    # ---- controls

    def entity_controls(self, entity_id: str) -> Controls:
        """The entity's own controls (empty for an unknown entity)."""
        found = self._entities.get(entity_id)
        if found is None:
            entity = self.session.get_entity(self.customer.id, entity_id)
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
        """The customer's counters by key, read once per transaction."""
        if self._counters is None:
            self._counters = {c.key: c for c in self.session.list_counters(self.customer.id)}
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
            self.session.put_counters(changed)

    def caps(
        self,
        subject: Subject,
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

    def bind(self, subject: Subject) -> None:
        """Remember the subject as the operation found it, when a notification may need it."""
        if self.notify & {LIMIT_REACHED, USAGE_ALERT}:
            before = copy.copy(subject)
            before.grants = dict(subject.grants)
            self._before = before
            self._before_counters = None if self._counters is None else dict(self._counters)

    def deduct(
        self,
        subject: Subject,
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

    def unwound(self, subject: Subject, lock: Lock, changes: Sequence[Change], at: int) -> None:
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
        subject: Subject,
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

    # ---- after an operation

    def settle(
        self,
        subject: Subject,
        features: Iterable[Feature],
        entity_id: str | None,
        properties: Mapping[str, Any] | None,
        *,
        topups: bool,
    ) -> None:
        """React to the operation's deductions: limits reached, alerts crossed, top-ups."""
        if self._before is None and not (topups and self.controls.auto_topups):
            return
        requested = [f for f in features if f.type != "boolean"]
        if self._before is not None:
            for feature in self._affected(subject, requested):
                self._limit_reached(subject, feature, entity_id, properties)
                self._alerts(subject, feature, entity_id)
        if topups and self.controls.auto_topups:
            seen: set[str] = set()
            for feature in requested:
                for pool in subject.catalogue.relevant(feature):
                    if pool.id not in seen:
                        seen.add(pool.id)
                        self.topup(subject, pool)

    def _affected(self, subject: Subject, requested: Sequence[Feature]) -> list[Feature]:
        """Features whose grants the operation changed; the requested ones if none."""
        before = self._before
        assert before is not None
        ids = {g.feature_id for gid, g in subject.grants.items() if before.grants.get(gid) != g}
        ids |= {g.feature_id for gid, g in before.grants.items() if gid not in subject.grants}
        found = [f for f in subject.catalogue.ordered if f.id in ids and f.type != "boolean"]
        return found or list(requested)

    def _limit_reached(
        self,
        subject: Subject,
        feature: Feature,
        entity_id: str | None,
        properties: Mapping[str, Any] | None,
    ) -> None:
        if LIMIT_REACHED not in self.notify:
            return
        before = self._before
        assert before is not None
        before_counters = self._before_counters
        if before_counters is None:  # nothing was counted: the store still has the old counts
            before_counters = self.counters()
        old = self.judge(
            before,
            feature,
            entity_id,
            alerts.ANY_AMOUNT,
            properties=properties,
            counters=before_counters,
        )
        new = self.judge(subject, feature, entity_id, alerts.ANY_AMOUNT, properties=properties)
        if not old.allowed or new.allowed:
            return
        data: dict[str, Any] = {
            "customer_id": self.customer.id,
            "entity_id": entity_id,
            "feature_id": feature.id,
            "limit_type": new.limit_type or "included",
        }
        if new.limit_type == "usage_limit" and properties:
            counters = self.counters()
            for cap in self.caps(subject, feature, entity_id, properties):
                if cap.limit.filter and windows.headroom(cap, counters.get(cap.key), self.now) <= 0:
                    data["filter"] = {"properties": dict(cap.limit.filter)}
                    break
        self._emit(LIMIT_REACHED, data)

    def _alerts(self, subject: Subject, feature: Feature, entity_id: str | None) -> None:
        if USAGE_ALERT not in self.notify:
            return
        before = self._before
        assert before is not None
        passes: list[tuple[Controls, str | None]] = [(self.controls, None)]
        if entity_id is not None:
            passes.append((self.entity_controls(entity_id), entity_id))
        for controls, scope in passes:
            watching = [a for a in controls.usage_alerts if a.enabled and a.applies_to(feature.id)]
            if not watching:
                continue
            old = before.balance(feature, scope)
            new = subject.balance(feature, scope)
            if old is None or new is None:
                continue
            for alert in watching:
                if alerts.crossed(alert, old, new):
                    usage_alert: dict[str, Any] = {}
                    if alert.name is not None:
                        usage_alert["name"] = alert.name
                    usage_alert["threshold"] = alert.threshold
                    usage_alert["threshold_type"] = alert.threshold_type
                    self._emit(
                        USAGE_ALERT,
                        {
                            "customer_id": self.customer.id,
                            "entity_id": scope,
                            "feature_id": feature.id,
                            "usage_alert": usage_alert,
                            "name": alert.name,
                            "threshold": alert.threshold,
                            "threshold_type": alert.threshold_type,
                        },
                    )

    # ---- auto top-ups

    def topup(self, subject: Subject, feature: Feature) -> None:
        """Top the customer's balance of `feature` up if it fell to its threshold."""
        config = self.resolved(None).auto_topup(feature.id)
        if config is None:
            return
        usable, _ = subject.rows((feature.id,), None)
        if not usable or any(g.unlimited for g in usable):
            return
        balance = alerts.topup_balance(usable)
        if balance > config.threshold:
            return
        counters = self.counters()
        block = alerts.blocked(config, counters, self.now)
        if block is not None:
            if alerts.notice_due(block, counters, feature.id, self.now):
                self._put(
                    [
                        alerts.notice_record(
                            block, feature.id, self.now, customer_id=self.customer.id
                        )
                    ]
                )
                self._topup_failed(config.feature_id, block.reason, config, balance)
            return
        request = alerts.TopupRequest(
            customer_id=self.customer.id,
            feature_id=feature.id,
            quantity=config.quantity,
            threshold=config.threshold,
            balance=balance,
        )
        reason = self._approve(request)
        self._put(
            alerts.record_attempt(
                config, counters, self.now, customer_id=self.customer.id, success=reason is None
            )
        )
        if reason is not None:
            self._topup_failed(feature.id, reason, config, balance)
            return
        paid, left = alerts.paydown(usable, config.quantity)
        subject.apply(paid)
        seq = self.session.next_seq("grant")
        subject.add(
            Grant(
                id=f"grant_{seq}",
                seq=seq,
                customer_id=self.customer.id,
                feature_id=feature.id,
                included=config.quantity,
                interval=ONE_OFF,
                balance=left,
                created_at=self.now,
            )
        )
        after = subject.balance(feature, None, display=False)
        self._emit(
            AUTO_TOPUP,
            {
                "customer_id": self.customer.id,
                "entity_id": None,
                "feature_id": feature.id,
                "status": "succeeded",
                "quantity_granted": config.quantity,
                "threshold": config.threshold,
                "balance_after": None if after is None else after.remaining,
                "invoice_mode": False,
            },
        )

    def _approve(self, request: alerts.TopupRequest) -> str | None:
        """None when the application approves (or has no say), else Autumn's failure reason."""
        if self.approve_topup is None:
            return None
        try:
            approved = self.approve_topup(request)
        except Exception:
            logger.exception(
                "meterlib: approve_topup raised for customer %s, feature %s; the top-up is "
                "treated as declined",
                request.customer_id,
                request.feature_id,
            )
            return "execution_error"
        return None if approved else "charge_failed"

    def _topup_failed(
        self, feature_id: str, reason: str, config: AutoTopup, balance: Decimal
    ) -> None:
        self._emit(
            AUTO_TOPUP,
            {
                "customer_id": self.customer.id,
                "entity_id": None,
                "feature_id": feature_id,
                "status": "failed",
                "reason": reason,
                "quantity": config.quantity,
                "threshold": config.threshold,
                "balance": balance,
                "invoice_mode": False,
            },
        )

    def configured(
        self,
        subject: Subject,
        old: Controls,
        purchase_counts: Mapping[str, int],
        written: bool,
    ) -> None:
        """`update_customer` wrote auto_topups: set runtime counts, lift suspensions, and run
        a top-up for the first feature that became enabled (Autumn's on-enable rule)."""
        if not written:
            return
        counters = self.counters()
        changed: list[Counter] = []
        for config in self.controls.auto_topups:
            changed.append(
                Counter(
                    customer_id=self.customer.id,
                    key=alerts.topup_key("consecutive_failures", config.feature_id),
                )
            )
            if config.feature_id in purchase_counts:
                counter = alerts.purchase_count(
                    config,
                    counters,
                    self.now,
                    purchase_counts[config.feature_id],
                    customer_id=self.customer.id,
                )
                if counter is not None:
                    changed.append(counter)
        self._put(changed)
        was_on = {c.feature_id for c in old.auto_topups if c.enabled}
        for config in self.controls.auto_topups:
            if config.enabled and config.feature_id not in was_on:
                feature = subject.catalogue.by_id.get(config.feature_id)
                if feature is not None and feature.type != "boolean":
                    self.topup(subject, feature)
                break

    # ---- notifications

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.outbox is not None and kind in self.notify:
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
            entry = evolve(entry, allow_over=True)  # noqa: PLW2901
        elif control is False and not entry.grant.unlimited:
            entry = evolve(entry, allow_over=False)  # noqa: PLW2901
        out.append(entry)
    return out
