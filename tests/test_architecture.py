"""The shape of the package: decisions never reach a store or a clock, no import cycle, small
modules. Read from the source (the AST), so `TYPE_CHECKING` imports count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "meterlib"
MOST_LINES = 400


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in sorted(ROOT.rglob("*.py"))}
DECISIONS = sorted(
    name
    for name in MODULES
    if name.startswith(("meterlib.rules", "meterlib.controls", "meterlib.operations"))
    or name in ("meterlib.state", "meterlib.effects")
)


def _imports(name: str) -> set[str]:
    """Every module `name` imports (absolute, whether or not under TYPE_CHECKING)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from meterlib.x import y` names the module y when there is one, else x itself
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return found


@pytest.mark.parametrize("name", DECISIONS)
def test_decisions_reach_no_store(name: str) -> None:
    """Rules, controls and operations import nothing from `meterlib.stores`."""
    stores = sorted(i for i in _imports(name) if i.startswith("meterlib.stores"))
    assert stores == [], f"{name} imports {stores}"


@pytest.mark.parametrize("name", DECISIONS)
def test_decisions_read_no_clock(name: str) -> None:
    """No clock in a decision: `now` comes from the Context."""
    imported = _imports(name)
    assert not imported & {"time", "meterlib.clock"}, name
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Attribute) and node.attr in ("now", "utcnow", "time", "monotonic"):
            owner = node.value
            assert not (isinstance(owner, ast.Name) and owner.id in ("datetime", "time", "date")), (
                f"{name} reads the clock ({owner.id}.{node.attr})"
            )


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` (module → modules it imports), or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        if name in done:
            return None
        if name in path:
            return [*path[path.index(name) :], name]
        path.append(name)
        for target in sorted(graph.get(name, ())):
            found = visit(target)
            if found is not None:
                return found
        path.pop()
        done.add(name)
        return None

    for name in sorted(graph):
        found = visit(name)
        if found is not None:
            return found
    return None


def test_no_import_cycle() -> None:
    """Within meterlib, imports go one way."""
    graph = {name: {i for i in _imports(name) if i in MODULES and i != name} for name in MODULES}
    assert _cycle(graph) is None


def test_the_cycle_check_sees_a_cycle() -> None:
    """The walker finds a cycle where there is one (so the test above can fail)."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_are_small(name: str) -> None:
    """No module over 400 lines (split it by concept instead)."""
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MOST_LINES, f"{name}: {lines} lines"
