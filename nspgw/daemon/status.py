"""The daemon's status record (store key "daemon") and how `nspgw status` judges whether the daemon runs.

Written by the loop on change and at least every `HEARTBEAT_S` (one small transaction; SQLite with full
sync costs a few milliseconds on an SD card, so not more often). Readers must not trust a record alone:
the daemon may have died without a word (SIGKILL, power cut). It counts as running only when its heartbeat
is fresh and its pid is alive.

Ages are measured on the monotonic clock when the reader runs in the same boot as the writer (the kernel's
boot id says so): a Pi without RTC jumps its wall clock by months when NTP or a GPS comes back, which
would make a live daemon look dead (or a dead one alive) until its next heartbeat. The wall times stay in
the record for people and for readers after a reboot.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nspgw.wire.frames import Precedence

if TYPE_CHECKING:  # the CLI and the console read this module: they need not load the core
    from nspgw.core.snapshot import NodeSnapshot

STATUS_KEY = "daemon"
HEARTBEAT_S = 5.0
STALE_S = 4 * HEARTBEAT_S  # three missed heartbeats: the daemon is stuck or gone


_BOOT_ID: str | None = None
STUCK_BACKOFF_S = 1.0  # the loop's floor when the core's deadline did not move (a defect; never busy-wait)


@dataclass
class LoopStats:
    """Wake-ups of the daemon's one wait, since start (monotonic seconds `since_mono`)."""

    wakeups: int = 0
    timer_runs: int = 0
    empty_timer_runs: int = 0
    since_mono: float = field(default_factory=time.monotonic)
    stuck_at: float | None = None  # a core deadline that handle_timer did not consume (defect guard)

    def snapshot(self) -> dict[str, Any]:
        return {"wakeups": self.wakeups, "timer_runs": self.timer_runs, "empty_timer_runs": self.empty_timer_runs,
                "since_mono": self.since_mono, "stuck": self.stuck_at is not None}


def boot_id() -> str:
    """This boot's id ("" where the kernel does not say): CLOCK_MONOTONIC is comparable only within one boot."""
    global _BOOT_ID
    if _BOOT_ID is None:
        try:
            with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
                _BOOT_ID = f.read().strip()
        except OSError:
            _BOOT_ID = ""
    return _BOOT_ID


def stamp() -> dict[str, Any]:
    """The heartbeat fields of a status record: wall time for people, monotonic time and boot id for ages."""
    return {"heartbeat_wall": time.time(), "heartbeat_mono": time.monotonic(), "boot_id": boot_id()}


def age_s(record: dict[str, Any], wall: float | None, mono: float | None) -> float | None:
    """Seconds since a moment the daemon wrote as (`wall`, `mono`) into `record`; None if it wrote neither."""
    here = boot_id()
    if mono is not None and here and record.get("boot_id") == here:
        return max(0.0, time.monotonic() - float(mono))
    if wall:
        return time.time() - float(wall)
    return None


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user (the nspgw service user)
    return True


def daemon_running(record: dict[str, Any] | None, now_wall: float | None = None) -> tuple[bool, str]:
    """(running, reason in Dutch) from a status record."""
    if not record:
        return False, "de dienst heeft nog nooit gedraaid"
    if not record.get("running", False):
        return False, "de dienst is gestopt"
    if now_wall is None:
        age = age_s(record, record.get("heartbeat_wall"), record.get("heartbeat_mono"))
        age = float("inf") if age is None else age
    else:
        age = now_wall - float(record.get("heartbeat_wall", 0.0))
    if not pid_alive(int(record.get("pid", 0))):
        return False, "het dienstproces bestaat niet meer"
    if age > STALE_S:
        return False, f"geen hartslag sinds {age:.0f} s"
    return True, ""


def summary_nl(radio: dict[str, Any], queued: int) -> str:
    """The systemd STATUS= line: "radio verbonden, 3 in wachtrij"."""
    status = radio.get("status", "")
    words = {"connected": "radio verbonden", "connecting": "radio verbinden…", "misconfigured":
             "radio VERKEERD INGESTELD", "disconnected": "radio niet verbonden", "disabled": "radio uit"}
    return f"{words.get(status, 'radio ' + status)}, {queued} in wachtrij"


def coarse_delay_s(delay_s: float) -> int | None:
    """An expected delay as the status record keeps it: None when the work cannot go (radio down, never fits),
    else rounded up to 5 s below two minutes and to whole minutes above, so that the record does not change
    every second while a queue drains (it is rewritten on change)."""
    if math.isinf(delay_s):
        return None
    step = 5 if delay_s < 120 else 60
    return int(math.ceil(max(delay_s, 0.0) / step) * step)


def backlog_record(snap: NodeSnapshot) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(`backlog` per precedence, `outbox_eta` per own message waiting for the radio) for the status record."""
    from nspgw.core.work import OutKey

    backlog = {
        p.name.lower(): {"messages": line.messages, "frames": line.frames,
                         "airtime_s": round(line.airtime_ms / 1000.0, 1),
                         "expected_delay_s": coarse_delay_s(line.expected_delay_s), "duty_bound": line.duty_bound,
                         "expiring": line.expiring}
        for p, line in snap.backlog.lines.items()}
    eta = {str(key.seq): {"expected_delay_s": coarse_delay_s(est.delay_s), "duty_bound": est.duty_bound,
                          "expires_first": est.expires_first}
           for key, est in snap.backlog.items.items() if isinstance(key, OutKey)}
    return backlog, eta


def build_record(node: Any, now: float, *, running: bool, box: str, started_wall: float, radio: dict[str, Any],
                 mqtt: dict[str, Any], preset: str, region: str, peers: dict[int, dict[str, Any]],
                 sent_via: dict[int, str], presence: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The status record (without the heartbeat time, so that an unchanged record compares equal)."""
    snap = node.snapshot(now)
    queue = {p.name.lower(): snap.queue[p] for p in Precedence}  # FLASH first
    used, limit = snap.airtime_used_ms, snap.airtime_limit_ms
    backlog, eta = backlog_record(snap)
    return {
        "running": running, "pid": os.getpid(), "box": box, "addr": int(snap.me), "started_wall": started_wall,
        "radio": radio, "mqtt": mqtt, "links": {k: dict(v) for k, v in snap.links.items()},
        "queue": queue, "custody": snap.custody,
        "backlog": backlog, "outbox_eta": eta,  # radio work and when it is expected on air (core/backlog.py)
        "airtime_used_ms": round(used), "airtime_limit_ms": round(limit),
        "airtime_left_ms": round(max(0.0, limit - used)),
        "preset": preset, "region": region,
        "peers": {str(k): v for k, v in sorted(peers.items())},
        "sent_via": {str(k): v for k, v in sent_via.items()},
        "presence": presence or {},  # per box: what the MQTT broker last said (verified, newest only)
    }
