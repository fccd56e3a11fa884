"""Process orchestration for the demo: the simulated mesh, one `nspgw run` per box, `nspgw send`.

Every child starts in its own process group (`start_new_session`): a Ctrl-C in the terminal reaches only the
demo, which then stops its children in order from its `finally` (daemons first, so they close their radio
connections cleanly, then the mesh). `Processes.stop_all` sends SIGTERM to each group, waits on a deadline
and SIGKILLs any group still alive, so nothing outlives the demo. Every child also carries
`NSPGW_DEMO_RUN=<id>` in its environment: the test that asserts "no process left behind" finds stragglers by
it, and so can a person (`grep -l NSPGW_DEMO_RUN /proc/*/environ`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nspgw.errors import NspgwError

RUN_ENV = "NSPGW_DEMO_RUN"


class DemoError(NspgwError):
    """A part of the demo did not start or finish (the message says which, and where its log is)."""


def nspgw_command() -> list[str]:
    """How to run the `nspgw` CLI of this very installation (the venv's script, next to the interpreter)."""
    script = Path(sys.executable).parent / "nspgw"
    if script.exists():
        return [str(script)]
    found = shutil.which("nspgw")
    if found:
        return [found]
    return [sys.executable, "-c", "from nspgw.cli import main; main()"]


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, n: int = 1500) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-n:]
        except OSError:
            return ""


@dataclass
class MeshProcess:
    """`nspgw sim mesh` and the JSON lines it printed (one per radio once everything listens)."""

    child: Child
    radios: dict[str, dict[str, Any]] = field(default_factory=dict)
    control: str = ""
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def _read(self, stream: Any) -> None:
        for raw in stream:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            with self._cond:
                if "control" in line:
                    self.control = str(line["control"])
                elif "name" in line:
                    self.radios[str(line["name"])] = line
                self._cond.notify_all()

    def wait_radios(self, names: list[str], timeout_s: float) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: set(names) <= set(self.radios) or not self.child.alive(), timeout_s)
        if not ok or not set(names) <= set(self.radios):
            raise DemoError(f"gesimuleerde mesh start niet / simulated mesh did not start: {self.child.tail()}")


class Processes:
    """The demo's children. Use as a context manager: leaving it (also by an exception) stops them all."""

    def __init__(self, workdir: Path, run_id: str) -> None:
        self.workdir = workdir
        self.run_id = run_id
        self.env = dict(os.environ, **{RUN_ENV: run_id})
        self.env.pop("NOTIFY_SOCKET", None)  # the daemons must not talk to our own service manager
        self.children: list[Child] = []
        self.cmd = nspgw_command()

    def spawn(self, name: str, argv: list[str], *, stdout: int | None = None) -> Child:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout or out, stderr=out,
                                    env=self.env, start_new_session=True, cwd=self.workdir)
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def start_mesh(self, topology: Path, timeout_s: float = 30.0) -> MeshProcess:
        control = self.workdir / "mesh-control.sock"
        child = self.spawn("sim-mesh", [*self.cmd, "sim", "mesh", "--topology", str(topology), "--no-pty",
                                        "--control", str(control)], stdout=subprocess.PIPE)
        mesh = MeshProcess(child)
        assert child.proc.stdout is not None
        threading.Thread(target=mesh._read, args=(child.proc.stdout,), name="demo-mesh-stdout",
                         daemon=True).start()
        return mesh

    def start_daemon(self, name: str, config: Path) -> Child:
        return self.spawn(f"daemon-{name}", [*self.cmd, "run", "--config", str(config)])

    def cli(self, config: Path, *args: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess[str]:
        """One operator command (`nspgw send …`) for a box; its own session too, and a hard timeout."""
        return subprocess.run([*self.cmd, *args, "--config", str(config)], capture_output=True, text=True,
                              env=self.env, timeout=timeout_s, start_new_session=True, stdin=subprocess.DEVNULL)

    def stop(self, child: Child, timeout_s: float = 10.0) -> int | None:
        if child.proc.poll() is not None:
            return child.proc.returncode
        _signal_group(child.proc, signal.SIGTERM)
        try:
            return child.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _signal_group(child.proc, signal.SIGKILL)
            return child.proc.wait(timeout=10)

    def stop_all(self, timeout_s: float = 15.0) -> None:
        """Daemons first (they hold TCP connections to the radios), then the mesh; SIGKILL at the deadline."""
        order = [c for c in self.children if c.name.startswith("daemon-")] + \
                [c for c in self.children if not c.name.startswith("daemon-")]
        for c in order:
            if c.proc.poll() is None:
                _signal_group(c.proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for c in order:
            with contextlib.suppress(subprocess.TimeoutExpired):
                c.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for c in order:
            # Only groups whose leader we have not reaped: a reaped leader's pid may belong to someone else
            # by now. (Our children start no grandchildren; the group kill covers library helpers if any.)
            if c.proc.poll() is None:
                _signal_group(c.proc, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    c.proc.wait(timeout=5)

    def sweep(self, timeout_s: float = 5.0) -> list[int]:
        """Stop any process still carrying this run's id, e.g. one forked by `Popen` just as a Ctrl-C
        interrupted it (the child runs, but `Popen` never returned it to us). Linux /proc only."""
        pids = pids_with_env(RUN_ENV, self.run_id)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + timeout_s
            while pids_with_env(RUN_ENV, self.run_id) and time.monotonic() < deadline:
                _reap(pids)
                time.sleep(0.05)  # waiting for exits on a deadline
            _reap(pids)
            if not pids_with_env(RUN_ENV, self.run_id):
                break
        return pids

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop_all()
        finally:
            self.sweep()


def pids_with_env(name: str, value: str) -> list[int]:
    """Live (not zombie) processes whose environment has `name=value`; [] where /proc is not available."""
    needle = f"{name}={value}".encode()
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for d in proc.iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if needle not in (d / "environ").read_bytes().split(b"\0"):
                continue
            if (d / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                found.append(int(d.name))
        except (OSError, IndexError):
            continue  # gone meanwhile, or not ours to read
    return found


def _reap(pids: list[int]) -> None:
    """Collect the exit status of those that were our own children (no zombies left behind)."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def _signal_group(proc: subprocess.Popen[Any], sig: int) -> None:
    # start_new_session made the child the leader of a group whose id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
