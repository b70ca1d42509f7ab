"""`meterlib dump`, `restore` and `copy`: a ledger file moved whole to another store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from cli.conftest import Run

from meterlib import Ledger, ManualClock
from meterlib.stores import SQLiteStore


def _size(db: Path) -> int:
    wal = Path(f"{db}-wal")
    return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _seeded(run: Run) -> None:
    assert run("create", "c1", "api", "--included", "10", "--reset", "month").exit_code == 0
    assert run("track", "c1", "api", "--value", "2.5", "--idempotency-key", "k").exit_code == 0


def test_dump_then_restore_into_a_new_file(run: Run, db: Path, tmp_path: Path) -> None:
    _seeded(run)
    out = tmp_path / "ledger.jsonl"
    done = run("dump", "-o", str(out))
    assert done.exit_code == 0, done.output
    lines = out.read_text().splitlines()
    assert json.loads(lines[0])["meterlib_dump"] == 1
    assert f"wrote {len(lines) - 1} records" in done.output
    target = tmp_path / "copy.db"
    restored = run("--db", str(target), "restore", str(out))
    assert restored.exit_code == 0, restored.output
    with Ledger(SQLiteStore(db)) as a, Ledger(SQLiteStore(target)) as b:
        assert a.balances("c1") == b.balances("c1")
        assert a.events("c1") == b.events("c1")


def test_restore_refuses_a_ledger_that_is_not_empty(run: Run, tmp_path: Path) -> None:
    _seeded(run)
    out = tmp_path / "ledger.jsonl"
    assert run("dump", "-o", str(out)).exit_code == 0
    refused = run("restore", str(out))
    assert refused.exit_code == 2
    assert "not empty" in refused.output


def test_restore_refuses_an_export(run: Run, tmp_path: Path) -> None:
    _seeded(run)
    out = tmp_path / "export.jsonl"
    assert run("export", "-o", str(out)).exit_code == 0
    refused = run("--db", str(tmp_path / "new.db"), "restore", str(out))
    assert refused.exit_code == 2
    assert "not a meterlib dump header" in refused.output


def test_a_bad_record_restores_nothing(run: Run, tmp_path: Path) -> None:
    _seeded(run)
    out = tmp_path / "ledger.jsonl"
    assert run("dump", "-o", str(out)).exit_code == 0
    out.write_text(out.read_text() + '{"grant": ["half a row"]}\n')
    target = tmp_path / "new.db"
    refused = run("--db", str(target), "restore", str(out))
    assert refused.exit_code == 2
    assert "line" in refused.output and "grant" in refused.output
    with Ledger(SQLiteStore(target)) as b:
        assert b.list_customers().customers == () and b.list_features() == []


def test_copy_between_stores_with_progress(run: Run, db: Path, tmp_path: Path) -> None:
    _seeded(run)
    target = tmp_path / "moved.db"
    copied = run("copy", str(db), f"sqlite:///{target}")
    assert copied.exit_code == 0, copied.output
    assert "copied" in copied.output
    with Ledger(SQLiteStore(db)) as a, Ledger(SQLiteStore(target)) as b:
        assert a.balances("c1") == b.balances("c1")
        assert a.grants("c1") == b.grants("c1")
    again = run("copy", str(db), f"sqlite:///{target}")
    assert again.exit_code == 2 and "not empty" in again.output


def test_prune_removes_older_events_and_gives_the_space_back(
    run: Run, db: Path, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2025, 1, 1, tzinfo=UTC))
    with Ledger(SQLiteStore(db), clock=clock) as ledger:
        ledger.create("c1", "api", included=10**9)
        items = [
            {"customer_id": "c1", "feature_id": "api", "properties": {"pad": "x" * 200}}
            for _ in range(100)
        ]
        for _ in range(40):
            ledger.batch_track(items)
            clock.advance(hours=1)
        balance = ledger.balances("c1")
        cut = clock() - 2 * 3_600_000  # the last two hours' 200 events stay
    size = _size(db)
    done = run("--json", "prune", "--before", str(cut))
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["events_removed"] == 3800 and report["keys_removed"] == 0
    after = _size(db)
    assert after < size * 0.2
    assert report["bytes_freed"] == size - after
    with Ledger(SQLiteStore(db), clock=clock) as ledger:
        assert ledger.balances("c1") == balance
        assert len(ledger.events("c1", limit=1000).events) == 200
