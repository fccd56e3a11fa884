"""The daemon without radios: its loop in-process (wake-ups, READY/STATUS, clean stop, status record),
start-up failures through `nspgw run` (exit codes, no traceback, nothing reset), preset timing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from waiting import wait_for

from nspgw.adapters.systemd import Notifier
from nspgw.config import load_config
from nspgw.daemon.driver import core_timing
from nspgw.daemon.service import Daemon
from nspgw.daemon.status import STATUS_KEY, daemon_running
from nspgw.ids import BoxAddr
from nspgw.sim.boxes import SimBox, provision_chain
from nspgw.store.sqlite import Store
from nspgw.store.wake import notify_daemon
from nspgw.wire.content import encode_content
from nspgw.wire.frames import ContentType, Precedence

FAKE_RADIOS = [{"name": f"node{i}", "node_id": f"!1000{i:04x}", "tcp": "127.0.0.1:9"} for i in range(3)]
NSPGW = str(Path(sys.executable).parent / "nspgw")


@pytest.fixture
def nsp(tmp_path: Path) -> SimBox:
    return provision_chain(tmp_path / "boxes", FAKE_RADIOS, preset="SHORT_TURBO")[0]


@pytest.fixture
def running(nsp: SimBox, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A daemon without radio or MQTT, in a thread, reporting to a notify socket of ours."""
    cfg = load_config(nsp.config_path)
    cfg = replace(cfg, radio=replace(cfg.radio, enabled=False))
    sock_path = tmp_path / "notify.sock"
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(str(sock_path))
    sink.settimeout(10.0)
    d = Daemon(cfg, handle_signals=False, notifier=Notifier(str(sock_path)), trace_path=tmp_path / "trace.jsonl")
    result: dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.setdefault("code", d.run()), daemon=True)
    t.start()
    yield {"daemon": d, "notify": sink, "thread": t, "result": result}
    d.request_stop()
    t.join(10)
    sink.close()


def store_rows(box: SimBox) -> list[Any]:
    with Store.open(box.store_path, create=False) as s:
        return s.outbox()


def test_ready_wake_status_and_clean_stop(running: dict[str, Any], nsp: SimBox, tmp_path: Path) -> None:
    first = running["notify"].recv(4096).decode()
    assert first.startswith("READY=1") and "STATUS=radio uit, 0 in wachtrij" in first
    with Store.open(nsp.store_path) as s:
        rec = s.status()[STATUS_KEY]
        msg = s.accept_message(BoxAddr(nsp.addr), BoxAddr(1), Precedence.PRIORITY,
                               encode_content(ContentType.TEXT, "via de wake-socket"))
    assert daemon_running(rec) == (True, "") and rec["pid"] == os.getpid()
    assert notify_daemon(nsp.store_path)
    # the daemon fed the row to its core: accepted → queued/in flight (no radio: the frame goes nowhere)
    wait_for(lambda: store_rows(nsp)[0].state.value in ("queued", "in_flight"))

    def status() -> dict[str, Any]:
        with Store.open(nsp.store_path) as s:
            return dict(s.status()[STATUS_KEY])

    rec = wait_for(lambda: (r := status())["queue"]["priority"] == 1 and r)  # written within a second of the change
    assert rec["radio"]["status"] == "disabled"
    assert msg.seq == 1
    running["daemon"].request_stop()
    running["thread"].join(10)
    assert running["result"]["code"] == 0
    with Store.open(nsp.store_path) as s:
        rec = s.status()[STATUS_KEY]
    assert rec["running"] is False and daemon_running(rec)[0] is False
    # `nspgw run --trace FILE`: the woken outbox row reached the core, and nothing of its text is in the trace
    from nspgw.daemon.trace import read

    recs = read(tmp_path / "trace.jsonl")
    assert [(r["box"], r["data"]["msg"]["seq"]) for r in recs if r["type"] == "MessageAccepted"] == [(nsp.addr, 1)]
    assert "via de wake-socket" not in (tmp_path / "trace.jsonl").read_text(encoding="utf-8")
    seen: list[str] = []
    running["notify"].setblocking(False)
    try:
        while True:
            seen.append(running["notify"].recv(4096).decode())
    except BlockingIOError:
        pass  # the daemon has exited: everything it sent is queued already
    assert seen[-1] == "STOPPING=1" and any(n.startswith("STATUS=") for n in seen)


def test_start_up_failures_are_loud_and_leave_state_alone(nsp: SimBox, tmp_path: Path) -> None:
    nsp.store_path.write_bytes(b"not sqlite" * 50)
    r = subprocess.run([NSPGW, "run", "--config", str(nsp.config_path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 4 and "fout: " in r.stderr and "Traceback" not in r.stderr
    assert nsp.store_path.read_bytes() == b"not sqlite" * 50
    nsp.store_path.unlink()
    (nsp.state_dir / "keys" / "box.key").chmod(0o644)
    r = subprocess.run([NSPGW, "run", "--config", str(nsp.config_path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 7 and "chmod 600" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([NSPGW, "run", "--config", str(tmp_path / "missing.toml")], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 3 and "bestaat niet" in r.stderr


def test_sigterm_exits_zero(nsp: SimBox, tmp_path: Path) -> None:
    text = nsp.config_path.read_text().replace("[radio]\nenabled = true", "[radio]\nenabled = false")
    nsp.config_path.write_text(text)
    # READY on a notify socket of ours (polling the store instead would race the daemon's first migration)
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(str(tmp_path / "n.sock"))
    sink.settimeout(20)
    proc = subprocess.Popen([NSPGW, "run", "--config", str(nsp.config_path)], stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "n.sock")))
    try:
        assert sink.recv(4096).decode().startswith("READY=1")
        proc.terminate()
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        sink.close()
    err = proc.stderr.read() if proc.stderr else ""
    assert "SIGTERM" in err and "Traceback" not in err


def test_core_timing_scales_with_time_on_air() -> None:
    from nspgw.adapters.radio_pacing import neighbour_gap_s

    slow, fast = core_timing("LONG_FAST"), core_timing("SHORT_TURBO")
    # The per-frame margin is never below the gap the radio adapter leaves for a neighbour's turn (32 slots:
    # 0.90 s at LONG_FAST, 0.26 s at SHORT_TURBO), so the core hands frames over no faster than they go out.
    assert slow == {"ack_timeout_s": 45.0, "radio_margin_s": neighbour_gap_s("LONG_FAST"), "held_recheck_s": 1800.0}
    assert 0.85 < slow["radio_margin_s"] < 0.95
    assert fast["ack_timeout_s"] == 6.0 and fast["radio_margin_s"] == neighbour_gap_s("SHORT_TURBO") < 0.3
    assert 60.0 <= fast["held_recheck_s"] < 100
    assert core_timing("LONG_SLOW")["ack_timeout_s"] > 45.0


def test_roster_update_over_the_air_is_persisted_and_adopted(running: dict[str, Any], nsp: SimBox) -> None:
    """A revocation broadcast by the crisis team reaches the daemon: roster.json first, then the key ring."""
    from nspgw.adapters.ports import LinkFrame
    from nspgw.crypto.roster import RosterDelta
    from nspgw.sim.boxes import chain_network
    from nspgw.store.keyfiles import load_keyring
    from nspgw.wire.codec import FrameCodec
    from nspgw.wire.frames import RosterUpdateFrame

    assert running["notify"].recv(4096).decode().startswith("READY=1")
    _, net = chain_network(FAKE_RADIOS)
    delta = RosterDelta(1, 2, revoked=(BoxAddr(10),)).signed(net.authority)
    frame = FrameCodec(net.keyring(1)).encode(RosterUpdateFrame(BoxAddr(1), delta.to_bytes()), 7)
    d = running["daemon"]
    d.q.put(("mqtt", ("frame", LinkFrame("mqtt", 1, 0xFFF, frame))))
    wait_for(lambda: load_keyring(nsp.state_dir / "keys").roster.version == 2)
    roster = load_keyring(nsp.state_dir / "keys").roster
    assert roster.get(10).revoked and not roster.get(1).revoked
    wait_for(lambda: d.node.cfg.keyring.roster.version == 2)
    # a forged update (not the authority's signature) changes nothing and does not stop the daemon
    from nspgw.crypto.keys import SigningKey
    from nspgw.daemon.io import ControlRequest

    forged = RosterDelta(2, 3, revoked=(BoxAddr(1),)).signed(SigningKey(b"\x01" * 32))
    bad = FrameCodec(net.keyring(1)).encode(RosterUpdateFrame(BoxAddr(1), forged.to_bytes()), 8)
    d.q.put(("mqtt", ("frame", LinkFrame("mqtt", 1, 0xFFF, bad))))
    marker = ControlRequest({"cmd": "nothing"})  # the queue is FIFO: its answer means the frame was handled
    d.q.put(("control", marker))
    assert "onbekend commando" in marker.reply.get(timeout=10)["error"]
    assert load_keyring(nsp.state_dir / "keys").roster.version == 2 and running["thread"].is_alive()
    assert not d.node.cfg.keyring.roster.get(1).revoked


def test_a_flood_of_received_frames_is_capped_but_state_changes_always_queue(nsp: SimBox) -> None:
    """Frames are the input a peer controls: past the cap they are dropped (like loss on air, senders
    retry) instead of growing the loop's queue without bound; a link going down must never be dropped."""
    import nspgw.daemon.service as daemon_mod

    d = Daemon(load_config(nsp.config_path), handle_signals=False)
    sink = d._sink("mqtt")
    for i in range(daemon_mod._MAX_QUEUED_FRAMES + 50):
        sink("frame", i)
    assert d.q.qsize() == daemon_mod._MAX_QUEUED_FRAMES and d._frames_dropped == 50
    sink("state", "down")
    assert d.q.qsize() == daemon_mod._MAX_QUEUED_FRAMES + 1


def test_loop_counts_wake_ups_and_never_spins_on_a_stuck_deadline(running: dict[str, Any], nsp: SimBox) -> None:
    """The loop counts its wake-ups (status record "loop"); a core deadline that handle_timer does not consume
    (a defect the core's property test rules out) costs one wake-up per second, not a spinning core."""
    assert running["notify"].recv(4096).decode().startswith("READY=1")
    d: Daemon = running["daemon"]

    def loop() -> dict[str, Any] | None:
        with Store.open(nsp.store_path) as s:
            return s.status()[STATUS_KEY].get("loop")  # type: ignore[union-attr,no-any-return]

    wait_for(lambda: (rec := loop()) is not None and rec["wakeups"] >= 1 and not rec["stuck"])
    d.node.next_deadline = lambda: 0.0  # type: ignore[method-assign,union-attr]
    wait_for(lambda: d.loop.stuck_at is not None)
    runs, t0 = d.loop.timer_runs, time.monotonic()
    wait_for(lambda: d.loop.timer_runs >= runs + 3)
    # Three timer runs on the stuck deadline take at least two pauses of a second (a spin: microseconds).
    assert time.monotonic() - t0 >= 1.8
    running["daemon"].request_stop()
    running["thread"].join(10)
    assert running["result"]["code"] == 0
