"""Fixtures shared by the CLI tests: provisioned boxes without radios, and the real entry point in-process."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nspgw.cli import main
from nspgw.sim.boxes import SimBox, provision_chain

FAKE_RADIOS = [{"name": f"node{i}", "node_id": f"!1000{i:04x}", "tcp": "127.0.0.1:9"} for i in range(3)]
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def boxes(tmp_path: Path) -> dict[str, SimBox]:
    return {b.name: b for b in provision_chain(tmp_path / "boxes", FAKE_RADIOS, preset="SHORT_TURBO")}


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """The real entry point (with its error boundary) in-process: (exit code, stdout, stderr)."""
    monkeypatch.setenv("NSPGW_LANG", "nl")

    def go(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["nspgw", *args])
        code: Any = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        assert "Traceback" not in out.err
        return int(code or 0), out.out, out.err

    return go
