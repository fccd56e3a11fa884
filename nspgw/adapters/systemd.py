"""systemd integration without libsystemd: the sd_notify datagram protocol and the hardened unit file.

sd_notify: send `READY=1`, `WATCHDOG=1`, `STATUS=...`, `STOPPING=1` as one datagram to the AF_UNIX socket in
`$NOTIFY_SOCKET` (a leading `@` means the abstract namespace). Outside systemd the variable is unset and
every call is a no-op, so the daemon runs the same from a terminal, a test or a unit.
"""

from __future__ import annotations

import os
import socket

WATCHDOG_ENV = "WATCHDOG_USEC"


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        addr = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        self._addr = "\0" + addr[1:] if addr.startswith("@") else addr
        self._sock: socket.socket | None = None
        if self._addr:
            # Non-blocking: a full notify socket (systemd busy) must never stall the daemon's loop.
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, *fields: str) -> bool:
        if self._sock is None:
            return False
        try:
            self._sock.sendto("\n".join(fields).encode("utf-8"), self._addr)
        except OSError:
            return False  # systemd gone (shutdown) or its queue full: not our error, try again next time
        return True

    def ready(self, status: str) -> bool:
        return self.notify("READY=1", f"STATUS={status}")

    def status(self, status: str) -> bool:
        return self.notify(f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval_s() -> float | None:
    """Half the watchdog period systemd asked for (as sd_watchdog_enabled advises), or None."""
    raw = os.environ.get(WATCHDOG_ENV, "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not raw.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(raw) / 1_000_000 / 2


def unit_text(exe: str, config: str, user: str = "nspgw") -> str:
    """A hardened service unit: own user in the dialout group, state under /var/lib/nspgw, strict FS."""
    return f"""[Unit]
Description=nspgw noodsteunpunt-gateway (LoRa/MQTT store-and-forward)
Documentation=file:///usr/share/doc/nspgw/operations.md
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
NotifyAccess=main
ExecStart={exe} run --config {config}
User={user}
Group={user}
SupplementaryGroups=dialout
StateDirectory=nspgw
# Group nspgw may read and write the store, so operators in that group can run `nspgw send` and `inbox`;
# key files stay 0600 (nspgw writes them so and refuses group-readable ones).
StateDirectoryMode=0770
ConfigurationDirectory=nspgw
Restart=always
RestartSec=5
WatchdogSec=60
TimeoutStopSec=30
KillSignal=SIGTERM
# Hardening: the daemon needs its state directory, the radio's serial device and the network.
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
NoNewPrivileges=true
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectKernelLogs=true
ProtectControlGroups=true
ProtectClock=true
ProtectHostname=true
RestrictSUIDSGID=true
RestrictRealtime=true
RestrictNamespaces=true
LockPersonality=true
MemoryDenyWriteExecute=true
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_BLUETOOTH
DevicePolicy=closed
DeviceAllow=char-ttyUSB rw
DeviceAllow=char-ttyACM rw
CapabilityBoundingSet=
UMask=0007

[Install]
WantedBy=multi-user.target
"""
