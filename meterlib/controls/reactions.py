"""Billing controls at work inside one decision on one customer.

A decision gives its working copy (`rules.working.Working`) an `Enforcement`
(`operations.catch_up.open`). It reads what the pure rules need from the loaded state (the
customer's and entities' controls, the window and rate-limit counters), calls them, and keeps
what changes: changed counters join the decision's effects, top-up grants join the working
copy, and notifications are returned with the decision, delivered after the commit.

It costs nothing on the hot path: without controls on the customer (and on the entity
asked about) and with nobody listening, no Enforcement is built at all; before-snapshots for
notifications are kept only while somebody subscribes to them.

The class is built in layers, one concept per module: `controls.enforce` applies the
controls and counters to deductions and checks; `controls.topups` adds auto top-ups (asking
the shell for approvals and grant numbers); this module adds the reactions after an
operation (limits reached, usage alerts, top-ups).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from meterlib.controls import Controls, alerts, windows
from meterlib.controls.topups import TopupEnforcement
from meterlib.models import Feature
from meterlib.notifications import LIMIT_REACHED, USAGE_ALERT
from meterlib.rules.working import Working

__all__ = ["Enforcement"]


class Enforcement(TopupEnforcement):
    """The billing controls, counters and notifications of one working copy in one decision."""

    # ---- after an operation

    def settle(
        self,
        subject: Working,
        features: Iterable[Feature],
        entity_id: str | None,
        properties: Mapping[str, Any] | None,
        *,
        topups: bool,
    ) -> None:
        """React to the operation's deductions: limits reached, alerts crossed, top-ups."""
        if self._before is None and not (topups and self.controls.auto_topups):
            return
        requested = [f for f in features if f.type != "boolean"]
        if self._before is not None:
            for feature in self._affected(subject, requested):
                self._limit_reached(subject, feature, entity_id, properties)
                self._alerts(subject, feature, entity_id)
        if topups and self.controls.auto_topups:
            seen: set[str] = set()
            for feature in requested:
                for pool in subject.catalogue.relevant(feature):
                    if pool.id not in seen:
                        seen.add(pool.id)
                        self.topup(subject, pool)

    def _affected(self, subject: Working, requested: Sequence[Feature]) -> list[Feature]:
        """Features whose grants the operation changed; the requested ones if none."""
        before = self._before
        assert before is not None
        ids = {g.feature_id for gid, g in subject.grants.items() if before.grants.get(gid) != g}
        ids |= {g.feature_id for gid, g in before.grants.items() if gid not in subject.grants}
        found = [f for f in subject.catalogue.ordered if f.id in ids and f.type != "boolean"]
        return found or list(requested)

    def _limit_reached(
        self,
        subject: Working,
        feature: Feature,
        entity_id: str | None,
        properties: Mapping[str, Any] | None,
    ) -> None:
        if LIMIT_REACHED not in self.notify:
            return
        before = self._before
        assert before is not None
        before_counters = self._before_counters
        if before_counters is None:  # nothing was counted: the store still has the old counts
            before_counters = self.counters()
        old = self.judge(
            before,
            feature,
            entity_id,
            alerts.ANY_AMOUNT,
            properties=properties,
            counters=before_counters,
        )
        new = self.judge(subject, feature, entity_id, alerts.ANY_AMOUNT, properties=properties)
        if not old.allowed or new.allowed:
            return
        data: dict[str, Any] = {
            "customer_id": self.customer.id,
            "entity_id": entity_id,
            "feature_id": feature.id,
            "limit_type": new.limit_type or "included",
        }
        if new.limit_type == "usage_limit" and properties:
            counters = self.counters()
            for cap in self.caps(subject, feature, entity_id, properties):
                if cap.limit.filter and windows.headroom(cap, counters.get(cap.key), self.now) <= 0:
                    data["filter"] = {"properties": dict(cap.limit.filter)}
                    break
        self._emit(LIMIT_REACHED, data)

    def _alerts(self, subject: Working, feature: Feature, entity_id: str | None) -> None:
        if USAGE_ALERT not in self.notify:
            return
        before = self._before
        assert before is not None
        passes: list[tuple[Controls, str | None]] = [(self.controls, None)]
        if entity_id is not None:
            passes.append((self.entity_controls(entity_id), entity_id))
        for controls, scope in passes:
            watching = [a for a in controls.usage_alerts if a.enabled and a.applies_to(feature.id)]
            if not watching:
                continue
            old = before.balance(feature, scope)
            new = subject.balance(feature, scope)
            if old is None or new is None:
                continue
            for alert in watching:
                if alerts.crossed(alert, old, new):
                    usage_alert: dict[str, Any] = {}
                    if alert.name is not None:
                        usage_alert["name"] = alert.name
                    usage_alert["threshold"] = alert.threshold
                    usage_alert["threshold_type"] = alert.threshold_type
                    self._emit(
                        USAGE_ALERT,
                        {
                            "customer_id": self.customer.id,
                            "entity_id": scope,
                            "feature_id": feature.id,
                            "usage_alert": usage_alert,
                            "name": alert.name,
                            "threshold": alert.threshold,
                            "threshold_type": alert.threshold_type,
                        },
                    )
