"""Broker presence on a real Mosquitto with the shipped ACL: retained signed status, Last Will on a box killed
with SIGKILL, a box cannot set another's status, a replayed old "online" is ignored."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from waiting import wait_for

from nspgw.adapters.mqtt_link import MqttLink, MqttSettings, queue_sink, username_for
from nspgw.adapters.mqtt_presence import LinkPresence, Presence, SeenSeqs, decode, encode
from nspgw.adapters.ports import CONNECTED
from nspgw.crypto.enrol import demo_boxes, make_network
from nspgw.daemon.presence import PresenceBook
from nspgw.errors import AuthError, DecodeError

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "broker"
NETWORK = "gemeente-x"
SEED = b"presence test network keys......"
NET = make_network(demo_boxes(), SEED)
CP, NSP, GCT = 10, 101, 1
USERS = {username_for(CP): "pcp", username_for(NSP): "pnsp", "gct-001": "pgct"}


class MemStore:
    """The two store calls the presence book makes (status read and write)."""

    def __init__(self) -> None:
        self.data: dict[str, object] = {}

    def status(self) -> dict[str, object]:
        return dict(self.data)

    def set_status(self, key: str, value: object) -> None:
        self.data[key] = value


class Box:
    def __init__(self, broker: Any, addr: int, *, keepalive_s: int = 10) -> None:
        self.addr = addr
        self.q: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=1000)
        self.store = MemStore()
        self.book = PresenceBook(NETWORK)
        user = "gct-001" if addr == GCT else username_for(addr)
        self.link = MqttLink(MqttSettings(broker.host, broker.port, NETWORK, addr, username=user,
                                          password=USERS[user], keepalive_s=keepalive_s),
                             queue_sink(self.q), presence=self.book.signer(self.store, NET.keyring(addr)))
        self.seen: dict[int, bool] = {}
        self.raw: list[LinkPresence] = []

    def pump(self) -> dict[int, bool]:
        while not self.q.empty():
            kind, payload = self.q.get_nowait()
            if kind == "presence":
                assert isinstance(payload, LinkPresence)
                self.raw.append(payload)
                p = self.book.accept(NET.keyring(self.addr), payload, self.store)
                if p is not None:
                    self.seen[p.addr] = p.online
        return self.seen


@pytest.fixture
def broker(mosquitto: Any) -> Any:
    return mosquitto(users=USERS, acl=(DOCS / "nspgw.acl").read_text())


_CHILD = """
import sys, time, queue
from nspgw.adapters.mqtt_link import MqttLink, MqttSettings, queue_sink, username_for
from nspgw.crypto.enrol import demo_boxes, make_network
from nspgw.daemon.presence import PresenceBook
sys.path[:0] = [sys.argv[4], sys.argv[5]]
from test_mqtt_presence import MemStore
net = make_network(demo_boxes(), sys.argv[3].encode())
q = queue.Queue()
book = PresenceBook("gemeente-x")
link = MqttLink(MqttSettings("127.0.0.1", int(sys.argv[1]), "gemeente-x", 101, username=username_for(101),
                             password=sys.argv[2], keepalive_s=2), queue_sink(q),
                presence=book.signer(MemStore(), net.keyring(101)))
link.start()
while link.state.status != "connected":
    time.sleep(0.02)
print("up", flush=True)
time.sleep(600)
"""


def test_online_retained_and_will_of_a_box_killed_with_sigkill(broker: Any) -> None:
    cp = Box(broker, CP)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(broker.port), USERS[username_for(NSP)],
                              SEED.decode(), str(Path(__file__).parent), str(Path(__file__).parents[1] / "support")],
                             stdout=subprocess.PIPE,
                             env=dict(os.environ))
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"up"
        cp.link.start()
        wait_for(lambda: cp.link.state.status == CONNECTED, 10, what="CP connected")
        # The NSP was there first: the CP learns it from the retained status on subscribing.
        wait_for(lambda: cp.pump().get(NSP) is True, 10, what="NSP online (retained)")
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        # No DISCONNECT: the broker notices after 1.5 x keep-alive (3 s) and publishes the will.
        wait_for(lambda: cp.pump().get(NSP) is False, 15, what="NSP's will (offline)")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        cp.link.stop()
    # A box that subscribes now gets the will as the retained status.
    late = Box(broker, GCT)
    try:
        late.link.start()
        wait_for(lambda: late.pump().get(NSP) is False and late.seen.get(CP) is False, 10,
                 what="retained statuses for a late subscriber (NSP's will, CP's clean offline)")
    finally:
        late.link.stop()


def test_a_box_cannot_set_another_boxs_status_and_old_online_is_not_replayed(broker: Any) -> None:
    cp, nsp = Box(broker, CP), Box(broker, NSP)
    try:
        cp.link.start()
        nsp.link.start()
        wait_for(lambda: cp.pump().get(NSP) is True, 10, what="NSP online")
        old_online = [r for r in cp.raw if r.addr == NSP][-1].payload
        nsp.link.stop()  # clean stop: it says "offline" itself (a clean DISCONNECT publishes no will)
        wait_for(lambda: cp.pump().get(NSP) is False, 10, what="NSP offline")

        # The CP's login tries to write the NSP's status: the shipped ACL refuses it.
        forger = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="forger", protocol=mqtt.MQTTv5)
        forger.username_pw_set(username_for(CP), USERS[username_for(CP)])
        forger.connect(broker.host, broker.port)
        forger.loop_start()
        topic = f"nspgw/v1/{NETWORK}/presence/{NSP:03x}"
        forger.publish(topic, encode(NET.keyring(CP), NETWORK, Presence(NSP, True, 10**9)), qos=1,
                       retain=True).wait_for_publish(5)
        # The NSP's own login replays its old "online" (a broker, or anyone with its password, could).
        replayer = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="replayer", protocol=mqtt.MQTTv5)
        replayer.username_pw_set(username_for(NSP), USERS[username_for(NSP)])
        replayer.connect(broker.host, broker.port)
        replayer.loop_start()
        replayer.publish(topic, old_online, qos=1, retain=True).wait_for_publish(5)
        n_raw = len(cp.raw)
        wait_for(lambda: (cp.pump(), len(cp.raw) > n_raw)[1], 10, what="the replayed status reaches the CP")
        assert cp.seen[NSP] is False and cp.book.stale >= 1
        assert cp.book.rejected == 0  # the forged status never reached the CP: the broker's ACL dropped it
        # A box that comes later and never saw the newer status: its store remembers none either, but the
        # retained replay is still ignored by the CP, whose store does (restart = new book, same store).
        again = PresenceBook(NETWORK)
        again.signer(cp.store, NET.keyring(CP))
        assert again.accept(NET.keyring(CP), LinkPresence("mqtt", NSP, old_online), cp.store) is None
        # ... while the newest status, re-sent by the broker to the restarted CP, is taken (the core is new).
        will = [r for r in cp.raw if r.addr == NSP][-2].payload  # before the replay: the NSP's "offline"
        p = again.accept(NET.keyring(CP), LinkPresence("mqtt", NSP, will), cp.store)
        assert p is not None and p.online is False
        forger.loop_stop()
        replayer.loop_stop()
        forger.disconnect()
        replayer.disconnect()
    finally:
        cp.link.stop()
        nsp.link.stop()


def test_presence_payload_is_verified() -> None:
    kr = NET.keyring(NSP)
    good = encode(kr, NETWORK, Presence(NSP, True, 5))
    assert decode(NET.keyring(CP), NETWORK, NSP, good) == Presence(NSP, True, 5)
    with pytest.raises(AuthError):  # on another box's topic
        decode(NET.keyring(CP), NETWORK, CP, good)
    with pytest.raises(AuthError):  # signed for another network
        decode(NET.keyring(CP), "elders", NSP, good)
    with pytest.raises(AuthError):  # one flipped bit of the status
        decode(NET.keyring(CP), NETWORK, NSP, good[:3] + b"\x00" + good[4:])
    with pytest.raises(AuthError):  # a box's own key signing a status of another box
        decode(NET.keyring(CP), NETWORK, NSP, encode(NET.keyring(CP), NETWORK, Presence(NSP, False, 6)))
    for bad in (b"", good[:-1], b"XX" + good[2:]):
        with pytest.raises(DecodeError):
            decode(NET.keyring(CP), NETWORK, NSP, bad)
    seen = SeenSeqs()
    assert seen.fresh(Presence(NSP, True, 5)) and seen.fresh(Presence(NSP, True, 5))  # the newest, again
    assert seen.fresh(Presence(NSP, False, 6)) and not seen.fresh(Presence(NSP, True, 5))


def test_a_broker_that_is_down_uses_up_no_presence_numbers() -> None:
    """Reconnecting every second to a dead port sends no CONNECT: the will armed for the first attempt is
    kept, so days without a broker do not exhaust the block reserved in the store."""
    from nspgw.sim.mosquitto import free_port

    store = MemStore()
    signer = PresenceBook(NETWORK).signer(store, NET.keyring(CP))
    link = MqttLink(MqttSettings("127.0.0.1", free_port(), NETWORK, CP, backoff_min_s=1, backoff_max_s=1),
                    queue_sink(queue.Queue()), presence=signer)
    try:
        link.start()
        wait_for(lambda: link.connect_attempts >= 3, 20, what="three connection attempts")
    finally:
        link.stop()
    assert signer.seqs.take_pair() == 2  # only the first pair (0, 1) was taken
