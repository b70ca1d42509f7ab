"""Clocks: the system clock by default, a ManualClock for tests and time travel."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from dateutil.relativedelta import relativedelta

from meterlib.errors import InvalidRequest
from meterlib.instants import FIRST_MS, LAST_MS, instant, to_datetime, to_ms

Clock = Callable[[], "int | float | datetime"]


def system_clock() -> int:
    """Now, in epoch milliseconds."""
    return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that only moves when told to: `advance(days=3)`, `set(t)`.

    Calling it returns epoch milliseconds; `.now()` returns the aware UTC datetime.
    """

    def __init__(self, start: datetime | int | float) -> None:
        self._ms = instant(start, field="start")

    def __call__(self) -> int:
        return self._ms

    def now(self) -> datetime:
        """The current instant as an aware UTC datetime."""
        return to_datetime(self._ms)

    def set(self, t: datetime | int | float) -> None:
        """Move to instant `t` (an aware datetime or epoch ms); backwards is allowed."""
        self._ms = instant(t, field="t")

    def advance(self, **relativedelta_kwargs: int) -> None:
        """Move forward by a relativedelta, e.g. `advance(months=1, days=2)`, or `milliseconds=`."""
        ms = relativedelta_kwargs.pop("milliseconds", 0)
        try:
            step = relativedelta(**relativedelta_kwargs)  # type: ignore[arg-type]
            moved = to_ms(self.now() + step, field="t") + ms
        except (OverflowError, ValueError, TypeError) as exc:  # past year 9999, or not ints
            raise InvalidRequest(
                f"advance: cannot move from {self.now().isoformat()} by that step: "
                f"{type(exc).__name__}; instants go to 9999-12-31"
            ) from None
        self._ms = instant(moved, field="advance")

    def __repr__(self) -> str:
        return f"ManualClock({self.now().isoformat()})"


def read_clock(clock: Clock) -> int:
    """Epoch ms from any clock callable (returning ms or an aware datetime), which must lie
    from 1970 to 9999 like every instant meterlib takes (`InvalidRequest` otherwise)."""
    ms = to_ms(clock(), field="clock()")
    if not FIRST_MS <= ms <= LAST_MS:
        return instant(ms, field="clock()")
    return ms
