"""Throughput of several processes tracking into one SQLite file (each its own customer)."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

from benchmarks.plan import Run
from benchmarks.report import Row
from meterlib import Ledger
from meterlib.stores import SQLiteStore

PLENTY = 10**12


def _worker(path: str, customer_id: str, ready: Any, seconds: float, counts: Any) -> None:
    with Ledger(SQLiteStore(path)) as ledger:
        ledger.track(customer_id, "messages")  # connect and warm up before the start line
        ready.wait()  # every process (and the parent) ready: all start together
        done = 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            ledger.track(customer_id, "messages")
            done += 1
        counts.put(done)


def tracks_per_second(folder: Path, *, processes: int, seconds: float) -> dict[str, Any]:
    """Tracks per second, summed over `processes` processes sharing one new WAL file; each
    counts for `seconds` once all of them have started and connected (however long that
    takes on a loaded machine)."""
    path = folder / f"shared_{processes}_{len(list(folder.iterdir()))}.db"
    with Ledger(SQLiteStore(path)) as ledger:
        for n in range(processes):
            ledger.create(f"cus_{n}", "messages", included=PLENTY, reset="month")
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(processes + 1)
    counts = context.Queue()
    children = [
        context.Process(target=_worker, args=(str(path), f"cus_{n}", ready, seconds, counts))
        for n in range(processes)
    ]
    for child in children:
        child.start()
    ready.wait()
    done = [counts.get() for _ in children]
    for child in children:
        child.join()
    return {
        "processes": processes,
        "seconds": seconds,
        "tracks": sum(done),
        "tracks_per_s": sum(done) / seconds,
        "per_process": done,
    }


def one_beside_many(
    folder: Path, *, many: int, seconds: float, rounds: int
) -> dict[str, dict[str, Any]]:
    """One process and `many` processes, alternated (the order swaps every round), each run
    on a new file; the run with the median throughput of each side."""
    runs: dict[int, list[dict[str, Any]]] = {1: [], many: []}
    for r in range(rounds):
        for count in (1, many) if r % 2 == 0 else (many, 1):
            runs[count].append(tracks_per_second(folder, processes=count, seconds=seconds))

    def median(found: list[dict[str, Any]]) -> dict[str, Any]:
        ranked = sorted(found, key=lambda item: float(item["tracks_per_s"]))
        return {**ranked[len(ranked) // 2], "all_tracks_per_s": [i["tracks_per_s"] for i in found]}

    return {"one": median(runs[1]), "many": median(runs[many])}


def rows(run: Run) -> list[Row]:
    """Several processes tracking into one SQLite file."""
    p = run.settings
    found = run.record(
        "processes",
        one_beside_many(run.own("processes"), many=4, seconds=p.seconds, rounds=p.process_rounds),
    )
    return [
        Row.throughput("4 processes tracking into one SQLite file", found["many"], found["one"])
    ]
