"""A customer's grants at one instant, read-only: what balances and flags are computed from."""

from __future__ import annotations

from collections.abc import Collection

from meterlib.models import Feature, Grant
from meterlib.results import Balance, Flag
from meterlib.rules import resets
from meterlib.rules.balances import balance_of, flag_of
from meterlib.rules.ordering import in_deduction_order
from meterlib.state import Catalogue


class View:
    """Every grant of one customer at `now`, read-only: what balances and flags are computed from.

    A `Working` copy is a View that also changes; `Working.snapshot()` freezes one moment of
    it, which results keep to build their Balances when (if ever) they are read.
    """

    def __init__(
        self, catalogue: Catalogue, grants: dict[str, Grant], now: int, reverse: bool
    ) -> None:
        self.catalogue = catalogue
        self.grants = grants
        self.now = now
        self.reverse = reverse

    def rows(
        self, wanted: Collection[str], entity_id: str | None
    ) -> tuple[list[Grant], list[Grant]]:
        """(usable grants in deduction order, grants only added to the displayed totals) of the
        features `wanted` (ids: a few, so a tuple or list is searched as fast as a set)."""
        now = self.now
        usable: list[Grant] = []
        extra: list[Grant] = []
        for grant in self.grants.values():
            if grant.feature_id not in wanted or not grant.live_at(now):
                continue
            if grant.entity_id is None or grant.entity_id == entity_id:
                usable.append(grant)
            elif entity_id is None:
                extra.append(grant)
        # most subjects have one grant of a feature: nothing to order, and no call to make
        if len(usable) > 1:
            usable = in_deduction_order(
                usable,
                self.catalogue.by_id,
                entity_view=entity_id is not None,
                reverse=self.reverse,
            )
        if len(extra) > 1:
            extra = in_deduction_order(
                extra, self.catalogue.by_id, entity_view=False, reverse=self.reverse
            )
        return usable, extra

    def settled_until(self) -> int | None:
        """The first instant after `now` at which time alone may change any grant of the view
        (`resets.settled_until`); None: never. Whatever the view answers holds until then."""
        now = self.now
        until: int | None = None
        for grant in self.grants.values():
            at = resets.settled_until(grant, now)
            if at is not None and (until is None or at < until):
                until = at
        return until

    def balance(
        self, feature: Feature, entity_id: str | None, *, display: bool = True
    ) -> Balance | None:
        """The subject's Balance; `display` adds entities' own grants to a customer's totals."""
        usable, extra = self.rows((feature.id,), entity_id)
        return balance_of(feature, usable, extra if display else ())

    def flag(self, feature: Feature, entity_id: str | None) -> Flag | None:
        """The flag of a boolean feature, if the subject has it."""
        usable, _ = self.rows((feature.id,), entity_id)
        return flag_of(feature, usable)

    def has_any(self, feature: Feature, entity_id: str | None, *, display: bool) -> bool:
        """Whether the subject has a live grant of `feature` (usable, or shown in totals)."""
        usable, extra = self.rows((feature.id,), entity_id)
        return bool(usable or (display and extra))
