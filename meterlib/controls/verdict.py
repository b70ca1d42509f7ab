"""Check's verdict with the billing controls applied: `judge()` and `spend_cap()`. Pure.

autumn-check-track §5.5 and Autumn's `apiBalanceToAllowed`; also used to tell when a limit is
reached and why. Kept apart from resolution: it takes already-resolved inputs (headroom,
overage control, spend cap) over a pool's grants.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from attrs import frozen

from meterlib.controls.values import SpendLimit
from meterlib.models import Grant
from meterlib.quantity import ZERO

_HUNDRED = Decimal(100)


@frozen(kw_only=True)
class Verdict:
    """Whether an amount is allowed, and if not, which limit stands in the way."""

    allowed: bool
    limit_type: str | None = None  # "usage_limit" | "included" | "spend_limit" | "max_purchase"


ALLOWED = Verdict(allowed=True)


def spend_cap(limit: SpendLimit, grants: Sequence[Grant]) -> Decimal | None:
    """A spend limit as overage units; None when it resolves to no cap.

    `usage_percentage` is a percentage of the recurring grants' included amounts (meterlib's
    stand-in for Autumn's main-plan allowance; one-off grants, top-ups, rollovers and manual
    adjustments are left out). With no such allowance it is no cap at all, as in Autumn.
    """
    if limit.overage_limit is None:
        return None
    if limit.limit_type != "usage_percentage":
        return limit.overage_limit
    allowance = sum(
        (g.included for g in grants if g.interval != "one_off" and not g.unlimited), ZERO
    )
    if allowance == 0:
        return None
    return limit.overage_limit / _HUNDRED * allowance


def judge(
    grants: Sequence[Grant],
    required: Decimal,
    *,
    headroom: Decimal | None,
    overage_control: bool | None,
    spend: Decimal | None,
) -> Verdict:
    """Check's verdict over a pool's usable grants, the billing controls applied.

    `headroom` is the usage-window room left (None: no cap applies), `overage_control` the
    resolved overage_allowed entry, `spend` the resolved spend limit in overage units.
    """
    if not grants:
        return Verdict(allowed=False)
    if required < 0 or any(g.unlimited for g in grants):
        return ALLOWED
    if headroom is not None and required > headroom:
        return Verdict(allowed=False, limit_type="usage_limit")
    remaining = sum((max(ZERO, g.balance) for g in grants), ZERO) + sum(
        (lot.balance for g in grants for lot in g.rollovers), ZERO
    )
    if overage_control is False:
        return ALLOWED if remaining >= required else Verdict(allowed=False, limit_type="included")
    if overage_control or any(g.overage_allowed for g in grants):
        overage = sum((max(ZERO, -g.balance) for g in grants), ZERO)
        if spend is not None:
            room, reason = max(ZERO, spend - overage), "spend_limit"
        else:
            caps = [g.max_purchase for g in grants if g.overage_allowed]
            if not caps or any(cap is None for cap in caps):
                return ALLOWED
            total = sum((cap for cap in caps if cap is not None), ZERO)
            room, reason = max(ZERO, total - overage), "max_purchase"
        if room + remaining >= required:
            return ALLOWED
        return Verdict(allowed=False, limit_type=reason)
    return ALLOWED if remaining >= required else Verdict(allowed=False, limit_type="included")
