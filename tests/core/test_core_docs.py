from __future__ import annotations

from pathlib import Path

from nspgw.core.lifecycle import render_mermaid, render_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "store-and-forward.md"


def test_lifecycle_diagram_in_docs_is_generated_from_the_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert render_mermaid() in text, "regenerate the lifecycle section of docs/store-and-forward.md"
    assert render_table() in text
