"""The daemon's small I/O helpers: wake-ups and signals into the loop's queue, and the control socket.

The driver loop waits on one `queue.Queue` only. Everything that can wake it is turned into a queue item by
a helper thread here: the wake socket (`nspgw send` committed a row), SIGTERM/SIGINT (through
`signal.set_wakeup_fd`, because a signal handler must not take the queue's lock: it may interrupt the main
thread while it holds it), and requests on the control socket (`nspgw ping`).

Control socket: a Unix stream socket `<state_dir>/nspgw.ctl` (mode 0600 through the state directory's 0700),
one JSON request line, one JSON answer line: `{"cmd": "ping", "to": 10, "timeout_s": 30}` →
`{"ok": true, "rtt_s": 1.9, "snr": 7.5, "rssi": -80, "link": "radio"}`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import select
import signal
import socket
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nspgw.errors import DaemonNotRunning, StoreError
from nspgw.store.wake import WakeListener

log = logging.getLogger("nspgw.daemon")

CONTROL_NAME = "nspgw.ctl"


def control_path(state_dir: Path) -> Path:
    return state_dir / CONTROL_NAME


@dataclass
class ControlRequest:
    """A request from the control socket, answered by the loop through `reply`."""

    body: dict[str, Any]
    reply: queue.Queue[dict[str, Any]] = field(default_factory=lambda: queue.Queue(maxsize=1))


class Waker:
    """One thread: wake socket readable → ("wake", None); a signal arrived → ("signal", signum)."""

    def __init__(self, db_path: Path, q: queue.Queue[tuple[str, Any]]) -> None:
        self._q = q
        self._listener = WakeListener(db_path)
        self._sig_r, self._sig_w = os.pipe()
        self._stop_r, self._stop_w = os.pipe()
        for fd in (self._sig_r, self._sig_w, self._stop_r, self._stop_w):
            os.set_blocking(fd, False)
        self._old_wakeup: int | None = None
        self._thread = threading.Thread(target=self._run, name="nspgw-wake", daemon=True)

    def start(self, handle_signals: bool) -> None:
        if handle_signals:
            # A Python-level handler replaces the default (terminate); the work happens in the loop.
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda signum, frame: None)
            self._old_wakeup = signal.set_wakeup_fd(self._sig_w, warn_on_full_buffer=False)
        self._thread.start()

    def _run(self) -> None:
        fds = [self._listener.fileno(), self._sig_r, self._stop_r]
        while True:
            try:
                readable, _, _ = select.select(fds, [], [])
            except (OSError, ValueError):
                return
            if self._stop_r in readable:
                return
            if self._listener.fileno() in readable and self._listener.drain():
                self._q.put(("wake", None))
            if self._sig_r in readable:
                with contextlib.suppress(BlockingIOError):
                    for signum in os.read(self._sig_r, 64):
                        self._q.put(("signal", signum))

    def close(self) -> None:
        if self._old_wakeup is not None:
            signal.set_wakeup_fd(self._old_wakeup)
            self._old_wakeup = None
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")
        self._thread.join(2.0)
        self._listener.close()
        for fd in (self._sig_r, self._sig_w, self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)


class ControlServer:
    """Accepts control connections; each request goes to the loop's queue as ("control", ControlRequest)."""

    def __init__(self, path: Path, q: queue.Queue[tuple[str, Any]]) -> None:
        self.path = path
        self._q = q
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)  # a socket left by a daemon that died
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.bind(str(path))
            os.chmod(path, 0o600)
            self._sock.listen(8)
        except OSError as exc:
            self._sock.close()
            raise StoreError(f"kan stuursocket {path} niet openen: {exc.strerror}") from None
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="nspgw-control", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), name="nspgw-control-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5.0)
            try:
                line = conn.makefile("rb").readline(4096)
                body = json.loads(line)
                if not isinstance(body, dict):
                    raise ValueError("not an object")
            except (OSError, ValueError):
                _answer(conn, {"ok": False, "error": "ongeldig verzoek"})
                return
            req = ControlRequest(body)
            self._q.put(("control", req))
            wait_s = min(float(body.get("timeout_s", 30.0)), 300.0) + 5.0
            try:
                answer = req.reply.get(timeout=wait_s)
            except queue.Empty:
                answer = {"ok": False, "error": "geen antwoord van de dienst"}
            conn.settimeout(None)
            _answer(conn, answer)

    def close(self) -> None:
        self._closing = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def _answer(conn: socket.socket, answer: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(answer).encode("utf-8") + b"\n")


def control_request(state_dir: Path, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Client side (`nspgw ping`): DaemonNotRunning when nobody listens on the control socket."""
    path = control_path(state_dir)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5.0)
        try:
            s.connect(str(path))
        except OSError:
            raise DaemonNotRunning(
                "de nspgw-dienst draait niet (start hem met: systemctl start nspgw) / the service is not running"
            ) from None
        s.sendall(json.dumps(body).encode("utf-8") + b"\n")
        s.settimeout(timeout_s + 10.0)
        try:
            line = s.makefile("rb").readline(65536)
        except OSError:
            line = b""
    if not line:
        raise DaemonNotRunning("de nspgw-dienst gaf geen antwoord / the service did not answer")
    answer = json.loads(line)
    return answer if isinstance(answer, dict) else {"ok": False, "error": "ongeldig antwoord"}
