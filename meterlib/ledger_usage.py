"""Ledger calls that use balances: check, track, batch_track, finalize, events, idempotency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from meterlib import validation
from meterlib.effects import Effects
from meterlib.errors import InvalidRequest, LockNotFound
from meterlib.ledger_core import DAY_MS, LedgerCore
from meterlib.operation import single
from meterlib.operations import check as checking
from meterlib.operations import idempotency
from meterlib.operations.finalize import FinalizeArgs, decide_finalize
from meterlib.operations.finalize import want_of as finalize_want
from meterlib.operations.track import (
    decide_batch,
    decide_track,
    parse_track,
    track_args,
    want_of,
    wants_of_batch,
)
from meterlib.quantity import exact_arithmetic, to_quantity
from meterlib.recent_checks import CheckKey
from meterlib.results import CheckResult, TrackResult
from meterlib.state import Want
from meterlib.stores.protocol import StoreSession


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
        if send_event or held is not None:
            args = checking.CheckArgs(
                customer_id, feature_id, entity_id, required, props, held, with_preview
            )
            want = checking.want_of(
                customer_id, entity_id, None if held is None else held[0], deducting=True
            )
            return self._write((want,), single(checking.decide_deducting_check, args), now)
        # the plain check, in front of every gated request: a read, and nothing else
        recent = self._recent
        key: CheckKey | None = None
        if recent is not None:
            # without billing controls (else not kept) properties change nothing
            key = (customer_id, feature_id, entity_id, str(required), with_preview)
            kept = recent.recall(key, now)
            if kept is not None:
                return kept
        args = checking.CheckArgs(
            customer_id, feature_id, entity_id, required, props, None, with_preview
        )
        state = self.store.read(checking.want_of(customer_id, entity_id, deducting=False))
        ctx = self._context(now, notify=False)
        with exact_arithmetic():
            decision = checking.decide_plain_check(state, ctx, args, recalled=key is not None)
        if key is not None and decision.remember is not False:
            assert recent is not None
            until = decision.remember
            assert until is None or isinstance(until, int)
            recent.keep(key, decision.result, now=now, until=until, revision=state.revision)
        return decision.result

    def claim_idempotency_key(self, key: str, *, scope: str = "request") -> None:
        """Claim `key` in `scope` for 24 h of clock time; DuplicateIdempotencyKey on a repeat.

        The Autumn bridge uses it for the `Idempotency-Key` header; `track` claims its own
        keys in the "track" scope.
        """
        key = validation.require_id(key, "idempotency_key")
        now = self._now()
        stored = f"{scope}:{key}"

        def claim(session: StoreSession) -> None:
            state = session.load(Want("", keys=(stored,)))
            session.apply(Effects(claims=(idempotency.claim(state.claims, stored, now),)))

        with self._tx(write=True) as session:
            claim(session)

    def release_idempotency_key(self, key: str, *, scope: str = "request") -> None:
        """Forget a claim (the bridge does this when the request it guarded failed)."""
        key = validation.require_id(key, "idempotency_key")
        with self._tx(write=True) as session:
            session.apply(Effects(claims=((f"{scope}:{key}", 0),)))

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
        return self._write(
            (want_of(args),), lambda states, ctx: decide_track(states[0], ctx, args), now
        )

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
        return self._write(
            wants_of_batch(parsed), lambda states, ctx: decide_batch(states, ctx, parsed), now
        )

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
        args = FinalizeArgs(lock_id, action, override, props)
        with self._notifying() as outbox, self._tx(write=True) as session:
            owner = session.lock_owner(lock_id)
            if owner is None:
                raise LockNotFound(lock_id)
            state = session.load(finalize_want(owner, lock_id))
            decision = self._decided(
                session, state, lambda st, ctx: decide_finalize(st, ctx, args), now
            )
            session.apply(decision.effects)
            outbox.extend(decision.notifications)
