"""The core's modules form no import cycle, and no code reaches into another class's underscored state.

Each collaborator of `Node` (inbound memory, radio transmissions, resync, scheduler, ledger, ...) keeps its
own fields behind methods (docs/architecture.md, "The core"): these AST checks keep it so.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "nspgw"


def _core_imports(path: Path) -> set[str]:
    """Modules of nspgw.core that `path` imports, typing-only imports included (they are a dependency too)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "nspgw.core":
                out |= {f"nspgw.core.{a.name}" for a in node.names}
            elif node.module.startswith("nspgw.core."):
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("nspgw.core.")}
    return out


def _runtime_core_imports(path: Path) -> set[str]:
    """As `_core_imports`, without the imports under `if TYPE_CHECKING:` (never executed)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            node.body = []
    tmp: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "nspgw.core":
                tmp |= {f"nspgw.core.{a.name}" for a in node.names}
            elif node.module.startswith("nspgw.core."):
                tmp.add(node.module)
    return tmp


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                found.append([*stack[stack.index(n):], n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return found


def _graph(runtime_only: bool) -> dict[str, set[str]]:
    read = _runtime_core_imports if runtime_only else _core_imports
    return {f"nspgw.core.{f.stem}": read(f) for f in sorted((PKG / "core").glob("*.py"))}


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_core_modules_import_no_cycle_at_runtime() -> None:
    assert _cycles(_graph(runtime_only=True)) == []


# The collaborators that are functions over a Node name it for typing only; no other back-edge may appear.
TYPING_ONLY_BACK_EDGES = {("nspgw.core.inbound", "nspgw.core.node"), ("nspgw.core.outbound", "nspgw.core.node"),
                          ("nspgw.core.resync", "nspgw.core.node")}


def test_typing_only_imports_add_no_cycle_beyond_the_known_back_edges() -> None:
    full, runtime = _graph(runtime_only=False), _graph(runtime_only=True)
    extra = {(m, n) for m, deps in full.items() for n in deps - runtime[m]}
    assert extra <= TYPING_ONLY_BACK_EDGES, f"new typing-only imports: {sorted(extra - TYPING_ONLY_BACK_EDGES)}"
    without = {m: deps - {n for (a, n) in TYPING_ONLY_BACK_EDGES if a == m} for m, deps in full.items()}
    assert _cycles(without) == []


def _defined_private(tree: ast.Module) -> set[str]:
    """Underscored names a module defines itself: methods, class attributes, `self._x = ...` fields."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("_"):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            if node.attr.startswith("_") and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else (
                    [stmt.target] if isinstance(stmt, ast.AnnAssign) else [])
                names |= {t.id for t in targets if isinstance(t, ast.Name) and t.id.startswith("_")}
    return names


def private_reaches(source: str) -> list[str]:
    """`x._name` where `x` is not self/cls and `_name` is not defined in this module (another class's)."""
    tree = ast.parse(source)
    own = _defined_private(tree)
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        if node.attr not in own:
            bad.append(f"line {node.lineno}: {ast.unparse(node)}")
    return bad


def test_private_reach_check_sees_a_reach() -> None:
    assert private_reaches("def f(node):\n    return node._recent\n") == ["line 2: node._recent"]
    own = "class A:\n    def __init__(self):\n        self._x = 1\n    def eq(self, o):\n        return o._x\n"
    assert private_reaches(own) == []


@pytest.mark.parametrize("layer", ["core", "wire", "crypto"])
def test_no_module_reaches_into_another_class_private_state(layer: str) -> None:
    bad = []
    for f in sorted((PKG / layer).rglob("*.py")):
        bad += [f"{f.relative_to(PKG)} {b}" for b in private_reaches(f.read_text(encoding="utf-8"))]
    assert not bad, "\n".join(bad)
