"""The Ledger: Autumn's create / update / check / track over a store, one transaction a call.

Each public method validates its arguments first (nothing is read or written for bad input),
then opens one store transaction, builds a `Subject` (the customer's grants caught up to now),
lets the pure functions decide, and saves. An exception anywhere rolls the whole call back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from attrs import evolve

from meterlib import controls, resets, validation, windows
from meterlib.checking import is_allowed, judged_pool, preview
from meterlib.clock import Clock, read_clock, system_clock
from meterlib.deduction import REJECT, apply_allowing
from meterlib.enforcement import ApproveTopup, Enforcement
from meterlib.errors import (
    AlreadyExists,
    BalanceNotFound,
    CustomerNotFound,
    DuplicateIdempotencyKey,
    EntityNotFound,
    FeatureNotFound,
    InvalidRequest,
    LockNotFound,
)
from meterlib.instants import optional_ms, to_datetime
from meterlib.models import (
    ONE_OFF,
    Customer,
    Entity,
    Feature,
    Grant,
    Lock,
    LockItem,
)
from meterlib.notifications import Callback, Notification, Notifier, Outbox
from meterlib.ordering import in_deduction_order
from meterlib.quantity import ZERO, to_quantity
from meterlib.results import (
    Balance,
    CheckResult,
    Event,
    EventPage,
    Flag,
    GrantRow,
    TrackResult,
    UsageWindow,
)
from meterlib.stores.memory import MemoryStore
from meterlib.stores.protocol import Store, StoreSession
from meterlib.subject import Catalogue, Subject
from meterlib.tracking import TrackArgs, apply_track, parse_track, picked_pool, to_deduction
from meterlib.views import grant_row

DAY_MS = 86_400_000


def _one_of(field: str, **aliases: object) -> object:
    given = {k: v for k, v in aliases.items() if v is not None}
    if len(given) > 1:
        raise InvalidRequest(f"{field}: pass only one of {', '.join(sorted(given))}", field=field)
    return next(iter(given.values()), None)


class _Transaction:
    """`Ledger._tx`: the store's transaction, entered with the catalogue it sees.

    A class rather than a generator context manager: it is entered on every call.
    """

    __slots__ = ("_inner", "_ledger")

    def __init__(self, ledger: Ledger, write: bool) -> None:
        self._ledger = ledger
        self._inner = ledger.store.transaction(write=write)

    def __enter__(self) -> tuple[StoreSession, Catalogue]:
        session = self._inner.__enter__()
        try:
            return session, self._ledger._catalogue_of(session)
        except BaseException as exc:
            self._inner.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)


class Ledger:
    """Per-customer feature balances with Autumn's semantics, in-process.

    `Ledger(store, clock=...)`; the default store is a fresh MemoryStore and the default
    clock the system clock. `reverse_deduction_order=True` drains the longest intervals first;
    `persist_overage_on_reset=True` carries free overage across a reset. `approve_topup`,
    if given, is asked (with a `TopupRequest`, inside the transaction) before each automatic
    top-up and may refuse it by returning False: the place to charge for it. It runs while
    the store transaction is open, so it must be quick and must not call the ledger.
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
        if approve_topup is not None and not callable(approve_topup):
            raise InvalidRequest(
                f"approve_topup: expected a callable taking a TopupRequest (received "
                f"{approve_topup!r})",
                field="approve_topup",
            )
        self.approve_topup = approve_topup
        self._notifier = Notifier()
        self.store: Store = store if store is not None else MemoryStore()
        self.clock: Clock = clock if clock is not None else system_clock
        self.reverse_deduction_order = validation.flag(
            reverse_deduction_order, "reverse_deduction_order"
        )
        self.persist_overage_on_reset = validation.flag(
            persist_overage_on_reset, "persist_overage_on_reset"
        )
        self._catalogue: Catalogue | None = None

    @classmethod
    def open(cls, url: str, **settings: Any) -> Ledger:
        """A Ledger over the store `url` names: "memory://" or "sqlite:///relative/path.db"."""
        from meterlib.stores.urls import open_store  # noqa: PLC0415  (optional backends)

        return cls(open_store(url), **settings)

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.store!r})"

    # ------------------------------------------------------------------ plumbing

    def _now(self) -> int:
        return read_clock(self.clock)

    def _tx(self, *, write: bool) -> _Transaction:
        """`with self._tx(write=...) as (session, catalogue)`: one store transaction."""
        return _Transaction(self, write)

    def _catalogue_of(self, session: StoreSession) -> Catalogue:
        """The catalogue, rebuilt only when the store lists other features than last time
        (features never change or go away, but another Ledger or process may add one)."""
        features = session.list_features()
        catalogue = self._catalogue
        if catalogue is None or catalogue.features != features:
            catalogue = self._catalogue = Catalogue(features)
        return catalogue

    def _subject(
        self,
        session: StoreSession,
        catalogue: Catalogue,
        customer: Customer,
        now: int,
        *,
        write: bool,
        outbox: list[Notification] | None = None,
        entity: Entity | None = None,
    ) -> Subject:
        enforcement = Enforcement(
            session,
            customer,
            now=now,
            write=write,
            notify=self._notifier.wanted() if outbox is not None else frozenset(),
            outbox=outbox,
            approve_topup=self.approve_topup,
            entity=entity,
        )
        return Subject(
            session,
            catalogue,
            customer,
            now=now,
            write=write,
            reverse=self.reverse_deduction_order,
            persist_overage=self.persist_overage_on_reset,
            controls=enforcement,
        )

    def _notifying(self) -> Outbox:
        """An outbox for the notifications of one call, delivered when the call's block ends
        without an exception: enter it before `_tx`, so the transaction commits first."""
        return Outbox(self._notifier)

    def subscribe(self, callback: Callback, *, events: object = None) -> Callable[[], None]:
        """Call `callback(notification)` after each commit that set off a notification of one
        of `events` (None: every type); returns a function that unsubscribes."""
        return self._notifier.subscribe(callback, events=events)

    @staticmethod
    def _customer(session: StoreSession, customer_id: str) -> Customer:
        customer = session.get_customer(customer_id)
        if customer is None:
            raise CustomerNotFound(customer_id)
        return customer

    @staticmethod
    def _entity(session: StoreSession, customer_id: str, entity_id: str | None) -> Entity | None:
        if entity_id is None:
            return None
        entity = session.get_entity(customer_id, entity_id)
        if entity is None:
            raise EntityNotFound(entity_id, customer_id=customer_id)
        return entity

    @staticmethod
    def _feature(catalogue: Catalogue, feature_id: str) -> Feature:
        feature = catalogue.by_id.get(feature_id)
        if feature is None:
            raise FeatureNotFound(feature_id)
        return feature

    # ------------------------------------------------------------------ catalogue

    def create_feature(
        self,
        feature_id: str,
        *,
        name: str | None = None,
        type: str = "metered",
        consumable: bool = True,
        event_names: Sequence[str] = (),
        credit_schema: Mapping[str, object] | None = None,
    ) -> Feature:
        """Add a feature to the catalogue; AlreadyExists if the id is taken."""
        feature_id = validation.require_id(feature_id, "feature_id")
        name = validation.optional_id(name, "name")
        kind = validation.feature_type(type)
        consumable = validation.flag(consumable, "consumable")
        names = validation.event_names(event_names)
        schema = validation.credit_schema(credit_schema)
        if kind == "credit_system" and schema is None:
            raise InvalidRequest(
                "credit_schema: a credit_system needs {metered_feature_id: credit_cost}",
                field="credit_schema",
            )
        if kind != "credit_system" and schema is not None:
            raise InvalidRequest(
                f"credit_schema: only a credit_system has one, not a {kind} feature",
                field="credit_schema",
            )
        with self._tx(write=True) as (session, catalogue):
            if feature_id in catalogue.by_id:
                raise AlreadyExists(f"Feature {feature_id} already exists", code="already_exists")
            feature = Feature(
                id=feature_id,
                name=name,
                type=kind,
                consumable=consumable if kind == "metered" else kind != "boolean",
                event_names=names,
                credit_schema=schema,
                seq=session.next_seq("feature"),
            )
            session.add_feature(feature)
            return feature

    def get_feature(self, feature_id: str) -> Feature:
        """The feature; FeatureNotFound if it is not in the catalogue."""
        feature_id = validation.require_id(feature_id, "feature_id")
        with self._tx(write=False) as (_, catalogue):
            return self._feature(catalogue, feature_id)

    def list_features(self) -> list[Feature]:
        """Every feature, in the order they were created."""
        with self._tx(write=False) as (_, catalogue):
            return list(catalogue.ordered)

    def create_customer(
        self,
        customer_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Customer:
        """The customer, created if it does not exist yet (an existing one is returned as is)."""
        customer_id = validation.require_id(customer_id, "customer_id")
        name = validation.optional_id(name, "name")
        email = validation.optional_id(email, "email")
        meta = validation.properties(metadata, "metadata")
        now = self._now()
        with self._tx(write=True) as (session, _):
            existing = session.get_customer(customer_id)
            if existing is not None:
                return existing
            customer = Customer(
                id=customer_id, name=name, email=email, metadata=meta, created_at=to_datetime(now)
            )
            session.put_customer(customer)
            return customer

    def get_customer(self, customer_id: str) -> Customer:
        """The customer; CustomerNotFound if absent."""
        customer_id = validation.require_id(customer_id, "customer_id")
        with self._tx(write=False) as (session, _):
            return self._customer(session, customer_id)

    def list_customers(self) -> list[Customer]:
        """Every customer, in id order."""
        with self._tx(write=False) as (session, _):
            return session.list_customers()

    def update_customer(
        self,
        customer_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        billing_controls: Mapping[str, Any] | None = None,
    ) -> Customer:
        """Change a customer's name, email, metadata or billing controls (None keeps a field).

        `billing_controls` is patched per key as in Autumn: a key given replaces its whole
        list (`[]` clears it), a key left out is kept. Enabling an auto top-up runs it at
        once if the balance is already at its threshold (the first such feature only).
        """
        customer_id = validation.require_id(customer_id, "customer_id")
        name = validation.optional_id(name, "name")
        email = validation.optional_id(email, "email")
        meta = None if metadata is None else validation.properties(metadata, "metadata")
        update = None if billing_controls is None else controls.validate(billing_controls)
        now = self._now()
        with self._notifying() as outbox, self._tx(write=True) as (session, catalogue):
            customer = self._customer(session, customer_id)
            before = customer.billing_controls
            customer = evolve(
                customer,
                name=customer.name if name is None else name,
                email=customer.email if email is None else email,
                metadata=customer.metadata if meta is None else meta,
                billing_controls=before if update is None else controls.merge(before, update),
            )
            session.put_customer(customer)
            if update is not None and "auto_topups" in update.stored:
                subject = self._subject(
                    session, catalogue, customer, now, write=True, outbox=outbox
                )
                assert subject.controls is not None
                subject.controls.configured(
                    subject,
                    controls.Controls.from_stored(before),
                    update.purchase_counts,
                    written=True,
                )
                subject.save()
            return customer

    def update_entity(
        self,
        customer_id: str,
        entity_id: str,
        *,
        billing_controls: Mapping[str, Any] | None = None,
    ) -> Entity:
        """Change an entity's billing controls, patched per key as `update_customer` does
        (an entity takes every key but `auto_topups`)."""
        customer_id = validation.require_id(customer_id, "customer_id")
        entity_id = validation.require_id(entity_id, "entity_id")
        update = (
            None if billing_controls is None else controls.validate(billing_controls, entity=True)
        )
        with self._tx(write=True) as (session, _):
            self._customer(session, customer_id)
            entity = self._entity(session, customer_id, entity_id)
            assert entity is not None
            if update is not None:
                entity = evolve(
                    entity, billing_controls=controls.merge(entity.billing_controls, update)
                )
                session.put_entity(entity)
            return entity

    def create_entity(
        self,
        customer_id: str,
        entity_id: str,
        *,
        feature_id: str | None = None,
        name: str | None = None,
    ) -> Entity:
        """The customer's entity, created if it does not exist yet."""
        customer_id = validation.require_id(customer_id, "customer_id")
        entity_id = validation.require_id(entity_id, "entity_id")
        feature_id = validation.optional_id(feature_id, "feature_id")
        name = validation.optional_id(name, "name")
        now = self._now()
        with self._tx(write=True) as (session, catalogue):
            self._customer(session, customer_id)
            if feature_id is not None:
                self._feature(catalogue, feature_id)
            existing = session.get_entity(customer_id, entity_id)
            if existing is not None:
                return existing
            entity = Entity(
                id=entity_id,
                customer_id=customer_id,
                feature_id=feature_id,
                name=name,
                created_at=to_datetime(now),
            )
            session.put_entity(entity)
            return entity

    def get_entity(self, customer_id: str, entity_id: str) -> Entity:
        """The entity; CustomerNotFound / EntityNotFound if absent."""
        customer_id = validation.require_id(customer_id, "customer_id")
        entity_id = validation.require_id(entity_id, "entity_id")
        with self._tx(write=False) as (session, _):
            self._customer(session, customer_id)
            entity = self._entity(session, customer_id, entity_id)
            assert entity is not None
            return entity

    # ------------------------------------------------------------------ balances

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
        customer_id = validation.require_id(customer_id, "customer_id")
        feature_id = validation.require_id(feature_id, "feature_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        amount = validation.non_negative(
            _one_of(
                "included",
                included=included,
                included_grant=included_grant,
                granted_balance=granted_balance,
            ),
            "included",
        )
        unlimited = validation.flag(unlimited, "unlimited")
        schedule = validation.reset(reset)
        rule = validation.rollover(rollover)
        expiry = optional_ms(expires_at or None, field="expires_at")
        first_reset = optional_ms(next_reset_at, field="next_reset_at")
        balance_id = validation.optional_id(balance_id, "balance_id")
        overage_allowed = validation.flag(overage_allowed, "overage_allowed")
        cap = validation.non_negative(max_purchase, "max_purchase")
        plan_id = validation.optional_id(plan_id, "plan_id")
        interval, count = schedule if schedule is not None else (ONE_OFF, 1)
        now = self._now()

        def refuse(message: str) -> InvalidRequest:
            return InvalidRequest(message, code="invalid_request")

        if unlimited and schedule is not None and interval != ONE_OFF:
            raise refuse("unlimited grants do not reset: pass either unlimited=True or reset=")
        if rule is not None and schedule is None:
            raise refuse("Rollover cannot be provided for one-time balances: pass reset= too")
        if (
            rule is not None
            and interval in ("minute", "hour")
            and rule.max is None
            and rule.max_percentage is None
        ):
            # one lot per boundary would pile up tens of thousands of live rollovers a month
            raise refuse(
                f"rollover on a {interval} reset needs a cap: pass rollover max or max_percentage"
            )
        if first_reset is not None:
            if interval == ONE_OFF:
                raise refuse("next_reset_at requires a reset interval to be provided")
            if first_reset <= now:
                raise refuse("next_reset_at must be in the future")
            if expiry is not None and first_reset >= expiry:
                raise refuse("next_reset_at must occur before expires_at")
        if expiry is not None and expiry <= now:
            raise refuse("expires_at must be in the future")
        if cap is not None and not overage_allowed:
            raise refuse("max_purchase caps overage: pass overage_allowed=True with it")
        if rule is not None and expiry is not None and interval != ONE_OFF:
            from meterlib.intervals import add  # noqa: PLC0415

            first = add(now, interval, count)
            if first > expiry:
                raise refuse("expires_at occurs before the next rollover event")

        with self._tx(write=True) as (session, catalogue):
            feature = catalogue.by_id.get(feature_id)
            if feature is None:
                feature = Feature(id=feature_id, seq=session.next_seq("feature"))
                session.add_feature(feature)
                catalogue = Catalogue([*catalogue.ordered, feature])  # noqa: PLW2901
            customer = session.get_customer(customer_id)
            if customer is None:
                customer = Customer(id=customer_id, created_at=to_datetime(now))
                session.put_customer(customer)
            if entity_id is not None:
                entity = session.get_entity(customer_id, entity_id)
                if entity is None:
                    entity = Entity(
                        id=entity_id, customer_id=customer_id, created_at=to_datetime(now)
                    )
                    session.put_entity(entity)
                if entity.feature_id == feature_id:
                    raise refuse("Cannot give an entity a balance of its own feature type")
            if feature.type == "boolean":
                if amount is not None or unlimited or schedule is not None or rule is not None:
                    raise InvalidRequest(
                        f"feature {feature_id} is boolean: it takes no included, unlimited, "
                        "reset or rollover",
                        field="included",
                    )
            elif feature.type == "metered":
                if (amount is None) == (not unlimited):
                    raise InvalidRequest(
                        f"included: a metered grant needs exactly one of included= or "
                        f"unlimited=True (feature {feature_id})",
                        field="included",
                    )
                if not feature.consumable:
                    if rule is not None:
                        raise refuse("Rollover is not supported for continuous use features")
                    interval, count, first_reset = ONE_OFF, 1, None
            subject = self._subject(session, catalogue, customer, now, write=True)
            if balance_id is not None and any(
                balance_id in (g.balance_id, g.id) for g in subject.loaded.values()
            ):
                raise AlreadyExists(
                    f"balance_id '{balance_id}' is already in use for this customer"
                )
            if feature.type == "boolean" and subject.flag(feature, entity_id) is not None:
                raise AlreadyExists(
                    f"A boolean entitlement {feature_id} already exists for customer {customer_id}"
                )
            anchor, period, next_at = (
                resets.new_schedule(interval, count, created_at=now, first_reset_at=first_reset)
                if not unlimited
                else (None, 0, None)
            )
            seq = session.next_seq("grant")
            grant = Grant(
                id=f"grant_{seq}",
                seq=seq,
                customer_id=customer_id,
                feature_id=feature_id,
                entity_id=entity_id,
                balance_id=balance_id,
                plan_id=plan_id,
                included=amount or ZERO,
                unlimited=unlimited,
                interval=interval,
                interval_count=count,
                anchor=anchor,
                period=period,
                next_reset_at=next_at,
                rollover=rule,
                balance=ZERO if unlimited else (amount or ZERO),
                expires_at=expiry,
                created_at=now,
                overage_allowed=overage_allowed,
                max_purchase=cap,
            )
            subject.add(grant)
            subject.save()
            if feature.type == "boolean":
                return None
            return subject.balance(feature, entity_id)

    def _targets(
        self,
        subject: Subject,
        feature: Feature,
        entity_id: str | None,
        *,
        interval: str | None,
        balance_id: str | None,
    ) -> list[Grant]:
        usable, _ = subject.rows((feature.id,), entity_id)
        return [
            g
            for g in usable
            if (interval is None or g.interval == interval)
            and (balance_id is None or balance_id in (g.public_id, g.id))
        ]

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
        customer_id = validation.require_id(customer_id, "customer_id")
        feature_id = validation.require_id(feature_id, "feature_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        target_remaining = validation.optional_quantity(
            _one_of("remaining", remaining=remaining, current_balance=current_balance), "remaining"
        )
        delta = validation.optional_quantity(add_to_balance, "add_to_balance")
        target_usage = validation.optional_quantity(usage, "usage")
        target_grant = validation.non_negative(
            _one_of(
                "included",
                included=included,
                included_grant=included_grant,
                granted_balance=granted_balance,
            ),
            "included",
        )
        selector = None if interval is None else validation.interval(interval)
        balance_id = validation.optional_id(balance_id, "balance_id")
        new_reset = optional_ms(next_reset_at, field="next_reset_at")
        new_expiry = optional_ms(expires_at, field="expires_at")
        if delta is not None and target_remaining is not None:
            raise InvalidRequest(
                "Cannot specify both add_to_balance and remaining", field="add_to_balance"
            )
        if target_usage is not None and target_remaining is not None:
            raise InvalidRequest("Cannot specify both usage and remaining", field="usage")
        now = self._now()
        if new_expiry is not None and new_expiry <= now:
            raise InvalidRequest("expires_at must be in the future", code="invalid_request")
        if new_reset is not None and new_reset <= now:
            raise InvalidRequest("next_reset_at must be in the future", code="invalid_request")

        with self._notifying() as outbox, self._tx(write=True) as (session, catalogue):
            feature = self._feature(catalogue, feature_id)
            customer = self._customer(session, customer_id)
            self._entity(session, customer_id, entity_id)
            subject = self._subject(session, catalogue, customer, now, write=True, outbox=outbox)
            targets = self._targets(
                subject, feature, entity_id, interval=selector, balance_id=balance_id
            )
            if not targets:
                raise BalanceNotFound(
                    f"No balances to update for feature {feature_id}, customer {customer_id}"
                    + (f", entity {entity_id}" if entity_id else "")
                    + (f", interval {selector}" if selector else "")
                    + (f", balance_id {balance_id}" if balance_id else "")
                )
            first = targets[0]
            if target_remaining is not None or delta is not None:
                if first.unlimited:
                    value = (
                        target_remaining
                        if target_remaining is not None
                        else first.balance + (delta or ZERO)
                    )
                    subject.apply({first.id: evolve(first, balance=value)})
                else:
                    amount = (
                        -(delta or ZERO)
                        if target_remaining is None
                        else sum((g.balance for g in targets), ZERO) - target_remaining
                    )
                    subject.apply(apply_allowing(targets, amount))
                targets = [subject.grants[g.id] for g in targets]
            if target_usage is not None:
                if targets[0].unlimited:
                    subject.apply({targets[0].id: evolve(targets[0], balance=-target_usage)})
                else:
                    grant_total = sum((g.included_grant for g in targets), ZERO)
                    amount = sum((g.balance for g in targets), ZERO) - (grant_total - target_usage)
                    subject.apply(apply_allowing(targets, amount))
                targets = [subject.grants[g.id] for g in targets]
            if target_grant is not None:
                head = targets[0]
                adjustment = target_grant - sum((g.included for g in targets), ZERO)
                subject.apply({head.id: evolve(head, adjustment=adjustment)})
                targets = [subject.grants[g.id] for g in targets]
            if new_reset is not None:
                target = min(
                    targets,
                    key=lambda g: (g.next_reset_at is None, g.next_reset_at or 0),
                )
                if target.interval == ONE_OFF or target.unlimited:
                    raise InvalidRequest(
                        f"Cannot update next reset at for lifetime balance (feature {feature_id},"
                        f" customer {customer_id})",
                        code="invalid_request",
                    )
                if target.expires_at is not None and new_reset >= target.expires_at:
                    raise InvalidRequest(
                        "next_reset_at must occur before expires_at", code="invalid_request"
                    )
                anchor, period, next_at = resets.new_schedule(
                    target.interval, target.interval_count, created_at=now, first_reset_at=new_reset
                )
                subject.apply(
                    {target.id: evolve(target, anchor=anchor, period=period, next_reset_at=next_at)}
                )
                targets = [subject.grants[g.id] for g in targets]
            if new_expiry is not None:
                target = min(targets, key=lambda g: (g.expires_at is None, g.expires_at or 0))
                subject.apply({target.id: evolve(target, expires_at=new_expiry)})
            subject.settle([feature], entity_id, None, topups=False)
            subject.save()
            return subject.balance(feature, entity_id)

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
        customer_id = validation.require_id(customer_id, "customer_id")
        feature_id = validation.optional_id(feature_id, "feature_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        balance_id = validation.optional_id(balance_id, "balance_id")
        selector = None if interval is None else validation.interval(interval)
        recalculate = validation.flag(recalculate_balances, "recalculate_balances")
        if recalculate and feature_id is None:
            raise InvalidRequest(
                "feature_id is required when recalculate_balances is true",
                code="invalid_request",
                field="feature_id",
            )
        now = self._now()
        with self._tx(write=True) as (session, catalogue):
            features = (
                [self._feature(catalogue, feature_id)]
                if feature_id is not None
                else catalogue.ordered
            )
            customer = self._customer(session, customer_id)
            self._entity(session, customer_id, entity_id)
            subject = self._subject(session, catalogue, customer, now, write=True)
            targets: list[Grant] = []
            for feature in features:
                usable, extra = subject.rows((feature.id,), entity_id)
                targets += [
                    g
                    for g in (*usable, *extra)
                    if (selector is None or g.interval == selector)
                    and (balance_id is None or balance_id in (g.public_id, g.id))
                ]
            if not targets:
                raise BalanceNotFound(
                    f"Balance not found for feature {feature_id} and customer {customer_id}"
                )
            if recalculate:
                feature = features[0]
                usage = sum((g.included_grant - g.balance for g in targets), ZERO)
                target_ids = {g.id for g in targets}
                usable, _ = subject.rows((feature.id,), entity_id)
                survivors = [g for g in usable if g.id not in target_ids]
                if usage > 0 and not survivors:
                    carrier = evolve(
                        targets[0],
                        balance=-usage,
                        adjustment=-targets[0].included,
                        anchor=None,
                        period=0,
                        next_reset_at=None,
                    )
                    subject.remove(g.id for g in targets[1:])
                    subject.apply({carrier.id: carrier})
                else:
                    subject.remove(target_ids)
                    subject.apply(apply_allowing(survivors, usage))
            else:
                subject.remove(g.id for g in targets)
            subject.save()

    def balance(
        self, customer_id: str, feature_id: str, *, entity_id: str | None = None
    ) -> Balance | None:
        """The subject's balance of a metered or credit feature; None without any grant."""
        customer_id = validation.require_id(customer_id, "customer_id")
        feature_id = validation.require_id(feature_id, "feature_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        now = self._now()
        with self._tx(write=False) as (session, catalogue):
            feature = self._feature(catalogue, feature_id)
            customer = self._customer(session, customer_id)
            self._entity(session, customer_id, entity_id)
            if feature.type == "boolean":
                return None
            return self._subject(session, catalogue, customer, now, write=False).balance(
                feature, entity_id
            )

    def balances(self, customer_id: str, *, entity_id: str | None = None) -> dict[str, Balance]:
        """Every metered and credit balance of the subject, by feature id."""
        customer_id = validation.require_id(customer_id, "customer_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        now = self._now()
        with self._tx(write=False) as (session, catalogue):
            customer = self._customer(session, customer_id)
            self._entity(session, customer_id, entity_id)
            subject = self._subject(session, catalogue, customer, now, write=False)
            out: dict[str, Balance] = {}
            for feature in catalogue.ordered:
                if feature.type == "boolean":
                    continue
                found = subject.balance(feature, entity_id)
                if found is not None:
                    out[feature.id] = found
            return out

    def grants(
        self,
        customer_id: str,
        *,
        entity_id: str | None = None,
        statuses: Sequence[str] = ("active",),
    ) -> list[GrantRow]:
        """Every grant of the customer one by one (only `entity_id`'s own when given), caught up
        to now: live ones ("active") in feature and deduction order, then "expired" ones."""
        customer_id = validation.require_id(customer_id, "customer_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        wanted = set(statuses)
        if not wanted <= {"active", "expired"}:
            raise InvalidRequest(
                f"statuses: expected some of 'active', 'expired' (received {sorted(wanted)})",
                field="statuses",
            )
        now = self._now()
        with self._tx(write=False) as (session, catalogue):
            customer = self._customer(session, customer_id)
            self._entity(session, customer_id, entity_id)
            subject = self._subject(session, catalogue, customer, now, write=False)
            mine = [
                g for g in subject.grants.values() if entity_id is None or g.entity_id == entity_id
            ]
            live = [g for g in mine if g.live_at(now)]
            dead = sorted((g for g in mine if not g.live_at(now)), key=lambda g: g.seq)
            rows: list[GrantRow] = []
            for feature in catalogue.ordered:
                ordered = in_deduction_order(
                    [g for g in live if g.feature_id == feature.id],
                    catalogue.by_id,
                    entity_view=entity_id is not None,
                    reverse=self.reverse_deduction_order,
                )
                if "active" in wanted:
                    rows += [grant_row(g, feature, "active") for g in ordered]
            if "expired" in wanted:
                rows += [grant_row(g, catalogue.by_id[g.feature_id], "expired") for g in dead]
            return rows

    def flags(self, customer_id: str, *, entity_id: str | None = None) -> dict[str, Flag]:
        """Every boolean feature the subject has, by feature id."""
        customer_id = validation.require_id(customer_id, "customer_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        now = self._now()
        with self._tx(write=False) as (session, catalogue):
            customer = self._customer(session, customer_id)
            self._entity(session, customer_id, entity_id)
            subject = self._subject(session, catalogue, customer, now, write=False)
            out: dict[str, Flag] = {}
            for feature in catalogue.ordered:
                if feature.type == "boolean":
                    found = subject.flag(feature, entity_id)
                    if found is not None:
                        out[feature.id] = found
            return out

    def usage_limits(self, customer_id: str, *, entity_id: str | None = None) -> list[UsageWindow]:
        """The usage limits the subject obeys now, each with what its current window counted.

        One per feature and filter identity, features in catalogue order: an entity's own entry
        (counted in the entity's window) wins over its customer's (counted in the customer's
        shared window). Disabled winners, and limits on features the catalogue lacks, are left
        out. A pure read: a window that has ended reads as 0, and nothing is written.
        """
        customer_id = validation.require_id(customer_id, "customer_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        now = self._now()
        with self._tx(write=False) as (session, catalogue):
            customer = self._customer(session, customer_id)
            entity = self._entity(session, customer_id, entity_id)
            subject = self._subject(session, catalogue, customer, now, write=False, entity=entity)
            enforcement = subject.controls
            assert enforcement is not None
            resolved = enforcement.resolved(entity_id)
            if not resolved.windowed:
                return []
            counters = enforcement.counters()
            out: list[UsageWindow] = []
            for feature in catalogue.ordered:
                for limit, scope in resolved.usage_limits(feature.id):
                    # the caps an event carrying exactly this filter meets include this one
                    for cap in enforcement.caps(subject, feature, entity_id, dict(limit.filter)):
                        if cap.limit != limit or cap.scope != scope:
                            continue
                        out.append(
                            UsageWindow(
                                feature_id=feature.id,
                                limit=limit.limit,
                                interval=limit.interval,
                                anchor=limit.anchor,
                                filter=dict(limit.filter),
                                entity_id=scope,
                                usage=windows.used(cap, counters.get(cap.key), now),
                                window_start=to_datetime(cap.start),
                                window_end=to_datetime(cap.end),
                            )
                        )
            return out

    # ------------------------------------------------------------------ check and track

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

        A plain check writes nothing: unlike Autumn's, it never runs an auto top-up."""
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
        deducting = send_event or held is not None
        with self._notifying() as outbox, self._tx(write=deducting) as (session, catalogue):
            feature = self._feature(catalogue, feature_id)
            if deducting and feature.type == "boolean":
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
                session,
                catalogue,
                customer,
                now,
                write=deducting,
                outbox=outbox if deducting else None,  # a plain check notifies nothing
                entity=entity,
            )
            pool = judged_pool(subject, feature, entity_id, required, properties=props)
            cost = catalogue.cost(feature, pool)
            converted = required * cost
            display = subject.balance(pool, entity_id) if pool.type != "boolean" else None
            flag = subject.flag(pool, entity_id) if pool.type == "boolean" else None

            def result(allowed: bool, shown: Balance | None, balances: Any = None) -> CheckResult:
                shown_preview = None
                if with_preview and not allowed:
                    had = display is not None or flag is not None
                    shown_preview = preview(feature, had_balance=had)
                return CheckResult(
                    allowed=allowed,
                    customer_id=customer_id,
                    entity_id=entity_id,
                    feature_id=feature.id,
                    required_balance=converted,
                    balance=shown,
                    flag=flag,
                    preview=shown_preview,
                    balances=balances,
                    with_preview=with_preview,
                )

            if not deducting:
                if pool.type == "boolean":
                    return result(flag is not None, None)
                has = subject.has_any(pool, entity_id, display=False)
                allowed = has and is_allowed(
                    subject, pool, entity_id, converted, properties=props, member=feature
                )
                return result(allowed, display)

            if held is not None and session.get_lock(held[0]) is not None:
                raise AlreadyExists(
                    f"A lock with ID {held[0]!r} already exists; finalize it or use a new lock_id"
                )
            if display is None and required > 0:
                return result(False, None)
            outcome = subject.deduct(feature, required, entity_id, REJECT, props)
            if outcome.leftover > 0:
                return result(False, display)
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
            relevant = catalogue.relevant(feature)
            after = {f.id: subject.balance(f, entity_id) for f in relevant}
            shown = after.get(picked_pool(subject, feature, outcome.changes, entity_id).id)
            if shown is None:
                shown = after.get(feature.id)
            return result(True, shown, after if len(relevant) > 1 else None)

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
        args = parse_track(
            {
                "customer_id": customer_id,
                "feature_id": feature_id,
                "event_name": event_name,
                "value": value,
                "entity_id": entity_id,
                "properties": properties,
                "idempotency_key": idempotency_key,
                "timestamp": timestamp,
                "overage_behavior": overage_behavior,
            },
            now,
        )
        with self._notifying() as outbox, self._tx(write=True) as (session, catalogue):
            return self._track(session, catalogue, now, args, outbox)

    def _track(
        self,
        session: StoreSession,
        catalogue: Catalogue,
        now: int,
        args: TrackArgs,
        outbox: list[Notification] | None = None,
    ) -> TrackResult:
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
        subject = self._subject(
            session, catalogue, customer, now, write=True, outbox=outbox, entity=entity
        )
        return apply_track(subject, tracked, args)

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
            return [self._track(session, catalogue, now, args, outbox) for args in parsed]

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
                f'action: expected "confirm" or "release" (received {action!r})', field="action"
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

    def events(
        self,
        customer_id: str | None = None,
        *,
        feature_id: str | None = None,
        entity_id: str | None = None,
        start: object = None,
        end: object = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> EventPage:
        """Recorded events, newest first, a page at a time (`start` inclusive, `end` exclusive)."""
        customer_id = validation.optional_id(customer_id, "customer_id")
        feature_id = validation.optional_id(feature_id, "feature_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        lower = optional_ms(start, field="start")
        upper = optional_ms(end, field="end")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidRequest(
                f"limit: must be a whole number >= 1 (received {limit!r})", field="limit"
            )
        before = None
        if cursor is not None:
            try:
                stamp, seq = validation.require_id(cursor, "cursor").split(".")
                before = (int(stamp), int(seq))
            except ValueError:
                raise InvalidRequest(
                    f"cursor: {cursor!r} is not a cursor this ledger returned", field="cursor"
                ) from None
        with self._tx(write=False) as (session, catalogue):
            if customer_id is not None:
                self._customer(session, customer_id)
            if feature_id is not None:
                self._feature(catalogue, feature_id)
            found = session.list_events(
                customer_id=customer_id,
                feature_id=feature_id,
                entity_id=entity_id,
                start=lower,
                end=upper,
                before=before,
                limit=limit + 1,
            )
        page = found[:limit]
        next_cursor = (
            f"{page[-1].timestamp}.{page[-1].seq}" if len(found) > limit and page else None
        )
        return EventPage(
            events=tuple(
                Event(
                    id=e.id,
                    customer_id=e.customer_id,
                    entity_id=e.entity_id,
                    feature_id=e.feature_id,
                    event_name=e.event_name,
                    value=e.value,
                    properties=dict(e.properties),
                    timestamp=to_datetime(e.timestamp),
                    idempotency_key=e.idempotency_key,
                    deductions=tuple(to_deduction(d) for d in e.deductions),
                )
                for e in page
            ),
            next_cursor=next_cursor,
        )
