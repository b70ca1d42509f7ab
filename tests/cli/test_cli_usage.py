"""`meterlib usage` (table with bars, --json, --csv) and `meterlib report` (one offline HTML
file whose SVG bars are usage()'s numbers; rendered in headless Chromium when installed)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import Result

from meterlib import Ledger, ManualClock
from meterlib.stores import SQLiteStore

Run = Callable[..., Result]  # the `run` fixture of conftest.py
END = datetime(2025, 6, 4, tzinfo=UTC)
WINDOW = ("--start", "2025-06-01T00:00:00Z", "--end", "2025-06-04T00:00:00Z")


@pytest.fixture
def filled(db: Path) -> Path:
    """c1: messages of 4, 0 and 8.5 on June 1 to 3 (regions eu/us), a grant of 100."""
    clock = ManualClock(END)
    with Ledger(SQLiteStore(db), clock=clock) as ledger:
        ledger.create("c1", "messages", included=100, reset="month")
        for day, value, region in [(1, 3, "eu"), (1, 1, "us"), (3, "8.5", "eu")]:
            ledger.track(
                "c1",
                "messages",
                value=value,
                properties={"region": region},
                timestamp=datetime(2025, 6, day, 9, tzinfo=UTC),
            )
    return db


def _usage(db: Path, **kwargs: object) -> Ledger:
    return Ledger(SQLiteStore(db), clock=ManualClock(END))


class TestUsageCommand:
    def test_table_has_a_bar_per_bin_and_the_total(self, filled: Path, run: Run) -> None:
        result = run("usage", "messages", "--customer", "c1", *WINDOW)
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        day1 = next(line for line in lines if line.startswith("2025-06-01"))
        day2 = next(line for line in lines if line.startswith("2025-06-02"))
        day3 = next(line for line in lines if line.startswith("2025-06-03"))
        assert " 4 " in day1 and "█" in day1
        assert "█" not in day2
        assert day3.count("█") == 30  # the largest bin is the full width
        assert day1.count("█") == 14  # 4 / 8.5 of 30 characters (and a part)
        assert re.search(r"total\s+12\.5\s+3 events", result.output)

    def test_grouped_table_has_a_column_per_group(self, filled: Path, run: Run) -> None:
        result = run(
            "usage", "messages", "--customer", "c1", "--group-by", "properties.region", *WINDOW
        )
        assert result.exit_code == 0, result.output
        header = result.output.splitlines()[0].split()
        assert header[:4] == ["day", "eu", "us", "messages"]

    def test_json_is_the_report(self, filled: Path, run: Run) -> None:
        result = run("--json", "usage", "messages", "--customer", "c1", *WINDOW)
        assert result.exit_code == 0, result.output
        with _usage(filled) as ledger:
            expected = ledger.usage(
                "messages", customer_id="c1", start=datetime(2025, 6, 1, tzinfo=UTC), end=END
            ).to_dict()
        assert json.loads(result.output) == json.loads(json.dumps(expected))

    def test_csv(self, filled: Path, run: Run) -> None:
        result = run("usage", "messages", "--customer", "c1", "--csv", *WINDOW)
        assert result.exit_code == 0, result.output
        rows = list(csv.reader(io.StringIO(result.output)))
        assert rows[0] == ["period_start", "period_end", "feature_id", "group", "value"]
        assert [r[4] for r in rows[1:]] == ["4", "0", "8.5"]
        assert rows[1][0] == "2025-06-01T00:00:00+00:00"

    def test_an_expired_hold_is_given_back(self, filled: Path, run: Run) -> None:
        """A lock that expired before anyone looked is released on record by the command (its
        −5 at expires_at), so the day that held 5 used nothing."""
        with Ledger(SQLiteStore(filled), clock=ManualClock(END)) as ledger:
            lock = {"lock_id": "job", "expires_at": END + timedelta(hours=1)}
            assert ledger.check("c1", "messages", required_balance=5, lock=lock).allowed
        day = ("--start", "2025-06-04T00:00:00Z", "--end", "2025-06-05T00:00:00Z")
        result = run("--json", "usage", "messages", "--customer", "c1", *day)
        assert result.exit_code == 0, result.output
        (bin_,) = json.loads(result.output)["list"]
        assert Decimal(str(bin_["values"]["messages"])) == 0

    def test_bad_input_exits_2(self, filled: Path, run: Run) -> None:
        result = run("usage", "messages", "--timezone", "Nowhere/Land", *WINDOW)
        assert result.exit_code == 2
        assert "timezone" in result.output


def _svg(html: str) -> ElementTree.Element:
    found = re.search(r"<svg.*?</svg>", html, re.S)
    assert found is not None
    return ElementTree.fromstring(found.group(0))


class TestReport:
    def _write(self, run: Run, tmp_path: Path) -> Path:
        out = tmp_path / "report.html"
        result = run("report", "c1", "-o", str(out), "--end", "2025-06-04T00:00:00Z")
        assert result.exit_code == 0, result.output
        return out

    def test_svg_bars_are_usage_numbers(self, filled: Path, run: Run, tmp_path: Path) -> None:
        """Each bar carries its bin and value, and its height is the value scaled to the
        largest one: the same numbers as usage() over the report's 30 days."""
        html = self._write(run, tmp_path).read_text()
        svg = _svg(html)
        bars = [e for e in svg.iter() if e.tag.endswith("rect")]
        with _usage(filled) as ledger:
            report = ledger.usage(
                "messages", customer_id="c1", start=END - timedelta(days=30), end=END
            )
        assert [b.get("data-period") for b in bars] == [p.start.isoformat() for p in report.periods]
        assert [Decimal(b.get("data-value", "")) for b in bars] == [
            p.values["messages"] for p in report.periods
        ]
        heights = [Decimal(b.get("height", "")) for b in bars]
        assert heights[-1] == Decimal("160.00") and heights[-3] == Decimal("75.29")
        assert "granted 100" in html  # balances are as of now (the system clock)

    def test_nothing_is_fetched(self, filled: Path, run: Run, tmp_path: Path) -> None:
        html = self._write(run, tmp_path).read_text()
        assert "<script" not in html
        assert not re.search(r"(src|href)=", html)
        assert "@import" not in html and "url(" not in html

    @pytest.mark.slow
    def test_renders_in_headless_chromium(self, filled: Path, run: Run, tmp_path: Path) -> None:
        """The file opens offline in Chromium with no console error; the screenshot is kept
        in the test's tmp folder."""
        browser = shutil.which("chromium") or shutil.which("chromium-browser")
        if browser is None:
            pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
        page = self._write(run, tmp_path)
        shot = tmp_path / "report.png"
        done = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=900,1200",
                f"--screenshot={shot}",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert shot.stat().st_size > 1000
        console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
        assert console == [], console
