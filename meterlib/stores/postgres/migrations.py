"""The migration runner of a PostgresStore: creates or upgrades its schema to
`postgres_rows.LATEST_VERSION`, once, under an advisory lock, however many processes start at
the same time; and refuses a schema that is not meterlib's or was written by a newer one.
"""

from __future__ import annotations

import psycopg

from meterlib.errors import StoreError
from meterlib.stores.postgres import rows as pg
from meterlib.stores.postgres.errors import translate_error
from meterlib.stores.postgres.rows import Connection

_MIGRATION_LOCK = "migrate"


def migrate(url: str, sql: pg.Statements, *, where: str, timeout: float) -> None:
    """Create or upgrade the schema, once, however many processes start at the same time."""
    try:
        conn: Connection = psycopg.connect(
            url, autocommit=True, connect_timeout=max(1, round(timeout))
        )
    except psycopg.Error as exc:
        raise translate_error(exc, where=where, timeout=timeout) from exc
    schema = pg.quote_schema(sql.schema)
    try:
        with conn:
            if _applied(conn, sql.schema, where) == pg.LATEST_VERSION:
                return
            with conn.transaction():
                # Serialise the migrating processes; the loser finds the work done.
                conn.execute(sql.lock, (pg.lock_key(sql.schema, _MIGRATION_LOCK, ""),))
                applied = _applied(conn, sql.schema, where)
                if applied == pg.LATEST_VERSION:
                    return
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                conn.execute(pg.SCHEMA_VERSION_TABLE.format(s=schema))
                for version, name, ddl in pg.MIGRATIONS:
                    if version > applied:
                        conn.execute(ddl.format(s=schema))
                        conn.execute(
                            f"INSERT INTO {schema}.schema_version (version, name) VALUES (%s, %s)",
                            (version, name),
                        )
    except psycopg.Error as exc:
        raise translate_error(exc, where=where, timeout=timeout) from exc


def _applied(conn: Connection, schema: str, where: str) -> int:
    """The schema's version (0: none yet); StoreError for a foreign or a newer schema."""
    found = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL, "
        "(SELECT count(*) FROM pg_tables WHERE schemaname = %s)",
        (f"{pg.quote_schema(schema)}.schema_version", schema),
    ).fetchone()
    has_versions, tables = found if found is not None else (False, 0)
    if not has_versions:
        if tables:
            raise StoreError(
                f"{where}: schema {schema!r} holds {tables} table(s) that are not meterlib's; "
                "meterlib will not write into it, pass another schema="
            )
        return 0
    versions = [
        v
        for (v,) in conn.execute(
            f"SELECT version FROM {pg.quote_schema(schema)}.schema_version ORDER BY version"
        )
    ]
    newer = [v for v in versions if v > pg.LATEST_VERSION]
    if newer:
        raise StoreError(
            f"{where}: schema {schema!r} was written by a newer meterlib (schema version "
            f"{newer[-1]}, this one knows up to {pg.LATEST_VERSION}); upgrade meterlib"
        )
    return max(versions, default=0)
