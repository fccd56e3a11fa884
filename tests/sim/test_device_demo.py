"""`nspgw sim demo` runs end to end in-process and leaves no thread or listener behind."""

from __future__ import annotations

import io
import threading

import pytest
from rich.console import Console

from nspgw.sim.demo import run_demo


@pytest.mark.slow
def test_demo_delivers_and_cleans_up() -> None:
    before = {t.name for t in threading.enumerate()}
    out = io.StringIO()
    result = run_demo(messages=2, console=Console(file=out, width=120))
    assert len(result["results"]) == 2
    assert any(r["delivered_s"] is not None for r in result["results"])
    assert all(r["airtime_s"] > 0 for r in result["results"] if r["delivered_s"] is not None)
    text = out.getvalue()
    assert "Samenvatting" in text and "afgeleverd" in text
    left = {t.name for t in threading.enumerate() if t.is_alive()} - before
    assert not {n for n in left if n.startswith("sim-") and "writer" not in n}, left
