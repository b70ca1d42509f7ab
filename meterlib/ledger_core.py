"""The Ledger's plumbing: construction, transactions, subjects and lookups shared by its calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Self, TypeVar

from meterlib import operation, validation
from meterlib.clock import Clock, read_clock, system_clock
from meterlib.effects import Decision, TopupRequest
from meterlib.errors import (
    CustomerNotFound,
    EntityNotFound,
    FeatureNotFound,
    InvalidRequest,
)
from meterlib.models import (
    Customer,
    Entity,
    Feature,
)
from meterlib.notifications import Callback, Notifier, Outbox
from meterlib.operation import ApproveTopup
from meterlib.operations.idempotency import DAY_MS
from meterlib.quantity import exact_arithmetic
from meterlib.recent_checks import RecentChecks
from meterlib.rules.context import NO_SEQS, Context
from meterlib.state import Catalogue, CustomerState, Want
from meterlib.stores.memory import MemoryStore
from meterlib.stores.protocol import Recalls, Store, StoreSession

__all__ = ["DAY_MS", "LedgerCore"]

R = TypeVar("R")
NO_ANSWERS: Mapping[TopupRequest, str | None] = {}


def _one_of(field: str, **aliases: object) -> object:
    given = {k: v for k, v in aliases.items() if v is not None}
    if len(given) > 1:
        raise InvalidRequest(f"{field}: pass only one of {', '.join(sorted(given))}", field=field)
    return next(iter(given.values()), None)


class LedgerCore:
    """What every group of Ledger calls builds on (see `meterlib.ledger.Ledger`)."""

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
        # a store that can tell whether a customer changed lets plain checks be answered again
        store_ = self.store
        self._recent = RecentChecks(store_.revision) if isinstance(store_, Recalls) else None

    @classmethod
    def open(cls, url: str, **settings: Any) -> Self:
        """A Ledger over the store `url` names: "memory://" or "sqlite:///relative/path.db"."""
        from meterlib.stores.urls import open_store  # noqa: PLC0415  (optional backends)

        if not isinstance(url, str):
            raise InvalidRequest(
                f"url: expected a store URL such as memory:// or sqlite:///meter.db (received "
                f"{validation.shown(url)})",
                field="url",
            )
        if url.strip():  # no file system or server takes NUL or a lone surrogate
            validation.optional_text(url, "url")
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

    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[StoreSession]:
        """`with self._tx(write=...) as session`: one store transaction, computing in
        `quantity.WIDE` (where no amount inside meterlib's range is ever rounded)."""
        with exact_arithmetic(), self.store.transaction(write=write) as session:
            yield session

    def _context(self, now: int, *, notify: bool = True) -> Context:
        """What a decision reads besides the state: `notify` when it may set off notifications."""
        return Context(
            now,
            self.reverse_deduction_order,
            self.persist_overage_on_reset,
            self._notifier.wanted() if notify else frozenset(),
            NO_SEQS,
            None if self.approve_topup is None else NO_ANSWERS,
        )

    def _write(
        self,
        wants: Sequence[Want],
        decide: Callable[[Sequence[CustomerState], Context], Decision[R]],
        now: int,
    ) -> R:
        """load → decide → apply in one write transaction; notifications after the commit."""
        return operation.write(
            self.store,
            self._context(now),
            wants,
            decide,
            notifier=self._notifier,
            approve_topup=self.approve_topup,
        )

    def _write_catalogue(self, decide: Callable[[Catalogue, Context], Decision[R]], now: int) -> R:
        """The catalogue → decide → apply in one write transaction (no customer is loaded)."""
        with self._tx(write=True) as session:
            catalogue = session.catalogue()
            decision = operation.decided(
                session, self._context(now), lambda ctx: decide(catalogue, ctx), None
            )
            if decision.effects:
                session.apply(decision.effects)
        return decision.result

    def _decided(
        self,
        session: StoreSession,
        state: CustomerState,
        decide: Callable[[CustomerState, Context], Decision[R]],
        now: int,
    ) -> Decision[R]:
        """A decision inside a transaction the caller holds (its asks answered there)."""
        return operation.decided(
            session, self._context(now), lambda ctx: decide(state, ctx), self.approve_topup
        )

    def _read(self, want: Want, decide: Callable[[CustomerState, Context], R], now: int) -> R:
        """One `Store.read` and a decision over it."""
        return operation.read(self.store, self._context(now, notify=False), want, decide)

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
