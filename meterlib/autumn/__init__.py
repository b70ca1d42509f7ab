"""The Autumn bridge (`pip install "meterlib[autumn]"`): the real autumn-sdk, answered by a Ledger.

```python
t = AutumnTransport(ledger)
autumn = Autumn(secret_key="am_sk_test", client=httpx.Client(transport=t),
                async_client=httpx.AsyncClient(transport=t), fail_open=False)
```
Or `autumn_client(ledger)`, or `AutumnFake()` (what the `autumn_fake` pytest fixture yields).
Nothing else in meterlib imports this package, httpx or autumn_sdk.

The names load on first use, so the pytest plugin registered by this package imports
without httpx installed (a `meterlib` installed without the extra still runs pytest).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meterlib.autumn.routes import ERRORS, ROUTES
    from meterlib.autumn.sdk import AutumnFake, autumn_client, repair_features
    from meterlib.autumn.transport import AutumnTransport

_HOMES = {
    "ERRORS": "meterlib.autumn.routes",
    "ROUTES": "meterlib.autumn.routes",
    "AutumnFake": "meterlib.autumn.sdk",
    "autumn_client": "meterlib.autumn.sdk",
    "repair_features": "meterlib.autumn.sdk",
    "AutumnTransport": "meterlib.autumn.transport",
}

__all__ = ["ERRORS", "ROUTES", "AutumnFake", "AutumnTransport", "autumn_client", "repair_features"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'meterlib.autumn' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
