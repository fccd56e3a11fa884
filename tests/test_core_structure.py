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
    """Modules of nspgw.core that `path` (a module of nspgw/core) imports, typing-only imports included: an
    import under `if TYPE_CHECKING:` is a dependency too (the type checker, and a reader, must follow it)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1:  # relative, within nspgw.core
                module = f"nspgw.core.{module}".rstrip(".")
            elif node.level > 1:
                continue
            if module == "nspgw.core":
                out |= {f"nspgw.core.{a.name}" for a in node.names}
            elif module.startswith("nspgw.core."):
                out.add(module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("nspgw.core.")}
    return out


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


def _graph(core: Path) -> dict[str, set[str]]:
    return {f"nspgw.core.{f.stem}": _core_imports(f) for f in sorted(core.glob("*.py"))}


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_import_graph_sees_typing_only_and_relative_imports(tmp_path: Path) -> None:
    (tmp_path / "node.py").write_text("from nspgw.core import inbound\nfrom .work import Job\n", encoding="utf-8")
    (tmp_path / "inbound.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from nspgw.core.node import Node\n",
        encoding="utf-8")
    (tmp_path / "work.py").write_text("import nspgw.core.lifecycle\n", encoding="utf-8")
    graph = _graph(tmp_path)
    assert graph["nspgw.core.node"] == {"nspgw.core.inbound", "nspgw.core.work"}
    assert graph["nspgw.core.work"] == {"nspgw.core.lifecycle"}
    assert _cycles(graph) == [["nspgw.core.inbound", "nspgw.core.node", "nspgw.core.inbound"]]


def test_core_modules_import_no_cycle_not_even_for_typing() -> None:
    """inbound/outbound/resync take a `NodeContext` (core/context.py), not a `Node`: node.py imports them,
    and they import nothing that leads back to it."""
    assert _cycles(_graph(PKG / "core")) == []


def _class_members(tree: ast.Module, name: str) -> set[str]:
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)
    out: set[str] = set()
    for stmt in cls.body:
        if isinstance(stmt, ast.FunctionDef):
            out.add(stmt.name)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            out.add(stmt.target.id)
    return out


def test_node_context_declares_exactly_what_the_collaborators_use() -> None:
    """A member nobody uses any more would keep `Node` exposing it; a use that is not declared fails mypy."""
    used: set[str] = set()
    for name in ("inbound", "outbound", "resync", "bulletins"):
        tree = ast.parse((PKG / "core" / f"{name}.py").read_text(encoding="utf-8"))
        used |= {n.attr for n in ast.walk(tree)
                 if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "node"}
    context = ast.parse((PKG / "core" / "context.py").read_text(encoding="utf-8"))
    assert _class_members(context, "NodeContext") == used


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
