"""The shell every Ledger operation runs in: load → decide → apply, then notify.

A write opens one store transaction, loads the customer's state (`Tx.load`: one round trip
on a server), lets a pure decision work out the result and the effects, answers what the
decision asks (more sequence numbers; `approve_topup`, once per request, inside the
transaction as documented) and decides again, applies the effects (`Tx.apply`), and commits;
the notifications go out after the commit. A read is one `Store.read` and a decision.
Amounts are computed in `quantity.WIDE`, where no amount inside meterlib's range is rounded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from meterlib.effects import Asks, Decision, TopupRequest
from meterlib.notifications import Notifier, Outbox
from meterlib.quantity import exact_arithmetic
from meterlib.rules.context import Asked, Context
from meterlib.state import CustomerState, Want
from meterlib.stores.protocol import Store, StoreSession

R = TypeVar("R")
A = TypeVar("A")
ApproveTopup = Callable[[TopupRequest], object]

logger = logging.getLogger("meterlib.notifications")


def write(
    store: Store,
    ctx: Context,
    wants: Sequence[Want],
    decide: Callable[[Sequence[CustomerState], Context], Decision[R]],
    *,
    notifier: Notifier,
    approve_topup: ApproveTopup | None,
) -> R:
    """Load every `want` (in the order given: callers sort customers, so that two writers
    never wait on each other in opposite orders), decide, apply, commit, notify."""
    with Outbox(notifier) as outbox, exact_arithmetic(), store.transaction() as tx:
        states = [tx.load(wants[0])] if len(wants) == 1 else [tx.load(want) for want in wants]
        try:
            # nearly every decision asks for nothing: no closure for `decided` to call
            decision = decide(states, ctx)
        except Asked as asked:
            ctx = _answered(asked.asks, ctx, tx, approve_topup)
            decision = decided(tx, ctx, lambda c: decide(states, c), approve_topup)
        if decision.effects:
            tx.apply(decision.effects)
        outbox.extend(decision.notifications)
    return decision.result


def decided(
    tx: StoreSession,
    ctx: Context,
    decide: Callable[[Context], Decision[R]],
    approve_topup: ApproveTopup | None,
) -> Decision[R]:
    """The decision, once everything it asked for is answered (decisions are pure, so
    deciding again from the same state with more answers is safe)."""
    while True:
        try:
            return decide(ctx)
        except Asked as asked:
            ctx = _answered(asked.asks, ctx, tx, approve_topup)


def _answered(
    asks: Asks, ctx: Context, tx: StoreSession, approve_topup: ApproveTopup | None
) -> Context:
    seqs = dict(ctx.seqs)
    for kind, count in asks.seqs:
        seqs[kind] = (*seqs.get(kind, ()), *tx.reserve(kind, count))
    approvals: Mapping[TopupRequest, str | None] | None = ctx.approvals
    if asks.approvals:
        answers = dict(approvals or {})
        for request in asks.approvals:
            if request not in answers:
                answers[request] = _approve(approve_topup, request)
        approvals = answers
    return ctx._replace(seqs=seqs, approvals=approvals)


def _approve(approve_topup: ApproveTopup | None, request: TopupRequest) -> str | None:
    """None when the application approves (or has no say), else Autumn's failure reason."""
    if approve_topup is None:
        return None
    try:
        approved = approve_topup(request)
    except Exception:
        logger.exception(
            "meterlib: approve_topup raised for customer %s, feature %s; the top-up is "
            "treated as declined",
            request.customer_id,
            request.feature_id,
        )
        return "execution_error"
    return None if approved else "charge_failed"


def single(
    decide: Callable[[CustomerState, Context, A], Decision[R]], args: A
) -> Callable[[Sequence[CustomerState], Context], Decision[R]]:
    """`decide` of one customer with `args`, as `write` calls it."""

    def decided_for(states: Sequence[CustomerState], ctx: Context) -> Decision[R]:
        return decide(states[0], ctx, args)

    return decided_for
