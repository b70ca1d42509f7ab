"""The `autumn_fake` pytest plugin, the optional-dependency boundary, and the docs example."""

from __future__ import annotations

import ast
import builtins
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from autumn_sdk import Autumn

import meterlib
from meterlib import Ledger, ManualClock
from meterlib.autumn.sdk import MISSING_NAMES, AutumnFake

ROOT = Path(meterlib.__file__).resolve().parents[1]
OPTIONAL = ("httpx", "autumn_sdk")


def python(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run a fresh interpreter that imports this checkout."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )


def run_pytest(project: Path) -> subprocess.CompletedProcess[str]:
    """Run pytest in a folder the way a user's project would, with the plugin registered.

    When meterlib is installed the plugin comes from its pytest11 entry point; in a bare
    checkout it is named with -p, which loads the same module.
    """
    installed = any(
        ep.value == "meterlib.autumn.plugin" for ep in metadata.entry_points(group="pytest11")
    )
    plugin = [] if installed else ["-p", "meterlib.autumn.plugin"]
    return python("-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin, cwd=project)


class TestFixture:
    """What `autumn_fake` yields."""

    def test_attributes(self, autumn_fake: AutumnFake) -> None:
        """A fresh empty ledger, its manual clock, and an SDK client answered by it."""
        assert isinstance(autumn_fake.autumn, Autumn)
        assert isinstance(autumn_fake.ledger, Ledger)
        assert isinstance(autumn_fake.clock, ManualClock)
        assert autumn_fake.ledger.clock is autumn_fake.clock
        assert autumn_fake.ledger.list_features() == []
        assert autumn_fake.ledger.list_customers().customers == ()
        assert autumn_fake.autumn.features.list().list == []

    def test_advance(self, autumn_fake: AutumnFake) -> None:
        """advance() moves the ledger's clock by a relativedelta."""
        start = autumn_fake.clock()
        autumn_fake.advance(days=2)
        assert autumn_fake.clock() - start == 2 * 86_400_000
        assert autumn_fake.now().isoformat() == "2025-01-03T00:00:00+00:00"

    def test_workaround_leaves_no_trace(self, autumn_fake: AutumnFake) -> None:
        """The autumn-sdk workaround is undone: builtins holds none of its names."""
        autumn_fake.autumn.features.list()
        assert not [name for name in MISSING_NAMES if hasattr(builtins, name)]

    def test_context_manager(self) -> None:
        """AutumnFake works without pytest and closes its ledger on exit."""
        with AutumnFake(start=0) as fake:
            fake.ledger.create("c1", "messages", included=1)
            assert fake.autumn.check(customer_id="c1", feature_id="messages").allowed


class TestPlugin:
    """The plugin registration, as a user's project sees it."""

    def test_entry_point_declared(self) -> None:
        """pyproject registers the plugin module under the pytest11 group."""
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())
        assert project["project"]["entry-points"]["pytest11"] == {
            "meterlib_autumn": "meterlib.autumn.plugin"
        }
        assert set(project["project"]["optional-dependencies"]["autumn"]) == {
            "httpx>=0.28",
            "autumn-sdk==1.2.0",
        }

    def test_user_project(self, tmp_path: Path) -> None:
        """A user's test files that only name the fixture pass: the docs example and a minimal one.

        The example of docs/autumn.md is pasted as is; each test gets a fresh ledger.
        """
        (tmp_path / "test_minimal.py").write_text(
            "def test_one(autumn_fake):\n"
            "    autumn_fake.ledger.create('c1', 'messages', included=2)\n"
            "    assert autumn_fake.autumn.track(customer_id='c1', feature_id='messages')"
            ".balance.remaining == 1\n"
            "\n"
            "def test_two(autumn_fake):\n"
            "    assert autumn_fake.ledger.list_customers().customers == ()\n"
        )
        text = (ROOT / "docs" / "autumn.md").read_text()
        match = re.search(r"<!-- example: (\S+) -->\n```python\n(.*?)```", text, re.DOTALL)
        assert match is not None
        (tmp_path / match.group(1)).write_text(match.group(2))
        done = run_pytest(tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "5 passed" in done.stdout


class TestOptionalBoundary:
    """httpx and autumn_sdk stay behind the `autumn` extra."""

    def test_import_meterlib_does_not_import_them(self) -> None:
        """`import meterlib` leaves httpx and autumn_sdk out of sys.modules."""
        done = python(
            "-c",
            f"import sys, meterlib\nprint(sorted(m for m in {OPTIONAL!r} if m in sys.modules))\n",
        )
        assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr

    def test_no_module_outside_the_bridge_imports_them(self) -> None:
        """No module of meterlib outside meterlib/autumn names httpx or autumn_sdk in an import."""
        offenders = []
        for path in (ROOT / "meterlib").rglob("*.py"):
            if "autumn" in path.relative_to(ROOT / "meterlib").parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in OPTIONAL]
        assert offenders == []

    def test_plugin_loads_without_the_extra(self) -> None:
        """Without httpx and autumn_sdk the plugin still imports, so pytest still starts."""
        done = python(
            "-c",
            "import sys\n"
            "sys.modules['httpx'] = None\n"
            "sys.modules['autumn_sdk'] = None\n"
            "import meterlib.autumn.plugin, meterlib.autumn\n"
            "try:\n"
            "    meterlib.autumn.AutumnTransport\n"
            "except ImportError:\n"
            "    print('needs the extra')\n",
        )
        assert (done.returncode, done.stdout.strip()) == (0, "needs the extra"), done.stderr

    @pytest.mark.parametrize("name", ["AutumnTransport", "AutumnFake", "autumn_client"])
    def test_public_names(self, name: str) -> None:
        """meterlib.autumn exports its names lazily, and only those in __all__."""
        import meterlib.autumn

        assert name in meterlib.autumn.__all__
        assert getattr(meterlib.autumn, name) is not None
        with pytest.raises(AttributeError):
            meterlib.autumn.NotAName  # noqa: B018
