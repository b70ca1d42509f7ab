"""`python -m benchmarks [--quick] [--only SECTION ...] [--json PATH]`: measure, print the table."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import (
    catch_up,
    floors,
    growth,
    imports,
    memory,
    postgres,
    processes,
    scale,
    sqlite,
    usage,
)
from benchmarks.plan import FULL, QUICK, Run
from benchmarks.report import Row, render
from benchmarks.timing import machine

# The row modules, in table order: each measures and returns its rows (see benchmarks/plan.py).
SECTIONS: dict[str, Callable[[Run], list[Row]]] = {
    "memory": memory.rows,
    "sqlite": sqlite.rows,
    "scale": scale.rows,
    "catch_up": catch_up.rows,
    "floors": floors.rows,
    "processes": processes.rows,
    "imports": imports.rows,
    "growth": growth.rows,
    "postgres": postgres.rows,
    "usage": usage.rows,
}


def run(
    quick: bool, folder: Path, only: Sequence[str] = tuple(SECTIONS)
) -> tuple[list[Row], dict[str, Any]]:
    """The measures of the sections `only` (all by default); the table rows and the raw results."""
    this = Run(QUICK if quick else FULL, folder, quick)
    table = [row for name, section in SECTIONS.items() if name in only for row in section(this)]
    return table, this.results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the table, write JSON if asked."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run (for CI)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results here")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=tuple(SECTIONS),
        default=tuple(SECTIONS),
        metavar="SECTION",
        help=f"run these sections only ({', '.join(SECTIONS)})",
    )
    given = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(given)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="meterlib-bench-") as tmp:
        rows, results = run(args.quick, Path(tmp), args.only)
    about = machine()
    print(render(rows, about, quick=args.quick))
    if args.json is not None:
        payload = {
            "command": " ".join(["python -m benchmarks", *given]),
            "quick": args.quick,
            "machine": about,
            "seconds": time.perf_counter() - started,
            "table": [row.to_dict() for row in rows],
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
