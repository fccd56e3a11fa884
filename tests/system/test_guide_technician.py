"""The technician guide's rehearsal (docs/technician-guide.md § 12) is executed, block by block, against
`nspgw sim mesh`: from `nspgw init` to a message delivered between two boxes on virtual radios.

A runnable block is a ```sh block right after a marker comment:
    <!-- guide-test -->                     every line must exit 0, in order
    <!-- guide-test background -->          every line is started and kept running until the end
    <!-- guide-test retry N -->             every line is re-run until it exits 0 (deadline N s)
    <!-- guide-test expect N "TEXT" -->     every line is re-run until its output contains TEXT (N s)
`export NAME=VALUE` lines set a variable for the following lines. `$WORK`, `$CP_RADIO`, `$CP_NODE`,
`$NSP_RADIO`, `$NSP_NODE` come from the test (a temp dir and the simulator's radio lines).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "technician-guide.md"
VENV_BIN = Path(sys.executable).parent
PLACEHOLDERS = {"WORK", "CP_RADIO", "CP_NODE", "NSP_RADIO", "NSP_NODE"}
_MARK = re.compile(r'<!--\s*guide-test(?:\s+(background|retry|expect))?(?:\s+(\d+))?(?:\s+"([^"]*)")?\s*-->'
                   r"\s*\n```sh\n(.*?)```", re.S)


@dataclass(frozen=True)
class Block:
    mode: str  # run | background | retry | expect
    timeout_s: float
    expect: str
    lines: tuple[str, ...]


def guide_blocks(text: str) -> list[Block]:
    blocks = []
    for m in _MARK.finditer(text):
        lines = tuple(ln.strip() for ln in m.group(4).splitlines() if ln.strip() and not ln.strip().startswith("#"))
        blocks.append(Block(m.group(1) or "run", float(m.group(2) or 0), m.group(3) or "", lines))
    return blocks


def _substitute(line: str, env: dict[str, str]) -> list[str]:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in env:
            raise AssertionError(f"guide uses ${name}, which the test does not provide: {line}")
        return env[name]

    argv = shlex.split(re.sub(r"\$([A-Z_]+)", repl, line))
    if argv and argv[0] == "nspgw":
        argv[0] = str(VENV_BIN / "nspgw")
    return argv


def test_guide_marks_a_complete_walk_through() -> None:
    """Fast structural check: the marked blocks go from init to a checked inbox, with known placeholders."""
    blocks = guide_blocks(GUIDE.read_text(encoding="utf-8"))
    commands = [ln for b in blocks for ln in b.lines]
    words = [" ".join(c.split()[:3]) for c in commands]
    order = ["nspgw roster init", "nspgw init --role", "nspgw roster add", "nspgw roster sign",
             "nspgw roster bundle", "nspgw roster import", "nspgw radio provision", "nspgw radio verify",
             "nspgw run --config", "nspgw ping cp", "nspgw selftest --config", "nspgw send cp", "nspgw inbox --config"]
    positions = [next(i for i, w in enumerate(words) if w.startswith(o)) for o in order]
    assert positions == sorted(positions), "the guide's steps are out of order"
    used = {v for c in commands for v in re.findall(r"\$([A-Z_]+)", c)}
    exported = {c.split()[1].split("=")[0] for c in commands if c.startswith("export ")}
    assert used <= PLACEHOLDERS | exported, used - PLACEHOLDERS - exported
    assert blocks[-1].mode == "expect" and blocks[-1].expect


@pytest.mark.slow
def test_technician_guide_runs_on_virtual_radios(tmp_path: Path, sim_mesh) -> None:
    sim = sim_mesh("--nodes", "2", "--full", "--no-pty")
    radios = sorted(sim.nodes.values(), key=lambda n: n["name"])
    env = {"WORK": str(tmp_path / "work"), "CP_RADIO": radios[0]["tcp"], "CP_NODE": radios[0]["node_id"],
           "NSP_RADIO": radios[1]["tcp"], "NSP_NODE": radios[1]["node_id"]}
    proc_env = dict(os.environ, NSPGW_LANG="nl")
    proc_env.pop("NSPGW_CONFIG", None)
    proc_env.pop("NSPGW_AUTHORITY_DIR", None)
    background: list[tuple[list[str], subprocess.Popen[str], Path]] = []
    transcript: list[str] = []

    def run(argv: list[str], timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(argv, capture_output=True, text=True, env=proc_env, cwd=tmp_path, timeout=timeout_s)
        transcript.append(f"$ {' '.join(argv)}\n[{p.returncode}] {p.stdout}{p.stderr}")
        assert "Traceback" not in p.stdout + p.stderr, transcript[-1]
        return p

    try:
        for block in guide_blocks(GUIDE.read_text(encoding="utf-8")):
            for line in block.lines:
                if line.startswith("export "):
                    name, value = line.removeprefix("export ").split("=", 1)
                    value = " ".join(_substitute(value, env))
                    env[name] = proc_env[name] = value
                    continue
                argv = _substitute(line, env)
                if block.mode == "background":
                    log = tmp_path / f"bg{len(background)}.log"
                    fh = log.open("w")
                    background.append((argv, subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT,
                                                              text=True, env=proc_env, cwd=tmp_path), log))
                elif block.mode == "run":
                    p = run(argv)
                    assert p.returncode == 0, "\n".join(transcript[-3:])
                else:
                    deadline = time.monotonic() + block.timeout_s
                    while True:
                        p = run(argv)
                        done = p.returncode == 0 and (block.mode == "retry" or block.expect in p.stdout)
                        if done:
                            break
                        for bg_argv, bg, log in background:
                            assert bg.poll() is None, f"{bg_argv} died:\n{log.read_text()}"
                        assert time.monotonic() < deadline, f"{line}: not done in {block.timeout_s} s\n" + \
                            "\n".join(transcript[-3:])
                        time.sleep(1.0)  # poll interval on a deadline: the daemons work in real time
        # The sender's outbox agrees: delivered (the end-to-end receipt came back), not merely sent.
        nsp_cfg = str(Path(env["WORK"]) / "nsp" / "nspgw.toml")
        outbox = [str(VENV_BIN / "nspgw"), "outbox", "--json", "--config", nsp_cfg]
        deadline = time.monotonic() + 60
        while '"delivered"' not in run(outbox).stdout:
            assert time.monotonic() < deadline, transcript[-1]
            time.sleep(1.0)
    finally:
        for _argv, bg, _log in background:
            if bg.poll() is None:
                bg.send_signal(signal.SIGTERM)
        for argv, bg, log in background:
            try:
                code = bg.wait(timeout=20)
            except subprocess.TimeoutExpired:
                bg.kill()
                code = bg.wait()
            out = log.read_text()
            assert code == 0, f"{argv} exit {code}:\n{out}"
            assert "Traceback" not in out, out
