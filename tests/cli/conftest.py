"""Fixtures for the command line: a temporary ledger file and a runner bound to it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from meterlib.cli import cli

Run = Callable[..., Result]
RunJson = Callable[..., tuple[int, Any]]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where the ledger file of a test lives (not created yet)."""
    return tmp_path / "ledger.db"


@pytest.fixture
def run(db: Path) -> Run:
    """Runs `meterlib --db <db> ARGS...` in-process and returns click's Result."""
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(cli, ["--db", str(db), *args], input=stdin, env=env)

    return invoke


@pytest.fixture
def run_json(run: Run) -> RunJson:
    """Runs `meterlib --db <db> --json ARGS...`; returns the exit status and the parsed stdout."""

    def invoke(*args: str, stdin: str | None = None) -> tuple[int, Any]:
        result = run("--json", *args, stdin=stdin)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else None

    return invoke


@pytest.fixture
def acme(run: Run) -> str:
    """A ledger with customer acme holding 100 monthly messages (and 20 one-off ones)."""
    assert run("create", "acme", "messages", "--included", "100", "--reset", "month").exit_code == 0
    assert (
        run("create", "acme", "messages", "--included", "20", "--balance-id", "top-up").exit_code
        == 0
    )
    return "acme"
