"""The sans-IO layers (core, wire, crypto, journal) must not import I/O, clock, thread or randomness modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "nspgw"
FORBIDDEN = {
    "sqlite3", "socket", "threading", "asyncio", "time", "random", "subprocess", "select", "selectors",
    "meshtastic", "paho", "serial", "pubsub", "os", "datetime", "logging",
}
# Layers may import only downwards.
ALLOWED_NSPGW = {
    "wire": {"nspgw.wire", "nspgw.errors", "nspgw.ids", "nspgw.crypto"},
    "crypto": {"nspgw.crypto", "nspgw.errors", "nspgw.ids"},
    "core": {"nspgw.core", "nspgw.wire", "nspgw.crypto", "nspgw.errors", "nspgw.ids"},
    # the journal's hashing, verification and formatting: no store, no clock (nspgw/store/journal.py does I/O)
    "journal": {"nspgw.journal", "nspgw.crypto", "nspgw.errors"},
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(ALLOWED_NSPGW))
def test_layer_is_sans_io_and_imports_downwards(layer: str) -> None:
    files = sorted((PKG / layer).rglob("*.py"))
    assert files, f"layer {layer} has no modules"
    bad = []
    for f in files:
        for name in _imports(f):
            top = name.split(".")[0]
            if top in FORBIDDEN:
                bad.append(f"{f.relative_to(PKG)} imports {name}")
            if top == "nspgw" and not any(name == a or name.startswith(a + ".") for a in ALLOWED_NSPGW[layer]):
                bad.append(f"{f.relative_to(PKG)} imports {name} (upward)")
    assert not bad, "\n".join(bad)


def test_no_class_name_is_defined_twice() -> None:
    """Two classes with one name (e.g. a sim helper named like a daemon class) make every import and every
    traceback ambiguous; each class name in nspgw/ is unique."""
    where: dict[str, list[str]] = {}
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                where.setdefault(node.name, []).append(str(path.relative_to(PKG)))
    assert {name: files for name, files in where.items() if len(files) > 1} == {}
