"""The range every stored amount stays in: an operation whose result would reach 10^18 (a
balance, a usage, an overage, a total a read adds up) is refused whole, before anything is
written. Pure: `Working.effects` and the counters ask it just before they are written.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from decimal import Decimal

from meterlib.errors import InvalidRequest
from meterlib.models import Grant
from meterlib.quantity import ZERO, in_range

# per feature: the parts of the totals a Balance adds up (granted, remaining, usage,
# max_purchase), positive and negative parts apart, so that a view of any subset of the
# grants (an entity's, a customer's own) also stays in range
_PARTS = 8


def _refusal(what: str) -> InvalidRequest:
    return InvalidRequest(
        f"this operation would take {what} to 10^18 or beyond, past the largest amount "
        "meterlib keeps (below 10^18 in magnitude); nothing was changed",
        code="invalid_request",
    )


def within(changed: list[Grant], grants: Collection[Grant]) -> list[Grant]:
    """`changed`, once no grant of their features, nor a total of those grants, reaches 10^18
    in magnitude; else `InvalidRequest` (invalid_request). `grants` are all of the customer's
    (changed ones included), so the totals are complete."""
    features = {g.feature_id for g in changed}
    # the sum of every magnitude bounds every amount and total: below the limit (nearly
    # always) nothing more is needed; else each one is checked
    bounds = dict.fromkeys(features, ZERO)
    for grant in grants:
        if grant.feature_id in bounds:
            bound = abs(grant.included) + abs(grant.adjustment) + abs(grant.balance)
            if grant.max_purchase is not None:
                bound += grant.max_purchase
            for lot in grant.rollovers:
                bound += abs(lot.balance) + abs(lot.usage)
            bounds[grant.feature_id] += bound
    if all(in_range(b) for b in bounds.values()):
        return changed
    _check_each(grants, features)
    return changed


def _check_each(grants: Iterable[Grant], features: set[str]) -> None:
    totals: dict[str, list[Decimal]] = {}
    for grant in grants:
        if grant.feature_id not in features:
            continue
        granted = grant.included_grant
        usage = -grant.balance if grant.unlimited else granted - grant.balance
        parts = [granted, max(ZERO, grant.balance), usage, grant.max_purchase or ZERO]
        for lot in grant.rollovers:
            parts[0] += lot.balance + lot.usage
            parts[1] += lot.balance
            parts[2] += lot.usage
        amounts = (grant.included, grant.adjustment, grant.balance, *parts)
        if not all(in_range(a) for a in amounts):
            raise _refusal(f"a balance of {grant.feature_id}")
        sums = totals.setdefault(grant.feature_id, [ZERO] * _PARTS)
        for i, part in enumerate(parts):
            sums[2 * i + (part < 0)] += part
    for feature_id, sums in totals.items():
        if not all(in_range(s) for s in sums):
            raise _refusal(f"the balance of {feature_id}")


def check_amounts(amounts: Iterable[Decimal], what: str) -> None:
    """Refuse (`invalid_request`) if one of `amounts` reaches 10^18 in magnitude."""
    if not all(in_range(a) for a in amounts):
        raise _refusal(what)
