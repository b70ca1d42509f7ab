"""Mutation testing of the pure rule modules with mutmut; writes tools/mutation_report.md.

    pip install -e '.[mutation]'
    python tools/mutation.py                 # every module, one after the other
    python tools/mutation.py rules.rollovers # some modules (or their last name: rollovers);
                                             # the report keeps the others' last run
    python tools/mutation.py --budget 20 windows   # cut a module off after 20 minutes

Not part of the default test run: a full run takes tens of minutes of CPU. Each module is mutated
in its own copy of the project (under --workdir), against only the unit tests that exercise it,
on the MemoryStore alone (the rules are the same on every store; the stores have their own suite).
A surviving mutant is either killed by a new test or listed in tools/mutation_equivalents.toml
with the reason it cannot change behaviour. The exit status is 1 while any survivor is unexplained.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = ROOT / "tools" / "mutation_equivalents.toml"
REPORT = ROOT / "tools" / "mutation_report.md"

L = "tests/ledger/test_"
C = "tests/controls/test_controls_"
# module (its path under meterlib/, dotted) -> the tests that exercise it; mutmut then runs, for
# each mutant, those of them that reach the mutated function (the property and soak tests stay
# out: slow, and no stronger)
MODULES: dict[str, list[str]] = {
    "rules.deduction": [
        *(f"{L}{name}.py" for name in ("track", "rollovers", "update_delete", "update_lots")),
        *(f"{L}{name}.py" for name in ("locks", "free_members", "check", "expiry_order")),
        f"{L}lot_changes.py",
        f"{L}delete_recalculate.py",
        *(f"{C}{name}.py" for name in ("windows", "window_lots", "spend")),
    ],
    "rules.ordering": [
        f"{L}{name}.py"
        for name in ("track", "expiry_order", "expiry", "rollovers", "grant_listing_order")
    ],
    "checking": [
        *(f"{L}{name}.py" for name in ("check", "check_details", "check_pools", "locks")),
        f"{L}free_members.py",
        "tests/controls",
    ],
    "rules.rollovers": [
        "tests/rules/test_rollover_lots.py",
        "tests/rules/test_resets_overage_lots.py",
        "tests/rules/test_month_end_lots.py",
        "tests/test_resets_merged.py",
        "tests/rules/test_sub_day_lot_walk.py",
        *(f"{L}{name}.py" for name in ("rollovers", "update_lots")),
    ],
    "rules.resets": [
        "tests/rules/test_resets.py",
        "tests/rules/test_resets_overage_lots.py",
        "tests/rules/test_rollover_lots.py",
        f"{L}rollovers.py",
    ],
    "intervals": ["tests/test_intervals.py", "tests/rules/test_resets.py"],
    "rules.balances": [
        *(f"{L}{name}.py" for name in ("create", "check", "track", "rollovers", "expiry")),
        "tests/rules/test_balances.py",
    ],
    "controls.windows": [
        *(f"{C}{name}.py" for name in ("windows", "window_lots", "window_edges", "spend")),
        "tests/controls/test_usage_limit_reads.py",
        "tests/controls/test_windows_rules.py",
    ],
    "controls.alerts": [
        *(f"{C}{name}.py" for name in ("notifications", "topups")),
        "tests/controls/test_alerts_rules.py",
    ],
}
# the module names of the report before issue 17 moved the files; still accepted on the command line
SHORT = {key.rsplit(".", 1)[-1]: key for key in MODULES} | {"resets_lots": "rules.rollovers"}
SHORT |= {"views": "rules.balances"}
# one store is enough for rules; hypothesis keeps its own example budget
# "-n 0": one process, from which mutmut reads which tests reach a mutant
PYTEST_ARGS = ["-k", "not sqlite and not postgres", "-x", "-q", "-n", "0"]
OUTCOMES = ("killed", "survived", "equivalent", "no tests", "timeout", "not checked", "other")


def describe(name: str, diff: str) -> str:
    """A mutant's stable key: its function, the code line before the change (the same change
    can be made in two places) and the lines it changes; never their numbers."""
    function = re.sub(r"__mutmut_\d+$", "", name.rsplit(".", 1)[-1])
    function = function.removeprefix("x_").removeprefix("x").replace("ǁ", ".").strip(".")
    removed, added, before = [], [], ""
    for line in diff.splitlines():
        text = " ".join(line[1:].split())
        if line.startswith(("---", "+++", "@@")):
            continue
        if line.startswith("-"):
            removed.append(text)
        elif line.startswith("+"):
            added.append(text)
        elif not removed and not added and text and not text.startswith("#"):
            before = text
    return f"{function}: {' / '.join(removed)} -> {' / '.join(added)} | after: {before}"


CUT = "cut off"


def mutmut(workdir: Path, *args: str, log: Path | None = None, budget: float | None = None) -> str:
    """Run mutmut in `workdir`; with a `log`, a run that may be cut off after `budget` seconds
    (its whole process group is killed: what it got through stays in its results)."""
    command = [sys.executable, "-m", "mutmut", *args]
    if log is None:
        done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=True)
        return done.stdout
    with log.open("w") as out:
        run = subprocess.Popen(
            command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = run.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
            print(f"   cut off after {budget:.0f} s: the rest is reported as not run", flush=True)
            return CUT
    if code:
        raise subprocess.CalledProcessError(code, command)
    return ""


# Appended to the copy's tests/conftest.py. mutmut's own limit (SIGXCPU after a multiple of the
# tests' measured time) did not stop every hung mutant; this one ends the test process with
# mutmut's "timeout" exit code once a single test runs longer than TEST_SECONDS.
TEST_SECONDS = 60
HANG_GUARD = f"""

import os as _os
import signal as _signal


def _hung(signum, frame):
    _os.write(2, b"mutation.py: a test ran over {TEST_SECONDS} s: timeout\\n")
    _os._exit(36)  # mutmut reads exit code 36 as "timeout"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    previous = _signal.signal(_signal.SIGALRM, _hung)
    _signal.alarm({TEST_SECONDS})
    try:
        return (yield)
    finally:
        _signal.alarm(0)
        _signal.signal(_signal.SIGALRM, previous)
"""

IGNORE = shutil.ignore_patterns("__pycache__", "*.db*", ".hypothesis")


def prepare(module: str, workdir: Path, *, fresh: bool = True) -> None:
    """A copy of the project whose pyproject tells mutmut what to mutate and which tests to run
    (not `fresh`: keep the mutants and their results, take the current tests)."""
    if fresh:
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        shutil.copytree(ROOT / "meterlib", workdir / "meterlib", ignore=IGNORE)
    else:
        shutil.rmtree(workdir / "tests")
    shutil.copytree(ROOT / "tests", workdir / "tests", ignore=IGNORE)
    with (workdir / "tests" / "conftest.py").open("a") as conftest:
        conftest.write(HANG_GUARD)
    settings = {
        "source_paths": ["meterlib"],
        "only_mutate": [f"meterlib/{module.replace('.', '/')}.py"],
        "pytest_add_cli_args": PYTEST_ARGS,
        "pytest_add_cli_args_test_selection": [t for t in MODULES[module] if (ROOT / t).exists()],
        "use_git_change_detection": False,
        "process_isolation": "forkserver",  # no worker inherits a process that ran tests
        "timeout_multiplier": 5.0,  # a mutant that loops is cut off sooner than at mutmut's 15x
    }
    section = "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    pyproject = (ROOT / "pyproject.toml").read_text()
    (workdir / "pyproject.toml").write_text(f"{pyproject}\n[tool.mutmut]\n{section}\n")


def run_module(
    module: str,
    workdir: Path,
    children: int,
    recheck: list[str] | None = None,
    *,
    collect: bool = False,
    budget: float | None = None,
    new_copy: bool = False,
) -> dict[str, object]:
    """Mutate one module; its mutants' outcomes with the description of every non-killed one.

    `recheck`: run only these mutants again (the survivors of the last run, or a sample of
    those it did not reach) against the current tests, in the last run's copy unless
    `new_copy`; the others keep their outcome. `collect`: run nothing, read what an
    interrupted run got through ("not checked" for the rest).
    """
    note = ""
    if not collect:
        prepare(module, workdir, fresh=recheck is None or new_copy)
        names = recheck or []
        log = workdir / ("recheck.log" if recheck else "run.log")
        run = ["run", "--max-children", str(children), *names]
        if mutmut(workdir, *run, log=log, budget=budget) == CUT:
            note = f"cut off after {budget:.0f} s (--budget)"
    mutants: dict[str, dict[str, str]] = {}
    for line in mutmut(workdir, "results", "--all", "true").splitlines():
        name, _, status = line.strip().rpartition(": ")
        if not name.startswith(f"meterlib.{module}.") or (recheck and name not in recheck):
            continue
        entry = {"status": status}
        if status not in ("killed", "not checked"):
            shown = mutmut(workdir, "show", name)
            entry["diff"] = shown.split("\n", 1)[1] if "\n" in shown else shown
            entry["key"] = describe(name, entry["diff"])
        mutants[name] = entry
    return {"module": module, "mutants": mutants, "note": note}


def load_equivalents() -> dict[tuple[str, str], str]:
    data = tomllib.loads(EQUIVALENTS.read_text()) if EQUIVALENTS.exists() else {}
    return {(e["module"], e["mutant"]): e["reason"] for e in data.get("equivalent", [])}


def render(results: dict[str, dict[str, object]], equivalents: dict[tuple[str, str], str]) -> str:
    lines = [
        "# Mutation report",
        "",
        "Written by `python tools/mutation.py` (mutmut, one module at a time, against the",
        "unit tests listed in its MODULES, MemoryStore only). Equivalent mutants and their",
        "reasons live in `tools/mutation_equivalents.toml`, keyed by function and changed text.",
        "",
        "A timeout (the tests hung on the mutant) counts as caught: mutmut's own limit (a",
        "multiple of the tests' measured time) or, for a test that runs over TEST_SECONDS,",
        "the guard this script adds to the copy's conftest; a hung mutant no longer stops a run.",
        "Every other mutant that no test failed on is either listed as equivalent below or an",
        'unexplained survivor. "not run": mutants a run cut off by --budget did not reach.',
        "",
        "| module | all | killed | survived | equivalent | no tests | timeout | not run | other |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    unexplained: list[str] = []
    explained: list[str] = []
    used: set[tuple[str, str]] = set()
    for module in MODULES:
        result = results.get(module)
        if result is None:
            lines.append(f"| {module} | not run | | | | | | | |")
            continue
        counts: Counter[str] = Counter()
        mutants: dict[str, dict[str, str]] = result["mutants"]  # type: ignore[assignment]
        for name, entry in sorted(mutants.items(), key=lambda item: natural(item[0])):
            status = entry["status"]
            if status in ("killed", "not checked"):
                counts[status] += 1
                continue
            entry["key"] = describe(name, entry["diff"])
            key = (module, entry["key"])
            if status == "survived" and key in equivalents:
                used.add(key)
                counts["equivalent"] += 1
                explained.append(f"- `{module}` — `{entry['key']}`: {equivalents[key]}")
                continue
            counts[status if status in OUTCOMES else "other"] += 1
            if status != "timeout":  # a mutant that makes the tests hang is caught
                unexplained.append(f"- `{name}` ({status}): `{entry['key']}`")
        total = sum(counts.values())
        cells = [counts[o] for o in OUTCOMES[:6]]
        other = counts["other"]
        lines.append(f"| {module} | {total} | " + " | ".join(map(str, [*cells, other])) + " |")
    notes = [f"- {m}: {r['note']}" for m, r in results.items() if r.get("note")]
    if notes:
        lines += ["", "How the last runs were made:", "", *notes]
    lines += ["", "## Commands", "", "```"]
    lines += [f"python tools/mutation.py {m}  # {' '.join(MODULES[m])}" for m in MODULES]
    lines += ["```", "", "## Unexplained survivors", ""]
    lines += unexplained or ["None."]
    lines += ["", "## Equivalent mutants (survive by construction)", ""]
    lines += explained or ["None."]
    stale = sorted(k for k in equivalents if k not in used and k[0] in results)
    if stale:
        title = "Listed as equivalent but caught in the last run (remove them, or rerun: a flake?)"
        lines += ["", f"## {title}", ""]
        lines += [f"- `{module}` — `{mutant}`" for module, mutant in stale]
    return "\n".join(lines) + "\n"


def natural(name: str) -> tuple[str, int]:
    head, _, number = name.rpartition("__mutmut_")
    return (head, int(number) if number.isdigit() else 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("modules", nargs="*", help=f"some of {', '.join(MODULES)} (default all)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/meterlib-mutation"))
    parser.add_argument("--children", type=int, default=1, help="parallel mutants (default 1)")
    parser.add_argument("--report-only", action="store_true", help="re-render from the last runs")
    parser.add_argument("--propose", action="store_true", help="print survivors as TOML stanzas")
    parser.add_argument("--collect", action="store_true", help="read an interrupted run's results")
    parser.add_argument(
        "--recheck",
        action="store_true",
        help="rerun the last run's unexplained survivors against the current tests",
    )
    parser.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="run every N-th mutant (natural order) the last run did not reach, in a new copy",
    )
    parser.add_argument(
        "--budget", type=float, help="minutes a module may run; then cut off, the rest not run"
    )
    args = parser.parse_args()
    modules = [SHORT.get(m, m) for m in args.modules] or list(MODULES)
    budget = args.budget * 60 if args.budget else None
    unknown = set(modules) - set(MODULES)
    if unknown:
        parser.error(f"unknown modules {sorted(unknown)}; choose among {list(MODULES)}")
    saved = ROOT / "tools" / "mutation_results.json"
    results: dict[str, dict[str, object]] = json.loads(saved.read_text()) if saved.exists() else {}
    if not args.report_only:
        for module in modules:
            print(f"== {module}", flush=True)
            workdir = args.workdir / module
            last: dict[str, dict[str, str]] = results.get(module, {}).get("mutants", {})  # type: ignore[assignment]
            if args.collect:
                results[module] = run_module(module, workdir, args.children, collect=True)
            elif args.sample and last:
                pending = [n for n, e in last.items() if e["status"] == "not checked"]
                picked = sorted(pending, key=natural)[:: args.sample]
                print(f"   sample: {len(picked)} of {len(pending)} mutants not run", flush=True)
                fresh = run_module(
                    module, workdir, args.children, picked, budget=budget, new_copy=True
                )
                last.update(fresh["mutants"])  # type: ignore[call-overload]
                note = f"a sample: 1 in {args.sample} of the {len(pending)} mutants not run before"
                if fresh["note"]:
                    note += f", {fresh['note']}"
                results[module] = {"module": module, "mutants": last, "note": note}
            elif args.recheck and last and workdir.exists():
                known = load_equivalents()  # survive by construction: no need to run them again
                again = [
                    n
                    for n, e in last.items()
                    if e["status"] not in ("killed", "timeout", "not checked")
                    and (module, describe(n, e["diff"])) not in known
                ]
                if not again:
                    continue
                fresh = run_module(module, workdir, args.children, again, budget=budget)
                last.update(fresh["mutants"])  # type: ignore[call-overload]
                results[module] = {**results[module], "mutants": last}  # keeps its note
            else:
                results[module] = run_module(module, workdir, args.children, budget=budget)
            saved.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    equivalents = load_equivalents()
    REPORT.write_text(render(results, equivalents))
    print(REPORT.read_text())
    survivors = [
        (result["module"], key)
        for result in results.values()
        for name, entry in result["mutants"].items()  # type: ignore[attr-defined]
        if entry["status"] not in ("killed", "timeout", "not checked")
        and (result["module"], key := describe(name, entry["diff"])) not in equivalents
    ]
    if args.propose:  # stanzas to paste into the equivalents file, reasons to be written
        for module, key in survivors:
            print(f'[[equivalent]]\nmodule = "{module}"\nmutant = {json.dumps(key)}\nreason = ""\n')
    return 1 if survivors else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
