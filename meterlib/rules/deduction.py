"""Deducting an amount across grants and rollovers, as Autumn's track and update do. Pure.

A positive amount consumes, a negative one gives back. `track` drains rollovers first, then
takes positive balances in order (pass 1), then pushes overage rows negative (pass 2); a refund
heals negative rows first, then refills rows up to their grant. `update` and `delete` use the
"allow" variant: the leftover lands on the first row, without floor or ceiling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import NamedTuple, Protocol

from attrs import evolve

from meterlib.models import Grant, RolloverLot
from meterlib.quantity import ZERO, round10

CAP, OVERFLOW, REJECT = "cap", "overflow", "reject"


# Entry, Change and Outcome are named tuples rather than frozen attrs classes: every track
# builds them, and a tuple is built in about half the time (no per-field `object.__setattr__`)


class Entry(NamedTuple):
    """A grant taking part in a deduction: `cost` row units per unit of the tracked feature."""

    grant: Grant
    cost: Decimal
    allow_over: bool


class Change(NamedTuple):
    """One change a deduction made to a grant (rollover_id None) or to one of its rollovers."""

    grant_id: str
    rollover_id: str | None
    cost: Decimal
    balance_delta: Decimal  # row units taken (negative: given back)
    value_delta: Decimal  # the same in units of the tracked feature


class Gate(Protocol):
    """Usage-window room a consuming deduction may not exceed (billing controls' windows)."""

    def room(self, entry: Entry, cost: Decimal, *, rollover: bool) -> Decimal | None:
        """Row units `entry` (or one of its rollovers) may still give; None: no limit."""

    def took(self, entry: Entry, units: Decimal, value: Decimal, *, rollover: bool) -> None:
        """`entry` gave `units` row units (`value` tracked units)."""


def _gated(
    gate: Gate | None, entry: Entry, units: Decimal, cost: Decimal, *, rollover: bool = False
) -> Decimal:
    if gate is None or units <= 0:
        return units
    room = gate.room(entry, cost, rollover=rollover)
    return units if room is None else max(ZERO, min(units, room))


def _overage(work: _Ledger, entries: Sequence[Entry], feature_id: str) -> Decimal:
    """Σ overage units of a feature's rows, as the deduction has left them so far."""
    return sum(
        (max(ZERO, -work.balance(e.grant)) for e in entries if e.grant.feature_id == feature_id),
        ZERO,
    )


class Outcome(NamedTuple):
    """The grants a deduction changed (new values), what it changed, and what it could not place."""

    grants: dict[str, Grant]
    changes: tuple[Change, ...]
    leftover: Decimal


class _Ledger:
    """A working copy of the balances a deduction touches; turned into grants at the end."""

    def __init__(self) -> None:
        self.balances: dict[str, Decimal] = {}
        self.lots: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        self.changes: list[Change] = []

    def balance(self, grant: Grant) -> Decimal:
        return self.balances.get(grant.id, grant.balance)

    def take(self, entry: Entry, units: Decimal, value: Decimal, cost: Decimal) -> None:
        grant = entry.grant
        self.balances[grant.id] = self.balance(grant) - units
        # positional: a named tuple called with keywords goes through a dict of them
        self.changes.append(Change(grant.id, None, cost, units, value))

    def take_lot(self, entry: Entry, lot: RolloverLot, units: Decimal, value: Decimal) -> None:
        key = (entry.grant.id, lot.id)
        balance, usage = self.lots.get(key, (lot.balance, lot.usage))
        self.lots[key] = (balance - units, usage + units)
        self.changes.append(Change(entry.grant.id, lot.id, entry.cost, units, value))

    def _lot(self, grant: Grant, lot: RolloverLot) -> RolloverLot:
        state = self.lots.get((grant.id, lot.id))
        if state is None:
            return lot
        return evolve(lot, balance=state[0], usage=state[1])

    def outcome(self, entries: Sequence[Entry], leftover: Decimal) -> Outcome:
        grants: dict[str, Grant] = {}
        for entry in entries:
            grant = entry.grant
            touched = grant.id in self.balances
            lots = grant.rollovers
            if self.lots and any((grant.id, lot.id) in self.lots for lot in lots):
                touched = True
                lots = tuple(self._lot(grant, lot) for lot in lots)
            if touched:
                grants[grant.id] = grant.deducted(self.balance(grant), lots)
        return Outcome(grants, tuple(self.changes), leftover)


def _hoist_unlimited(entries: Sequence[Entry]) -> Sequence[Entry]:
    for index, entry in enumerate(entries):
        if entry.grant.unlimited:
            if index:
                return [entry, *entries[:index], *entries[index + 1 :]]
            break
    return entries  # never changed in place, so no copy


def _lots_in_order(entries: Sequence[Entry]) -> list[tuple[Entry, RolloverLot]]:
    pairs = [(entry, lot) for entry in entries for lot in entry.grant.rollovers]
    if len(pairs) > 1:
        # soonest expiry first, never-expiring last; ties keep row order (the sort is stable)
        pairs.sort(key=lambda p: (p[1].expires_at is None, p[1].expires_at or 0))
    return pairs


def _value(units: Decimal, amt: Decimal, rem: Decimal, cost: Decimal) -> Decimal:
    """Feature units that `units` row units stand for; exact when the whole request was taken."""
    return rem if units == amt else units / cost


def deduct(
    entries: Sequence[Entry],
    amount: Decimal,
    *,
    behavior: str = CAP,
    gate: Gate | None = None,
    spend_limits: Mapping[str, Decimal] | None = None,
) -> Outcome:
    """Deduct `amount` (feature units; negative = refund) from `entries`, in their order.

    `behavior` is "cap" (leftover dropped), "overflow" (every row may go negative, refunds
    have no ceiling) or "reject" (the caller discards the outcome if `leftover` is not 0).
    Billing controls add a `gate` (usage-window room, limiting every consuming take; the
    caller passes none under overflow) and `spend_limits` (feature id -> the most overage
    units its rows may reach together; replaces max_purchase and binds even overflow).
    """
    work = _Ledger()
    ordered = _hoist_unlimited(entries)
    if not ordered or amount == 0:
        return work.outcome(ordered, ZERO)
    first = ordered[0]
    if first.grant.unlimited:
        work.take(first, amount * first.cost, amount, first.cost)
        return work.outcome(ordered, ZERO)

    # A credit_cost of 0 makes a member free: reaching a row it would be charged to (a rollover
    # lot or a main balance) ends the deduction, as Autumn's rollover pass does; Autumn's main
    # pass reads 0 as 1, which would make the charge depend on whether a lot exists.
    rem = amount
    if rem > 0:
        for entry, lot in _lots_in_order(ordered):
            if entry.cost == 0:
                rem = ZERO
                break
            amt = rem * entry.cost
            units = _gated(gate, entry, min(lot.balance, amt), entry.cost, rollover=True)
            if units > 0:
                value = _value(units, amt, rem, entry.cost)
                work.take_lot(entry, lot, units, value)
                rem -= value
                if gate is not None:
                    gate.took(entry, units, value, rollover=True)
            if rem == 0:
                break

    for entry in ordered:  # pass 1: positive balances, or healing negative ones
        if rem == 0:
            break
        cost = entry.cost
        if cost == 0:
            rem = ZERO
            break
        amt = rem * cost
        balance = work.balance(entry.grant)
        units = max(ZERO, min(amt, balance)) if rem > 0 else -min(-amt, max(ZERO, -balance))
        if gate is not None:
            units = _gated(gate, entry, units, cost)
        if units:
            value = _value(units, amt, rem, cost)
            work.take(entry, units, value, cost)
            rem -= value
            if gate is not None and units > 0:
                gate.took(entry, units, value, rollover=False)

    if rem != 0:
        for entry in ordered:  # pass 2: overage, or refills up to the grant
            if rem == 0:
                break
            grant = entry.grant
            cost = entry.cost  # never 0: pass 1 stops at a free row
            amt = rem * cost
            balance = work.balance(grant)
            if rem > 0:
                spend = None if spend_limits is None else spend_limits.get(grant.feature_id)
                if behavior != OVERFLOW and not entry.allow_over:
                    continue
                if spend is not None:
                    room = spend - _overage(work, ordered, grant.feature_id)
                    units = max(ZERO, min(amt, room))
                elif behavior == OVERFLOW:
                    units = amt
                elif grant.min_balance is not None:
                    units = max(ZERO, min(amt, balance - grant.min_balance))
                else:
                    units = amt
                units = _gated(gate, entry, units, cost)
            elif behavior == OVERFLOW:
                units = amt
            else:
                units = -min(-amt, max(ZERO, grant.included_grant - balance))
            if units:
                value = _value(units, amt, rem, cost)
                work.take(entry, units, value, cost)
                rem -= value
                if gate is not None and units > 0:
                    gate.took(entry, units, value, rollover=False)

    # rounding a zero (what nearly every deduction leaves) only changes its exponent
    return work.outcome(ordered, round10(rem) if rem else ZERO)


def apply_allowing(grants: Sequence[Grant], amount: Decimal) -> dict[str, Grant]:
    """Update's target/delta algorithm: `amount` > 0 decreases, < 0 increases the total.

    Decreases drain rollovers first; pass 1 floors rows at 0 (or heals negative rows up to 0);
    whatever is left lands on the first row, with no floor and no ceiling.
    """
    entries = [Entry(g, Decimal(1), allow_over=True) for g in grants]
    work = _Ledger()
    if not entries or amount == 0:
        return {}
    rem = amount
    if rem > 0:
        for entry, lot in _lots_in_order(entries):
            units = min(lot.balance, rem)
            if units > 0:
                work.take_lot(entry, lot, units, units)
                rem -= units
            if rem == 0:
                break
    for entry in entries:
        if rem == 0:
            break
        balance = work.balance(entry.grant)
        units = max(ZERO, min(rem, balance)) if rem > 0 else -min(-rem, max(ZERO, -balance))
        if units:
            work.take(entry, units, units, entry.cost)
            rem -= units
    if rem != 0:
        work.take(entries[0], rem, rem, entries[0].cost)
    return work.outcome(entries, ZERO).grants
