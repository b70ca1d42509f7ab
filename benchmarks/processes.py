"""Throughput of several processes tracking into one SQLite file (each its own customer)."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

from meterlib import Ledger
from meterlib.stores import SQLiteStore

PLENTY = 10**12


def _worker(path: str, customer_id: str, start_at: float, seconds: float) -> int:
    with Ledger(SQLiteStore(path)) as ledger:
        ledger.track(customer_id, "messages")  # connect and warm up before the start line
        while time.time() < start_at:
            time.sleep(0.001)
        done = 0
        end = start_at + seconds
        while time.time() < end:
            ledger.track(customer_id, "messages")
            done += 1
        return done


def tracks_per_second(folder: Path, *, processes: int, seconds: float) -> dict[str, Any]:
    """Tracks per second, summed over `processes` processes sharing one WAL file."""
    path = folder / f"shared_{processes}.db"
    with Ledger(SQLiteStore(path)) as ledger:
        for n in range(processes):
            ledger.create(f"cus_{n}", "messages", included=PLENTY, reset="month")
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 1.5  # time for the children to start and import meterlib
    with context.Pool(processes) as pool:
        counts = pool.starmap(
            _worker, [(str(path), f"cus_{n}", start_at, seconds) for n in range(processes)]
        )
    return {
        "processes": processes,
        "seconds": seconds,
        "tracks": sum(counts),
        "tracks_per_s": sum(counts) / seconds,
        "per_process": counts,
    }
