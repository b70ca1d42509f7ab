"""`Ledger.prune`: events recorded before an instant go, their hourly totals stay.

A chunk at a time, each in its own short write transaction: take the oldest events, add their
hourly totals (`meterlib.hourly_totals`, pure), commit. Other writers wait for one chunk at
most, never for the whole prune, and a report reading events and totals together is exact
between any two chunks. Spent idempotency keys go the same way. Balances are not touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from meterlib.hourly_totals import PruneReport, totals_of
from meterlib.stores.protocol import Store

CHUNK = 200  # events (or keys) per transaction: a few milliseconds of SQLite's write lock
# After each chunk the prune waits twice as long. A writer of another process waiting for
# SQLite's lock polls it (sleeping 1 ms, then longer, up to 100 ms between tries); a pruner
# that took the lock again at once would win nearly every time and starve it for the whole
# prune. Idle two thirds of the time, in short holds, it kept 4 busy trackers' waits under
# a second on 2 cores (tests/test_sqlite_prune_processes.py), where 500 and "as long again"
# did not.
PAUSE_SHARE = 2.0


def prune(
    store: Store,
    now: int,
    before: int,
    *,
    chunk: int = CHUNK,
    pause: Callable[[float], None] = time.sleep,
) -> PruneReport:
    """Remove the events recorded before `before` and the keys spent by `now`; `pause(s)`
    lets other writers in between chunks."""
    with store.transaction(write=True) as tx:
        # first: a report grouping by properties must refuse pruned time from the start
        tx.set_pruned_through(before)
    events = 0
    while True:
        began = time.perf_counter()
        with store.transaction(write=True) as tx:
            taken = tx.take_events(before, chunk)
            tx.add_hourly_totals(totals_of(taken))
        events += len(taken)
        if len(taken) < chunk:
            break
        pause((time.perf_counter() - began) * PAUSE_SHARE)
    keys = 0
    while True:
        with store.transaction(write=True) as tx:
            removed = tx.expire_idempotency_keys(now, chunk)
        keys += removed
        if removed < chunk:
            break
    return PruneReport(events, keys)
