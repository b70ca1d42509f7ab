"""The README's promises: its first commands match CI, and its Python examples run as shown."""

from __future__ import annotations

import contextlib
import io
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
AUTUMN_DOC = ROOT / "docs" / "autumn.md"  # copied into the README; its examples are tested there
TEST_COMMAND = "pip install -e '.[test]' && python -m pytest"
NOT_RUN = "not run by the README test"


def python_blocks() -> list[str]:
    """Every ```python block of the README's own sections, in order."""
    own = (
        README.replace(AUTUMN_DOC.read_text(encoding="utf-8"), "")
        if AUTUMN_DOC.exists()
        else README
    )
    return re.findall(r"^```python\n(.*?)^```", own, flags=re.MULTILINE | re.DOTALL)


def expected_output(block: str) -> list[str]:
    """The `# -> text` comments of a block: what its prints must show, line by line."""
    return [m.strip() for m in re.findall(r"#\s*->\s*(.*)$", block, flags=re.MULTILINE)]


class TestFirstCommands:
    """The two commands at the top of the README."""

    def test_install_and_demo_come_first(self) -> None:
        """The first shell block installs meterlib and runs the demo."""
        first = re.search(r"```(?:sh|bash|console)\n(.*?)```", README, flags=re.DOTALL)
        assert first is not None
        assert "pip install . && meterlib demo" in first.group(1)
        assert TEST_COMMAND in first.group(1)

    def test_test_command_is_the_one_ci_runs(self) -> None:
        """.ci/run runs the README's test command, its halves on consecutive lines of their own
        (under `set -e` a failed install on the left of `&&` would not stop CI)."""
        ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        halves = TEST_COMMAND.split(" && ")
        assert len(halves) == 2
        starts = [i for i, line in enumerate(ci) if line == halves[0]]
        assert [ci[i + 1] for i in starts] == [halves[1]]
        assert not [line for line in ci if "&&" in line and not line.lstrip().startswith("#")]


class TestInstalling:
    """The install commands work from a checkout, before any release."""

    def test_pip_installs_come_from_a_checkout(self) -> None:
        """A `pip install` in a shell block installs `.` or `-e '.[extras]'`, never a name
        that is not on PyPI yet."""
        shell = re.findall(r"```(?:sh|bash|console)\n(.*?)```", README, flags=re.DOTALL)
        commands = [c for block in shell for c in re.findall(r"pip install [^&#\n]*", block)]
        assert commands
        for command in commands:
            target = command.split()[-1].strip("'\"")
            assert target == "." or target.startswith(".["), command

    def test_test_extra_brings_pytest(self) -> None:
        """A fresh venv with the test extra has its own pytest (a global one cannot import
        autumn_sdk or load the fixture)."""
        pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        extra = pyproject["project"]["optional-dependencies"]["test"]
        assert any(re.match(r"pytest\b", requirement) for requirement in extra)

    def test_license_and_changelog(self) -> None:
        """LICENSE is the MIT text pyproject names; CHANGELOG.md has Unreleased and 0.1.0."""
        pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        assert pyproject["project"]["license"] == "MIT"
        assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
        changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
        assert "## [Unreleased]" in changelog
        assert f"## [{pyproject['project']['version']}]" in changelog


class TestAutumnSection:
    """The README carries the guide to testing Autumn code."""

    def test_guide_is_copied_verbatim(self) -> None:
        """docs/autumn.md appears in the README word for word (copy it again after editing it)."""
        assert AUTUMN_DOC.exists()
        assert AUTUMN_DOC.read_text(encoding="utf-8").strip() in README


def quickstart_imports() -> str:
    """The import lines of the quickstart: all a newcomer has when pasting a later example."""
    first = python_blocks()[0]
    return "\n".join(line for line in first.splitlines() if line.startswith(("import ", "from ")))


class TestPythonExamples:
    """Every Python example runs on its own (a fresh namespace holding only the quickstart's
    imports), and prints what it claims."""

    def test_quickstart_is_there(self) -> None:
        """The first Python block is the quickstart and checks its own output."""
        blocks = python_blocks()
        assert blocks, "the README lost its Python quickstart"
        assert expected_output(blocks[0])
        assert len(blocks[0].strip().splitlines()) <= 20

    def test_examples_run_and_print_what_they_say(self) -> None:
        """Each block's prints match its `# ->` comments (blocks marked not run are skipped)."""
        imports = quickstart_imports()
        assert "from meterlib import" in imports
        for number, block in enumerate(python_blocks(), start=1):
            if NOT_RUN in block.splitlines()[0]:
                continue
            namespace: dict[str, object] = {"__name__": "readme"}
            exec(compile(imports, "the quickstart's imports", "exec"), namespace)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(block, f"README.md python block {number}", "exec"), namespace)
            printed = [line.strip() for line in out.getvalue().splitlines()]
            assert printed == expected_output(block), f"README python block {number}"
