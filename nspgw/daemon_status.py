"""The daemon's status record (store key "daemon") and how `nspgw status` judges whether the daemon runs.

Written by the loop on change and at least every `HEARTBEAT_S` (one small transaction; SQLite with full
sync costs a few milliseconds on an SD card, so not more often). Readers must not trust a record alone:
the daemon may have died without a word (SIGKILL, power cut). It counts as running only when its heartbeat
is fresh and its pid is alive.
"""

from __future__ import annotations

import os
import time
from typing import Any

from nspgw.wire.frames import Precedence

STATUS_KEY = "daemon"
HEARTBEAT_S = 5.0
STALE_S = 4 * HEARTBEAT_S  # three missed heartbeats: the daemon is stuck or gone


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
    now = time.time() if now_wall is None else now_wall
    age = now - float(record.get("heartbeat_wall", 0.0))
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


def build_record(node: Any, now: float, *, running: bool, box: str, started_wall: float, radio: dict[str, Any],
                 mqtt: dict[str, Any], preset: str, region: str, peers: dict[int, dict[str, Any]],
                 sent_via: dict[int, str]) -> dict[str, Any]:
    """The status record (without the heartbeat time, so that an unchanged record compares equal)."""
    queue = {p.name.lower(): 0 for p in Precedence}  # FLASH first
    for o in node.out.values():
        queue[o.precedence.name.lower()] += 1
    ledger = node.ledger
    used = ledger.used_ms(now)
    return {
        "running": running, "pid": os.getpid(), "box": box, "addr": int(node.me), "started_wall": started_wall,
        "radio": radio, "mqtt": mqtt, "links": node.links.snapshot(),
        "queue": queue, "custody": len(node.held),
        "airtime_used_ms": round(used), "airtime_limit_ms": round(ledger.limit_ms),
        "airtime_left_ms": round(max(0.0, ledger.limit_ms - used)),
        "preset": preset, "region": region,
        "peers": {str(k): v for k, v in sorted(peers.items())},
        "sent_via": {str(k): v for k, v in sent_via.items()},
    }
