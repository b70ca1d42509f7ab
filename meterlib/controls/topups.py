"""Auto top-ups inside the deducting operation: threshold, rate limits, approval, the grant.

`TopupEnforcement` adds to `LimitEnforcement` the top-up of a feature that fell to its
threshold (after paying down overage, as Autumn does), the application's approval through
`Ledger(approve_topup=...)` (asked through the shell: `Asked`), and `configured()` after
`auto_topups` are written. The rate
limits and counters are `alerts`' pure rules; see `controls` for where meterlib differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from meterlib.controls import AutoTopup, Controls, alerts
from meterlib.controls.enforce import LimitEnforcement
from meterlib.effects import Asks, TopupRequest
from meterlib.models import ONE_OFF, Counter, Feature, Grant
from meterlib.notifications import AUTO_TOPUP
from meterlib.rules.context import Asked
from meterlib.rules.working import Working


class TopupEnforcement(LimitEnforcement):
    """Auto top-ups of one customer in one decision."""

    def topup(self, subject: Working, feature: Feature) -> None:
        """Top the customer's balance of `feature` up if it fell to its threshold."""
        config = self.resolved(None).auto_topup(feature.id)
        if config is None:
            return
        usable, _ = subject.rows((feature.id,), None)
        if not usable or any(g.unlimited for g in usable):
            return
        balance = alerts.topup_balance(usable)
        if balance > config.threshold:
            return
        counters = self.counters()
        block = alerts.blocked(config, counters, self.now)
        if block is not None:
            if alerts.notice_due(block, counters, feature.id, self.now):
                self._put(
                    [
                        alerts.notice_record(
                            block, feature.id, self.now, customer_id=self.customer.id
                        )
                    ]
                )
                self._topup_failed(config.feature_id, block.reason, config, balance)
            return
        request = TopupRequest(
            customer_id=self.customer.id,
            feature_id=feature.id,
            quantity=config.quantity,
            threshold=config.threshold,
            balance=balance,
        )
        reason = self._approve(request)
        self._put(
            alerts.record_attempt(
                config, counters, self.now, customer_id=self.customer.id, success=reason is None
            )
        )
        if reason is not None:
            self._topup_failed(feature.id, reason, config, balance)
            return
        paid, left = alerts.paydown(usable, config.quantity)
        subject.apply(paid)
        seq = subject.take_seq("grant")
        subject.add(
            Grant(
                id=f"grant_{seq}",
                seq=seq,
                customer_id=self.customer.id,
                feature_id=feature.id,
                included=config.quantity,
                interval=ONE_OFF,
                balance=left,
                created_at=self.now,
            )
        )
        after = subject.balance(feature, None, display=False)
        self._emit(
            AUTO_TOPUP,
            {
                "customer_id": self.customer.id,
                "entity_id": None,
                "feature_id": feature.id,
                "status": "succeeded",
                "quantity_granted": config.quantity,
                "threshold": config.threshold,
                "balance_after": None if after is None else after.remaining,
                "invoice_mode": False,
            },
        )

    def _approve(self, request: TopupRequest) -> str | None:
        """None when the application approves (or has no say), else Autumn's failure reason
        (the shell asks `approve_topup` once per request; see `operation`)."""
        approvals = self.approvals
        if approvals is None:
            return None
        if request not in approvals:
            raise Asked(Asks(approvals=(request,)))
        return approvals[request]

    def _topup_failed(
        self, feature_id: str, reason: str, config: AutoTopup, balance: Decimal
    ) -> None:
        self._emit(
            AUTO_TOPUP,
            {
                "customer_id": self.customer.id,
                "entity_id": None,
                "feature_id": feature_id,
                "status": "failed",
                "reason": reason,
                "quantity": config.quantity,
                "threshold": config.threshold,
                "balance": balance,
                "invoice_mode": False,
            },
        )

    def configured(
        self,
        subject: Working,
        old: Controls,
        purchase_counts: Mapping[str, int],
        written: bool,
    ) -> None:
        """`update_customer` wrote auto_topups: set runtime counts, lift suspensions, and run
        a top-up for the first feature that became enabled (Autumn's on-enable rule)."""
        if not written:
            return
        counters = self.counters()
        changed: list[Counter] = []
        for config in self.controls.auto_topups:
            changed.append(
                Counter(
                    customer_id=self.customer.id,
                    key=alerts.topup_key("consecutive_failures", config.feature_id),
                )
            )
            if config.feature_id in purchase_counts:
                counter = alerts.purchase_count(
                    config,
                    counters,
                    self.now,
                    purchase_counts[config.feature_id],
                    customer_id=self.customer.id,
                )
                if counter is not None:
                    changed.append(counter)
        self._put(changed)
        was_on = {c.feature_id for c in old.auto_topups if c.enabled}
        for config in self.controls.auto_topups:
            if config.enabled and config.feature_id not in was_on:
                feature = subject.catalogue.by_id.get(config.feature_id)
                if feature is not None and feature.type != "boolean":
                    self.topup(subject, feature)
                break
