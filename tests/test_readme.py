"""The README's promises: its first commands match CI, and its Python examples run as shown."""

from __future__ import annotations

import contextlib
import io
import re
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


class TestAutumnSection:
    """The README carries the guide to testing Autumn code."""

    def test_guide_is_copied_verbatim(self) -> None:
        """docs/autumn.md appears in the README word for word (copy it again after editing it)."""
        assert AUTUMN_DOC.exists()
        assert AUTUMN_DOC.read_text(encoding="utf-8").strip() in README


class TestPythonExamples:
    """Every Python example runs, in order, in one namespace, and prints what it claims."""

    def test_quickstart_is_there(self) -> None:
        """The first Python block is the quickstart and checks its own output."""
        blocks = python_blocks()
        assert blocks, "the README lost its Python quickstart"
        assert expected_output(blocks[0])
        assert len(blocks[0].strip().splitlines()) <= 20

    def test_examples_run_and_print_what_they_say(self) -> None:
        """Each block's prints match its `# ->` comments (blocks marked not run are skipped)."""
        namespace: dict[str, object] = {"__name__": "readme"}
        for number, block in enumerate(python_blocks(), start=1):
            if NOT_RUN in block.splitlines()[0]:
                continue
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(block, f"README.md python block {number}", "exec"), namespace)
            printed = [line.strip() for line in out.getvalue().splitlines()]
            assert printed == expected_output(block), f"README python block {number}"
