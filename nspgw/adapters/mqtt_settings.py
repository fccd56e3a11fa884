"""Topics, addresses and connection settings of the MQTT link (docs/broker.md). No I/O here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from nspgw.errors import ConfigError, UsageError
from nspgw.ids import BROADCAST_ADDR

TOPIC_ROOT = "nspgw/v1"
MAX_PAYLOAD = 1024
"""Frames are at most a few hundred bytes (radio-sized); anything above 1 KiB is garbage and dropped unread."""

KEEPALIVE_S = 10
SESSION_EXPIRY_S = 7 * 24 * 3600
"""How long the broker keeps a box's subscriptions and queued QoS 1 frames while it is away: a week covers a
long power cut; the core resends anything older anyway (its outbox is the authority)."""

def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_NETWORK_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_ADDR_RE = re.compile(r"^[0-9a-f]{3}$")



def addr_level(addr: int) -> str:
    """The topic level for a roster address: 3 lowercase hex digits, `all` for the broadcast address."""
    if addr == BROADCAST_ADDR:
        return "all"
    if not 0 < addr < BROADCAST_ADDR:
        raise UsageError(f"ongeldig netwerkadres {addr} (verwacht 1..4094)")
    return f"{addr:03x}"


def parse_addr_level(level: str) -> int | None:
    """Inverse of `addr_level`; None for anything that is not a valid address level."""
    if level == "all":
        return BROADCAST_ADDR
    if not _ADDR_RE.match(level):
        return None
    value = int(level, 16)
    return value if 0 < value < BROADCAST_ADDR else None


def username_for(addr: int, *, crisis_team: bool = False) -> str:
    """The broker username of a box (docs/broker/nspgw.acl): its address level, so the ACL pattern
    `write nspgw/v1/+/%u/+` confines it to its own source topics; `gct-<addr>` for a crisis-team box, which
    has its own ACL block (it alone may write broadcasts)."""
    level = addr_level(addr)
    return f"gct-{level}" if crisis_team else level


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where and how a box reaches its broker. Passwords are read from a 0600 file by the config layer."""

    host: str
    port: int
    network: str
    own_addr: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line or a traceback
    ca_file: Path | None = None  # None with tls: the system's certificate authorities
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = KEEPALIVE_S
    session_expiry_s: int = SESSION_EXPIRY_S
    backoff_min_s: int = 1
    backoff_max_s: int = 30
    auth_backoff_min_s: int = 60
    auth_backoff_max_s: int = 900
    max_outbound: int = 1000
    inbound_rate_per_s: float = 50.0
    inbound_burst: int = 500
    client_id: str = ""
    tls: bool = False  # also on whenever ca_file is given

    def __post_init__(self) -> None:
        if not _NETWORK_RE.match(self.network):
            raise ConfigError(f"ongeldige netwerknaam {self.network!r} (a-z, 0-9, - en _; max 32 tekens)")
        if not 0 < self.own_addr < BROADCAST_ADDR:
            raise ConfigError(f"ongeldig eigen adres {self.own_addr} (verwacht 1..4094)")
        if not 0 < self.port < 65536:
            raise ConfigError(f"ongeldige MQTT-poort {self.port}")
        if (self.cert_file is None) != (self.key_file is None):
            raise ConfigError("MQTT-clientcertificaat en -sleutel horen samen (beide of geen van beide)")
        if self.password is not None and not self.uses_tls and not _loopback(self.host):
            # A password in a plaintext CONNECT is readable by anyone on the path (and reusable: the broker
            # ACL then lets the reader publish as this box). Only a broker on this machine is exempt.
            raise ConfigError(f"MQTT-wachtwoord zonder TLS naar {self.host}: zet tls = true in [mqtt] (met ca_file, "
                              "of de certificaten van het systeem) / MQTT password without TLS: set tls = true")

    @property
    def uses_tls(self) -> bool:
        return self.tls or self.ca_file is not None

    @property
    def effective_client_id(self) -> str:
        # Stable per box: the broker finds the persistent session (and its queued frames) by client id.
        return self.client_id or f"nspgw-{self.network}-{self.own_addr:03x}"
