"""The statements that write one `Effects` on PostgreSQL, in the order its parts are given.

They are not sent here: a session keeps them until its next statement or its commit, which
carry them in the same round trip (`meterlib.stores.postgres.wire`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from meterlib.effects import KEYS_SWEPT_PER_CLAIM, Effects
from meterlib.stores import rows
from meterlib.stores.postgres import rows as pg
from meterlib.stores.postgres.retention_sql import statements
from meterlib.stores.postgres.wire import Step


def write_steps(sql: pg.Statements, effects: Effects) -> list[Step]:
    """Every write of `effects`, each part in one statement (executemany for several rows)."""
    steps = [Step(sql.add_feature, rows.feature_to_row(f), feature=f) for f in effects.features]
    if effects.customer is not None:
        steps.append(Step(sql.put_customer, rows.customer_to_row(effects.customer)))
    _rows(steps, sql.put_entity, map(rows.entity_to_row, effects.entities))
    _rows(steps, sql.put_grant, map(pg.grant_to_row, effects.grants))
    if effects.deleted_grants:
        steps.append(Step(sql.delete_grants, (list(effects.deleted_grants),)))
    _rows(steps, sql.put_lock, map(pg.lock_to_row, effects.locks))
    if effects.deleted_locks:
        steps.append(Step(sql.delete_locks, (list(effects.deleted_locks),)))
    _rows(steps, sql.add_event, map(pg.event_to_row, effects.events))
    _rows(steps, sql.put_counter, map(pg.counter_to_row, effects.counters))
    _rows(steps, sql.put_key, effects.claims)
    if effects.keys_spent_by is not None:  # in the same round trip as the claims
        limit = KEYS_SWEPT_PER_CLAIM * max(1, len(effects.claims))
        steps.append(Step(statements(sql.schema).expire_keys, (effects.keys_spent_by, limit)))
    return steps


def _rows(steps: list[Step], sql: str, found: Iterable[tuple[Any, ...]]) -> None:
    batch = list(found)
    if len(batch) == 1:
        steps.append(Step(sql, batch[0]))
    elif batch:
        steps.append(Step(sql, batch, many=True))


def owners(effects: Effects) -> tuple[list[str], list[str]]:
    """The customers whose rows `effects` write, and the idempotency keys it claims."""
    customers = {g.customer_id for g in effects.grants}
    customers.update(e.customer_id for e in effects.entities)
    customers.update(lk.customer_id for lk in effects.locks)
    customers.update(e.customer_id for e in effects.events)
    customers.update(c.customer_id for c in effects.counters)
    if effects.customer is not None:
        customers.add(effects.customer.id)
    return sorted(customers), sorted(key for key, _ in effects.claims)
