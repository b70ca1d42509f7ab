"""The `autumn_fake` pytest fixture, registered through the `pytest11` entry point.

```python
def test_quota(autumn_fake):
    autumn_fake.ledger.create("c1", "messages", included=10, reset="month")
    assert autumn_fake.autumn.check(customer_id="c1", feature_id="messages").allowed
```
pytest loads this module in every run once meterlib is installed, with or without the
`autumn` extra, so it imports nothing optional until the fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from meterlib.autumn.sdk import AutumnFake


@pytest.fixture
def autumn_fake() -> Iterator[AutumnFake]:
    """A fresh in-memory Ledger on a ManualClock, and the real Autumn SDK client it answers."""
    try:
        from meterlib.autumn.sdk import AutumnFake  # noqa: PLC0415 - needs the optional extra
    except ImportError as exc:  # pragma: no cover - exercised in a subprocess
        pytest.fail(
            f'autumn_fake needs the autumn extra: pip install "meterlib[autumn]" ({exc})',
            pytrace=False,
        )
    with AutumnFake() as fake:
        yield fake
