"""Which billing controls a subject obeys: the entity's own entry, else the customer's. Pure.

`Resolved` answers per feature: meterlib has no plans, so Autumn's third tier never applies
and the nearest entry wins (see `controls` for where meterlib differs from Autumn).
"""

from __future__ import annotations

from attrs import frozen

from meterlib.controls.values import AutoTopup, Controls, SpendLimit, UsageLimit


@frozen(kw_only=True)
class Resolved:
    """The controls one subject obeys: an entity's own entries first, then its customer's."""

    customer: Controls
    entity: Controls | None = None  # None: the operation names no entity
    entity_id: str | None = None

    @property
    def empty(self) -> bool:
        """Neither the customer nor the entity has any control."""
        return self.customer.empty and (self.entity is None or self.entity.empty)

    @property
    def windowed(self) -> bool:
        """Whether any usage limit is configured for this subject."""
        return bool(self.customer.usage_limits or (self.entity and self.entity.usage_limits))

    def _tiers(self) -> tuple[Controls, ...]:
        return (self.customer,) if self.entity is None else (self.entity, self.customer)

    def overage_allowed(self, feature_id: str) -> bool | None:
        """The nearest overage_allowed entry's `enabled`, None without one."""
        for tier in self._tiers():
            for entry in tier.overage_allowed:
                if entry.feature_id == feature_id:
                    return entry.enabled
        return None

    def spend_limit(self, feature_id: str) -> SpendLimit | None:
        """The nearest spend limit naming the feature, if it is enabled and has a limit.

        The nearest entry wins even when it has no `overage_limit` (it then shadows the
        customer's): one rule for check and track, where Autumn's two paths differ.
        """
        for tier in self._tiers():
            for entry in tier.spend_limits:
                if entry.feature_id == feature_id:
                    if entry.enabled and entry.overage_limit is not None:
                        return entry
                    return None
        return None

    def usage_limits(self, feature_id: str) -> list[tuple[UsageLimit, str | None]]:
        """The armed caps on a feature, one per filter identity, each with its counter's scope.

        The entity's own entry wins its identity and counts in an entity window (scope = the
        entity id); otherwise the customer's entry counts in the customer's shared window
        (scope None). A disabled winner leaves its identity uncapped.
        """
        own = () if self.entity is None else self.entity.usage_limits
        keys: dict[str, None] = {}
        for entry in (*own, *self.customer.usage_limits):
            if entry.feature_id == feature_id:
                keys.setdefault(entry.filter_key)
        out: list[tuple[UsageLimit, str | None]] = []
        for key in keys:
            mine = next(
                (e for e in own if e.feature_id == feature_id and e.filter_key == key), None
            )
            if mine is not None:
                winner, scope = mine, self.entity_id
            else:
                winner = next(
                    e
                    for e in self.customer.usage_limits
                    if e.feature_id == feature_id and e.filter_key == key
                )
                scope = None
            if winner.enabled:
                out.append((winner, scope))
        return out

    def auto_topup(self, feature_id: str) -> AutoTopup | None:
        """The customer's enabled auto top-up for the feature (entities have none)."""
        for entry in self.customer.auto_topups:
            if entry.feature_id == feature_id:
                return entry if entry.enabled else None
        return None
