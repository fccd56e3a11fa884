"""`nspgw inbox/read/outbox/status/peers/ping` and `nspgw service install` against a real store (no daemon)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nspgw.core.actions import StoreInbox, StoreOutboxState
from nspgw.core.lifecycle import MsgState
from nspgw.daemon.status import STATUS_KEY
from nspgw.ids import BoxAddr
from nspgw.sim.boxes import SimBox
from nspgw.store.sqlite import Store
from nspgw.wire.content import encode_content
from nspgw.wire.frames import ContentType, MessageFrame, MsgId, Precedence

Run = Callable[..., tuple[int, str, str]]


def deliver(box: SimBox, origin: int, seq: int, text: str, prec: Precedence, link: str = "radio") -> None:
    frame = MessageFrame(BoxAddr(origin), box.addr, MsgId(BoxAddr(origin), seq), prec, 3600,
                         encode_content(ContentType.TEXT, text))
    with Store.open(box.store_path) as s:
        s.apply([StoreInbox(frame, link)])


def test_inbox_read_marks_read(run: Run, boxes: dict[str, SimBox]) -> None:
    gct = boxes["gct"]
    cfg = str(gct.config_path)
    assert run("inbox", "-c", cfg)[1].strip() == "Geen berichten."
    deliver(gct, 101, 1, "routine melding", Precedence.ROUTINE)
    deliver(gct, 101, 2, "BRAND in de kerk\ntweede regel", Precedence.FLASH, link="ip")
    code, out, _ = run("inbox", "-c", cfg)
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2
    assert "FLASH" in lines[0] and "nsp1" in lines[0] and "via IP" in lines[0] and "BRAND in de kerk" in lines[0]
    assert "tweede regel" not in out  # the list shows the first line only
    rows = json.loads(run("inbox", "--json", "-c", cfg)[1])
    assert [r["precedence"] for r in rows] == ["flash", "routine"] and all(not r["read"] for r in rows)
    code, out, _ = run("read", str(rows[0]["id"]), "-c", cfg)
    assert code == 0 and "BRAND in de kerk\ntweede regel" in out and "van nsp1" in out
    unread = json.loads(run("inbox", "--unread", "--json", "-c", cfg)[1])
    assert [r["text"] for r in unread] == ["routine melding"]
    code, _, err = run("read", "999", "-c", cfg)
    assert code == 2 and "bericht 999 niet gevonden" in err
    assert "Message" in run("read", str(rows[1]["id"]), "--lang", "en", "-c", cfg)[1]


def test_outbox_states(run: Run, boxes: dict[str, SimBox]) -> None:
    nsp = boxes["nsp1"]
    cfg = str(nsp.config_path)
    assert run("send", "gct", "een", "-c", cfg)[0] == 0
    assert run("send", "cp", "twee", "-c", cfg)[0] == 0
    assert run("send", "gct", "drie", "-c", cfg)[0] == 0
    with Store.open(nsp.store_path) as s:
        s.apply([StoreOutboxState(1, MsgState.DELIVERED), StoreOutboxState(2, MsgState.EXPIRED, detail="tijd"),
                 StoreOutboxState(3, MsgState.IN_FLIGHT)])
        s.set_status(STATUS_KEY, {"running": False, "pid": 0, "heartbeat_wall": 0, "sent_via": {"3": "radio"}})
    rows = json.loads(run("outbox", "--json", "-c", cfg)[1])
    assert [(r["seq"], r["state"], r["to"]) for r in rows] == [(1, "delivered", "gct"), (2, "expired", "cp1"),
                                                              (3, "in_flight", "gct")]
    out = run("outbox", "-c", cfg)[1]
    assert "afgeleverd" in out and "verlopen (tijd)" in out and "onderweg via radio" in out
    assert "delivered" in run("outbox", "--lang", "en", "-c", cfg)[1]


def test_status_says_not_running_when_pid_gone_or_heartbeat_stale(run: Run, boxes: dict[str, SimBox]) -> None:
    nsp = boxes["nsp1"]
    cfg = str(nsp.config_path)
    st = json.loads(run("status", "--json", "-c", cfg)[1])
    assert not st["running"] and "nooit" in st["not_running_reason"]
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    record = {"running": True, "pid": dead_pid, "heartbeat_wall": time.time(),
              "radio": {"status": "misconfigured", "detail": "regio is US, verwacht EU_868"},
              "queue": {"flash": 1, "immediate": 0, "priority": 0, "routine": 2}, "custody": 0,
              "airtime_used_ms": 1500, "airtime_limit_ms": 360000, "airtime_left_ms": 358500,
              "peers": {"10": {"link": "radio", "snr": 6.5, "rssi": -97, "wall": time.time() - 90}}}
    with Store.open(nsp.store_path) as s:
        s.set_status(STATUS_KEY, record)
    code, out, _ = run("status", "-c", cfg)
    assert code == 0 and "draait NIET" in out and "bestaat niet meer" in out
    assert "VERKEERD INGESTELD" in out and "regio is US, verwacht EU_868" in out and "FLASH 1" in out
    with Store.open(nsp.store_path) as s:
        s.set_status(STATUS_KEY, dict(record, pid=os.getpid(), heartbeat_wall=time.time() - 120))
    st = json.loads(run("status", "--json", "-c", cfg)[1])
    assert not st["running"] and "geen hartslag" in st["not_running_reason"]
    with Store.open(nsp.store_path) as s:
        s.set_status(STATUS_KEY, dict(record, pid=os.getpid(), heartbeat_wall=time.time()))
    assert "Dienst draait op nsp1" in run("status", "-c", cfg)[1]
    peers = json.loads(run("peers", "--json", "-c", cfg)[1])
    assert peers[0]["name"] == "cp1" and peers[0]["snr"] == 6.5
    out = run("peers", "-c", cfg)[1]
    assert "cp1" in out and "SNR 6.5 dB" in out and "RSSI -97 dBm" in out and "gehoord 90 s geleden" in out


def test_ping_needs_the_daemon(run: Run, boxes: dict[str, SimBox]) -> None:
    code, _, err = run("ping", "gct", "-c", str(boxes["nsp1"].config_path))
    assert code == 5 and "draait niet" in err
    code, _, err = run("ping", "nobody", "-c", str(boxes["nsp1"].config_path))
    assert code == 2


def test_service_install(run: Run, tmp_path: Path) -> None:
    units = tmp_path / "units"
    units.mkdir()
    code, out, _ = run("service", "install", "--unit-dir", str(units), "--config", "/etc/nspgw/nspgw.toml")
    assert code == 0
    text = (units / "nspgw.service").read_text()
    assert "Type=notify" in text and "WatchdogSec=" in text and "User=nspgw" in text
    assert "run --config /etc/nspgw/nspgw.toml" in text
    assert "useradd --system" in out and "systemctl daemon-reload && systemctl enable --now nspgw" in out
    code, out, _ = run("service", "install", "--dry-run", "--user", "gw", "--unit-dir", str(tmp_path / "none"))
    assert code == 0 and "User=gw" in out and not (tmp_path / "none").exists()
    code, _, err = run("service", "install", "--unit-dir", str(tmp_path / "none"))
    assert code == 3 and "bestaat niet" in err
    code, _, err = run("service", "install", "--user", "a b", "--unit-dir", str(units))
    assert code == 2


def test_inbox_follow_prints_new_messages(boxes: dict[str, SimBox]) -> None:
    import select

    gct = boxes["gct"]
    deliver(gct, 101, 1, "al binnen", Precedence.ROUTINE)
    proc = subprocess.Popen([str(Path(sys.executable).parent / "nspgw"), "inbox", "--follow", "--json", "-c",
                             str(gct.config_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None

        def next_line(timeout_s: float) -> dict[str, Any]:
            ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
            assert ready, "no line from `inbox --follow` before the deadline"
            return dict(json.loads(proc.stdout.readline()))

        assert next_line(10)["text"] == "al binnen"
        deliver(gct, 101, 2, "nieuw binnen", Precedence.FLASH)
        assert next_line(10)["text"] == "nieuw binnen"
    finally:
        proc.terminate()
        proc.wait(10)
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")


def test_heartbeat_age_follows_the_monotonic_clock_not_a_jumped_wall_clock() -> None:
    """A Pi without RTC jumps its wall clock when NTP comes back; within one boot the age is monotonic."""
    from nspgw.daemon.status import boot_id, daemon_running, stamp

    record = {"running": True, "pid": os.getpid(), **stamp()}
    record["heartbeat_wall"] -= 400 * 86400  # written before the clock jumped forward by 400 days
    assert daemon_running(record) == (True, "")
    assert boot_id(), "Linux names its boot"
    stale = dict(record, heartbeat_mono=record["heartbeat_mono"] - 60)
    running, why = daemon_running(stale)
    assert not running and "60 s" in why
    other_boot = dict(record, boot_id="x")  # another boot: the monotonic time means nothing, wall time counts
    assert not daemon_running(other_boot)[0]
