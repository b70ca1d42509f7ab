"""PostgresStore's pages, feature changes and deletes (a mixin of its session).

A feature changed or deleted bumps `catalogue_version`, which names the committed catalogue
with the feature count (see `meterlib.stores.postgres.load`). Deleting a customer or an
entity first takes the customer's advisory lock, as every write of a customer does.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

from meterlib.catalogue_edits import FeatureUsers, entity_page_params
from meterlib.models import Customer, Entity, Feature
from meterlib.stores import rows
from meterlib.stores.postgres import rows as pg
from meterlib.stores.postgres.simple import Rows

if TYPE_CHECKING:
    from meterlib.stores.postgres.wire import Slot


class _Sql:
    """The statements of one schema."""

    def __init__(self, schema: str) -> None:
        s = pg.quote_schema(schema)
        customers = pg._select(s, "customers", rows.CUSTOMER_COLUMNS)
        entities = pg._select(s, "entities", rows.ENTITY_COLUMNS)
        self.customers = customers + ' ORDER BY id COLLATE "C" LIMIT %s'
        self.customers_after = customers + ' WHERE id > %s ORDER BY id COLLATE "C" LIMIT %s'
        order = ' ORDER BY customer_id COLLATE "C", id COLLATE "C" LIMIT %s'
        self.entities = {
            (False, False): entities + order,
            (False, True): entities + " WHERE (customer_id, id) > (%s, %s)" + order,
            (True, False): entities + " WHERE customer_id = %s" + order,
            (True, True): entities + " WHERE customer_id = %s AND id > %s" + order,
        }
        self.used_grants = (
            pg._select(s, "grants", pg._GRANT_COLUMNS) + " WHERE feature_id = %s ORDER BY seq, id"
        )
        self.used_entities = entities + " WHERE feature_id = %s ORDER BY customer_id, id"
        self.used_locks = (
            pg._select(s, "locks", pg._LOCK_COLUMNS) + " WHERE feature_id = %s ORDER BY lock_id"
        )
        self.update_feature = (
            f"UPDATE {s}.features SET name = %s, type = %s, consumable = %s, event_names = %s, "
            "credit_schema = %s WHERE id = %s"
        )
        self.delete_feature = f"DELETE FROM {s}.features WHERE id = %s"
        self.bump = (
            f"INSERT INTO {s}.catalogue_version AS v (id, value) VALUES (1, 1) "
            "ON CONFLICT (id) DO UPDATE SET value = v.value + 1"
        )
        self.delete_entity = f"DELETE FROM {s}.entities WHERE customer_id = %s AND id = %s"
        owned = ("entities", "grants", "locks", "counters", "events", "hourly_totals")
        self.delete_customer = (
            *(f"DELETE FROM {s}.{table} WHERE customer_id = %s" for table in owned),
            f"DELETE FROM {s}.customers WHERE id = %s",
        )


@cache
def _sql(schema: str) -> _Sql:
    return _Sql(schema)


class PostgresCatalogueEdits:
    """The catalogue-edit methods of `PostgresSession`."""

    __slots__ = ()

    if TYPE_CHECKING:
        _slot: Slot
        _sql: pg.Statements

        def _run(self, sql: str, params: Iterable[Any] = ()) -> Rows: ...
        def _writable(self) -> None: ...
        def _lock(self, kind: str, name: str) -> None: ...

    def page_customers(self, *, after: str | None, limit: int) -> list[Customer]:
        """`StoreSession.page_customers`."""
        sql = _sql(self._sql.schema)
        found = (
            self._run(sql.customers, (limit,))
            if after is None
            else self._run(sql.customers_after, (after, limit))
        )
        return [rows.customer_from_row(r) for r in found]

    def page_entities(
        self, *, customer_id: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[Entity]:
        """`StoreSession.page_entities`."""
        params = entity_page_params(customer_id, after)
        sql = _sql(self._sql.schema).entities[customer_id is not None, after is not None]
        return [rows.entity_from_row(r) for r in self._run(sql, (*params, limit))]

    def feature_users(self, feature_id: str) -> FeatureUsers:
        """`StoreSession.feature_users`."""
        sql = _sql(self._sql.schema)
        return FeatureUsers(
            tuple(pg.grant_from_row(r) for r in self._run(sql.used_grants, (feature_id,))),
            tuple(rows.entity_from_row(r) for r in self._run(sql.used_entities, (feature_id,))),
            tuple(pg.lock_from_row(r) for r in self._run(sql.used_locks, (feature_id,))),
        )

    def _catalogue_changed(self, statement: str, params: tuple[Any, ...]) -> None:
        self._writable()
        self._slot.features_added = True  # the committed key no longer names its catalogue
        self._run(statement, params)
        self._run(_sql(self._sql.schema).bump)

    def replace_feature(self, feature: Feature) -> None:
        """`StoreSession.replace_feature` (its seq is kept)."""
        row = rows.feature_to_row(feature)
        self._catalogue_changed(_sql(self._sql.schema).update_feature, (*row[2:], feature.id))

    def delete_feature(self, feature_id: str) -> None:
        """`StoreSession.delete_feature`."""
        self._catalogue_changed(_sql(self._sql.schema).delete_feature, (feature_id,))

    def delete_customer(self, customer_id: str) -> None:
        """`StoreSession.delete_customer`."""
        self._writable()
        self._lock("customer", customer_id)
        for statement in _sql(self._sql.schema).delete_customer:
            self._run(statement, (customer_id,))

    def delete_entity(self, customer_id: str, entity_id: str) -> None:
        """`StoreSession.delete_entity`."""
        self._writable()
        self._lock("customer", customer_id)
        self._run(_sql(self._sql.schema).delete_entity, (customer_id, entity_id))
