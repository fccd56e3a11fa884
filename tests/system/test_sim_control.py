"""Control channel of a running `nspgw sim mesh`: node down/up and radio unplug close and reopen the radio."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.system]
NSPGW = str(Path(sys.executable).parent / "nspgw")


def nspgw(sim: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NSPGW, "sim", *args], capture_output=True, text=True, timeout=30, env=sim.env())


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_node_down_up_and_unplug(sim_mesh: Callable[..., Any], wait_for: Callable[..., Any]) -> None:
    sim = sim_mesh("--nodes", "3", "--chain", "--preset", "SHORT_TURBO")
    port = int(sim.nodes["node1"]["tcp"].rsplit(":", 1)[1])
    assert _accepts(port)

    r = nspgw(sim, "node", "down", "node1")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: not _accepts(port), what="node1 listener closed")
    lines_before = len(sim.lines)
    assert nspgw(sim, "node", "up", "node1").returncode == 0
    wait_for(lambda: _accepts(port), what="node1 listening again on the same port")
    sim.wait_lines(lambda lines: len(lines) > lines_before and lines[-1].get("name") == "node1")
    assert sim.lines[-1]["tcp"] == f"127.0.0.1:{port}"

    assert nspgw(sim, "link", "down", "node0", "node1").returncode == 0
    assert nspgw(sim, "link", "up", "node0", "node1").returncode == 0

    assert nspgw(sim, "radio", "unplug", "node2", "--for", "0.5").returncode == 0
    port2 = int(sim.nodes["node2"]["tcp"].rsplit(":", 1)[1])
    wait_for(lambda: _accepts(port2), timeout_s=15, what="node2 replugged after 0.5 s")

    status = nspgw(sim, "status")
    assert status.returncode == 0 and '"node2"' in status.stdout

    bad = nspgw(sim, "node", "down", "nobody")
    assert bad.returncode == 2 and "nobody" in bad.stderr and "Traceback" not in bad.stderr
