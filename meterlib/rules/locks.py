"""Lock arithmetic: how finalizing a lock at some value splits into giving back and deducting,
and giving back exactly where the lock took its units. Pure."""

from __future__ import annotations

from collections.abc import MutableMapping
from decimal import Decimal

from attrs import evolve

from meterlib.models import Grant, LockItem
from meterlib.quantity import ZERO
from meterlib.rules.deduction import Change


def split(held: Decimal, final_value: Decimal) -> tuple[Decimal, Decimal]:
    """(units to give back, units to deduct on top) when a lock holding `held` is finalized
    at `final_value` (0 releases it)."""
    if held == 0:
        return ZERO, final_value
    if final_value == 0 or (final_value > 0) != (held > 0):
        return abs(held), final_value
    if abs(final_value) >= abs(held):
        return ZERO, final_value - held
    return abs(held) - abs(final_value), ZERO


def unwind(
    grants: MutableMapping[str, Grant], items: tuple[LockItem, ...], amount: Decimal, now: int
) -> tuple[Decimal, list[Change]]:
    """Give back up to `amount` (feature units) exactly where the lock took it, newest first,
    into `grants` (changed in place).

    Returns how much could not be given back (its grant or rollover is gone) and the changes.
    """
    skipped = ZERO
    changes: list[Change] = []
    for item in reversed(items):
        if amount <= 0:
            break
        portion = min(amount, abs(item.value_delta))
        if portion == 0:
            continue
        amount -= portion
        units = (
            item.balance_delta
            if portion == abs(item.value_delta)
            else (portion * item.cost * (1 if item.balance_delta > 0 else -1))
        )
        grant = grants.get(item.grant_id)
        if grant is None or not grant.live_at(now):
            skipped += portion
            continue
        change = Change(
            grant_id=grant.id,
            rollover_id=item.rollover_id,
            cost=item.cost,
            balance_delta=-units,
            value_delta=-portion if item.value_delta > 0 else portion,
        )
        if item.rollover_id is None:
            grants[grant.id] = evolve(grant, balance=grant.balance + units)
            changes.append(change)
            continue
        lots = list(grant.rollovers)
        for index, lot in enumerate(lots):
            if lot.id == item.rollover_id:
                lots[index] = evolve(lot, balance=lot.balance + units, usage=lot.usage - units)
                grants[grant.id] = evolve(grant, rollovers=tuple(lots))
                changes.append(change)
                break
        else:
            skipped += portion
    return skipped, changes
