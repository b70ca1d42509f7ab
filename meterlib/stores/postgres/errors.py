"""What a PostgresStore's failures say: where its URL points, without the password
(`describe`), and the StoreError, saying what to do, for each psycopg or pool error
(`translate_error`, the one place psycopg's errors are translated).
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import PoolClosed, PoolTimeout

from meterlib.errors import StoreError


def describe(url: str) -> str:
    """Where `url` points, without its password: "PostgreSQL database 'db' on host:port"."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "PostgreSQL (unparsable URL)"
    host = info.get("host") or info.get("hostaddr") or "the local socket"
    port = f":{info['port']}" if info.get("port") else ""
    return f"PostgreSQL database {info.get('dbname') or '(default)'!r} on {host}{port}"


def translate_error(exc: BaseException, *, where: str, timeout: float) -> StoreError:
    """The StoreError, saying what to do, for a psycopg or pool error; raise it `from exc`."""
    state = getattr(exc, "sqlstate", None)
    if isinstance(exc, PoolTimeout):
        message = (
            f"no free connection within {timeout:g} s; raise max_size (and the server's "
            "max_connections) or timeout=, or shorten transactions"
        )
    elif isinstance(exc, PoolClosed):
        message = "the store is closed; open a new PostgresStore"
    elif state == "40001":
        message = "a serialization failure aborted the transaction; nothing was written, retry"
    elif state == "40P01":
        message = "a deadlock aborted the transaction; nothing was written, retry"
    elif state == "55P03":
        message = (
            f"another transaction held the customer (or key) for more than {timeout:g} s; "
            "nothing was written, retry or raise timeout="
        )
    elif state == "57014":
        message = "the statement was cancelled (statement_timeout or a cancel request)"
    elif state in ("28000", "28P01"):
        message = "authentication failed; check the user and password in the URL"
    elif state == "3D000":
        message = "the database does not exist; create it first"
    elif state == "42501":
        message = (
            "permission denied; the user needs CREATE on the database (or an existing "
            "schema) and rights on meterlib's tables"
        )
    elif state in ("53300", "53400"):
        message = "the server refuses more connections; lower max_size or raise max_connections"
    elif state in ("53100", "53200"):
        message = "the server is out of disk space or memory"
    elif isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        message = "the connection failed or was lost; check that the server is up and reachable"
    else:
        message = "unexpected PostgreSQL error"
    return StoreError(f"{where}: {message} ({type(exc).__name__}: {exc})".rstrip())
