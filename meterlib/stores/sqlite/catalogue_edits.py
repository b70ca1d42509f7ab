"""SQLiteStore's pages, feature changes and deletes (a mixin of its session).

A feature changed or deleted bumps the "catalogue" row of `seqs`: the feature cache names
the catalogue by its row count and that number, so a change no count shows (an update, a
delete then a create) is still seen by every connection and process.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any, Protocol

from meterlib.catalogue_edits import FeatureUsers, entity_page_params
from meterlib.models import Customer, Entity, Feature
from meterlib.stores import grant_rows, rows

if TYPE_CHECKING:
    from meterlib.stores.sqlite.caches import Known


class _Executes(Protocol):
    def execute(self, sql: str, parameters: Any = ..., /) -> sqlite3.Cursor: ...


FEATURES_KEY = (
    "SELECT count(*), ifnull((SELECT value FROM seqs WHERE kind = 'catalogue'), 0) FROM features"
)
_BUMP = (
    "INSERT INTO seqs (kind, value) VALUES ('catalogue', 1) "
    "ON CONFLICT (kind) DO UPDATE SET value = value + 1"
)
_SELECT_CUSTOMER = rows.select_sql("customers", rows.CUSTOMER_COLUMNS)
_PAGE_CUSTOMERS = _SELECT_CUSTOMER + " ORDER BY id LIMIT ?"
_PAGE_CUSTOMERS_AFTER = _SELECT_CUSTOMER + " WHERE id > ? ORDER BY id LIMIT ?"
_SELECT_ENTITY = rows.select_sql("entities", rows.ENTITY_COLUMNS)
_ENTITY_PAGES = {
    (False, False): _SELECT_ENTITY + " ORDER BY customer_id, id LIMIT ?",
    (False, True): _SELECT_ENTITY + " WHERE (customer_id, id) > (?, ?) ORDER BY customer_id, id"
    " LIMIT ?",
    (True, False): _SELECT_ENTITY + " WHERE customer_id = ? ORDER BY id LIMIT ?",
    (True, True): _SELECT_ENTITY + " WHERE customer_id = ? AND id > ? ORDER BY id LIMIT ?",
}
_USED_GRANTS = rows.select_sql("grants", rows.GRANT_COLUMNS) + " WHERE feature_id = ? ORDER BY seq"
_USED_ENTITIES = _SELECT_ENTITY + " WHERE feature_id = ? ORDER BY customer_id, id"
_USED_LOCKS = rows.select_sql("locks", rows.LOCK_COLUMNS) + " WHERE feature_id = ? ORDER BY lock_id"
_PUT_FEATURE = rows.upsert_sql("features", rows.FEATURE_COLUMNS, ("id",))
_DELETE_FEATURE = "DELETE FROM features WHERE id = ?"
_DELETE_ENTITY = "DELETE FROM entities WHERE customer_id = ? AND id = ?"
# the next event seq is read from the largest event rowid (see tx.py): before events go,
# their largest seq becomes the floor in `seqs`, so no event id is ever handed out twice
_KEEP_EVENT_FLOOR = (
    "INSERT INTO seqs (kind, value) SELECT 'event', ifnull(max(rowid), 0) FROM events WHERE true "
    "ON CONFLICT (kind) DO UPDATE SET value = max(value, excluded.value)"
)
_DELETE_CUSTOMER = (
    _KEEP_EVENT_FLOOR,
    "DELETE FROM customers WHERE id = ?",
    *(
        f"DELETE FROM {table} WHERE customer_id = ?"
        for table in ("entities", "grants", "locks", "counters", "events", "hourly_totals")
    ),
)


class SQLiteCatalogueEdits:
    """The catalogue-edit methods of `SQLiteSession`."""

    __slots__ = ()

    if TYPE_CHECKING:
        _conn: _Executes
        _known: Known

        def _writable(self) -> _Executes: ...

    def page_customers(self, *, after: str | None, limit: int) -> list[Customer]:
        """`StoreSession.page_customers` (TEXT compares as UTF-8 bytes: code-point order)."""
        found = (
            self._conn.execute(_PAGE_CUSTOMERS, (limit,))
            if after is None
            else self._conn.execute(_PAGE_CUSTOMERS_AFTER, (after, limit))
        )
        return [rows.customer_from_row(r) for r in found]

    def page_entities(
        self, *, customer_id: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[Entity]:
        """`StoreSession.page_entities`."""
        params = entity_page_params(customer_id, after)
        sql = _ENTITY_PAGES[customer_id is not None, after is not None]
        found = self._conn.execute(sql, (*params, limit))
        return [rows.entity_from_row(r) for r in found]

    def feature_users(self, feature_id: str) -> FeatureUsers:
        """`StoreSession.feature_users`."""
        conn = self._conn
        return FeatureUsers(
            tuple(grant_rows.grant_from_row(r) for r in conn.execute(_USED_GRANTS, (feature_id,))),
            tuple(rows.entity_from_row(r) for r in conn.execute(_USED_ENTITIES, (feature_id,))),
            tuple(grant_rows.lock_from_row(r) for r in conn.execute(_USED_LOCKS, (feature_id,))),
        )

    def replace_feature(self, feature: Feature) -> None:
        """`StoreSession.replace_feature`."""
        conn = self._writable()
        conn.execute(_PUT_FEATURE, rows.feature_to_row(feature))
        conn.execute(_BUMP)
        self._known.features = None

    def delete_feature(self, feature_id: str) -> None:
        """`StoreSession.delete_feature`."""
        conn = self._writable()
        conn.execute(_DELETE_FEATURE, (feature_id,))
        conn.execute(_BUMP)
        self._known.features = None

    def delete_customer(self, customer_id: str) -> None:
        """`StoreSession.delete_customer`."""
        conn = self._writable()
        for sql in _DELETE_CUSTOMER:
            conn.execute(sql, (customer_id,) if "?" in sql else ())
        self._known.forget(keep_seq=True)  # it knew the customer, its grants, its locks

    def delete_entity(self, customer_id: str, entity_id: str) -> None:
        """`StoreSession.delete_entity`."""
        self._writable().execute(_DELETE_ENTITY, (customer_id, entity_id))
