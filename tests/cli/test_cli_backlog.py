"""`nspgw status` and `nspgw outbox` show the radio backlog and when waiting messages are expected on air
(issue #12 overload), from the daemon's status record (`backlog`, `outbox_eta`; nspgw/daemon/status.py)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from nspgw.daemon.status import STATUS_KEY
from nspgw.sim.boxes import SimBox
from nspgw.store.sqlite import Store

Run = Callable[..., tuple[int, str, str]]

EMPTY = {"messages": 0, "frames": 0, "airtime_s": 0.0, "expected_delay_s": 0, "duty_bound": False, "expiring": 0}


def _record(**extra: Any) -> dict[str, Any]:
    return {"running": True, "pid": os.getpid(), "heartbeat_wall": time.time(),
            "radio": {"status": "connected", "detail": "verbonden met 127.0.0.1"},
            "queue": {"flash": 1, "immediate": 0, "priority": 0, "routine": 2}, "custody": 0,
            "airtime_used_ms": 300_000, "airtime_limit_ms": 360_000, "airtime_left_ms": 60_000, **extra}


OVERLOADED = {
    "backlog": {"flash": dict(EMPTY, messages=1, frames=1, airtime_s=1.7, expected_delay_s=5),
                "immediate": EMPTY, "priority": EMPTY,
                "routine": {"messages": 2, "frames": 2, "airtime_s": 3.4, "expected_delay_s": 1500,
                            "duty_bound": True, "expiring": 1}},
    "outbox_eta": {"1": {"expected_delay_s": 5, "duty_bound": False, "expires_first": False},
                   "2": {"expected_delay_s": 1500, "duty_bound": True, "expires_first": False},
                   "3": {"expected_delay_s": 1500, "duty_bound": True, "expires_first": True}},
}


def _set(box: SimBox, record: dict[str, Any]) -> None:
    with Store.open(box.store_path) as s:
        s.set_status(STATUS_KEY, record)


def test_status_shows_the_backlog_and_what_to_do(run: Run, boxes: dict[str, SimBox]) -> None:
    nsp = boxes["nsp1"]
    cfg = str(nsp.config_path)
    _set(nsp, _record(**OVERLOADED))
    out = run("status", "-c", cfg)[1]
    assert "Achterstand radio:" in out
    routine = next(line for line in out.splitlines() if line.strip().startswith("ROUTINE"))
    assert "2 bericht(en)" in routine and "binnen ~25 min" in routine and "wacht op zendtijd" in routine
    assert "1 verloopt naar verwachting vóór verzending" in routine
    flash = next(line for line in out.splitlines() if line.strip().startswith("FLASH") and "bericht" in line)
    assert "binnen ~5 s" in flash and "wacht op zendtijd" not in flash
    assert "Houd routineberichten vast" in out
    assert not any(line.strip().startswith("SPOED") for line in out.splitlines())  # no backlog: not listed
    en = run("status", "--lang", "en", "-c", cfg)[1]
    assert "Radio backlog:" in en and "waiting for airtime" in en and "Hold routine messages" in en

    st = json.loads(run("status", "--json", "-c", cfg)[1])
    assert st["backlog"]["routine"] == OVERLOADED["backlog"]["routine"]  # type: ignore[index]
    # extended, not renamed: the keys scripts read stay
    assert st["queue"]["routine"] == 2 and st["airtime_left_ms"] == 60_000 and st["outbox_open"] == 0


def test_status_without_backlog_says_none_and_an_old_daemon_says_nothing(run: Run, boxes: dict[str, SimBox]) -> None:
    nsp = boxes["nsp1"]
    cfg = str(nsp.config_path)
    _set(nsp, _record(backlog={p: EMPTY for p in ("flash", "immediate", "priority", "routine")}, outbox_eta={}))
    assert "Achterstand radio: geen" in run("status", "-c", cfg)[1]
    # Only receipts and beacons waiting: no precedence line with "0 bericht(en)", one line that says so.
    control = dict(EMPTY, frames=3, airtime_s=1.8, expected_delay_s=4)
    _set(nsp, _record(backlog={"flash": EMPTY, "immediate": EMPTY, "priority": EMPTY, "routine": control},
                      outbox_eta={}))
    out = run("status", "-c", cfg)[1]
    assert "Achterstand radio: geen berichten (3 controleframe(s) wachten" in out
    assert not any(line.strip().startswith("ROUTINE") for line in out.splitlines())  # no "0 bericht(en)" line
    assert "no messages (3 control frame(s) waiting" in run("status", "--lang", "en", "-c", cfg)[1]
    _set(nsp, _record())  # a daemon from before the estimate writes no `backlog`
    out = run("status", "-c", cfg)[1]
    assert "Achterstand" not in out and "Dienst draait op nsp1" in out
    assert json.loads(run("status", "--json", "-c", cfg)[1])["backlog"] is None


def test_outbox_shows_when_each_waiting_message_is_expected_on_air(run: Run, boxes: dict[str, SimBox]) -> None:
    nsp = boxes["nsp1"]
    cfg = str(nsp.config_path)
    for text in ("BRAND", "routine een", "routine twee"):
        assert run("send", "gct", text, "-c", cfg)[0] == 0
    beat = time.time()
    _set(nsp, _record(heartbeat_wall=beat, **OVERLOADED))
    rows = {r["seq"]: r for r in json.loads(run("outbox", "--json", "-c", cfg)[1])}
    assert all(r["waiting_for_radio"] for r in rows.values())
    assert rows[2]["expected_send"] == time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(beat + 1500))
    assert (rows[1]["waits_for_airtime"], rows[2]["waits_for_airtime"], rows[3]["expires_first"]) == (False, True, True)
    lines = {int(line.split()[0]): line for line in run("outbox", "-c", cfg)[1].strip().splitlines()}
    at = time.strftime("%H:%M", time.localtime(beat + 1500))
    assert f"[wacht op zendtijd, verwacht ~{at}]" in lines[2]
    assert "verloopt waarschijnlijk eerder" in lines[3]
    assert "[verwacht verzonden ~" in lines[1]
    assert "waiting for airtime" in run("outbox", "--lang", "en", "-c", cfg)[1]

    _set(nsp, dict(_record(**OVERLOADED), running=False))  # a stopped daemon sends nothing: no promise
    rows = {r["seq"]: r for r in json.loads(run("outbox", "--json", "-c", cfg)[1])}
    assert not any(r["waiting_for_radio"] or r["expected_send"] for r in rows.values())
    assert "verwacht" not in run("outbox", "-c", cfg)[1]
