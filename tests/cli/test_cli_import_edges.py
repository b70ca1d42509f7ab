"""Issue 16, item 5: `meterlib import` survives any file, one bad line at a time."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from meterlib.cli import cli
from meterlib.cli import importing as cli_import
from meterlib.ledger import Ledger
from meterlib.stores.sqlite.tx import SQLiteSession

Run = Callable[..., Result]
RunJson = Callable[..., tuple[int, Any]]

GOOD = {"customer_id": "acme", "feature_id": "messages", "value": 2}
GOOD_LINE = json.dumps(GOOD).encode()


def usage(run_json: RunJson) -> float:
    status, found = run_json("balances", "acme")
    assert status == 0
    return float(found["messages"]["usage"])


def write(path: Path, *lines: bytes) -> str:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return str(path)


def rejected(result: Result) -> dict[int, str]:
    """`line N: message` lines of stderr, by N."""
    out = {}
    for line in result.stderr.splitlines():
        if line.startswith("line "):
            number, message = line[5:].split(": ", 1)
            out[int(number)] = message
    return out


class TestBadLinesAreRejectedAlone:
    def test_a_non_utf8_byte_rejects_only_its_line(
        self, acme: str, run: Run, run_json: RunJson, tmp_path: Path
    ) -> None:
        """The file is not decoded whole: the lines around a bad byte still apply."""
        path = write(tmp_path / "f.jsonl", GOOD_LINE, b'{"customer_id": "acme\xff"}', GOOD_LINE)
        result = run("import", path)
        assert result.exit_code == 2
        assert "Traceback" not in result.output
        assert list(rejected(result)) == [2]
        assert "not UTF-8" in rejected(result)[2]
        assert usage(run_json) == 4

    def test_u2028_inside_a_string_does_not_split_the_line(
        self, acme: str, run_json: RunJson, tmp_path: Path
    ) -> None:
        """Only `\\n` ends a line; U+2028 and U+2029 inside a JSON string are text."""
        line = json.dumps({**GOOD, "properties": {"note": "a\u2028b\u2029c"}}, ensure_ascii=False)
        path = write(tmp_path / "f.jsonl", line.encode())
        status, report = run_json("import", path)
        assert (status, report["applied"], report["rejected"]) == (0, 1, [])
        _, events = run_json("events", "--customer", "acme")
        assert events["list"][0]["properties"] == {"note": "a\u2028b\u2029c"}

    @pytest.mark.parametrize(
        ("line", "says"),
        [
            (b"{not json", "not JSON"),
            (b'{"customer_id": "acme", "value": NaN}', "NaN"),
            (b'{"customer_id": "acme", "value": ' + b"9" * 5000 + b"}", "not JSON"),
            (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
            (b'{"customer_id": "acme", "colour": "red"}', "unknown keys ['colour']"),
            (b"[1, 2]", "expected a JSON object"),
            (b'{"customer_id": "acme", "feature_id": "nope"}', "Feature nope not found"),
        ],
        ids=["bad-json", "nan", "5000-digit-int", "deep", "unknown-key", "array", "meter-error"],
    )
    def test_each_kind_of_bad_line_is_one_line_of_report(
        self, acme: str, run: Run, run_json: RunJson, tmp_path: Path, *, line: bytes, says: str
    ) -> None:
        """Whatever is wrong with a line, it is `line N: <error>` and the next line applies."""
        path = write(tmp_path / "f.jsonl", GOOD_LINE, line, GOOD_LINE)
        result = run("import", path)
        assert result.exit_code == 2
        assert "Traceback" not in result.output
        assert list(rejected(result)) == [2]
        assert says in rejected(result)[2]
        assert result.stdout.strip() == "applied 2, duplicated 0, rejected 1"
        assert usage(run_json) == 4

    def test_report_is_in_line_order_when_a_batch_fails_late(
        self, acme: str, run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """Lines refused by the Ledger (settled when their batch fails) and lines refused while
        reading come out in line order."""
        monkeypatch.setattr(cli_import, "BATCH", 3)
        bad_feature = json.dumps({**GOOD, "feature_id": "nope"}).encode()
        path = write(
            tmp_path / "f.jsonl", bad_feature, GOOD_LINE, b"{x", bad_feature, GOOD_LINE, b"[]"
        )
        result = run("import", path)
        assert list(rejected(result)) == [1, 3, 4, 6]


class TestBatches:
    def test_a_bad_line_in_a_batch_leaves_the_others_applied_once(
        self, acme: str, run_json: RunJson, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A batch is all or nothing, so a failing one is applied again line by line:
        its good lines count exactly once."""
        monkeypatch.setattr(cli_import, "BATCH", 4)
        bad = json.dumps({**GOOD, "customer_id": "ghost"}).encode()
        path = write(tmp_path / "f.jsonl", *[GOOD_LINE] * 3, bad, *[GOOD_LINE] * 4)
        status, report = run_json("import", path)
        assert (status, report["applied"], len(report["rejected"])) == (2, 7, 1)
        assert usage(run_json) == 14

    def test_an_interrupted_run_then_a_rerun_counts_every_line_once(
        self,
        acme: str,
        run: Run,
        run_json: RunJson,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
    ) -> None:
        """Killed between batches (here: the third batch raises KeyboardInterrupt), the file
        run again with the same derived keys applies exactly what is missing."""
        monkeypatch.setattr(cli_import, "BATCH", 5)
        assert run("create", "acme", "messages", "--included", "1000").exit_code == 0
        lines = [json.dumps({**GOOD, "value": n}).encode() for n in range(1, 21)]
        path = write(tmp_path / "f.jsonl", *lines, *lines[:3])  # 3 lines repeated: count twice
        real = Ledger.batch_track
        calls = []

        def interrupted(self: Ledger, items: Any) -> Any:
            calls.append(len(items))
            if len(calls) == 3:
                raise KeyboardInterrupt
            return real(self, items)

        monkeypatch.setattr(Ledger, "batch_track", interrupted)
        assert run("import", path).exit_code != 0
        assert usage(run_json) == sum(range(1, 11))  # two whole batches
        monkeypatch.setattr(Ledger, "batch_track", real)
        status, report = run_json("import", path)
        assert (status, report["applied"], report["duplicated"]) == (0, 13, 10)
        assert usage(run_json) == sum(range(1, 21)) + 1 + 2 + 3

    def test_duplicates_are_looked_up_by_key_not_by_reading_every_event(
        self,
        acme: str,
        run: Run,
        run_json: RunJson,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
    ) -> None:
        """Each key of the file is looked up once; the ledger's events are never listed."""
        for n in range(30):
            run("track", "acme", "messages", "--value", "0", "--idempotency-key", f"old-{n}")
        looked_up: list[str] = []
        real = SQLiteSession.get_idempotency_key

        def spy(self: SQLiteSession, key: str) -> int | None:
            looked_up.append(key)
            return real(self, key)

        def no_listing(*args: object, **kwargs: object) -> None:
            raise AssertionError("import listed the ledger's events")

        monkeypatch.setattr(SQLiteSession, "get_idempotency_key", spy)
        monkeypatch.setattr(Ledger, "events", no_listing)
        path = write(
            tmp_path / "f.jsonl",
            json.dumps({**GOOD, "idempotency_key": "old-3"}).encode(),
            json.dumps({**GOOD, "idempotency_key": "new-1"}).encode(),
        )
        result = run("--json", "import", path)
        report = json.loads(result.stdout)
        assert (report["applied"], report["duplicated"]) == (1, 1)
        # the import's lookups, then the track's own claim of new-1
        assert looked_up == ["track:old-3", "track:new-1", "track:new-1"]


class TestLedgerFailures:
    def test_a_ledger_that_cannot_be_written_stops_the_import_in_one_line(
        self, acme: str, db: Path, tmp_path: Path
    ) -> None:
        """A StoreError is the ledger's failure, not the lines': one line, not one per line."""
        path = write(tmp_path / "f.jsonl", *[GOOD_LINE] * 20)
        result = CliRunner().invoke(cli, ["--db", f"sqlite:///{db}?mode=ro", "import", path])
        assert result.exit_code == 2
        assert "Traceback" not in result.output
        assert "line " not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
        assert len(errors) == 1
        assert "read-only" in errors[0]


class TestExportIsNotABackup:
    def test_an_export_file_is_refused_whole_in_one_line(
        self, acme: str, run: Run, run_json: RunJson, tmp_path: Path
    ) -> None:
        """Re-importing `export`'s output says why in one line and changes nothing."""
        run("track", "acme", "messages", "--value", "3")
        path = tmp_path / "audit.jsonl"
        assert run("export", "-o", str(path)).exit_code == 0
        before = usage(run_json)
        result = run("import", str(path))
        assert result.exit_code == 2
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
        assert len(errors) == 1
        assert "not a backup" in errors[0]
        assert "line " not in result.stderr
        assert usage(run_json) == before

    def test_an_export_record_among_track_lines_is_rejected_with_the_reason(
        self, acme: str, run: Run, tmp_path: Path
    ) -> None:
        """Further down a file, an export record is one rejected line saying the same."""
        record = json.dumps({"kind": "event", "event": {"value": 1}}).encode()
        result = run("import", write(tmp_path / "f.jsonl", GOOD_LINE, record))
        assert result.exit_code == 2
        assert "not a backup" in rejected(result)[2]
