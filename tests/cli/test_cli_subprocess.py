"""The installed entry point as a real process: `python -m meterlib` on a temporary file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import meterlib

SOURCE = str(Path(meterlib.__file__).resolve().parents[1])


def meterlib_process(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m meterlib --db DB ARGS...` and capture its output."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SOURCE, os.environ.get("PYTHONPATH", "")])}
    env.pop("METERLIB_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "meterlib", "--db", str(db), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


class TestProcess:
    """Exit statuses and output streams as a shell sees them (few processes: each costs ~1 s)."""

    def test_grant_import_check_and_error(self, tmp_path: Path) -> None:
        """A grant (0), an import with a bad line (2), a denied check (1), a library error (2)."""
        db = tmp_path / "ledger.db"
        created = meterlib_process(db, "create", "acme", "messages", "--included", "9")
        assert created.returncode == 0, created.stderr
        assert "messages: granted 9, remaining 9, usage 0" in created.stdout

        usage = tmp_path / "usage.jsonl"
        usage.write_text(
            '{"customer_id": "acme", "feature_id": "messages", "value": 4}\n'
            "oops\n"
            '{"customer_id": "acme", "feature_id": "messages", "value": 1}\n'
        )
        imported = meterlib_process(db, "import", str(usage))
        assert imported.returncode == 2
        assert imported.stdout.strip() == "applied 2, duplicated 0, rejected 1"
        assert "line 2: not JSON" in imported.stderr

        denied = meterlib_process(db, "--json", "check", "acme", "messages",
                                  "--required-balance", "5")  # fmt: skip
        assert denied.returncode == 1
        answer = json.loads(denied.stdout)
        assert answer["allowed"] is False
        assert answer["balance"]["remaining"] == 4

        failed = meterlib_process(db, "track", "ghost", "messages")
        assert failed.returncode == 2
        assert failed.stdout == ""
        assert failed.stderr.strip() == "Error: Customer ghost not found (customer_not_found)"
