"""The SQL of PostgreSQL's retention and dumps (spent idempotency keys, sequences), per schema."""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

from meterlib.stores import rows
from meterlib.stores.postgres import rows as pg


class RetentionSql(NamedTuple):
    """The statements of one schema."""

    expire_keys: str
    live_keys: str
    seq_values: str
    set_seq: str
    take_events: str
    add_total: str
    list_totals: str
    pruned_through: str
    set_pruned_through: str


@cache
def statements(schema: str) -> RetentionSql:
    """The retention statements of `schema`, built once."""
    s = pg.quote_schema(schema)
    return RetentionSql(
        # SKIP LOCKED: a key another transaction is claiming again right now is left for a
        # later sweep rather than waited for (the sweep rides with the commit of a track).
        # `= ANY(ARRAY(...))`, not `IN (...)`: the planner may rescan an IN subquery per row
        # (a semi-join), and its LIMIT then bounds each scan, not the delete; ARRAY is one initplan.
        expire_keys=(
            f"DELETE FROM {s}.idempotency_keys WHERE idempotency_key = ANY(ARRAY("
            f"SELECT idempotency_key FROM {s}.idempotency_keys WHERE expires_at <= %s "
            "ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED))"
        ),
        live_keys=(
            f"SELECT idempotency_key, expires_at FROM {s}.idempotency_keys WHERE expires_at > %s"
        ),
        seq_values=(
            "SELECT substr(sequencename, 5), last_value FROM pg_sequences "
            "WHERE schemaname = %s AND sequencename LIKE 'seq\\_%%' AND last_value IS NOT NULL"
        ),
        set_seq="SELECT setval(%s::regclass, greatest(%s, (SELECT last_value FROM {})))",
        take_events=(
            f"DELETE FROM {s}.events WHERE n = ANY(ARRAY(SELECT n FROM {s}.events "
            'WHERE "timestamp" < %s ORDER BY "timestamp", seq, n LIMIT %s)) RETURNING '
            + ", ".join(f'"{c}"' for c in (*rows.EVENT_COLUMNS, "spellings"))
        ),
        add_total=(
            f"INSERT INTO {s}.hourly_totals AS t "
            "(customer_id, entity_id, name, hour, value, events) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (hour, customer_id, entity_id, name) DO UPDATE SET "
            "value = t.value + excluded.value, events = t.events + excluded.events"
        ),
        list_totals=(
            "SELECT customer_id, entity_id, name, hour, value, events "
            f"FROM {s}.hourly_totals WHERE hour >= %s AND hour < %s "
            "ORDER BY hour, customer_id, entity_id, name"
        ),
        pruned_through=f"SELECT value FROM {s}.retention WHERE key = 'pruned_through'",
        set_pruned_through=(
            f"INSERT INTO {s}.retention AS r (key, value) VALUES ('pruned_through', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = greatest(r.value, excluded.value)"
        ),
    )
