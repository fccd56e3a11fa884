"""MqttLink against a real Mosquitto on loopback (fixture `mosquitto` in tests/adapters/conftest.py)."""

from __future__ import annotations

import queue
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from nspgw.adapters.mqtt_link import MqttLink, MqttSettings, queue_sink
from nspgw.adapters.ports import AUTH_FAILED, CONNECTED, DISCONNECTED, TLS_ERROR, Link, LinkDelivered, LinkFrame
from nspgw.errors import ConfigError, UsageError

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]

NET = "testnet"
A, B, C = 0x0A1, 0x0B2, 0x0C3


class Box:
    """An MqttLink plus the daemon side of its event queue."""

    def __init__(self, broker: Any, addr: int, *, qsize: int = 1000, **kw: Any) -> None:
        self.q: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=qsize)
        self.link = MqttLink(MqttSettings(broker.host, broker.port, NET, addr, **kw), queue_sink(self.q))
        self.frames: list[LinkFrame] = []
        self.delivered: list[LinkDelivered] = []
        self.states: list[str] = []

    def pump(self) -> None:
        while True:
            try:
                kind, payload = self.q.get_nowait()
            except queue.Empty:
                return
            if kind == "frame":
                assert isinstance(payload, LinkFrame)
                self.frames.append(payload)
            elif kind == "delivered":
                assert isinstance(payload, LinkDelivered)
                self.delivered.append(payload)
            elif kind == "state":
                self.states.append(payload.status)  # type: ignore[attr-defined]

    def got(self, data: bytes) -> LinkFrame | None:
        self.pump()
        return next((f for f in self.frames if f.data == data), None)


def wait(pred: Callable[[], Any], timeout_s: float, what: str, tick: Callable[[], None] | None = None) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        if tick:
            tick()
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)  # poll interval, not a fixed wait


def connected(box: Box, timeout_s: float = 10.0) -> None:
    wait(lambda: box.link.state.status == CONNECTED, timeout_s, f"{box.link.settings.own_addr:03x} connected")


@pytest.fixture
def boxes() -> Any:
    made: list[Box] = []

    def make(broker: Any, addr: int, **kw: Any) -> Box:
        b = Box(broker, addr, **kw)
        made.append(b)
        b.link.start()
        return b

    yield make
    for b in made:
        b.link.stop()


def free_port_closed() -> int:
    """A loopback port nobody listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rogue(broker: Any, **kw: Any) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=kw.pop("client_id", "rogue"), **kw)
    return c


def test_mqtt_link_implements_the_link_protocol(mosquitto: Any) -> None:
    broker = mosquitto()
    link = MqttLink(MqttSettings(broker.host, broker.port, NET, A), lambda k, p: None)
    assert isinstance(link, Link)
    with pytest.raises(UsageError):
        link.send(B, b"x" * 1025)
    with pytest.raises(UsageError):
        link.send(0, b"x")


def test_mqtt_two_boxes_exchange_frames_and_puback_is_reported(mosquitto: Any, boxes: Any) -> None:
    broker = mosquitto()
    a, b, c = boxes(broker, A), boxes(broker, B), boxes(broker, C)
    for x in (a, b, c):
        connected(x)
    a.link.send(B, b"\x01sealed-for-b", 1, ref="m1")
    f = wait(lambda: b.got(b"\x01sealed-for-b"), 10, "frame at B")
    assert (f.src_addr, f.dst_addr, f.link) == (A, B, "mqtt")
    wait(lambda: (a.pump(), [d for d in a.delivered if d.ref == "m1" and d.ok])[1], 10, "PUBACK for m1")
    b.link.send(A, b"\x02reply", ref="m2")
    assert wait(lambda: a.got(b"\x02reply"), 10, "reply at A").src_addr == B
    # broadcast: everyone but the sender
    a.link.send(0xFFF, b"\x03bulletin")
    assert wait(lambda: c.got(b"\x03bulletin"), 10, "broadcast at C").dst_addr == 0xFFF
    wait(lambda: b.got(b"\x03bulletin"), 10, "broadcast at B")
    c.pump()
    assert c.got(b"\x01sealed-for-b") is None  # unicast for B is not seen by C
    assert a.got(b"\x03bulletin") is None  # own broadcast is not handed back
    wait(lambda: a.link.pending() == 0, 10, "every publish acknowledged")  # the broker may forward first


def test_mqtt_persistent_session_delivers_frames_sent_while_receiver_was_away(mosquitto: Any, boxes: Any) -> None:
    broker = mosquitto()
    a, b = boxes(broker, A), boxes(broker, B)
    connected(a), connected(b)
    b.link.stop()
    frames = [bytes([0x10, i]) * 8 for i in range(5)]
    for i, fr in enumerate(frames):
        a.link.send(B, fr, ref=i)
    wait(lambda: (a.pump(), len([d for d in a.delivered if d.ok]) == 5)[1], 10, "broker took all 5")
    b2 = boxes(broker, B)  # same client id: the broker's session for B holds the frames
    connected(b2)
    wait(lambda: all(b2.got(fr) for fr in frames), 10, "queued frames delivered on reconnect")
    assert [f.data for f in b2.frames] == frames  # in order


def test_mqtt_broker_killed_then_restarted_link_notices_and_reconnects(mosquitto: Any, boxes: Any) -> None:
    broker = mosquitto()
    a, b = boxes(broker, A, backoff_max_s=2), boxes(broker, B, backoff_max_s=2)
    connected(a), connected(b)
    broker.kill()
    t0 = time.monotonic()
    wait(lambda: a.link.state.status == DISCONNECTED and b.link.state.status == DISCONNECTED,
         25, "disconnect noticed within the keepalive bound")
    assert time.monotonic() - t0 < 25
    a.link.send(B, b"\x20while-down", ref="down")  # paho keeps it (QoS 1) and publishes after reconnect
    assert a.link.pending() == 1
    broker.start()
    connected(a, 20), connected(b, 20)
    wait(lambda: (a.pump(), [d for d in a.delivered if d.ref == "down" and d.ok])[1], 10,
         "frame queued during the outage reaches the restarted broker")
    # This broker lost B's subscription with the kill (no persistence), and A may reconnect before B: then
    # the broker has nobody to give that frame to. Resending is the core's job; frames sent now arrive.
    a.link.send(B, b"\x21after-restart")
    wait(lambda: b.got(b"\x21after-restart"), 10, "frame after restart")
    a.pump()
    assert DISCONNECTED in a.states and a.states[-1] == CONNECTED


def test_mqtt_silent_broker_is_noticed_within_twice_the_keepalive(mosquitto: Any, boxes: Any) -> None:
    broker = mosquitto()
    k = 2  # the production keepalive is 10 s (bound 21 s); 2 s keeps the test fast with the same mechanism
    a = boxes(broker, A, keepalive_s=k)
    connected(a)
    broker.freeze()
    t0 = time.monotonic()
    try:
        wait(lambda: a.link.state.status == DISCONNECTED, 2 * k + 4, "keepalive timeout noticed")
        assert time.monotonic() - t0 <= 2 * k + 2  # paho checks once a second
    finally:
        broker.thaw()
    connected(a, 20)


def test_mqtt_wrong_password_is_auth_failed_with_clear_reason(mosquitto: Any, boxes: Any) -> None:
    broker = mosquitto(users={"0a1": "goed", "0b2": "ookgoed"})
    a = boxes(broker, A, username="0a1", password="fout")
    wait(lambda: a.link.state.status == AUTH_FAILED, 10, "auth_failed")
    assert a.link.state.detail.startswith("MQTT-broker weigert inlog (verkeerde gebruikersnaam/wachtwoord")
    a.link.send(B, b"\x30kept")  # no exception from send while refused
    anon = boxes(broker, C)  # no credentials at all on a broker that requires them
    wait(lambda: anon.link.state.status == AUTH_FAILED, 10, "anonymous refused")
    assert "weigert inlog" in anon.link.state.detail
    ok = boxes(broker, B, username="0b2", password="ookgoed")
    connected(ok)
    assert a.link.state.status == AUTH_FAILED


def test_mqtt_refused_login_retries_slowly(mosquitto: Any, boxes: Any) -> None:
    broker = mosquitto(users={"0a1": "goed"})
    refused = boxes(broker, A, username="0a1", password="fout", backoff_min_s=1, auth_backoff_min_s=60)
    # control: a link to a closed port retries with the normal backoff (attempts at about 0, 1, 3 s)
    closed = Box(type("NoBroker", (), {"host": "127.0.0.1", "port": free_port_closed()})(), C, backoff_min_s=1)
    closed.link.start()
    try:
        wait(lambda: refused.link.state.status == AUTH_FAILED, 10, "auth_failed")
        wait(lambda: closed.link.connect_attempts >= 3, 15, "three normal retries of the control link")
        assert closed.link.state.status == DISCONNECTED
        assert refused.link.connect_attempts == 1  # still waiting out the 60 s auth backoff
    finally:
        closed.link.stop()


DOCS_ACL = Path(__file__).resolve().parents[2] / "docs" / "broker" / "nspgw.acl"
GCT = 0x001


def forge(broker: Any, user: str, password: str, proto: int, qos: int, forged_topic: str, forged: bytes,
          legit_topic: str, legit: bytes) -> None:
    """Publish a forged then a legit frame on one connection (so the legit one arrives second if both do)."""
    forger = rogue(broker, client_id=f"forger-{user}-{proto}", protocol=proto)
    forger.username_pw_set(user, password)
    forger.connect(broker.host, broker.port)
    forger.loop_start()
    try:
        forger.publish(forged_topic, forged, qos=qos).wait_for_publish(5)
        forger.publish(legit_topic, legit, qos=qos).wait_for_publish(5)
    finally:
        forger.disconnect()
        forger.loop_stop()


def test_mqtt_documented_acl_confines_each_box_to_its_own_topics(mosquitto: Any, boxes: Any) -> None:
    users = {"0a1": "pa", "0b2": "pb", "0c3": "pc", "gct-001": "pg"}
    broker = mosquitto(users=users, acl=DOCS_ACL.read_text())
    c = boxes(broker, C, username="0c3", password="pc")
    connected(c)
    assert "geweigerd" not in c.link.state.detail  # both subscriptions granted
    for proto, qos in ((mqtt.MQTTv311, 0), (mqtt.MQTTv5, 1)):
        # box A, with its own valid credentials, writes under B's address: dropped by the broker
        forged, legit = f"forged-{proto}".encode(), f"legit-{proto}".encode()
        forge(broker, "0a1", "pa", proto, qos, f"nspgw/v1/{NET}/0b2/0c3", forged, f"nspgw/v1/{NET}/0a1/0c3", legit)
        wait(lambda legit=legit: c.got(legit), 10, "legit frame from A")
        assert c.got(forged) is None
        # a box may not broadcast; only the crisis team may
        bcast = f"bcast-{proto}".encode()
        forge(broker, "0a1", "pa", proto, qos, f"nspgw/v1/{NET}/0a1/all", bcast, f"nspgw/v1/{NET}/0a1/0c3",
              b"after-" + bcast)
        wait(lambda bcast=bcast: c.got(b"after-" + bcast), 10, "frame after the refused broadcast")
        assert c.got(bcast) is None
    gct = boxes(broker, GCT, username="gct-001", password="pg")
    connected(gct)
    gct.link.send(0xFFF, b"gct-bulletin")
    assert wait(lambda: c.got(b"gct-bulletin"), 10, "crisis-team broadcast").src_addr == GCT
    # a box cannot read another box's frames
    spy = boxes(broker, A, username="0a1", password="pa", client_id="spy")
    connected(spy)
    b = boxes(broker, B, username="0b2", password="pb")
    connected(b)
    b.link.send(C, b"for-c-only")
    wait(lambda: c.got(b"for-c-only"), 10, "frame at C")
    b.link.send(GCT, b"for-gct")
    wait(lambda: gct.got(b"for-gct"), 10, "frame at the crisis team")
    spy.pump()
    assert not [f for f in spy.frames if f.data in (b"for-c-only", b"for-gct")]


def test_mqtt_rogue_garbage_oversize_and_flood_do_not_break_the_link(mosquitto: Any, boxes: Any) -> None:
    broker = mosquitto()
    b = boxes(broker, B, qsize=64)
    a = boxes(broker, A)
    connected(b), connected(a)
    r = rogue(broker)
    r.connect(broker.host, broker.port)
    r.loop_start()
    try:
        r.publish(f"nspgw/v1/{NET}/0a1/0b2", b"x" * 5000, qos=1).wait_for_publish(5)
        for bad in ("zzz", "fff", "0b2", "1234"):
            r.publish(f"nspgw/v1/{NET}/{bad}/0b2", b"garbage", qos=1).wait_for_publish(5)
        r.publish(f"nspgw/v1/{NET}/0a1/0b2", b"", qos=1).wait_for_publish(5)
        wait(lambda: b.link.stats.dropped_oversize >= 2 and b.link.stats.dropped_bad_topic >= 4, 10, "drops")
        t0 = time.monotonic()
        infos = [r.publish(f"nspgw/v1/{NET}/0c3/0b2", bytes([i % 256]) * 200, qos=0) for i in range(3000)]
        for info in infos:
            info.wait_for_publish(10)
        # B's daemon is not reading: its bounded queue fills, new frames are dropped and counted.
        wait(lambda: b.link.stats.dropped_queue_full > 0, 10, "flood hits the bounded queue")
        assert b.q.qsize() <= 64
        # and the source is rate-limited: at most burst + rate x elapsed frames were let through
        wait(lambda: b.link.stats.dropped_rate_limited > 0, 10, "flood rate-limited")
        s = b.link.settings
        let_through = b.link.stats.received  # nothing before the flood had a valid topic and size
        assert let_through <= s.inbound_burst + s.inbound_rate_per_s * (time.monotonic() - t0) + 1
    finally:
        r.disconnect()
        r.loop_stop()
    # The flood may still fill B's queue when the real frame lands; like the core, A resends until it is seen.
    last = [0.0]

    def drain_and_resend() -> None:
        b.pump()
        if time.monotonic() - last[0] > 1.0:
            last[0] = time.monotonic()
            a.link.send(B, b"\x40real")

    wait(lambda: b.got(b"\x40real"), 15, "real frame after the flood", tick=drain_and_resend)
    assert b.link.state.status == CONNECTED


def test_mqtt_tls_with_test_ca(mosquitto: Any, boxes: Any, make_tls: Any, tmp_path: Any) -> None:
    broker = mosquitto(tls=True)
    a = boxes(broker, A, ca_file=broker.tls.ca)
    b = boxes(broker, B, ca_file=broker.tls.ca)
    connected(a), connected(b)
    a.link.send(B, b"\x50over-tls")
    wait(lambda: b.got(b"\x50over-tls"), 10, "frame over TLS")
    # a box that trusts another CA refuses the broker: tls_error with a reason, no exception
    other = make_tls(tmp_path)
    c = boxes(broker, C, ca_file=other.ca)
    wait(lambda: c.link.state.status == TLS_ERROR, 10, "tls_error")
    assert "certificaat van broker niet vertrouwd" in c.link.state.detail


# ------------------------------------------------------------------ issue 15, finding 5: TLS and passwords
def test_mqtt_tls_without_ca_file_speaks_tls_never_plaintext() -> None:
    """`tls = true` without `ca_file` used to connect in plaintext, password included. The first bytes the
    link sends must be a TLS handshake record, and the password must not be among them."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        srv.settimeout(10)
        port = srv.getsockname()[1]
        link = MqttLink(MqttSettings("127.0.0.1", port, NET, A, username="0a1", password="geheim-pw-51",
                                     tls=True), lambda k, p: None)
        link.start()
        try:
            conn, _ = srv.accept()
            with conn:
                conn.settimeout(10)
                first = conn.recv(4096)
        finally:
            link.stop()
    assert first[:1] == b"\x16", first[:16]  # TLS handshake, not an MQTT CONNECT (0x10)
    assert b"geheim-pw-51" not in first


def test_mqtt_tls_without_ca_file_checks_the_broker_against_the_system_cas(mosquitto: Any, boxes: Any) -> None:
    broker = mosquitto(tls=True)  # its certificate comes from a throwaway CA no system trusts
    a = boxes(broker, A, tls=True)
    wait(lambda: a.link.state.status == TLS_ERROR, 10, "tls_error")
    assert a.link.state.status != CONNECTED


def test_mqtt_password_without_tls_to_a_remote_broker_is_refused() -> None:
    with pytest.raises(ConfigError, match="zonder TLS"):
        MqttSettings("broker.gemeente.example", 1883, NET, A, username="0a1", password="pw")
    MqttSettings("broker.gemeente.example", 8883, NET, A, username="0a1", password="pw", tls=True)
    MqttSettings("127.0.0.1", 1883, NET, A, username="0a1", password="pw")  # a broker on the box itself
