"""The PostgreSQL server the tests use, and stores in throwaway schemas on it.

The server is `METERLIB_TEST_POSTGRES_URL` when set (`tests/postgres.sh -- pytest` sets it);
otherwise the first test that needs one starts a throwaway cluster with `tests/postgres.sh
start` (stopped when the test run ends). Tests that need PostgreSQL are skipped, with the
reason, only when neither works: psycopg is not installed or no server can be started.
`METERLIB_TEST_POSTGRES=require` (CI) turns those skips into failures; `=off` skips them all.
The database is the tests' own: they create and drop schemas in it (`meterlib` among them).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from meterlib.stores.postgres.store import PostgresStore

URL_VARIABLE = "METERLIB_TEST_POSTGRES_URL"
MODE_VARIABLE = "METERLIB_TEST_POSTGRES"  # "require", "off", or unset
SCRIPT = Path(__file__).with_name("postgres.sh")
_START_TIMEOUT = 180  # seconds for initdb + start + createdb

_server: dict[str, str] = {}  # "url" once found, or "skip": the reason there is none


def _script(command: str, timeout: float, *, state: str | None = None) -> str:
    """Run `tests/postgres.sh COMMAND` (with its state in `state`, if given); its output."""
    env = dict(os.environ)
    if state is not None:
        env["METERLIB_PG_STATE"] = state
    try:
        done = subprocess.run(
            ["bash", str(SCRIPT), command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"tests/postgres.sh {command} failed: {exc}") from exc
    if done.returncode != 0:
        raise RuntimeError(f"tests/postgres.sh {command} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _stop_quietly(state: str) -> None:
    """Stop the private cluster at exit; a failure here must not mask the test results."""
    with contextlib.suppress(RuntimeError):
        _script("stop", 120, state=state)


def _start_cluster() -> str:
    """The URL of the cluster `tests/postgres.sh start` left running, if any (it stays
    running), else of a private one, stopped when this process exits. RuntimeError if none."""
    try:
        return _script("url", 30)
    except RuntimeError:
        pass
    state = os.path.join(tempfile.gettempdir(), f"meterlib-test-postgres.pid{os.getpid()}")
    atexit.register(_stop_quietly, state)
    # the script prints: export METERLIB_TEST_POSTGRES_URL='postgresql://...'
    return _script("start", _START_TIMEOUT, state=state).split("=", 1)[1].strip("'")


def unavailable(reason: str) -> None:
    """Skip the calling test (or module) because PostgreSQL is unavailable; fail instead
    under METERLIB_TEST_POSTGRES=require."""
    if os.environ.get(MODE_VARIABLE) == "require":
        pytest.fail(f"{reason} ({MODE_VARIABLE}=require)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def psycopg_or_skip() -> Any:
    """The psycopg module; skips the calling module (fails, if required) without it."""
    try:
        import psycopg
        import psycopg_pool  # noqa: F401
    except ImportError:
        unavailable(
            'PostgreSQL tests need psycopg 3 and psycopg-pool: pip install -e ".[postgres]"'
        )
    return psycopg


def server_url() -> str:
    """The URL of a PostgreSQL server for tests; skips the calling test if there is none."""
    if "url" not in _server and "skip" not in _server:
        url = os.environ.get(URL_VARIABLE)
        if os.environ.get(MODE_VARIABLE) == "off":
            _server["skip"] = f"PostgreSQL tests are off ({MODE_VARIABLE}=off)"
        elif url:
            _server["url"] = url
        else:
            try:
                _server["url"] = _start_cluster()
            except RuntimeError as exc:
                _server["skip"] = (
                    f"no PostgreSQL server: {URL_VARIABLE} is not set and a throwaway "
                    f"cluster could not be started ({exc}); install PostgreSQL "
                    "(Debian: apt-get install -y postgresql) or set the variable"
                )
    if "skip" in _server:
        unavailable(_server["skip"])
    psycopg_or_skip()
    return _server["url"]


def new_schema() -> str:
    """A schema name no other test uses."""
    return f"test_{uuid.uuid4().hex}"


def drop_schema(url: str, schema: str) -> None:
    """Drop a test's schema and everything in it."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# Migrated schemas emptied by a closed throwaway store, for the next one: emptying is several
# times faster than creating the tables again. Dropped when the test run ends.
_clean: list[str] = []
_made: list[str] = []


def _empty_schema(url: str, schema: str) -> None:
    """Delete every row of a meterlib schema and restart its sequences."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            f'"{schema}"."{name}"'
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s "
                "AND tablename <> 'schema_version'",
                (schema,),
            )
        ]
        sequences = [
            f'ALTER SEQUENCE "{schema}"."{name}" RESTART'
            for (name,) in conn.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = %s", (schema,)
            )
        ]
        # DELETE: on a test's few rows it is many times faster than TRUNCATE
        conn.execute(";".join([*(f"DELETE FROM {t}" for t in tables), *sequences]))


def _drop_made() -> None:
    url = _server.get("url")
    if url:
        for schema in _made:
            drop_schema(url, schema)


@functools.cache
def _throwaway_class() -> type[PostgresStore]:
    from meterlib.stores.postgres.store import PostgresStore

    class ThrowawayPostgresStore(PostgresStore):
        """A PostgresStore whose schema is emptied on close, for the next test to reuse."""

        def close(self) -> None:
            """Close the pool, then empty the schema."""
            if self._closed:
                return
            super().close()
            _empty_schema(self.url, self.schema)
            _clean.append(self.schema)

    atexit.register(_drop_made)
    return ThrowawayPostgresStore


def throwaway_store(**settings: Any) -> PostgresStore:
    """A PostgresStore in an empty schema of the test server that no open store uses."""
    url = server_url()
    cls = _throwaway_class()
    if _clean:
        schema = _clean.pop()
    else:
        schema = new_schema()
        _made.append(schema)
    return cls(url, schema=schema, **settings)
