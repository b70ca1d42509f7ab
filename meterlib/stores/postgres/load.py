"""A customer's whole working state in ONE PostgreSQL statement, and its decoding.

The statement has one column per part of a `CustomerState`: each table's rows as one JSON
array of arrays, every cell what the row converters of `meterlib.stores.rows` take (numerics
and the json/jsonb columns as their text, so amounts and the callers' dicts come back digit
for digit and key for key). The catalogue comes back only when its key differs from
the one the store knows (the count and the catalogue's change number, bumped by every
update or delete of a feature, name a committed set);
the sequence numbers the operation needs are taken in the same statement.

The advisory locks are NOT taken in here: a statement reads the rows committed when it
started, so a lock awaited inside it would return the state from before the holder's
commit (a lost update). The session sends the locks as a statement of their own, in the
same pipeline, ahead of this one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

from meterlib.models import Lock
from meterlib.state import Catalogue, CustomerState, Want
from meterlib.stores import rows
from meterlib.stores.postgres import rows as pg
from meterlib.stores.session_adapter import controlled, entities_wanted

# the columns whose text a row converter takes (numeric, json, jsonb); the rest go as JSON
_AS_TEXT = frozenset(
    (
        "metadata", "billing_controls", "included", "rollover", "balance", "adjustment",
        "rollovers", "max_purchase", "spellings", "value", "items", "properties",
        "event_names", "credit_schema",
    )
)  # fmt: skip
_NONE = "NULL::json"
Known = tuple[int, Catalogue]  # a catalogue key (count + change number) and its catalogue
CHANGE_FACTOR = 2**32  # the key: feature count + this x the catalogue's change number


def _row(alias: str, columns: Sequence[str]) -> str:
    cells = (f'{alias}."{c}"::text' if c in _AS_TEXT else f'{alias}."{c}"' for c in columns)
    return f"json_build_array({', '.join(cells)})"


class Loader:
    """The load statements of one schema (one per shape, built once) and the catalogue the
    store keeps: one `Catalogue` per feature set, shared by every transaction."""

    def __init__(self, sql: pg.Statements) -> None:
        self._s = pg.quote_schema(sql.schema)
        self._schema = sql.schema
        self._statements: dict[tuple[Any, ...], str] = {}
        self._lock = threading.Lock()
        self.known: Known = (-1, Catalogue(()))

    def statement(self, want: Want, known: Known | None) -> tuple[str, dict[str, Any]]:
        """The load statement of `want` and its parameters; `known` is the catalogue the
        caller holds (None: send it in any case, as this transaction added features the
        committed count does not name)."""
        kinds = tuple(kind for kind, _ in want.seqs)
        shape = (bool(want.keys), bool(want.lock_ids), kinds)
        sql = self._statements.get(shape)
        if sql is None:
            sql = self._build(*shape)
            with self._lock:
                self._statements[shape] = sql
        params: dict[str, Any] = {
            "c": want.customer_id,
            "n": -1 if known is None else known[0],
            "e": list(want.entity_ids),
        }
        if want.keys:
            params["k"] = list(want.keys)
        if want.lock_ids:
            params["l"] = list(want.lock_ids)
        for i, (_, count) in enumerate(want.seqs):
            params[f"s{i}"] = count
        return sql, params

    def _build(self, keys: bool, lock_ids: bool, kinds: tuple[str, ...]) -> str:
        s = self._s
        grant = _row("g", (*rows.GRANT_COLUMNS, "spellings"))
        lock = _row("l", (*rows.LOCK_COLUMNS, "spellings"))
        counter = _row("k", (*rows.COUNTER_COLUMNS, "spellings"))
        feature = _row("f", rows.FEATURE_COLUMNS)
        parts = [
            f"(SELECT {_row('c', rows.CUSTOMER_COLUMNS)} FROM {s}.customers c WHERE c.id = %(c)s)",
            # the wanted entities and those of the customer's open locks (session_adapter's
            # entities_wanted: an expired lock gives back under its entity's controls)
            f"(SELECT json_agg({_row('e', rows.ENTITY_COLUMNS)} ORDER BY e.id) "
            f"FROM {s}.entities e WHERE e.customer_id = %(c)s AND (e.id = ANY(%(e)s) "
            f"OR e.id IN (SELECT h.entity_id FROM {s}.locks h WHERE h.customer_id = %(c)s)))",
            f"(SELECT json_agg({grant} ORDER BY g.seq, g.id) FROM {s}.grants g "
            "WHERE g.customer_id = %(c)s)",
            f"(SELECT json_agg({lock} ORDER BY l.created_at, l.lock_id) FROM {s}.locks l "
            "WHERE l.customer_id = %(c)s)",
            f"(SELECT json_agg({counter} ORDER BY k.key) FROM {s}.counters k "
            "WHERE k.customer_id = %(c)s)",
            f"(SELECT json_agg({lock}) FROM {s}.locks l WHERE l.lock_id = ANY(%(l)s))"
            if lock_ids
            else _NONE,
            "(SELECT json_agg(json_build_array(i.idempotency_key, i.expires_at)) "
            f"FROM {s}.idempotency_keys i WHERE i.idempotency_key = ANY(%(k)s))"
            if keys
            else _NONE,
            # the catalogue's key: its count and change number (see catalogue_version)
            f"(SELECT json_build_array(q.n, (SELECT json_agg({feature} ORDER BY f.seq, f.id) "
            f"FROM {s}.features f)) FROM (SELECT (SELECT count(*) FROM {s}.features) + "
            f"{CHANGE_FACTOR} * coalesce((SELECT value FROM {s}.catalogue_version), 0) AS n) q "
            "WHERE q.n <> %(n)s)",
        ]
        for i, kind in enumerate(kinds):
            name = pg.sequence_name(self._schema, kind).replace("'", "''")
            parts.append(
                f"(SELECT array_agg(v ORDER BY v) FROM (SELECT nextval('{name}') AS v "
                f"FROM generate_series(1, %(s{i})s)) q)"
            )
        return "SELECT " + ",\n  ".join(parts)

    def decode(self, want: Want, row: Sequence[Any], known: Known | None) -> CustomerState:
        """The CustomerState one row of the load statement (given `known`) holds."""
        customer, entities, grants, locks, counters, named, claims, features = row[:8]
        loads = json.loads
        found = {} if entities is None else {e[1]: e for e in loads(entities)}
        lock_rows = {} if named is None else {r[0]: r for r in loads(named)}
        claimed = {} if claims is None else dict(loads(claims))
        owner = None if customer is None else rows.customer_from_row(loads(customer))
        held = () if locks is None else tuple(pg.lock_from_row(r) for r in loads(locks))
        wanted = {
            eid: rows.entity_from_row(found[eid])
            for eid in entities_wanted(want, held)
            if eid in found
        }
        return CustomerState(
            want.customer_id,
            owner,
            wanted,
            () if grants is None else tuple(pg.grant_from_row(r) for r in loads(grants)),
            held,
            # counters only where billing controls may read them, as every store loads them
            {r[1]: pg.counter_from_row(r) for r in loads(counters)}
            if counters is not None and owner is not None and controlled(owner, wanted)
            else {},
            {lid: _lock_or_none(lock_rows.get(lid)) for lid in want.lock_ids},
            {key: claimed.get(key) for key in want.keys},
            {
                kind: tuple(values or ())
                for (kind, _), values in zip(want.seqs, row[8:], strict=True)
            },
            self._catalogue(features, known),
        )

    def _catalogue(self, features: str | None, known: Known | None) -> Catalogue:
        if features is None and known is not None and known[0] >= 0:
            return known[1]  # the key the statement was given still holds
        key, found = (-1, None) if features is None else json.loads(features)
        listed = [] if found is None else [rows.feature_from_row(r) for r in found]
        catalogue = Catalogue(listed)
        if known is not None and key >= 0:  # what this transaction read is committed: keep it
            self.known = (key, catalogue)
        return catalogue


def _lock_or_none(row: Sequence[Any] | None) -> Lock | None:
    return None if row is None else pg.lock_from_row(row)
