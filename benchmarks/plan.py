"""How long each measure runs, and what a row module is handed (`Run`).

A row module exposes `rows(run: Run) -> list[Row]`: it measures with `run.settings`, keeps each
raw result with `run.record(name, value)` (it lands in `--json`), takes a fresh folder per
measure from `run.own(name)`, and returns its table rows. `benchmarks/__main__.py` lists the
modules in table order; registering one more is one line there.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TypeVar

from attrs import field, frozen

T = TypeVar("T")


@frozen
class Settings:
    """How long each measure runs."""

    number: int  # calls per round, MemoryStore
    rounds: int
    sqlite_number: int  # calls per round, SQLite
    batch: int  # items of the batch_track measure
    batch_rounds: int
    big: int  # customers and events of the big store
    small: int  # customers of the small one
    scale_number: int
    scale_rounds: int
    memory_rows: int
    seconds: float  # of each multi-process run
    process_rounds: int
    customers: int  # tracked in turn beside limits, whose windows expire
    window_number: int  # calls per round beside limits' moving window (see memory.py)
    window_rounds: int


FULL = Settings(
    number=2000,
    rounds=15,
    sqlite_number=500,
    batch=1000,
    batch_rounds=7,
    big=1_000_000,
    small=1000,
    scale_number=500,
    scale_rounds=12,
    memory_rows=10_000,
    seconds=2.0,
    process_rounds=3,
    customers=1000,
    window_number=20_000,
    window_rounds=9,
)
QUICK = Settings(
    number=200,
    rounds=3,
    sqlite_number=50,
    batch=100,
    batch_rounds=2,
    big=5000,
    small=100,
    scale_number=50,
    scale_rounds=4,
    memory_rows=200,
    seconds=0.3,
    process_rounds=1,
    customers=100,
    window_number=200,
    window_rounds=3,
)


@frozen
class Run:
    """One run of the benchmarks: its settings, its scratch folder and its raw results."""

    settings: Settings
    folder: Path
    quick: bool
    results: dict[str, Any] = field(factory=dict)

    def record(self, name: str, value: T) -> T:
        """Keep a measure's raw result for `--json` (and say it is done)."""
        print(f"  {name} done", file=sys.stderr, flush=True)
        self.results[name] = value
        return value

    def own(self, name: str) -> Path:
        """A new folder for one measure: no measure sees another's files."""
        path = self.folder / name
        path.mkdir()
        return path
