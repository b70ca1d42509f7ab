"""The Ledger's plumbing: construction, transactions, subjects and lookups shared by its calls."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from meterlib import validation
from meterlib.clock import Clock, read_clock, system_clock
from meterlib.controls.reactions import ApproveTopup, Enforcement
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
from meterlib.notifications import Callback, Notification, Notifier, Outbox
from meterlib.quantity import exact_arithmetic
from meterlib.recent_checks import RecentChecks
from meterlib.state import Catalogue
from meterlib.stores.memory import MemoryStore
from meterlib.stores.protocol import Recalls, Store, StoreSession
from meterlib.subject import Subject

DAY_MS = 86_400_000


def _one_of(field: str, **aliases: object) -> object:
    given = {k: v for k, v in aliases.items() if v is not None}
    if len(given) > 1:
        raise InvalidRequest(f"{field}: pass only one of {', '.join(sorted(given))}", field=field)
    return next(iter(given.values()), None)


class _Transaction:
    """`Ledger._tx`: the store's transaction, entered with the catalogue it sees.

    A class rather than a generator context manager: it is entered on every call. The call
    computes in `quantity.WIDE`, where no amount inside meterlib's range is ever rounded.
    """

    __slots__ = ("_decimals", "_inner", "_ledger")

    def __init__(self, ledger: LedgerCore, write: bool) -> None:
        self._ledger = ledger
        self._inner = ledger.store.transaction(write=write)
        self._decimals = exact_arithmetic()

    def __enter__(self) -> tuple[StoreSession, Catalogue]:
        self._decimals.__enter__()
        try:
            session = self._inner.__enter__()
        except BaseException as exc:
            self._decimals.__exit__(type(exc), exc, exc.__traceback__)
            raise
        try:
            return session, self._ledger._catalogue_of(session)
        except BaseException as exc:
            self.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._inner.__exit__(exc_type, exc, tb)
        finally:
            self._decimals.__exit__(exc_type, exc, tb)


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
        self._catalogue: Catalogue | None = None
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
        notify = self._notifier.wanted() if outbox is not None else frozenset()

        def enforcement() -> Enforcement:
            return Enforcement(
                session,
                customer,
                now=now,
                write=write,
                notify=notify,
                outbox=outbox,
                approve_topup=self.approve_topup,
                entity=entity,
            )

        plain = not (notify or customer.billing_controls)
        return Subject(
            session,
            catalogue,
            customer,
            now=now,
            write=write,
            reverse=self.reverse_deduction_order,
            persist_overage=self.persist_overage_on_reset,
            controls=None if plain else enforcement(),
            make_controls=enforcement if plain else None,
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
