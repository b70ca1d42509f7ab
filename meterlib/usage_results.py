"""What `Ledger.usage` answers: a report of bins, each bin's usage per feature (and per group),
and the window's totals. Exact Decimals and aware UTC datetimes; `.to_dict()` is Autumn's
`events.aggregate` body (epoch ms, numbers rounded to 10 dp)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from attrs import frozen

from meterlib.instants import to_ms
from meterlib.quantity import to_json_number


@frozen(kw_only=True)
class UsageTotal:
    """A feature's events in the window: how many, and their values summed."""

    count: int
    sum: Decimal

    def to_dict(self) -> dict[str, Any]:
        """Autumn's total entry."""
        return {"count": self.count, "sum": to_json_number(self.sum)}


@frozen(kw_only=True)
class UsagePeriod:
    """One bin `[start, end)`: each feature's usage in it, and by group when grouped."""

    start: datetime
    end: datetime
    values: dict[str, Decimal]
    grouped: dict[str, dict[str, Decimal]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Autumn's list item: `period` (epoch ms of the start), `values`, `grouped_values`."""
        out: dict[str, Any] = {
            "period": to_ms(self.start, field="period"),
            "values": {f: to_json_number(v) for f, v in self.values.items()},
        }
        if self.grouped is not None:
            out["grouped_values"] = {
                f: {g: to_json_number(v) for g, v in groups.items()}
                for f, groups in self.grouped.items()
            }
        return out


@frozen(kw_only=True)
class UsageReport:
    """The bins from start to end (every one present, empty ones 0) and the window's totals."""

    periods: tuple[UsagePeriod, ...]
    total: dict[str, UsageTotal]

    def to_dict(self) -> dict[str, Any]:
        """Autumn's events.aggregate body: `total` lists the features with events only."""
        return {
            "list": [p.to_dict() for p in self.periods],
            "total": {f: t.to_dict() for f, t in self.total.items() if t.count},
        }
