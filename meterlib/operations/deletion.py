"""Delete: remove grants; with `recalculate`, their usage moves onto the grants left. Pure."""

from __future__ import annotations

from typing import NamedTuple

from attrs import evolve

from meterlib.effects import Decision
from meterlib.errors import BalanceNotFound
from meterlib.models import Grant
from meterlib.operations.catch_up import customer_of, entity_of, feature_of, open_working
from meterlib.quantity import ZERO
from meterlib.rules.context import Context
from meterlib.rules.deduction import apply_allowing
from meterlib.state import CustomerState, Want


class DeleteArgs(NamedTuple):
    """A validated delete request."""

    customer_id: str
    feature_id: str | None
    entity_id: str | None
    balance_id: str | None
    interval: str | None
    recalculate: bool

    def want(self) -> Want:
        """What a delete loads."""
        return Want(self.customer_id, () if self.entity_id is None else (self.entity_id,))


def decide_delete(state: CustomerState, ctx: Context, args: DeleteArgs) -> Decision[None]:
    """The grants the arguments select, removed (BalanceNotFound when none is)."""
    catalogue = state.catalogue
    features = (
        [feature_of(catalogue, args.feature_id)]
        if args.feature_id is not None
        else catalogue.ordered
    )
    customer_of(state)
    entity_id, balance_id, selector = args.entity_id, args.balance_id, args.interval
    entity_of(state, entity_id)
    working = open_working(state, ctx, write=True)
    targets: list[Grant] = []
    for feature in features:
        usable, extra = working.rows((feature.id,), entity_id)
        targets += [
            g
            for g in (*usable, *extra)
            if (selector is None or g.interval == selector)
            and (balance_id is None or balance_id in (g.public_id, g.id))
        ]
    if not targets:
        raise BalanceNotFound(
            f"Balance not found for feature {args.feature_id} and customer {args.customer_id}"
        )
    if not args.recalculate:
        working.remove(g.id for g in targets)
        return Decision(None, working.effects())
    usage = sum((g.included_grant - g.balance for g in targets), ZERO)
    target_ids = {g.id for g in targets}
    usable, _ = working.rows((features[0].id,), entity_id)
    survivors = [g for g in usable if g.id not in target_ids]
    if usage > 0 and not survivors:
        # no grant left to carry the usage: the first target stays, as a carrier of it
        carrier = evolve(
            targets[0],
            balance=-usage,
            adjustment=-targets[0].included,
            anchor=None,
            period=0,
            next_reset_at=None,
        )
        working.remove(g.id for g in targets[1:])
        working.apply({carrier.id: carrier})
    else:
        working.remove(target_ids)
        working.apply(apply_allowing(survivors, usage))
    return Decision(None, working.effects())
