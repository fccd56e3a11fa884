"""A throwaway Mosquitto on a free loopback port with a generated config, for the demo and system tests.

    broker = Mosquitto.create(tmp / "broker", users={"0a1": "geheim"})   # config written, not started
    broker.start()          # waits until the listener accepts a TCP connection
    broker.kill()           # SIGKILL: the telecom failure of the demo
    broker.start()          # same port, same config: telecom back
    broker.stop()

Only 127.0.0.1 is ever used. The broker runs in its own process group (`start_new_session`), so a Ctrl-C in
the demo's terminal reaches the demo, which then stops the broker in its `finally`, and `kill` never hits
anything but the broker. Logins use Mosquitto 2's PBKDF2 password format, written here directly (see
`password_line`) so neither `mosquitto_passwd` nor root is needed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nspgw.errors import NspgwError

HOST = "127.0.0.1"
# Debian/Ubuntu install the broker in /usr/sbin, which is not on an ordinary user's PATH.
_FALLBACKS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")
# Mosquitto 2.0 password file: "$7$" = PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt, 64-byte hash, both
# base64 (mosquitto_passwd(1) and the broker's pw_digest "$7$"; 101 is its default iteration count).
_PBKDF2_ITERATIONS = 101
_SALT_BYTES = 12


class BrokerError(NspgwError):
    """The throwaway broker could not be started (binary missing, config refused, port not listening)."""


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary, or None when it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((p for p in _FALLBACKS if os.access(p, os.X_OK)), None)


def free_port(host: str = HOST) -> int:
    """A TCP port that is free on 127.0.0.1 right now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def password_line(user: str, password: str, salt: bytes | None = None) -> str:
    """One password-file line in Mosquitto 2's `$7$` format."""
    salt = os.urandom(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, _PBKDF2_ITERATIONS, 64)
    b64 = base64.b64encode
    return f"{user}:$7${_PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def render_config(port: int, *, password_file: Path | None = None, acl_file: Path | None = None,
                  persistence_dir: Path | None = None, extra: Sequence[str] = ()) -> str:
    """mosquitto.conf text: one plain listener on 127.0.0.1, logging to stderr (our log file)."""
    lines = [f"listener {port} {HOST}", "log_dest stderr", "log_type error", "log_type warning",
             "log_type notice", "max_queued_messages 1000",
             f"allow_anonymous {'false' if password_file else 'true'}"]
    if os.geteuid() == 0:
        lines.append("user root")  # otherwise mosquitto switches to user `mosquitto`, who cannot read our tmp dir
    if persistence_dir is not None:
        lines += ["persistence true", f"persistence_location {persistence_dir}/"]
    else:
        lines.append("persistence false")
    if password_file is not None:
        lines.append(f"password_file {password_file}")
    if acl_file is not None:
        lines.append(f"acl_file {acl_file}")
    lines += list(extra)
    return "\n".join(lines) + "\n"


@dataclass
class Mosquitto:
    """One throwaway broker. `start()` after `kill()`/`stop()` reuses the same port and config."""

    binary: str
    dir: Path
    port: int
    conf: Path
    env: Mapping[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    host: str = HOST

    @property
    def log(self) -> Path:
        return self.dir / "mosquitto.log"

    @classmethod
    def create(cls, directory: Path, *, port: int | None = None, users: Mapping[str, str] | None = None,
               acl: str | None = None, persistence: bool = False, extra_conf: Sequence[str] = (),
               binary: str | None = None, env: Mapping[str, str] | None = None) -> Mosquitto:
        """Write config (and password/ACL files) into `directory`; BrokerError when mosquitto is missing."""
        found = binary or find_mosquitto()
        if found is None:
            raise BrokerError("mosquitto niet gevonden (apt-get install mosquitto) / mosquitto not installed")
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port() if port is None else port
        pw_file = acl_file = None
        if users:
            pw_file = directory / "passwd"
            pw_file.write_text("".join(password_line(u, p) + "\n" for u, p in users.items()), encoding="utf-8")
            pw_file.chmod(0o600)  # mosquitto 2.0 warns about (and later versions refuse) readable password files
        if acl is not None:
            acl_file = directory / "acl"
            acl_file.write_text(acl, encoding="utf-8")
            acl_file.chmod(0o600)
        persist = directory / "data" if persistence else None
        if persist is not None:
            persist.mkdir(exist_ok=True)
        conf = directory / "mosquitto.conf"
        conf.write_text(render_config(port, password_file=pw_file, acl_file=acl_file, persistence_dir=persist,
                                      extra=extra_conf), encoding="utf-8")
        return cls(found, directory, port, conf, env)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout_s: float = 10.0) -> None:
        """Start and wait until the listener accepts connections (BrokerError with the log tail otherwise)."""
        if self.running:
            return
        with self.log.open("ab") as out:
            try:
                self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                                             stdout=out, stderr=out, start_new_session=True,
                                             env=dict(self.env) if self.env is not None else None)
            except OSError as exc:
                raise BrokerError(f"mosquitto ({self.binary}) start niet: {exc.strerror}") from None
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise BrokerError(f"mosquitto stopte direct (code {self.proc.returncode}): {self._tail()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise BrokerError(f"mosquitto luistert niet op poort {self.port}: {self._tail()}") from None
                time.sleep(0.02)  # polling the listener on a deadline

    def kill(self) -> None:
        """SIGKILL, as a crash or a pulled plug: no clean disconnects, sessions gone unless persisted."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # harmless when running; a frozen broker must die too
            self.proc.kill()
            self.proc.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP: connections stay open but nothing answers, like a broker behind a dead line."""
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGCONT)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM (mosquitto saves persistence and exits), SIGKILL after `timeout_s`."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def _tail(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-1500:].strip()
        except OSError:
            return "(geen log)"

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
