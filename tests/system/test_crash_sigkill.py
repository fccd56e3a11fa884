"""Crash safety with real processes: the relay network is SIGKILLed at random moments ≥ 50 times while
messages are being accepted; after the last restart every accepted message is delivered exactly once."""

from __future__ import annotations

import json
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from journal_check import assert_journal_matches_state

from nspgw.ids import BoxAddr
from nspgw.sim.scenario_crash import CRASH_BOXES
from nspgw.store.sqlite import Store
from nspgw.wire.frames import Precedence

KILLS = 50
SENDERS = ((101, 1), (102, 1), (1, 101))


def _spawn(workdir: Path, seed: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "nspgw.sim.scenario_crash", str(workdir), "--seed", str(seed),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_ready(child: subprocess.Popen[str], timeout_s: float = 30.0) -> bool:
    """Block until the child says it runs its loop (or the deadline passes): a kill then hits real work."""
    assert child.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([child.stdout], [], [], deadline - time.monotonic())
        if not ready:
            break
        line = child.stdout.readline()
        if not line:
            return False
        if "ready" in line:
            return True
    return False


@pytest.mark.slow
@pytest.mark.system
def test_sigkill_at_random_moments_never_loses_or_duplicates(tmp_path: Path) -> None:
    rng = random.Random(20261128)
    accepted: list[tuple[int, int, int]] = []  # (origin, dst, seq)
    killed_running = 0  # kills that hit the relay loop (not the interpreter starting up)
    for k in range(KILLS):
        child = _spawn(tmp_path, k + 1)
        # `nspgw send` meanwhile, from this process, into the same databases (concurrent writers)
        for _ in range(rng.randint(0, 2)):
            src, dst = rng.choice(SENDERS)
            with Store.open(tmp_path / f"box{src}.db") as s:
                prec = rng.choice(list(Precedence))
                m = s.accept_message(BoxAddr(src), BoxAddr(dst), prec, f"bericht {k} van {src}".encode(),
                                     ttl_s=400_000)  # crash safety, not expiry, is under test
                accepted.append((src, dst, m.seq))
        # Every other kill waits until the relay loop runs, so at least half of them hit real work however
        # slow the machine is; the others may also hit start-up (opening stores, loading state).
        saw_ready = _wait_ready(child) if k % 2 == 0 else False
        time.sleep(rng.uniform(0.05, 0.6))  # a random moment to pull the plug, not a wait for a result
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
        assert child.stdout is not None
        killed_running += saw_ready or "ready" in child.stdout.read()
        if k % 10 == 9:  # between kills too, not only after the final drain
            for a in CRASH_BOXES:
                if (tmp_path / f"box{a}.db").exists():
                    assert_journal_matches_state(tmp_path / f"box{a}.db", a)
    drain = _spawn(tmp_path, 999, "--drain")
    out, err = drain.communicate(timeout=120)
    assert drain.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["unfinished"] == 0, result
    assert len(accepted) >= 20
    assert killed_running >= KILLS // 2, killed_running
    inboxes = {}
    for addr in (1, 101):
        with Store.open(tmp_path / f"box{addr}.db") as s:
            inboxes[addr] = Counter((int(r.origin), r.seq) for r in s.inbox())
    for src, dst, seq in accepted:
        assert inboxes[dst][(src, seq)] == 1, f"{src}/{seq} → {dst}"
    # nothing appears that nobody sent, and every outbox row is delivered (none expired in this run)
    known = {(s, q) for s, _, q in accepted}
    assert set(inboxes[1]) | set(inboxes[101]) <= known
    for src in (101, 102, 1):
        with Store.open(tmp_path / f"box{src}.db") as s:
            assert {r.state.value for r in s.outbox()} <= {"delivered"}
    # the journal of every box agrees with its state: each message, state move, receipt and custody change
    # exactly once, the chain unbroken, after all those kills
    assert sum(assert_journal_matches_state(tmp_path / f"box{a}.db", a) for a in CRASH_BOXES) > len(accepted) * 3
