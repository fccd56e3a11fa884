"""The broker configuration shipped in docs/broker/ works as documented, on a real Mosquitto (loopback only)."""

from __future__ import annotations

import os
import queue
import re
from pathlib import Path
from typing import Any

import pytest
from waiting import wait_for

from nspgw.adapters.mqtt_link import MqttLink, MqttSettings, queue_sink, username_for
from nspgw.adapters.ports import CONNECTED, LinkFrame

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "broker"
NET = "gemeente-x"


def render_docs_conf(d: Path, port: int, tls: Any) -> str:
    """docs/broker/mosquitto.conf with only the machine-specific parts replaced: loopback port, test
    certificates, paths in the test directory, log to stderr."""
    text = (DOCS / "mosquitto.conf").read_text()
    subs = {
        r"^listener 8883$": f"listener {port} 127.0.0.1",
        r"^cafile .*$": f"cafile {tls.ca}",
        r"^certfile .*$": f"certfile {tls.cert}",
        r"^keyfile .*$": f"keyfile {tls.key}",
        r"^password_file .*$": f"password_file {d / 'passwd'}",
        r"^acl_file .*$": f"acl_file {d / 'acl'}",
        r"^persistence_location .*$": f"persistence_location {d}/",
        r"^log_dest syslog$": "log_dest stderr",
    }
    for pattern, repl in subs.items():
        text, n = re.subn(pattern, repl, text, flags=re.M)
        assert n == 1, f"docs/broker/mosquitto.conf has no line matching {pattern}"
    if os.geteuid() == 0:
        text += "user root\n"
    return text


class Box:
    def __init__(self, broker: Any, addr: int, password: str) -> None:
        self.q: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=100)
        self.link = MqttLink(MqttSettings(broker.host, broker.port, NET, addr, username=username_for(addr),
                                          password=password, ca_file=broker.tls.ca), queue_sink(self.q))
        self.frames: list[bytes] = []

    def got(self, data: bytes) -> bool:
        while not self.q.empty():
            kind, payload = self.q.get_nowait()
            if kind == "frame":
                assert isinstance(payload, LinkFrame)
                self.frames.append(payload.data)
        return data in self.frames


def test_mqtt_documented_broker_conf_tls_auth_and_persistence_across_restart(mosquitto: Any) -> None:
    users = {"0a1": "pa", "0b2": "pb"}
    broker = mosquitto(users=users, acl=(DOCS / "nspgw.acl").read_text(), tls=True, render=render_docs_conf)
    a, b = Box(broker, 0x0A1, "pa"), Box(broker, 0x0B2, "pb")
    try:
        a.link.start(), b.link.start()
        wait_for(lambda: a.link.state.status == CONNECTED and b.link.state.status == CONNECTED, 10, what="connected")
        a.link.send(0x0B2, b"over-tls")
        wait_for(lambda: b.got(b"over-tls"), 10, what="frame over the documented TLS listener")
        b.link.stop()
        a.link.send(0x0B2, b"queued-for-b")
        wait_for(lambda: a.link.pending() == 0, 10, what="broker took the frame for offline B")
        # graceful restart (systemctl restart): persistence keeps B's session and its queued frame
        broker.stop()
        broker.start()
        b2 = Box(broker, 0x0B2, "pb")
        b2.link.start()
        try:
            wait_for(lambda: b2.got(b"queued-for-b"), 20, what="queued frame after broker restart")
        finally:
            b2.link.stop()
    finally:
        a.link.stop()
        b.link.stop()
