"""`meterlib import` at scale: rejected lines cost what good ones do; one line into a big ledger
costs what one `track` does.

- 200 000 lines that are all rejected (a quarter each: not JSON, not UTF-8, unknown keys, an
  unknown customer, which only the Ledger can tell) against 200 000 good lines, each imported
  into a fresh copy of the same SQLite file. Target ≤ 1.5×: rejections are linear (before issue
  16 the report was re-sorted on every rejection, 9 min 51 s for 200 000).
- One line imported into a ledger of 1 000 000 events against one `meterlib track` on the same
  file, both whole CLI commands in this process (opening the file included). Target ≤ 2×:
  import looks up its own keys only (before, it read every recorded key: 36 s).

`python -m benchmarks.imports [--quick]` runs both and prints the figures (`--quick`: seconds).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from benchmarks.plan import Run
from benchmarks.report import Row
from benchmarks.scale import build_sqlite
from meterlib.cli import cli

PLENTY = 10**15


def _cli(db: Path, *args: str) -> int:
    result = CliRunner().invoke(cli, ["--db", str(db), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code


def _good(n: int) -> bytes:
    return json.dumps({"customer_id": "acme", "feature_id": "messages", "value": n % 7}).encode()


def _rejected(n: int) -> bytes:
    kind = n % 4
    if kind == 0:
        return b'{"customer_id": "acme", "feature_id": '
    if kind == 1:
        return b'{"customer_id": "acme\xff", "feature_id": "messages"}'
    if kind == 2:
        return json.dumps({"customer_id": "acme", "colour": n}).encode()
    return json.dumps({"customer_id": f"ghost-{n}", "feature_id": "messages"}).encode()


def _file(path: Path, lines: int, line: Callable[[int], bytes]) -> Path:
    with path.open("wb") as out:
        for n in range(lines):
            out.write(line(n) + b"\n")
    return path


def _timed(op: Callable[[], object]) -> float:
    start = time.perf_counter()
    op()
    return time.perf_counter() - start


def _ratio(subject: list[float], baseline: list[float], **about: int) -> dict[str, Any]:
    """Medians (seconds) as the result a `Row.ratio` shows."""
    mine, theirs = statistics.median(subject), statistics.median(baseline)
    return {"ratio": mine / theirs, "meterlib_us": mine * 1e6, "baseline_us": theirs * 1e6, **about}


def rejected_vs_good(folder: Path, *, lines: int, rounds: int) -> dict[str, Any]:
    """Import `lines` rejected lines and `lines` good ones, each into a fresh ledger copy."""
    seed = folder / "seed.db"
    assert _cli(seed, "create", "acme", "messages", "--included", str(PLENTY)) == 0
    good = _file(folder / "good.jsonl", lines, _good)
    bad = _file(folder / "bad.jsonl", lines, _rejected)
    times: dict[str, list[float]] = {"good": [], "rejected": []}
    for r in range(rounds):
        order = [("good", good, 0), ("rejected", bad, 2)]
        for name, path, status in order if r % 2 == 0 else order[::-1]:
            db = folder / f"{name}-{r}.db"
            shutil.copy(seed, db)
            start = time.perf_counter()
            assert _cli(db, "import", str(path)) == status
            times[name].append(time.perf_counter() - start)
    return _ratio(times["rejected"], times["good"], lines=lines)


def one_line_into_big_ledger(folder: Path, *, events: int, rounds: int) -> dict[str, Any]:
    """One imported line against one CLI track, on a ledger of `events` events."""
    db = folder / "big.db"
    build_sqlite(db, customers=1000, events=events)
    times: dict[str, list[float]] = {"import": [], "track": []}
    for r in range(rounds):
        line = folder / f"one-{r}.jsonl"
        line.write_text(
            json.dumps({"customer_id": "cus_0000001", "feature_id": "messages", "value": r + 1})
            + "\n"
        )
        ops = {
            "import": lambda line=line: _cli(db, "import", str(line)),
            "track": lambda: _cli(db, "track", "cus_0000002", "messages"),
        }
        for name in ("import", "track") if r % 2 == 0 else ("track", "import"):
            times[name].append(_timed(ops[name]))
    return _ratio(times["import"], times["track"], events=events)


def run(folder: Path, *, quick: bool) -> dict[str, dict[str, Any]]:
    """Both measures (small sizes with `quick`)."""
    (folder / "lines").mkdir()
    (folder / "big").mkdir()
    return {
        "import_rejected": rejected_vs_good(
            folder / "lines", lines=2000 if quick else 200_000, rounds=1 if quick else 2
        ),
        "import_one_line": one_line_into_big_ledger(
            folder / "big", events=5000 if quick else 1_000_000, rounds=3 if quick else 9
        ),
    }


def rows(this: Run) -> list[Row]:
    """The two rows of the table `python -m benchmarks` prints."""
    found = run(this.own("imports"), quick=this.quick)
    rejected = this.record("import_rejected", found["import_rejected"])
    one = this.record("import_one_line", found["import_one_line"])
    return [
        Row.ratio(
            f"import of {rejected['lines']:,} rejected lines, SQLite",
            "as many good lines",
            rejected,
            "≤ 1.5×",
            1.5,
        ),
        Row.ratio(
            f"import of 1 line into {one['events']:,} events, SQLite",
            "one CLI track on that file",
            one,
            "≤ 2.0×",
            2.0,
        ),
    ]


def main() -> None:
    """Print both figures."""
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m benchmarks.imports")
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    quick = parser.parse_args().quick
    with tempfile.TemporaryDirectory() as tmp:
        found = run(Path(tmp), quick=quick)
    rejected, one = found["import_rejected"], found["import_one_line"]
    print(
        f"import of {rejected['lines']:,} rejected lines vs as many good ones: "
        f"{rejected['ratio']:.2f}× (target ≤ 1.5×; {rejected['meterlib_us'] / 1e6:.2f} s vs "
        f"{rejected['baseline_us'] / 1e6:.2f} s)"
    )
    print(
        f"import of 1 line into {one['events']:,} events vs one CLI track: {one['ratio']:.2f}× "
        f"(target ≤ 2×; {one['meterlib_us'] / 1000:.1f} ms vs {one['baseline_us'] / 1000:.1f} ms)"
    )


if __name__ == "__main__":
    main()
