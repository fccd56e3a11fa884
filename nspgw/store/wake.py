"""Waking the daemon after `nspgw send` committed a message: a Unix datagram socket next to the database.

The message is accepted when its row commits; the wake-up is only a hint. When no daemon listens the
send still succeeds (the message waits in the outbox and the daemon picks it up at start), and the daemon
also re-reads the outbox periodically, so a lost datagram delays a message by at most that period.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from pathlib import Path

from nspgw.errors import StoreError


def wake_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".wake")


def notify_daemon(db_path: Path) -> bool:
    """True when a daemon socket took the hint; False when none listens (not an error)."""
    path = wake_path(db_path)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.setblocking(False)
            s.sendto(b"w", str(path))
        return True
    except OSError:
        return False


class WakeListener:
    """The daemon's end: `fileno()` for select(), `drain()` after it became readable."""

    def __init__(self, db_path: Path) -> None:
        self.path = wake_path(db_path)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                os.unlink(self.path)  # the stale socket of a daemon that died
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._sock.bind(str(self.path))
        except OSError as exc:
            self._sock.close()
            raise StoreError(f"cannot listen for wake-ups on {self.path}: {exc}") from None
        self._sock.setblocking(False)

    def fileno(self) -> int:
        return self._sock.fileno()

    def drain(self) -> int:
        n = 0
        while True:
            try:
                self._sock.recv(64)
                n += 1
            except BlockingIOError:
                return n

    def close(self) -> None:
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
