"""Control channel of a running `nspgw sim mesh`: a Unix socket speaking one JSON object per line.

Commands (each answered with `{"ok": true, ...}` or `{"ok": false, "error": "..."}`):
  {"cmd": "link", "a": "node0", "b": "node1", "up": false}
  {"cmd": "node", "node": "node1", "up": false}
  {"cmd": "radio", "node": "node1", "plugged": false, "for_s": 5.0}
  {"cmd": "status"}
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

from nspgw.errors import DaemonNotRunning, NspgwError, UsageError

log = logging.getLogger("nspgw.sim")
MAX_LINE = 4096
ENV_VAR = "NSPGW_SIM_CONTROL"


def _handle(server: Any, req: Any) -> dict[str, Any]:
    if not isinstance(req, dict):
        raise UsageError("command must be a JSON object")
    cmd = req.get("cmd")
    if cmd == "link":
        server.set_link_up(str(req.get("a")), str(req.get("b")), bool(req.get("up")))
    elif cmd == "node":
        server.set_node_up(str(req.get("node")), bool(req.get("up")))
    elif cmd == "radio":
        name = str(req.get("node"))
        if req.get("plugged"):
            server.radio_replug(name)
        else:
            for_s = req.get("for_s")
            if for_s is not None and (isinstance(for_s, bool) or not isinstance(for_s, int | float) or for_s <= 0):
                raise UsageError("for_s: must be a positive number of seconds")
            server.radio_unplug(name, None if for_s is None else float(for_s))
    elif cmd == "status":
        return {"ok": True, **server.status()}
    else:
        raise UsageError(f"unknown command {cmd!r} (link, node, radio, status)")
    return {"ok": True}


class MeshControlServer:
    """Serves control commands for a MeshServer on a Unix socket until `close()`."""

    def __init__(self, server: Any, path: Path) -> None:
        self.server = server
        self.path = path
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a stale socket from a killed run
        path.parent.mkdir(parents=True, exist_ok=True)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        os.chmod(path, 0o600)  # only the technician's user may cut links
        self._sock.listen(8)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sim-control", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            threading.Thread(target=self._serve, args=(conn,), daemon=True, name="sim-control-conn").start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as f:
            for raw in f:
                if len(raw) > MAX_LINE:
                    reply: dict[str, Any] = {"ok": False, "error": "line too long"}
                else:
                    try:
                        reply = _handle(self.server, json.loads(raw))
                    except json.JSONDecodeError as exc:
                        reply = {"ok": False, "error": f"not JSON: {exc.msg}"}
                    except NspgwError as exc:
                        reply = {"ok": False, "error": str(exc)}
                    except Exception as exc:
                        log.exception("control command failed")
                        reply = {"ok": False, "error": f"internal error: {exc}"}
                f.write(json.dumps(reply).encode() + b"\n")
                f.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def send_command(path: Path, command: dict[str, Any], timeout_s: float = 10.0) -> dict[str, Any]:
    """Client side: one command, one reply. Errors become NspgwError subclasses."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout_s)
            s.connect(str(path))
            s.sendall(json.dumps(command).encode() + b"\n")
            with s.makefile("rb") as f:
                line = f.readline()
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise DaemonNotRunning(f"geen draaiende simulatie op {path} / no running simulation: {exc.strerror}") from exc
    except OSError as exc:
        raise DaemonNotRunning(f"besturingskanaal {path} onbereikbaar / control channel unreachable: {exc}") from exc
    try:
        reply = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DaemonNotRunning(f"onverwacht antwoord van {path} / unexpected reply") from exc
    if not reply.get("ok"):
        raise UsageError(str(reply.get("error", "unknown error")))
    return dict(reply)
