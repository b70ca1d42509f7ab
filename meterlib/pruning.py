"""`Ledger.prune`: events recorded before an instant go, their hourly totals stay.

A chunk at a time, each in its own short write transaction: take the oldest events, add their
hourly totals (`meterlib.hourly_totals`, pure), commit. Other writers wait for one chunk at
most, never for the whole prune, and a report reading events and totals together is exact
between any two chunks. Spent idempotency keys go the same way. Balances are not touched.
"""

from __future__ import annotations

from meterlib.hourly_totals import PruneReport, totals_of
from meterlib.stores.protocol import Store

CHUNK = 2000  # events (or keys) per transaction: a few milliseconds of SQLite's write lock


def prune(store: Store, now: int, before: int, *, chunk: int = CHUNK) -> PruneReport:
    """Remove the events recorded before `before` and the keys spent by `now`."""
    with store.transaction(write=True) as tx:
        # first: a report grouping by properties must refuse pruned time from the start
        tx.set_pruned_through(before)
    events = 0
    while True:
        with store.transaction(write=True) as tx:
            taken = tx.take_events(before, chunk)
            tx.add_hourly_totals(totals_of(taken))
        events += len(taken)
        if len(taken) < chunk:
            break
    keys = 0
    while True:
        with store.transaction(write=True) as tx:
            removed = tx.expire_idempotency_keys(now, chunk)
        keys += removed
        if removed < chunk:
            break
    return PruneReport(events, keys)
