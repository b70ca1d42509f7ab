"""The SQL of a usage report, for SQLite and PostgreSQL alike: one select of the events in
range by the `events_by_customer_name` index (customer, tracked name, time), the amounts
read as exact text and summed in Python (never by the database's floats)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from meterlib.stores.grant_rows import deductions_from_json
from meterlib.stores.rows import load_dict
from meterlib.usage_rows import NO_PROPERTIES, UsageQuery, UsageRow

# what an event was tracked under, as the index is built on it
NAME = "COALESCE(feature_id, event_name)"


def usage_select(query: UsageQuery, table: str, mark: str) -> tuple[str, list[Any]]:
    """(SQL, parameters) reading `query`'s events from `table`; `mark` is the driver's
    placeholder ("?" or "%s")."""
    columns = ['"timestamp"', "customer_id", "entity_id", NAME, "CAST(value AS TEXT)"]
    if query.properties:
        columns.append("CAST(properties AS TEXT)")
    if query.deductions:
        columns.append("CAST(deductions AS TEXT)")
    where: list[str] = []
    params: list[Any] = []
    if query.customer_id is not None:
        where.append(f"customer_id = {mark}")
        params.append(query.customer_id)
    if query.names is not None:
        if not query.names:
            where.append("1 = 0")
        else:
            where.append(f"{NAME} IN ({', '.join([mark] * len(query.names))})")
            params.extend(query.names)
    where.append(f'"timestamp" >= {mark} AND "timestamp" < {mark}')
    params += [query.start, query.end]
    if query.entity_id is not None:
        where.append(f"entity_id = {mark}")
        params.append(query.entity_id)
    return f"SELECT {', '.join(columns)} FROM {table} WHERE {' AND '.join(where)}", params


def usage_rows(found: Sequence[Sequence[Any]], query: UsageQuery) -> list[UsageRow]:
    """The rows `usage_select` returned, as UsageRows."""
    if not (query.properties or query.deductions):
        return [UsageRow(r[0], r[1], r[2], r[3], Decimal(r[4])) for r in found]
    out = []
    for r in found:
        at = 5
        properties = NO_PROPERTIES
        if query.properties:
            properties, at = load_dict(r[at]), at + 1
        deductions = deductions_from_json(r[at]) if query.deductions else ()
        out.append(UsageRow(r[0], r[1], r[2], r[3], Decimal(r[4]), properties, deductions))
    return out


def overdue_owners_sql(table: str, mark: str) -> str:
    """The owners of the locks in `table` whose expiry is at or before a parameter."""
    return (
        f"SELECT DISTINCT customer_id FROM {table} "
        f"WHERE expires_at IS NOT NULL AND expires_at <= {mark} ORDER BY customer_id"
    )
