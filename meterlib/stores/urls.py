"""Stores by URL: "memory://", "sqlite:///relative.db", "sqlite:////absolute.db".

A SQLite URL takes SQLite's own `?mode=ro` (read-only) or `?mode=rw`; the query is never
part of the file name.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from meterlib.errors import InvalidRequest, StoreError
from meterlib.stores.memory import MemoryStore
from meterlib.stores.protocol import Store


def _memory(rest: str) -> Store:
    if rest:
        raise InvalidRequest(f"memory:// takes no path (received {rest!r})", field="url")
    return MemoryStore()


def _sqlite(rest: str) -> Store:
    from meterlib.stores.sqlite.store import SQLiteStore  # noqa: PLC0415

    path, _, query = rest.partition("?")
    if not path.startswith("/") or path == "/":
        raise InvalidRequest(
            "sqlite URLs look like sqlite:///relative/path.db or sqlite:////absolute/path.db",
            field="url",
        )
    options = dict(parse_qsl(query, keep_blank_values=True))
    mode = options.pop("mode", "rw")
    if options or mode not in ("ro", "rw"):
        raise InvalidRequest(
            f"sqlite URL query {query!r}: the only option is mode=ro (read-only) or mode=rw",
            field="url",
        )
    return SQLiteStore(path[1:], read_only=mode == "ro")


def _postgres(rest: str) -> Store:
    try:
        from meterlib.stores.postgres.store import PostgresStore  # noqa: PLC0415
    except ImportError:
        raise StoreError(
            "postgresql:// URLs need psycopg 3 and psycopg-pool: pip install 'meterlib[postgres]'"
            " (from a checkout: pip install -e '.[postgres]')"
        ) from None

    store: Store = PostgresStore("postgresql://" + rest)
    return store


_SCHEMES: dict[str, Callable[[str], Store]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgresql": _postgres,
    "postgres": _postgres,
}


def open_store(url: str) -> Store:
    """The store `url` names."""
    if not isinstance(url, str) or "://" not in url:
        raise InvalidRequest(
            f"store URL {url!r}: expected scheme://..., e.g. memory:// or sqlite:///meter.db",
            field="url",
        )
    scheme, rest = url.split("://", 1)
    opener = _SCHEMES.get(scheme)
    if opener is None:
        raise InvalidRequest(
            f"unknown store scheme {scheme!r} in {url!r}; expected one of {', '.join(_SCHEMES)}",
            field="url",
        )
    return opener(rest)
