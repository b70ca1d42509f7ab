"""Ledger calls that read balances: one balance, all of them, grant by grant, flags, windows.

Each validates its arguments, reads the customer's state once (`Store.read`) and lets
`meterlib.operations.reads` answer: nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from meterlib import validation
from meterlib.errors import InvalidRequest
from meterlib.ledger_core import LedgerCore
from meterlib.operations import reads
from meterlib.results import Balance, Flag, GrantRow, UsageWindow
from meterlib.state import Want


def _want(customer_id: str, entity_id: str | None) -> Want:
    return Want(customer_id, () if entity_id is None else (entity_id,))


class ReadCalls(LedgerCore):
    """What a subject has, caught up to now; they never write."""

    def balance(
        self, customer_id: str, feature_id: str, *, entity_id: str | None = None
    ) -> Balance | None:
        """The subject's balance of a metered or credit feature; None without any grant."""
        customer_id = validation.require_id(customer_id, "customer_id")
        feature_id = validation.require_id(feature_id, "feature_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        decide = partial(reads.balance, feature_id=feature_id, entity_id=entity_id)
        return self._read(_want(customer_id, entity_id), decide, self._now())

    def balances(self, customer_id: str, *, entity_id: str | None = None) -> dict[str, Balance]:
        """Every metered and credit balance of the subject, by feature id."""
        customer_id = validation.require_id(customer_id, "customer_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        decide = partial(reads.balances, entity_id=entity_id)
        return self._read(_want(customer_id, entity_id), decide, self._now())

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
        decide = partial(reads.grants, entity_id=entity_id, wanted=set(given))
        return self._read(_want(customer_id, entity_id), decide, self._now())

    def flags(self, customer_id: str, *, entity_id: str | None = None) -> dict[str, Flag]:
        """Every boolean feature the subject has, by feature id."""
        customer_id = validation.require_id(customer_id, "customer_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        decide = partial(reads.flags, entity_id=entity_id)
        return self._read(_want(customer_id, entity_id), decide, self._now())

    def usage_limits(self, customer_id: str, *, entity_id: str | None = None) -> list[UsageWindow]:
        """The usage limits the subject obeys now, each with what its current window counted.

        One per feature and filter identity, features in catalogue order: an entity's own entry
        (counted in the entity's window) wins over its customer's (counted in the customer's
        shared window). Disabled winners, and limits on features the catalogue lacks, are left
        out. A pure read: a window that has ended reads as 0, and nothing is written.
        """
        customer_id = validation.require_id(customer_id, "customer_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        decide = partial(reads.usage_limits, entity_id=entity_id)
        return self._read(_want(customer_id, entity_id), decide, self._now())
