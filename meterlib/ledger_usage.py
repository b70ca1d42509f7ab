"""Ledger calls that use balances: check, track, batch_track, finalize, events, idempotency."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import Any

from meterlib import validation
from meterlib.checking import check_details, deducted_details, is_allowed, judged_pool
from meterlib.errors import (
    AlreadyExists,
    DuplicateIdempotencyKey,
    FeatureNotFound,
    InvalidRequest,
    LockNotFound,
)
from meterlib.ledger_core import DAY_MS, LedgerCore
from meterlib.models import (
    Feature,
    Grant,
    Lock,
    LockItem,
)
from meterlib.notifications import Notification
from meterlib.quantity import ZERO, to_quantity
from meterlib.recent_checks import CheckKey
from meterlib.results import (
    CheckDetails,
    CheckResult,
    TrackResult,
)
from meterlib.rules.deduction import REJECT
from meterlib.state import Catalogue
from meterlib.stores.protocol import StoreSession
from meterlib.subject import Subject
from meterlib.tracking import TrackArgs, apply_track, parse_track, track_args


def _answer(
    customer_id: str,
    *,
    entity_id: str | None,
    judged: tuple[Feature, Feature, list[Grant], list[Grant]],
    required: Decimal,
    allowed: bool,
    with_preview: bool,
    details: Callable[[], CheckDetails] | None = None,
) -> CheckResult:
    """A check's result; unless `details` says otherwise, it shows the `judged` pool's rows
    (feature asked about, pool judged, usable rows, rows only displayed) as they were read."""
    feature, pool, usable, extra = judged
    return CheckResult(
        allowed=allowed,
        customer_id=customer_id,
        entity_id=entity_id,
        feature_id=feature.id,
        required_balance=required,
        with_preview=with_preview,
        details=details
        or partial(
            check_details, feature, pool, usable, extra, allowed=allowed, preview=with_preview
        ),
    )


class UsageCalls(LedgerCore):
    """Checking, tracking and settling usage, and reading it back."""

    def check(
        self,
        customer_id: str,
        feature_id: str,
        *,
        entity_id: str | None = None,
        required_balance: object = 1,
        send_event: bool = False,
        properties: Mapping[str, Any] | None = None,
        lock: Mapping[str, Any] | None = None,
        with_preview: bool = False,
    ) -> CheckResult:
        """May the subject use `required_balance` of the feature now? With `send_event` or
        `lock`, the amount is also deducted (all of it or nothing) in the same transaction.
        A lock's `expires_at` must lie after now and at most 24 h ahead (`invalid_request`).

        A plain check writes nothing: unlike Autumn's, it never runs an auto top-up. Over a
        store with revisions (MemoryStore), one that nothing has changed since is answered
        again with the same result (`meterlib.recent_checks`)."""
        customer_id = validation.require_id(customer_id, "customer_id")
        feature_id = validation.require_id(feature_id, "feature_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        required = to_quantity(required_balance, field="required_balance")
        send_event = validation.flag(send_event, "send_event")
        props = validation.properties(properties)
        held = validation.lock(lock)
        with_preview = validation.flag(with_preview, "with_preview")
        now = self._now()
        if held is not None and held[1] is not None and held[1] > now + DAY_MS:
            raise InvalidRequest(
                "Lock expires_at cannot be more than 1 day from now", code="invalid_request"
            )
        if held is not None and held[1] is not None and held[1] <= now:
            raise InvalidRequest(
                f"lock.expires_at: {held[1]} is not in the future (now is {now}): pass a later "
                "instant, or none for a lock that waits for finalize",
                code="invalid_request",
                field="lock.expires_at",
            )
        if not send_event and held is None:
            # the plain check, in front of every gated request: a read, and nothing else
            recent = self._recent
            key: CheckKey | None = None
            if recent is not None:
                # without billing controls (else not kept) properties change nothing
                key = (customer_id, feature_id, entity_id, str(required), with_preview)
                answer = recent.recall(key, now)
                if answer is not None:
                    return answer
            with self._tx(write=False) as (session, catalogue):
                feature = self._feature(catalogue, feature_id)
                subject = self._subject(
                    session,
                    catalogue,
                    self._customer(session, customer_id),
                    now,
                    write=False,
                    entity=self._entity(session, customer_id, entity_id),
                )
                pool = judged_pool(subject, feature, entity_id, required, properties=props)
                converted = required * catalogue.cost(feature, pool)
                usable, extra = subject.rows((pool.id,), entity_id)
                allowed = is_allowed(
                    subject,
                    pool,
                    entity_id,
                    converted,
                    properties=props,
                    member=feature,
                    usable=usable,
                )
                answer = _answer(
                    customer_id,
                    entity_id=entity_id,
                    judged=(feature, pool, usable, extra),
                    required=converted,
                    allowed=allowed,
                    with_preview=with_preview,
                )
                # billing controls keep counters over windows, and locks expire: neither is
                # covered by the revision and the settled instant, so those answers are not kept
                if key is not None and not (subject.locked or subject.controlled(entity_id)):
                    assert recent is not None
                    recent.keep(key, answer, now=now, until=subject.settled_until())
            return answer
        return self._deducting_check(
            customer_id,
            feature_id,
            entity_id=entity_id,
            required=required,
            props=props,
            held=held,
            with_preview=with_preview,
            now=now,
        )

    def _deducting_check(
        self,
        customer_id: str,
        feature_id: str,
        *,
        entity_id: str | None,
        required: Decimal,
        props: dict[str, Any],
        held: tuple[str, int | None] | None,
        with_preview: bool,
        now: int,
    ) -> CheckResult:
        """A check with `send_event` or `lock`: it deducts all of the amount or nothing."""
        with self._notifying() as outbox, self._tx(write=True) as (session, catalogue):
            feature = self._feature(catalogue, feature_id)
            if feature.type == "boolean":
                raise InvalidRequest(
                    "send_event cannot be used with boolean features, which are flags rather "
                    "than usage-tracked",
                    code="invalid_request",
                )
            if held is not None and feature.type == "metered" and not feature.consumable:
                raise InvalidRequest(
                    "Lock is not supported for allocated features", code="invalid_request"
                )
            customer = self._customer(session, customer_id)
            entity = self._entity(session, customer_id, entity_id)
            subject = self._subject(
                session, catalogue, customer, now, write=True, outbox=outbox, entity=entity
            )
            pool = judged_pool(subject, feature, entity_id, required, properties=props)
            converted = required * catalogue.cost(feature, pool)
            usable, extra = subject.rows((pool.id,), entity_id)

            def result(
                allowed: bool, details: Callable[[], CheckDetails] | None = None
            ) -> CheckResult:
                # by default it shows the judged pool as it was before any deduction
                return _answer(
                    customer_id,
                    entity_id=entity_id,
                    judged=(feature, pool, usable, extra),
                    required=converted,
                    allowed=allowed,
                    with_preview=with_preview,
                    details=details,
                )

            if held is not None and session.get_lock(held[0]) is not None:
                raise AlreadyExists(
                    f"A lock with ID {held[0]!r} already exists; finalize it or use a new lock_id"
                )
            if not usable and not extra and required > 0:
                return result(False)
            outcome = subject.deduct(feature, required, entity_id, REJECT, props)
            if outcome.leftover > 0:
                return result(False)
            subject.apply(outcome.grants)
            subject.record_event(
                feature_id=feature.id,
                event_name=None,
                entity_id=entity_id,
                value=required,
                properties=props,
                timestamp=now,
                changes=outcome.changes,
            )
            if held is not None:
                session.put_lock(
                    Lock(
                        lock_id=held[0],
                        customer_id=customer_id,
                        feature_id=feature.id,
                        entity_id=entity_id,
                        value=required,
                        items=tuple(
                            LockItem(
                                grant_id=c.grant_id,
                                rollover_id=c.rollover_id,
                                cost=c.cost,
                                balance_delta=c.balance_delta,
                                value_delta=c.value_delta,
                            )
                            for c in outcome.changes
                        ),
                        created_at=now,
                        expires_at=held[1],
                        properties=props,
                    )
                )
            subject.settle([feature], entity_id, props)
            subject.save()
            return result(
                True,
                partial(deducted_details, subject.snapshot(), feature, entity_id, outcome.changes),
            )

    def _claim(self, session: StoreSession, key: str, now: int) -> None:
        """Claim an idempotency key for 24 h; DuplicateIdempotencyKey if it is held."""
        until = session.get_idempotency_key(key)
        if until is not None and until > now:
            raise DuplicateIdempotencyKey(key.split(":", 1)[1])
        session.put_idempotency_key(key, now + DAY_MS)

    def claim_idempotency_key(self, key: str, *, scope: str = "request") -> None:
        """Claim `key` in `scope` for 24 h of clock time; DuplicateIdempotencyKey on a repeat.

        The Autumn bridge uses it for the `Idempotency-Key` header; `track` claims its own
        keys in the "track" scope.
        """
        key = validation.require_id(key, "idempotency_key")
        now = self._now()
        with self._tx(write=True) as (session, _):
            self._claim(session, f"{scope}:{key}", now)

    def release_idempotency_key(self, key: str, *, scope: str = "request") -> None:
        """Forget a claim (the bridge does this when the request it guarded failed)."""
        key = validation.require_id(key, "idempotency_key")
        with self._tx(write=True) as (session, _):
            session.put_idempotency_key(f"{scope}:{key}", 0)

    def track(
        self,
        customer_id: str,
        feature_id: str | None = None,
        *,
        event_name: str | None = None,
        value: object = 1,
        entity_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        timestamp: object = None,
        overage_behavior: str = "cap",
    ) -> TrackResult:
        """Record usage and deduct it (negative values give back) in Autumn's order."""
        now = self._now()
        args = track_args(
            now,
            customer_id=customer_id,
            feature_id=feature_id,
            event_name=event_name,
            value=value,
            entity_id=entity_id,
            properties=properties,
            idempotency_key=idempotency_key,
            timestamp=timestamp,
            overage_behavior=overage_behavior,
        )
        with self._notifying() as outbox, self._tx(write=True) as (session, catalogue):
            return self._track(session, catalogue, now, args, outbox=outbox)

    def _track(
        self,
        session: StoreSession,
        catalogue: Catalogue,
        now: int,
        args: TrackArgs,
        *,
        outbox: list[Notification] | None = None,
        subjects: dict[str, Subject] | None = None,
    ) -> TrackResult:
        """One track in the open transaction. A batch passes `subjects`: each customer's Subject
        is then built once, carried from item to item, and saved by the batch at its end."""
        subject = None if subjects is None else subjects.get(args.customer_id)
        if subject is not None:
            customer = subject.customer
        else:
            customer = self._customer(session, args.customer_id)
        entity = self._entity(session, customer.id, args.entity_id)
        if args.feature_id is not None:
            tracked = [self._feature(catalogue, args.feature_id)]
        else:
            name = args.event_name
            tracked = [f for f in catalogue.ordered if name in f.event_names]
            if not tracked:
                raise FeatureNotFound(
                    str(name), message=f"No features found for event name: {name}"
                )
        if args.idempotency_key is not None:
            self._claim(session, f"track:{args.idempotency_key}", now)
        if subject is None:
            subject = self._subject(
                session, catalogue, customer, now, write=True, outbox=outbox, entity=entity
            )
            if subjects is not None:
                subjects[customer.id] = subject
        else:
            subject.rebind()  # notifications compare with the previous item
        return apply_track(subject, tracked, args, save=subjects is None)

    def batch_track(self, items: Sequence[Mapping[str, Any]]) -> list[TrackResult]:
        """Apply tracks in list order, all or nothing; result i is the state after item i."""
        if isinstance(items, Mapping | str) or not isinstance(items, Sequence):
            raise InvalidRequest("items: expected a list of track argument dicts", field="items")
        now = self._now()
        parsed = []
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise InvalidRequest(f"items[{index}]: expected a dict", field="items")
            try:
                parsed.append(parse_track(item, now))
            except InvalidRequest as exc:
                raise InvalidRequest(
                    f"items[{index}]: {exc.message}", code=exc.code, field=exc.field
                ) from exc
        if not parsed:
            return []
        with self._notifying() as outbox, self._tx(write=True) as (session, catalogue):
            # touch the customers in one fixed order first: a store that locks per customer
            # (PostgreSQL) then never deadlocks two batches naming them in opposite orders
            for customer_id in sorted({args.customer_id for args in parsed}):
                session.get_customer(customer_id)
            subjects: dict[str, Subject] = {}
            results = [
                self._track(session, catalogue, now, args, outbox=outbox, subjects=subjects)
                for args in parsed
            ]
            for subject in subjects.values():
                subject.save()
            return results

    def finalize(
        self,
        lock_id: str,
        *,
        action: str = "confirm",
        override_value: object = None,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Settle a lock: "confirm" keeps what it held (or `override_value`); "release" frees it."""
        lock_id = validation.require_id(lock_id, "lock_id")
        if action not in ("confirm", "release"):
            raise InvalidRequest(
                f'action: expected "confirm" or "release" (received {validation.shown(action)})',
                field="action",
            )
        override = validation.optional_quantity(override_value, "override_value")
        if override is not None and action == "release":
            raise InvalidRequest(
                "override_value: override_value cannot be provided when action is release",
                field="override_value",
            )
        props = None if properties is None else validation.properties(properties)
        now = self._now()
        with self._notifying() as outbox, self._tx(write=True) as (session, catalogue):
            lock = session.get_lock(lock_id)
            if lock is None:
                raise LockNotFound(lock_id)
            customer = self._customer(session, lock.customer_id)
            subject = self._subject(session, catalogue, customer, now, write=True, outbox=outbox)
            lock = session.get_lock(lock_id)  # an expired lock was just released by catch-up
            if lock is None:
                raise LockNotFound(lock_id)
            final = (
                ZERO if action == "release" else (override if override is not None else lock.value)
            )
            subject.settle_lock(lock, final_value=final, properties=props, at=now)
            locked = catalogue.by_id.get(lock.feature_id)
            subject.settle(
                [locked] if locked is not None else [],
                lock.entity_id,
                props if props is not None else lock.properties,
            )
            subject.save()
