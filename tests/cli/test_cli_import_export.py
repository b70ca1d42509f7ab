"""`meterlib import` (JSON lines of track arguments) and `meterlib export`, through CliRunner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result

from meterlib.cli import importing as cli_import

Run = Callable[..., Result]  # the `run` fixture of conftest.py
RunJson = Callable[..., tuple[int, Any]]  # the `run_json` fixture


def lines(*items: object) -> str:
    """A JSON-lines file body: dicts are dumped, strings kept as they are."""
    return "".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items)


def usage(run_json: RunJson, customer: str = "acme", feature: str = "messages") -> float:
    """The customer's usage of a feature, read through the CLI."""
    status, found = run_json("balances", customer)
    assert status == 0
    return float(found[feature]["usage"])


GOOD = {"customer_id": "acme", "feature_id": "messages", "value": 2}
OLD = {"customer_id": "acme", "feature_id": "messages", "timestamp": "2025-06-01T00:00:00Z"}


class TestImport:
    """Replaying track events: counts, rejected lines, re-runs."""

    def test_applies_every_good_line(self, acme: str, run: Run, tmp_path: Path) -> None:
        """Good lines are applied, blank lines skipped, and the summary counts them."""
        path = tmp_path / "usage.jsonl"
        path.write_text(lines(GOOD, "", OLD, {**GOOD, "value": 0.5, "properties": {"m": 1.5}}))
        result = run("import", str(path))
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == "applied 3, duplicated 0, rejected 0"
        assert "importing" in result.stderr

    def test_bad_lines_are_reported_and_never_stop_the_rest(
        self, acme: str, run_json: RunJson, run: Run, tmp_path: Path
    ) -> None:
        """Each bad line is `line N: <error>` on stderr, the others apply, and the exit is 2."""
        path = tmp_path / "usage.jsonl"
        body = lines(
            GOOD,
            "{not json",
            {**GOOD, "feature_id": "nope"},
            [1, 2],
            {**GOOD, "colour": "red"},
            {**GOOD, "timestamp": "2999-01-01"},
            {**GOOD, "value": "x"},
            {"feature_id": "messages"},
            GOOD,
        )
        path.write_text(body)
        result = run("import", str(path))
        assert result.exit_code == 2
        assert result.stdout.strip() == "applied 2, duplicated 0, rejected 7"
        reported = [line for line in result.stderr.splitlines() if line.startswith("line ")]
        assert [r.split(":")[0] for r in reported] == [f"line {n}" for n in range(2, 9)]
        assert "line 8: customer_id" in result.stderr
        assert "line 3: Feature nope not found" in reported
        assert usage(run_json) == 4

    def test_json_report(self, acme: str, run_json: RunJson, tmp_path: Path) -> None:
        """--json prints one document with the counts and each rejected line."""
        path = tmp_path / "usage.jsonl"
        path.write_text(lines(GOOD, {"customer_id": "ghost", "feature_id": "messages"}))
        status, report = run_json("import", str(path))
        assert status == 2
        assert report == {
            "applied": 1,
            "duplicated": 0,
            "rejected": [
                {"line": 2, "error": "Customer ghost not found", "code": "customer_not_found"}
            ],
        }

    def test_rerun_counts_nothing_twice(self, acme: str, run_json: RunJson, tmp_path: Path) -> None:
        """A second import of the same file applies nothing; identical lines still count twice."""
        path = tmp_path / "usage.jsonl"
        path.write_text(lines(GOOD, GOOD, OLD, {**GOOD, "idempotency_key": "k1", "value": 5}))
        assert run_json("import", str(path))[1]["applied"] == 4
        assert usage(run_json) == 10
        status, again = run_json("import", str(path))
        assert status == 0
        assert (again["applied"], again["duplicated"]) == (0, 4)
        assert usage(run_json) == 10

    def test_appended_lines_are_the_only_new_ones(
        self, acme: str, run_json: RunJson, tmp_path: Path
    ) -> None:
        """Re-running a file that grew applies only the lines added since."""
        path = tmp_path / "usage.jsonl"
        path.write_text(lines(GOOD))
        run_json("import", str(path))
        path.write_text(lines(GOOD, GOOD, OLD))
        _, report = run_json("import", str(path))
        assert (report["applied"], report["duplicated"]) == (2, 1)
        assert usage(run_json) == 5

    def test_explicit_key_repeated_in_the_file(
        self, acme: str, run_json: RunJson, tmp_path: Path
    ) -> None:
        """A key seen earlier in the file, or already in the ledger, is a duplicate."""
        keyed = {**GOOD, "idempotency_key": "k9"}
        path = tmp_path / "usage.jsonl"
        path.write_text(lines(keyed, keyed))
        _, report = run_json("import", str(path))
        assert (report["applied"], report["duplicated"]) == (1, 1)

    def test_a_failed_line_does_not_keep_its_key(
        self, acme: str, run_json: RunJson, tmp_path: Path
    ) -> None:
        """When the first line with a key is rejected, a later good line with it applies."""
        path = tmp_path / "usage.jsonl"
        path.write_text(
            lines(
                {**GOOD, "idempotency_key": "k", "feature_id": "nope"},
                {**GOOD, "idempotency_key": "k"},
            )
        )
        _, report = run_json("import", str(path))
        assert (report["applied"], report["duplicated"], len(report["rejected"])) == (1, 0, 1)

    def test_key_scope_and_no_derived_keys(
        self, acme: str, run_json: RunJson, tmp_path: Path
    ) -> None:
        """--key-scope keeps identical keyless lines of files apart; --no-derive-keys does not."""
        first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
        first.write_text(lines(GOOD))
        second.write_text(lines(GOOD))
        run_json("import", str(first))
        assert run_json("import", str(second))[1]["duplicated"] == 1
        assert run_json("import", "--key-scope", "b", str(second))[1]["applied"] == 1
        assert run_json("import", "--no-derive-keys", str(second))[1]["applied"] == 1
        assert usage(run_json) == 6

    def test_derived_keys_are_recorded_on_the_events(
        self, acme: str, run: Run, tmp_path: Path
    ) -> None:
        """An imported keyless line's event carries its derived key, so audits can trace it."""
        path = tmp_path / "usage.jsonl"
        path.write_text(lines(GOOD))
        run("import", str(path))
        key = cli_import.parse_line(json.dumps(GOOD), seen={}, scope="")["idempotency_key"]
        assert key.startswith("import:")
        assert key in run("events", "--customer", "acme").stdout

    def test_stdin_and_many_lines(self, acme: str, run_json: RunJson) -> None:
        """'-' reads stdin; more lines than one batch are all applied exactly once."""
        count = cli_import.BATCH + 20
        body = lines(*({**GOOD, "value": 0.1, "idempotency_key": f"e{n}"} for n in range(count)))
        status, report = run_json("import", "-", stdin=body)
        assert status == 0
        assert report["applied"] == count
        assert usage(run_json) == count / 10

    def test_keys_are_stable(self) -> None:
        """The derived key depends on the line's content and its repeat count, not key order."""
        seen: dict[str, int] = {}
        one = cli_import.parse_line('{"customer_id": "a", "value": 1}', seen=seen, scope="")
        two = cli_import.parse_line('{"value": 1, "customer_id": "a"}', seen=seen, scope="")
        fresh = cli_import.parse_line('{"customer_id": "a", "value": 1}', seen={}, scope="")
        assert one["idempotency_key"].endswith(":1")
        assert two["idempotency_key"] == one["idempotency_key"][:-1] + "2"
        assert fresh["idempotency_key"] == one["idempotency_key"]


class TestExport:
    """export writes the ledger as JSON lines."""

    def test_json_lines(self, acme: str, run: Run) -> None:
        """Every line is one JSON object naming its kind; events come oldest first."""
        run("create", acme, "messages", "--entity-id", "seat-1", "--included", "3")
        run("track", acme, "messages", "--value", "1", "--timestamp", "2025-06-01")
        run("track", acme, "messages", "--value", "2", "--timestamp", "2025-01-01")
        result = run("export")
        assert result.exit_code == 0
        records = [json.loads(line) for line in result.stdout.splitlines()]
        kinds = [r["kind"] for r in records]
        assert kinds == ["feature", "customer", "balance", "balance", "event", "event"]
        assert records[3]["entity_id"] == "seat-1"
        assert records[2]["balance"]["usage"] == 3
        assert [r["event"]["value"] for r in records[4:]] == [2, 1]

    def test_to_a_file_and_as_one_document(
        self, acme: str, run: Run, run_json: RunJson, tmp_path: Path
    ) -> None:
        """-o writes the lines to a file; --json alone prints one document grouped by kind."""
        run("create", "other", "calls", "--included", "1")
        out = tmp_path / "audit.jsonl"
        result = run("export", "-o", str(out), "--customer", acme)
        assert result.exit_code == 0
        assert "wrote 4 records" in result.stdout
        assert len(out.read_text().splitlines()) == 4
        status, grouped = run_json("export")
        assert status == 0
        assert [c["id"] for c in grouped["customers"]] == [acme, "other"]  # not nested twice
        assert len(grouped["features"]) == 2
        assert grouped["events"] == []
