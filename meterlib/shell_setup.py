"""What `Ledger` is built on: its settings checked, and the shell each of its calls runs.

`Ledger` holds the store, the clock and the settings as plain attributes (an application
may change `approve_topup` later); the functions here read them from it on every call and
run `meterlib.operation`'s load → decide → apply, or the few plain listings and catalogue
writes that load no customer. Computing happens in `quantity.WIDE`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar

from meterlib import operation, validation
from meterlib.arguments.usage import EventQuery
from meterlib.clock import Clock, read_clock
from meterlib.effects import Decision, Effects, TopupRequest
from meterlib.errors import CustomerNotFound, EntityNotFound, InvalidRequest, LockNotFound
from meterlib.instants import to_datetime
from meterlib.models import Customer, Entity, Feature
from meterlib.notifications import Notifier, Outbox
from meterlib.operation import ApproveTopup
from meterlib.operations import check as checking
from meterlib.operations import expiry, idempotency
from meterlib.operations.catch_up import feature_of
from meterlib.operations.finalize import FinalizeArgs, decide_finalize
from meterlib.operations.finalize import want_of as finalize_want
from meterlib.operations.track import to_deduction
from meterlib.quantity import exact_arithmetic
from meterlib.recent_checks import CheckKey, RecentChecks
from meterlib.results import CheckResult, Event, EventPage
from meterlib.rules.context import NO_SEQS, Context
from meterlib.state import Catalogue, CustomerState, Want
from meterlib.stores.memory import MemoryStore
from meterlib.stores.protocol import Recalls, Store

R = TypeVar("R")
T = TypeVar("T")
NO_ANSWERS: Mapping[TopupRequest, str | None] = {}
NOBODY: frozenset[str] = frozenset()


class Holds:
    """What the shell reads from a Ledger: the Ledger's base, so that its parts in other
    modules (`meterlib.ledger_catalogue`, `meterlib.ledger_records`) know it too.
    `Ledger.__init__` sets it."""

    store: Store
    clock: Clock
    approve_topup: ApproveTopup | None
    reverse_deduction_order: bool
    persist_overage_on_reset: bool
    _notifier: Notifier
    _recent: RecentChecks | None


def checked_store(store: object, clock: object, approve_topup: object) -> Store:
    """The Ledger's store (a fresh MemoryStore for None), once its arguments are callables."""
    if approve_topup is not None and not callable(approve_topup):
        raise InvalidRequest(
            f"approve_topup: expected a callable taking a TopupRequest (received "
            f"{validation.shown(approve_topup)})",
            field="approve_topup",
        )
    if clock is not None and not callable(clock):
        raise InvalidRequest(
            f"clock: expected a callable returning a datetime or epoch ms (received "
            f"{validation.shown(clock)})",
            field="clock",
        )
    if store is not None and not callable(getattr(store, "transaction", None)):
        raise InvalidRequest(
            f"store: expected a Store (received {validation.shown(store)})", field="store"
        )
    return store if store is not None else MemoryStore()  # type: ignore[return-value]


def recent_checks(store: Store) -> RecentChecks | None:
    """Where plain checks are kept: only a store that tells whether a customer changed."""
    return RecentChecks(store.revision) if isinstance(store, Recalls) else None


def opened(url: object) -> Store:
    """The store `url` names: "memory://" or "sqlite:///relative/path.db"."""
    from meterlib.stores.urls import open_store  # noqa: PLC0415  (optional backends)

    if not isinstance(url, str):
        raise InvalidRequest(
            f"url: expected a store URL such as memory:// or sqlite:///meter.db (received "
            f"{validation.shown(url)})",
            field="url",
        )
    if url.strip():  # no file system or server takes NUL or a lone surrogate
        validation.optional_text(url, "url")
    return open_store(url)


def now(ledger: Holds) -> int:
    """The Ledger's clock, read once per call."""
    return read_clock(ledger.clock)


def detached(value: T) -> T:
    """A deep copy of what a call returns. Features, customers and entities are frozen but
    hold dicts (credit schema, metadata, billing controls) that a store or its cache keeps
    and hands out again: a caller changing what it got must not change the ledger."""
    return copy.deepcopy(value)


def context(ledger: Holds, at: int, *, notify: bool = True) -> Context:
    """What a decision reads besides the state: `notify` when it may set off notifications."""
    return Context(
        at,
        ledger.reverse_deduction_order,
        ledger.persist_overage_on_reset,
        ledger._notifier.wanted() if notify else NOBODY,
        NO_SEQS,
        None if ledger.approve_topup is None else NO_ANSWERS,
    )


def write(
    ledger: Holds,
    wants: Sequence[Want],
    decide: Callable[[Sequence[CustomerState], Context], Decision[R]],
    at: int,
) -> R:
    """load → decide → apply in one write transaction; notifications after the commit."""
    return operation.write(
        ledger.store,
        context(ledger, at),
        wants,
        decide,
        notifier=ledger._notifier,
        approve_topup=ledger.approve_topup,
    )


class Wanting(Protocol):
    """Validated arguments that say what their operation loads."""

    def want(self) -> Want: ...


A = TypeVar("A", bound=Wanting)


def given(local: Mapping[str, Any]) -> dict[str, Any]:
    """A Ledger method's parameters (its `locals()` but `self` and `now`), to hand to their
    parser by name: tests/ledger/test_arguments.py holds each parser to its method's names."""
    return {k: v for k, v in local.items() if k not in ("self", "now")}


def write_one(
    ledger: Holds, decide: Callable[[CustomerState, Context, A], Decision[R]], args: A
) -> R:
    """`write` of the one customer `args` name, deciding with `args`, at the clock's now."""
    return write(ledger, (args.want(),), operation.single(decide, args), now(ledger))


def copy_written(
    ledger: Holds, decide: Callable[[CustomerState, Context, A], Decision[R]], args: A
) -> R:
    """`write_one`, its result a copy the caller may change (`detached`)."""
    return detached(write_one(ledger, decide, args))


def write_catalogue(
    ledger: Holds, decide: Callable[[Catalogue, Context, T], Decision[R]], args: T
) -> R:
    """The catalogue → decide → apply in one write transaction (no customer is loaded)."""
    ctx = context(ledger, now(ledger), notify=False)
    with exact_arithmetic(), ledger.store.transaction(write=True) as tx:
        catalogue = tx.catalogue()
        decision = operation.decided(tx, ctx, lambda c: decide(catalogue, c, args), None)
        if decision.effects:
            tx.apply(decision.effects)
    return decision.result


def read(ledger: Holds, want: Want, decide: Callable[[CustomerState, Context], R]) -> R:
    """One `Store.read` and a decision over it; a lock found overdue is then released."""
    ctx = context(ledger, now(ledger), notify=False)
    with exact_arithmetic():
        state = ledger.store.read(want)
        result = decide(state, ctx)
    release_overdue(ledger, state, ctx.now)
    return result


def read_subject(ledger: Holds, want: Want, decide: Callable[..., R], **given: object) -> R:
    """`read` of the subject `want` names: `decide(state, ctx, entity_id=..., **given)`."""
    entity_id = want.entity_ids[0] if want.entity_ids else None
    return read(ledger, want, partial(decide, entity_id=entity_id, **given))


def release_overdue(ledger: Holds, state: CustomerState, at: int) -> None:
    """Record the release of the locks a read found past their expiry (`operations.expiry`),
    in a write of its own: the answer already counted them released."""
    # nearly every customer holds no lock: nothing to look at, not even the store
    if state.locks and expiry.overdue(state, at) and not getattr(ledger.store, "read_only", False):
        write(ledger, (Want(state.customer_id),), operation.single(expiry.decide_release, None), at)


def release_overdue_of(ledger: Holds, at: int, customer_id: str | None = None) -> None:
    """Record the release of every lock past its expiry at `at` (`customer_id`'s only, when
    given): what reads of recorded events (listings, reports) do first. A read-only file
    cannot record it: it is read as it is."""
    if getattr(ledger.store, "read_only", False):
        return
    with ledger.store.transaction(write=False) as tx:
        owners = tx.overdue_lock_owners(at)
    release = operation.single(expiry.decide_release, None)
    for owner in owners:
        if customer_id is None or owner == customer_id:
            write(ledger, (Want(owner),), release, at)


def check(ledger: Holds, args: checking.CheckArgs, deducting: bool, at: int) -> CheckResult:
    """A deducting check writes; the plain one (in front of every gated request) reads, and
    is answered again while its customer is unchanged."""
    customer_id, entity_id = args.customer_id, args.entity_id
    if deducting:
        lock_id = None if args.held is None else args.held[0]
        want = checking.want_of(customer_id, entity_id, lock_id, True)
        return write(ledger, (want,), operation.single(checking.decide_deducting_check, args), at)
    recent = ledger._recent
    key: CheckKey | None = None
    if recent is not None:
        # without billing controls (else not kept) properties change nothing
        key = (customer_id, args.feature_id, entity_id, str(args.required), args.with_preview)
        kept = recent.recall(key, at)
        if kept is not None:
            return kept
    state = ledger.store.read(checking.want_of(customer_id, entity_id, None, False))
    ctx = context(ledger, at, notify=False)
    with exact_arithmetic():
        decision = checking.decide_plain_check(state, ctx, args, recalled=key is not None)
    if key is not None and decision.remember is not False:
        assert recent is not None
        until = decision.remember
        assert until is None or isinstance(until, int)
        recent.keep(key, decision.result, now=at, until=until, revision=state.revision)
    release_overdue(ledger, state, at)
    return decision.result


def finalize(ledger: Holds, args: FinalizeArgs) -> None:
    """Settle a lock: its owner is found, then loaded with the lock, in one transaction."""
    ctx = context(ledger, now(ledger))
    store, notifier = ledger.store, ledger._notifier
    with Outbox(notifier) as outbox, exact_arithmetic(), store.transaction(write=True) as tx:
        owner = tx.lock_owner(args.lock_id)
        if owner is None:
            raise LockNotFound(args.lock_id)
        state = tx.load(finalize_want(owner, args.lock_id))
        decision = operation.decided(
            tx, ctx, lambda c: decide_finalize(state, c, args), ledger.approve_topup
        )
        tx.apply(decision.effects)
        outbox.extend(decision.notifications)


def claim_key(ledger: Holds, stored: str) -> None:
    """Claim the idempotency key `stored` for a day of clock time (DuplicateIdempotencyKey)."""
    at = now(ledger)
    with ledger.store.transaction(write=True) as tx:
        state = tx.load(Want("", keys=(stored,)))
        claimed = Effects(claims=(idempotency.claim(state.claims, stored, at),))
        tx.apply(idempotency.spending(claimed, at))


def release_key(ledger: Holds, stored: str) -> None:
    """Forget the claim of `stored`."""
    with ledger.store.transaction(write=True) as tx:
        tx.apply(Effects(claims=((stored, 0),)))


def features(ledger: Holds) -> Catalogue:
    """The catalogue as the store holds it now."""
    with ledger.store.transaction(write=False) as tx:
        return tx.catalogue()


def feature(ledger: Holds, feature_id: str) -> Feature:
    """The feature; FeatureNotFound if it is not in the catalogue."""
    return detached(feature_of(features(ledger), feature_id))


def customer(ledger: Holds, customer_id: str) -> Customer:
    """The customer (CustomerNotFound if absent)."""
    with ledger.store.transaction(write=False) as tx:
        found = tx.get_customer(customer_id)
    if found is None:
        raise CustomerNotFound(customer_id)
    return detached(found)


def entity(ledger: Holds, customer_id: str, entity_id: str) -> Entity:
    """The entity; CustomerNotFound / EntityNotFound if absent."""
    with ledger.store.transaction(write=False) as tx:
        found_customer = tx.get_customer(customer_id)
        found = None if found_customer is None else tx.get_entity(customer_id, entity_id)
    if found_customer is None:
        raise CustomerNotFound(customer_id)
    if found is None:
        raise EntityNotFound(entity_id, customer_id=customer_id)
    return detached(found)


def events(ledger: Holds, query: EventQuery) -> EventPage:
    """A page of recorded events, newest first (overdue locks released first)."""
    release_overdue_of(ledger, now(ledger), query.customer_id)
    with ledger.store.transaction(write=False) as tx:
        if query.customer_id is not None and tx.get_customer(query.customer_id) is None:
            raise CustomerNotFound(query.customer_id)
        if query.feature_id is not None:
            feature_of(tx.catalogue(), query.feature_id)
        found = tx.list_events(
            customer_id=query.customer_id,
            feature_id=query.feature_id,
            entity_id=query.entity_id,
            start=query.start,
            end=query.end,
            before=query.before,
            limit=query.limit + 1,
        )
    limit = query.limit
    page = found[:limit]
    next_cursor = f"{page[-1].timestamp}.{page[-1].seq}" if len(found) > limit and page else None
    return EventPage(
        events=tuple(
            Event(
                id=e.id,
                customer_id=e.customer_id,
                entity_id=e.entity_id,
                feature_id=e.feature_id,
                event_name=e.event_name,
                value=e.value,
                properties=copy.deepcopy(e.properties),
                timestamp=to_datetime(e.timestamp),
                idempotency_key=e.idempotency_key,
                deductions=tuple(to_deduction(d) for d in e.deductions),
            )
            for e in page
        ),
        next_cursor=next_cursor,
    )
