"""Stores by URL: "memory://", "sqlite:///relative.db", "sqlite:////absolute.db"."""

from __future__ import annotations

from collections.abc import Callable

from meterlib.errors import InvalidRequest
from meterlib.stores.memory import MemoryStore
from meterlib.stores.protocol import Store


def _memory(rest: str) -> Store:
    if rest:
        raise InvalidRequest(f"memory:// takes no path (received {rest!r})", field="url")
    return MemoryStore()


def _sqlite(rest: str) -> Store:
    from meterlib.stores.sqlite import SQLiteStore  # noqa: PLC0415

    if not rest.startswith("/") or rest == "/":
        raise InvalidRequest(
            "sqlite URLs look like sqlite:///relative/path.db or sqlite:////absolute/path.db",
            field="url",
        )
    return SQLiteStore(rest[1:])


def _postgres(rest: str) -> Store:
    from meterlib.stores.postgres import PostgresStore  # noqa: PLC0415

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
