"""Shared fixtures. Keep this small and generic: every area's tests may use it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from waiting import wait_for

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def _start_order(item: pytest.Item) -> int:
    """Long waits on real processes first: pytest-xdist hands out tests round robin in collection order, so
    a system test collected last would run alone at the end while the other workers sit idle."""
    path = item.path.relative_to(REPO / "tests").parts[0]
    if item.get_closest_marker("slow") is not None and path == "system":
        return 0
    return {"system": 1, "adapters": 2, "sim": 2}.get(path, 3)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_start_order)  # stable: within a group the files' own order


def free_port_block(n: int) -> int:
    """A base port P such that P..P+n-1 are free on 127.0.0.1 right now."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n >= 65535:
            continue
        socks = []
        try:
            for k in range(n):
                t = socket.socket()
                socks.append(t)
                t.bind(("127.0.0.1", base + k))
            return base
        except OSError:
            continue
        finally:
            for t in socks:
                t.close()
    raise RuntimeError("no free port block")


@dataclass
class SimMeshProcess:
    """A running `nspgw sim mesh` subprocess and the JSON lines it printed."""

    proc: subprocess.Popen[str]
    control: str = ""
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: list[dict[str, Any]] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                continue
            with self._cond:
                self.lines.append(line)
                if "control" in line:
                    self.control = line["control"]
                elif "name" in line:
                    self.nodes[line["name"]] = line
                self._cond.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.stderr.append(raw)

    def wait_lines(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout_s: float = 20.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.lines) or self.proc.poll() is not None, timeout_s):
                pytest.fail(f"sim mesh printed no matching line in {timeout_s} s; stderr: {''.join(self.stderr)}")
        if not predicate(self.lines):
            pytest.fail(f"sim mesh exited with {self.proc.returncode}: {''.join(self.stderr)}")

    def env(self) -> dict[str, str]:
        return dict(os.environ, NSPGW_SIM_CONTROL=self.control)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@pytest.fixture
def sim_mesh(tmp_path: Path) -> Iterator[Callable[..., SimMeshProcess]]:
    """Factory: `sim_mesh("--nodes", "3", "--chain")` starts `nspgw sim mesh` and waits for its node lines.

    Teardown sends SIGTERM and checks the process exits cleanly, without a traceback.
    """
    started: list[SimMeshProcess] = []

    def start(*args: str, expect_nodes: int | None = None) -> SimMeshProcess:
        cmd = [str(VENV_BIN / "nspgw"), "sim", "mesh", *args]
        if "--control" not in args:
            cmd += ["--control", str(tmp_path / f"control{len(started)}.sock")]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        sim = SimMeshProcess(proc)
        started.append(sim)
        threading.Thread(target=sim._read_stdout, daemon=True).start()
        threading.Thread(target=sim._read_stderr, daemon=True).start()
        n = expect_nodes if expect_nodes is not None else int(args[args.index("--nodes") + 1])
        sim.wait_lines(lambda lines: sum("name" in x for x in lines) >= n)
        return sim

    yield start
    for sim in started:
        code = sim.stop()
        assert code == 0, f"sim mesh exit code {code}: {''.join(sim.stderr)}"
        assert "Traceback" not in "".join(sim.stderr), "".join(sim.stderr)


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., Any]:
    """The `wait_for(predicate, timeout_s, interval_s, what)` helper (tests/support/waiting.py), as a fixture."""
    return wait_for


@pytest.fixture(name="free_port_block")
def free_port_block_fixture() -> Callable[[int], int]:
    return free_port_block


@pytest.fixture
def venv_bin() -> Path:
    """Directory of the running interpreter's scripts (nspgw, meshtastic)."""
    return VENV_BIN
