"""The reads: one balance, every balance, grant by grant, flags, usage windows. Pure.

Each reads a `CustomerState` caught up to `ctx.now` in memory (nothing is written: a lock that
expired is released in the answer only) and raises what the Ledger documents when the
customer, entity or feature is not there.
"""

from __future__ import annotations

from collections.abc import Set

from meterlib.controls import windows
from meterlib.controls.reactions import Enforcement
from meterlib.instants import to_datetime
from meterlib.operations.catch_up import customer_of, entity_of, feature_of, open_working
from meterlib.results import Balance, Flag, GrantRow, UsageWindow
from meterlib.rules.balances import grant_row
from meterlib.rules.context import Context
from meterlib.rules.ordering import in_deduction_order
from meterlib.rules.working import Working
from meterlib.state import CustomerState


def looked_at(state: CustomerState, ctx: Context, entity_id: str | None) -> Working:
    """The working copy a read looks at; CustomerNotFound / EntityNotFound if not there."""
    customer_of(state)
    entity_of(state, entity_id)
    return open_working(state, ctx, write=False)


def balance(
    state: CustomerState, ctx: Context, *, feature_id: str, entity_id: str | None
) -> Balance | None:
    """The subject's balance of a metered or credit feature; None without any grant."""
    feature = feature_of(state.catalogue, feature_id)
    customer_of(state)
    entity_of(state, entity_id)
    if feature.type == "boolean":
        return None
    return open_working(state, ctx, write=False).balance(feature, entity_id)


def balances(state: CustomerState, ctx: Context, *, entity_id: str | None) -> dict[str, Balance]:
    """Every metered and credit balance of the subject, by feature id."""
    working = looked_at(state, ctx, entity_id)
    out: dict[str, Balance] = {}
    for feature in state.catalogue.ordered:
        if feature.type == "boolean":
            continue
        found = working.balance(feature, entity_id)
        if found is not None:
            out[feature.id] = found
    return out


def grants(
    state: CustomerState, ctx: Context, *, entity_id: str | None, wanted: Set[str]
) -> list[GrantRow]:
    """Every grant one by one: live ones in feature and deduction order, then expired ones."""
    working = looked_at(state, ctx, entity_id)
    catalogue, now = state.catalogue, ctx.now
    mine = [g for g in working.grants.values() if entity_id is None or g.entity_id == entity_id]
    live = [g for g in mine if g.live_at(now)]
    dead = sorted((g for g in mine if not g.live_at(now)), key=lambda g: g.seq)
    rows: list[GrantRow] = []
    for feature in catalogue.ordered:
        ordered = in_deduction_order(
            [g for g in live if g.feature_id == feature.id],
            catalogue.by_id,
            entity_view=entity_id is not None,
            reverse=ctx.reverse,
        )
        if "active" in wanted:
            rows += [grant_row(g, feature, "active") for g in ordered]
    if "expired" in wanted:
        rows += [grant_row(g, catalogue.by_id[g.feature_id], "expired") for g in dead]
    return rows


def flags(state: CustomerState, ctx: Context, *, entity_id: str | None) -> dict[str, Flag]:
    """Every boolean feature the subject has, by feature id."""
    working = looked_at(state, ctx, entity_id)
    out: dict[str, Flag] = {}
    for feature in state.catalogue.ordered:
        if feature.type == "boolean":
            found = working.flag(feature, entity_id)
            if found is not None:
                out[feature.id] = found
    return out


def usage_limits(state: CustomerState, ctx: Context, *, entity_id: str | None) -> list[UsageWindow]:
    """The usage limits the subject obeys now, each with what its current window counted."""
    working = looked_at(state, ctx, entity_id)
    enforcement = working.controls
    if not isinstance(enforcement, Enforcement):
        return []  # no controls on the customer or the entity: no limits
    resolved = enforcement.resolved(entity_id)
    if not resolved.windowed:
        return []
    counters = enforcement.counters()
    out: list[UsageWindow] = []
    for feature in state.catalogue.ordered:
        for limit, scope in resolved.usage_limits(feature.id):
            # the caps an event carrying exactly this filter meets include this one
            for cap in enforcement.caps(working, feature, entity_id, dict(limit.filter)):
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
                        usage=windows.used(cap, counters.get(cap.key), ctx.now),
                        window_start=to_datetime(cap.start),
                        window_end=to_datetime(cap.end),
                    )
                )
    return out
