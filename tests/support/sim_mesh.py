"""Start `nspgw sim mesh` as a subprocess for tests that drive its virtual radios over TCP, and stop it."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

NSPGW = [sys.executable, "-c", "from nspgw.cli import main\nmain()"]


def start_mesh(nodes: int, *args: str, cmd: list[str] | None = None,
               timeout_s: float = 30.0) -> tuple[subprocess.Popen[str], list[dict[str, str]], str]:
    """The process, one `{"tcp": host:port, "node_id": ...}` line per radio, and the control address ("" if none)."""
    proc = subprocess.Popen([*(cmd or NSPGW), "sim", "mesh", "--nodes", str(nodes), "--no-pty", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    control, found = "", []
    deadline = time.monotonic() + timeout_s
    while len(found) < nodes and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        obj = json.loads(line)
        if "control" in obj:
            control = obj["control"]
        elif "tcp" in obj:
            found.append(obj)
    if len(found) < nodes:
        proc.kill()
        raise AssertionError(f"sim mesh did not start: {proc.stderr.read() if proc.stderr else ''}")
    return proc, found, control


def stop_mesh(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def to_queue(events: queue.Queue[Any]) -> Callable[[str, object], None]:
    """A link's event sink `sink(kind, payload)` that queues the payloads (the tests look at their types)."""
    return lambda kind, payload: events.put(payload)


def wait_event(events: queue.Queue[Any], match: Callable[[Any], bool], timeout_s: float = 20.0) -> Any:
    """The first queued event that `match`es, skipping the others; AssertionError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("expected event did not arrive before the deadline")
        try:
            e = events.get(timeout=left)
        except queue.Empty:
            continue
        if match(e):
            return e
