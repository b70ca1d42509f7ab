"""The Ledger: Autumn's create / update / check / track over a store, one transaction a call.

The catalogue calls are in `meterlib.ledger_catalogue`, the calls over recorded events in
`meterlib.ledger_records` (parts of this class, by API.md's sections). Each public method
parses its arguments first (`meterlib.arguments`: nothing is read or
written for bad input), then makes one call into the shell (`meterlib.shell_setup`), which
loads the customer's state in one store call, lets a pure decision of `operations/` work out
the result and the effects, and applies them in one store call (`meterlib.operation`). An
exception anywhere rolls the whole call back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import IO, Any, Self

from meterlib import shell_setup as shell
from meterlib import validation
from meterlib.arguments import catalogue, grants, usage
from meterlib.clock import Clock, system_clock
from meterlib.dumping import dump_to, restore_from
from meterlib.hourly_totals import PruneReport
from meterlib.instants import instant
from meterlib.ledger_catalogue import CatalogueCalls
from meterlib.ledger_records import RecordCalls
from meterlib.notifications import Callback, Notifier
from meterlib.operation import ApproveTopup, single
from meterlib.operations import reads
from meterlib.operations.creation import decide_create
from meterlib.operations.deletion import decide_delete
from meterlib.operations.track import (
    decide_batch,
    decide_track,
    track_args,
    want_of,
    wants_of_batch,
)
from meterlib.operations.updates import decide_update
from meterlib.pruning import prune as prune_before
from meterlib.results import (
    Balance,
    CheckResult,
    Flag,
    GrantRow,
    TrackResult,
    UsageWindow,
)
from meterlib.stores.protocol import Store


class Ledger(CatalogueCalls, RecordCalls):
    """Per-customer feature balances with Autumn's semantics, in-process.

    `Ledger(store, clock=...)`; defaults: a fresh MemoryStore, the system clock. Settings:
    `reverse_deduction_order` drains the longest intervals first; `persist_overage_on_reset`
    carries free overage across a reset; `approve_topup(request: TopupRequest)` is asked inside
    the transaction before each automatic top-up and may refuse it (return False): the place to
    charge for it. It runs while the store transaction is open: quick, never calling the ledger.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        clock: Clock | None = None,
        reverse_deduction_order: bool = False,
        persist_overage_on_reset: bool = False,
        approve_topup: ApproveTopup | None = None,
    ) -> None:
        self.store: Store = shell.checked_store(store, clock, approve_topup)
        self.approve_topup = approve_topup
        self._notifier = Notifier()
        self.clock: Clock = clock if clock is not None else system_clock
        flag = validation.flag
        self.reverse_deduction_order = flag(reverse_deduction_order, "reverse_deduction_order")
        self.persist_overage_on_reset = flag(persist_overage_on_reset, "persist_overage_on_reset")
        self._recent = shell.recent_checks(self.store)

    @classmethod
    def open(cls, url: str, **settings: Any) -> Self:
        """A Ledger over the store `url` names: "memory://" or "sqlite:///relative/path.db"."""
        return cls(shell.opened(url), **settings)

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.store!r})"

    def subscribe(self, callback: Callback, *, events: object = None) -> Callable[[], None]:
        """Call `callback(notification)` after each commit that set off a notification of one
        of `events` (None: every type); returns a function that unsubscribes."""
        return self._notifier.subscribe(callback, events=events)

    def create(
        self,
        customer_id: str,
        feature_id: str,
        *,
        entity_id: str | None = None,
        included: object = None,
        included_grant: object = None,
        granted_balance: object = None,
        unlimited: bool = False,
        reset: object = None,
        rollover: object = None,
        expires_at: object = None,
        next_reset_at: object = None,
        balance_id: str | None = None,
        overage_allowed: bool = False,
        max_purchase: object = None,
        plan_id: str | None = None,
    ) -> Balance | None:
        """Add a grant (a new breakdown row; grants stack). Creates a missing customer, entity
        or metered feature. Returns the subject's balance of the feature (None for a flag)."""
        now = shell.now(self)
        args = grants.create_args(now, **shell.given(locals()))
        return shell.write(self, (args.want(),), single(decide_create, args), now)

    def update(
        self,
        customer_id: str,
        feature_id: str,
        *,
        entity_id: str | None = None,
        remaining: object = None,
        current_balance: object = None,
        add_to_balance: object = None,
        usage: object = None,
        included: object = None,
        included_grant: object = None,
        granted_balance: object = None,
        interval: str | None = None,
        balance_id: str | None = None,
        next_reset_at: object = None,
        expires_at: object = None,
    ) -> Balance | None:
        """Change grants of a feature with Autumn's target/delta algorithm; returns the balance."""
        now = shell.now(self)
        args = grants.update_args(now, **shell.given(locals()))
        return shell.write(self, (args.want(),), single(decide_update, args), now)

    def delete(
        self,
        customer_id: str,
        *,
        feature_id: str | None = None,
        entity_id: str | None = None,
        balance_id: str | None = None,
        interval: str | None = None,
        recalculate_balances: bool = False,
    ) -> None:
        """Remove grants; with `recalculate_balances` their usage moves onto the grants left."""
        args = grants.delete_args(
            customer_id, feature_id, entity_id, balance_id, interval, recalculate_balances
        )
        shell.write_one(self, decide_delete, args)

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
        now = shell.now(self)
        recent = self._recent
        if (
            recent is not None
            and send_event is False
            and lock is None
            and properties is None
            and type(required_balance) is int
            and type(with_preview) is bool
            and type(customer_id) is str
            and type(feature_id) is str
            and (entity_id is None or type(entity_id) is str)
        ):
            # the key a kept answer was filed under, from the arguments as given: an entry
            # exists only for values that passed validation (ids come back from it unchanged,
            # and an int's text is its Decimal's), so a hit needs no validation again
            key = (customer_id, feature_id, entity_id, str(required_balance), with_preview)
            kept = recent.recall(key, now)
            if kept is not None:
                return kept
        # positional (the parser takes the method's names in its order): keywords cost
        # every check about half a microsecond
        args, deducting = usage.check_args(
            now,
            customer_id,
            feature_id,
            entity_id,
            required_balance,
            send_event,
            properties,
            lock,
            with_preview,
        )
        return shell.check(self, args, deducting, now)

    def claim_idempotency_key(self, key: str, *, scope: str = "request") -> None:
        """Claim `key` in `scope` for 24 h of clock time; DuplicateIdempotencyKey on a repeat.

        The Autumn bridge uses it for the `Idempotency-Key` header; `track` claims its own
        keys in the "track" scope.
        """
        shell.claim_key(self, f"{scope}:{validation.require_id(key, 'idempotency_key')}")

    def release_idempotency_key(self, key: str, *, scope: str = "request") -> None:
        """Forget a claim (the bridge does this when the request it guarded failed)."""
        shell.release_key(self, f"{scope}:{validation.require_id(key, 'idempotency_key')}")

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
        now = shell.now(self)
        # positional (the parser takes the method's names in its order): `locals()` costs a
        # hot call about 5 µs, keywords about half of one
        args = track_args(
            now,
            customer_id,
            feature_id,
            event_name,
            value,
            entity_id,
            properties,
            idempotency_key,
            timestamp,
            overage_behavior,
        )
        return shell.write(self, (want_of(args),), single(decide_track, args), now)

    def batch_track(self, items: Sequence[Mapping[str, Any]]) -> list[TrackResult]:
        """Apply tracks in list order, all or nothing; result i is the state after item i."""
        now = shell.now(self)
        parsed = usage.batch_args(items, now)
        if not parsed:
            return []
        return shell.write(self, wants_of_batch(parsed), partial(decide_batch, items=parsed), now)

    def finalize(
        self,
        lock_id: str,
        *,
        action: str = "confirm",
        override_value: object = None,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Settle a lock: "confirm" keeps what it held (or `override_value`); "release" frees it."""
        shell.finalize(self, usage.finalize_args(lock_id, action, override_value, properties))

    def balance(
        self, customer_id: str, feature_id: str, *, entity_id: str | None = None
    ) -> Balance | None:
        """The subject's balance of a metered or credit feature; None without any grant."""
        want, feature_id = catalogue.subject_feature(customer_id, feature_id, entity_id)
        return shell.read_subject(self, want, reads.balance, feature_id=feature_id)

    def balances(self, customer_id: str, *, entity_id: str | None = None) -> dict[str, Balance]:
        """Every metered and credit balance of the subject, by feature id."""
        want = catalogue.subject(customer_id, entity_id)
        return shell.read_subject(self, want, reads.balances)

    def grants(
        self,
        customer_id: str,
        *,
        entity_id: str | None = None,
        statuses: Sequence[str] = ("active",),
    ) -> list[GrantRow]:
        """Every grant of the customer one by one (only `entity_id`'s own when given), caught up
        to now: live ones ("active") in feature and deduction order, then "expired" ones."""
        want = catalogue.subject(customer_id, entity_id)
        wanted = catalogue.statuses(statuses)
        return shell.read_subject(self, want, reads.grants, wanted=wanted)

    def flags(self, customer_id: str, *, entity_id: str | None = None) -> dict[str, Flag]:
        """Every boolean feature the subject has, by feature id."""
        want = catalogue.subject(customer_id, entity_id)
        return shell.read_subject(self, want, reads.flags)

    def usage_limits(self, customer_id: str, *, entity_id: str | None = None) -> list[UsageWindow]:
        """The usage limits the subject obeys now, each with what its current window counted.

        One per feature and filter identity, features in catalogue order: an entity's own entry
        (counted in the entity's window) wins over its customer's (counted in the customer's
        shared window). Disabled winners, and limits on features the catalogue lacks, are left
        out. A pure read: a window that has ended reads as 0, and nothing is written.
        """
        want = catalogue.subject(customer_id, entity_id)
        return shell.read_subject(self, want, reads.usage_limits)

    # --- the ledger's life: dumps and pruning

    def dump(self, fp: IO[str]) -> int:
        """Write the whole ledger to the text file `fp` as JSON lines (`meterlib.dumping`),
        from one read transaction; the number of records (after the header line)."""
        return dump_to(self.store, shell.now(self), fp)

    def restore(self, fp: IO[str]) -> int:
        """Read a dump into this ledger, which must be empty (else InvalidRequest), all or
        nothing; the number of records."""
        return restore_from(self.store, fp)

    def prune(self, before: object) -> PruneReport:
        """Remove the events recorded before `before` (keeping their hourly totals) and the
        spent idempotency keys, a chunk per short transaction (`meterlib.pruning`)."""
        return prune_before(self.store, shell.now(self), instant(before, field="before"))
