"""The state seam of the store contract (`meterlib.testing.contract_state`) on PostgreSQL."""

from __future__ import annotations

from postgres_server import psycopg_or_skip, throwaway_store

psycopg = psycopg_or_skip()

from meterlib.stores import Store  # noqa: E402
from meterlib.testing.contract_state import StateContract  # noqa: E402


class TestPostgresState(StateContract):
    """The state seam on PostgreSQL, each test in a schema of its own."""

    def make_store(self) -> Store:
        """A fresh PostgresStore in an empty schema."""
        return throwaway_store()
