"""`nspgw sim` CLI errors: clear message naming the problem, documented exit code, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.system]
NSPGW = str(Path(sys.executable).parent / "nspgw")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NSPGW, *args], capture_output=True, text=True, timeout=60, env=env)


def test_bad_topology_names_the_field(tmp_path: Path) -> None:
    f = tmp_path / "topo.toml"
    f.write_text('[[node]]\nname = "a"\n[[node]]\nname = "b"\n[[link]]\na = "a"\nb = "b"\nloss = 2\n')
    r = run("sim", "mesh", "--topology", str(f))
    assert r.returncode == 3
    assert "link[0].loss: must be between 0 and 1" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_unknown_node_in_link(tmp_path: Path) -> None:
    f = tmp_path / "topo.toml"
    f.write_text('[[node]]\nname = "a"\n[[link]]\na = "a"\nb = "zz"\n')
    r = run("sim", "mesh", "--topology", str(f))
    assert r.returncode == 3
    assert "link[0].b: unknown node 'zz'" in r.stderr
    assert "Traceback" not in r.stderr


def test_control_without_running_sim(tmp_path: Path) -> None:
    r = run("sim", "link", "down", "a", "b", "--control", str(tmp_path / "none.sock"))
    assert r.returncode == 5
    assert "geen draaiende simulatie" in r.stderr and "Traceback" not in r.stderr
    r = run("sim", "node", "down", "a", env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 2 and "NSPGW_SIM_CONTROL" in r.stderr
