"""The real autumn-sdk client wired to a Ledger, and a workaround for autumn-sdk 1.2.0.

`autumn_client(ledger)` builds `autumn_sdk.Autumn` answered by the ledger (sync and async);
`AutumnFake` adds a fresh in-memory ledger on a ManualClock (what the `autumn_fake` fixture
yields).

autumn-sdk 1.2.0's `autumn.features` raises NameError.
Two of its model modules (`createfeatureop`, `updatefeatureop`) use four names before they
define them, so the first access to `autumn.features` fails and keeps failing. For the time of
one import, `repair_features()` defines those names as `typing.Any` in `builtins`, imports the
modules (they then stay cached and work), and removes the names again. Nothing else changes;
one "dimensions" union member of the feature create/update response models becomes `Any`.
Calling it again, or with an SDK that is not broken, does nothing.
"""

from __future__ import annotations

import builtins
import importlib
import threading
import typing
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from meterlib.autumn.transport import AutumnTransport
from meterlib.clock import ManualClock
from meterlib.ledger import Ledger
from meterlib.stores.memory import MemoryStore

if TYPE_CHECKING:
    from meterlib.stores.protocol import Store

MISSING_NAMES = (
    "CreateFeatureDimensionsResponse5TypedDict",
    "CreateFeatureDimensionsResponse5",
    "UpdateFeatureDimensionsResponse5TypedDict",
    "UpdateFeatureDimensionsResponse5",
)
MODULES = (
    "autumn_sdk.models.createfeatureop",
    "autumn_sdk.models.updatefeatureop",
    "autumn_sdk.features",
)
_LOCK = threading.Lock()


def _import_all() -> None:
    for module in MODULES:
        importlib.import_module(module)


def repair_features() -> bool:
    """Make `Autumn(...).features` usable; True if the workaround was needed and applied.

    Does nothing (returns False) when autumn-sdk is not installed or imports cleanly.
    """
    with _LOCK:
        try:
            _import_all()
        except ImportError:
            return False
        except NameError:
            pass
        else:
            return False
        added = [name for name in MISSING_NAMES if not hasattr(builtins, name)]
        for name in added:
            setattr(builtins, name, typing.Any)
        try:
            _import_all()
        finally:
            for name in added:
                delattr(builtins, name)
        return True


def autumn_client(
    ledger: Ledger,
    *,
    secret_key: str = "am_sk_test",
    fail_open: bool = False,
) -> Any:
    """`autumn_sdk.Autumn` answered in-process by `ledger`, through both of its httpx clients.

    `fail_open` is off: a server error raises instead of quietly allowing (autumn-wire §1.6).
    """
    transport = AutumnTransport(ledger)
    return _sdk(transport, httpx.Client(transport=transport), secret_key, fail_open=fail_open)


def _sdk(
    transport: AutumnTransport, client: httpx.Client, secret_key: str, *, fail_open: bool
) -> Any:
    from autumn_sdk import Autumn  # noqa: PLC0415 - the optional dependency, loaded when used

    repair_features()
    return Autumn(
        secret_key=secret_key,
        client=client,
        async_client=httpx.AsyncClient(transport=transport),
        fail_open=fail_open,
    )


DEFAULT_START = datetime(2025, 1, 1, tzinfo=UTC)


class AutumnFake:
    """A fresh Ledger on a ManualClock and the real Autumn SDK client it answers.

    `.autumn` is the client (`fail_open=False`), `.ledger` the ledger, `.clock` its clock;
    `.advance(days=3)` moves time. Use it as a context manager, or call `close()`.
    """

    def __init__(
        self, *, start: datetime | int = DEFAULT_START, store: Store | None = None
    ) -> None:
        self.clock = ManualClock(start)
        self.ledger: Ledger = Ledger(
            store if store is not None else MemoryStore(), clock=self.clock
        )
        self.transport = AutumnTransport(self.ledger)
        self._http = httpx.Client(transport=self.transport)
        self.autumn: Any = _sdk(self.transport, self._http, "am_sk_test", fail_open=False)

    def advance(self, **relativedelta_kwargs: int) -> None:
        """Move the clock forward, e.g. `advance(months=1)`; resets and expiries follow."""
        self.clock.advance(**relativedelta_kwargs)

    def now(self) -> datetime:
        """The fake's current instant, an aware UTC datetime."""
        return self.clock.now()

    def close(self) -> None:
        """Close the sync httpx client and the ledger (the async client holds nothing)."""
        self._http.close()
        self.ledger.close()

    def __enter__(self) -> AutumnFake:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
