"""Ledger calls that read balances: one feature, all of them, grant by grant, flags, windows."""

from __future__ import annotations

from collections.abc import Sequence

from meterlib import validation
from meterlib.controls import windows
from meterlib.errors import (
    InvalidRequest,
)
from meterlib.instants import to_datetime
from meterlib.ledger_core import LedgerCore
from meterlib.results import (
    Balance,
    Flag,
    GrantRow,
    UsageWindow,
)
from meterlib.rules.balances import grant_row
from meterlib.rules.ordering import in_deduction_order
from meterlib.state import Catalogue
from meterlib.stores.protocol import StoreSession
from meterlib.subject import Subject


class ReadCalls(LedgerCore):
    """What a subject has, caught up to now; they never write."""

    def _read_subject(
        self,
        session: StoreSession,
        catalogue: Catalogue,
        customer_id: str,
        entity_id: str | None,
        now: int,
    ) -> Subject:
        """The subject a read looks at; CustomerNotFound / EntityNotFound if it is not there."""
        customer = self._customer(session, customer_id)
        self._entity(session, customer_id, entity_id)
        return self._subject(session, catalogue, customer, now, write=False)

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
            subject = self._read_subject(session, catalogue, customer_id, entity_id, now)
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
        given = list(statuses) if isinstance(statuses, list | tuple | set | frozenset) else None
        if given is None or not all(s in ("active", "expired") for s in given):
            raise InvalidRequest(
                "statuses: expected a list of some of 'active', 'expired' (received "
                f"{validation.shown(statuses)})",
                field="statuses",
            )
        wanted = set(given)
        now = self._now()
        with self._tx(write=False) as (session, catalogue):
            subject = self._read_subject(session, catalogue, customer_id, entity_id, now)
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
            subject = self._read_subject(session, catalogue, customer_id, entity_id, now)
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
