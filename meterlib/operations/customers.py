"""update_customer's reaction to newly written auto top-ups. Pure."""

from __future__ import annotations

from collections.abc import Mapping

from meterlib.controls import Controls
from meterlib.controls.reactions import Enforcement
from meterlib.effects import Decision
from meterlib.operations.catch_up import open_working
from meterlib.rules.context import Context
from meterlib.state import CustomerState


def decide_configured(
    state: CustomerState, ctx: Context, *, before: Controls, purchase_counts: Mapping[str, int]
) -> Decision[None]:
    """`auto_topups` were written (the state holds the customer as updated): set runtime
    counts, lift suspensions, and top up the first feature that became enabled."""
    working = open_working(state, ctx, write=True, notify=True)
    controls = working.controls
    assert isinstance(controls, Enforcement)  # the customer has billing controls now
    controls.configured(working, before, purchase_counts, written=True)
    return Decision(None, working.effects(), working.notifications())
