"""Locks past their `expires_at`, finalized with `release` at that instant, as Autumn's expiry
job does (autumn-check-track §7.2, §7.4): the units go back and an event of −L is recorded,
stamped at `expires_at`. Pure.

Every write already does this while catching up (`Working.catch_up`). A read only answers as
if it had happened, so when a read finds an overdue lock the shell runs `decide_release` in a
write of its own: reports, which count recorded events, then see the release whoever looked.
"""

from __future__ import annotations

from meterlib.effects import Decision
from meterlib.operations.catch_up import open_working
from meterlib.rules.context import Context
from meterlib.state import CustomerState


def overdue(state: CustomerState, now: int) -> bool:
    """Whether the customer holds a lock whose expiry has passed (and is not yet released)."""
    return any(lk.expires_at is not None and lk.expires_at <= now for lk in state.locks)


def decide_release(state: CustomerState, ctx: Context, _args: object = None) -> Decision[None]:
    """Catch the customer up: each overdue lock is released at its instant, in expiry order
    (with what catching up writes anyway: grants reset or expired since)."""
    if state.customer is None:
        return Decision(None)
    working = open_working(state, ctx, write=True, notify=True)
    return Decision(None, working.effects(), working.notifications())
