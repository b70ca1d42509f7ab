"""Issue 16, item 6: the command line at its edges: one line and exit 2 for bad input, read
commands on a read-only file, `?mode=ro` URLs, `--json` errors, readable tables."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from meterlib.cli import cli
from meterlib.errors import StoreError
from meterlib.stores.sqlite.store import SQLiteStore

Run = Callable[..., Result]
RunJson = Callable[..., tuple[int, Any]]

READS = [
    ["balances", "acme"],
    ["flags", "acme"],
    ["events"],
    ["check", "acme", "messages"],
    ["export"],
    ["features", "list"],
    ["customers", "list"],
]


def one_clean_line(result: Result) -> str:
    """The single error line of a refusal: exit 2, no traceback (a usage error may come
    after click's two lines of usage hint)."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if lines and lines[0].startswith("Usage:"):
        lines = lines[2:]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


class TestMissingExtra:
    def test_postgres_url_without_psycopg_names_the_install(
        self, run: Run, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No psycopg: one line naming `pip install 'meterlib[postgres]'`, not 40 of traceback."""
        monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
        monkeypatch.delitem(sys.modules, "meterlib.stores.postgres.store", raising=False)
        runner = CliRunner()
        result = runner.invoke(cli, ["--db", "postgresql://u@127.0.0.1:1/db", "balances", "acme"])
        line = one_clean_line(result)
        assert "pip install 'meterlib[postgres]'" in line


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """`read_only` of every SQLiteStore opened from now on, in order."""
    found: list[bool] = []
    real = SQLiteStore.__init__

    def spy(self: SQLiteStore, path: Any, **kwargs: Any) -> None:
        found.append(kwargs.get("read_only", False))
        real(self, path, **kwargs)

    monkeypatch.setattr(SQLiteStore, "__init__", spy)
    return found


class TestReadOnly:
    def test_sqlite_url_with_mode_ro_is_understood(
        self, acme: str, db: Path, tmp_path: Path
    ) -> None:
        """`?mode=ro` opens the file read-only: reads work, writes are refused, and no file
        literally named `ledger.db?mode=ro` appears."""
        runner = CliRunner()
        url = f"sqlite:///{db}?mode=ro"
        result = runner.invoke(cli, ["--db", url, "--json", "balances", "acme"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["messages"]["granted"] == 120
        refused = runner.invoke(cli, ["--db", url, "track", "acme", "messages"])
        assert "read-only" in one_clean_line(refused)
        assert sorted(p.name for p in tmp_path.iterdir() if "?" in p.name) == []

    def test_sqlite_url_with_another_option_is_refused(self, db: Path) -> None:
        result = CliRunner().invoke(cli, ["--db", f"sqlite:///{db}?cache=x", "events"])
        assert "mode=ro" in one_clean_line(result)

    @pytest.mark.parametrize("args", READS, ids=lambda a: " ".join(a))
    def test_read_commands_open_the_file_read_only(
        self, acme: str, run: Run, args: list[str], opened: list[bool]
    ) -> None:
        """Every command that only reads asks SQLite for a read-only connection."""
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert opened == [True]

    def test_read_commands_open_a_sqlite_url_read_only_too(
        self, acme: str, db: Path, opened: list[bool]
    ) -> None:
        """`sqlite:///...` without a mode is opened read-only by a read command."""
        runner = CliRunner()
        assert runner.invoke(cli, ["--db", f"sqlite:///{db}", "events"]).exit_code == 0
        assert (
            runner.invoke(cli, ["--db", f"sqlite:///{db}", "track", "acme", "messages"]).exit_code
            == 0
        )
        assert opened == [True, False]

    def test_a_read_only_store_refuses_writes_and_reads_what_is_there(self, acme: str, db: Path):
        with SQLiteStore(db, read_only=True) as store:
            with store.transaction(write=False) as session:
                assert session.get_customer("acme") is not None
            with pytest.raises(StoreError, match="read-only"), store.transaction() as session:
                session.put_idempotency_key("k", 1)

    def test_a_file_this_user_may_only_read(self, acme: str, db: Path) -> None:
        """A real read-only file (and folder): read commands work, writes fail in one line.

        Root may write anything, so as root the commands run as `nobody`."""
        folder = Path(tempfile.mkdtemp(prefix="meterlib-ro-"))
        try:
            shutil.copy(db, folder / "ledger.db")
            (folder / "ledger.db").chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            folder.chmod(0o555)
            for args in (["balances", "acme"], ["events"]):
                done = run_as_reader(folder / "ledger.db", *args)
                assert done.returncode == 0, done.stderr
                assert "Traceback" not in done.stderr
            done = run_as_reader(folder / "ledger.db", "track", "acme", "messages")
            assert done.returncode == 2
            assert "Traceback" not in done.stderr
            assert len(done.stderr.strip().splitlines()) == 1
        finally:
            folder.chmod(0o755)
            shutil.rmtree(folder)


def run_as_reader(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`meterlib --db DB ARGS` in a process that may not write DB: as root, one without the
    capabilities that let root ignore file permissions."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("as root this needs util-linux's setpriv to give up DAC override")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "meterlib", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=db.parent,
        check=False,
    )


class TestDemo:
    @pytest.mark.parametrize("start", ["9999-12-31T23:59:59Z", "-5", "99999999999999999"])
    def test_a_start_the_demo_cannot_run_from_is_a_usage_error(
        self, run: Run, db: Path, start: str
    ) -> None:
        """The demo plays a month on: a start past 9999-10 (or before 1970) is refused first."""
        line = one_clean_line(run("demo", "--start", start))
        assert "1970-01-01 to 9999-10-31" in line
        assert not db.exists()


class TestJsonErrors:
    @pytest.mark.parametrize(
        ("args", "code"),
        [
            (["track", "acme", "nope"], "feature_not_found"),
            (["track", "acme", "messages", "--value", "x"], "invalid_inputs"),
            (["track", "acme", "messages", "--properties", "{"], "invalid_inputs"),
            (["create", "acme", "messages", "--no-such-option"], "invalid_inputs"),
        ],
        ids=["library-error", "bad-number", "bad-json-option", "usage-error"],
    )
    def test_an_error_is_a_json_document_on_stdout_and_a_line_on_stderr(
        self, acme: str, run: Run, args: list[str], code: str
    ) -> None:
        result = run("--json", *args)
        line = one_clean_line(result)
        document = json.loads(result.stdout)
        assert document["error"]["code"] == code
        assert document["error"]["message"] in line


class TestOutput:
    def test_huge_values_do_not_stretch_tables(self, run: Run) -> None:
        """Long ids, long properties and numbers of many digits stay within a screen or two."""
        customer = "c" * 200
        assert (
            run("create", customer, "f" * 200, "--included", "123456789012345.123456789").exit_code
            == 0
        )
        props = json.dumps({f"k{n}": "v" * 50 for n in range(20)})
        tracked = run("track", customer, "f" * 200, "--value", "0.000000001", "--properties", props)
        assert tracked.exit_code == 0, tracked.output
        for args in (["balances", customer], ["events"], ["customers", "list"]):
            out = run(*args).stdout
            assert max(len(line) for line in out.splitlines()) <= 400, args

    def test_event_times_print_in_one_format(self, acme: str, run: Run) -> None:
        """On the minute or not, an event time is `YYYY-MM-DD HH:MM:SSZ`."""
        run("track", "acme", "messages", "--timestamp", "2026-01-01T03:30:00Z")
        run("track", "acme", "messages", "--timestamp", "2026-01-01T03:26:40Z")
        rows = run("events").stdout.splitlines()[2:]
        times = [row.split("  ")[0] for row in rows]
        assert times == ["2026-01-01 03:30:00Z", "2026-01-01 03:26:40Z"]
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", t) for t in times)

    def test_export_json_does_not_nest_records_twice(self, acme: str, run_json: RunJson) -> None:
        run_json("track", "acme", "messages")
        status, document = run_json("export")
        assert status == 0
        assert document["features"][0]["id"] == "messages"
        assert document["customers"][0]["id"] == "acme"
        assert document["events"][0]["customer_id"] == "acme"
        balance = document["balances"][0]
        assert (balance["customer_id"], balance["feature_id"], balance["granted"]) == (
            "acme",
            "messages",
            120,
        )

    def test_every_option_of_every_command_has_help(self) -> None:
        missing = [
            f"{' '.join(path)} {option.opts[0]}"
            for path, command in commands()
            for option in command.params
            if isinstance(option, click.Option) and not option.help
        ]
        assert missing == []


def commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> Iterator[Any]:
    """Every command under `group`, with its path of names."""
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
