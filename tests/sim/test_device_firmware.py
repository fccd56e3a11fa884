"""Firmware 2.7.26 router behaviour through the official library against a real-time MeshServer.

Each test names the firmware source it mirrors (tag v2.7.26.54e0d8d). A 3-node chain node0 - node1 -
node2 at SHORT_TURBO; clients on node0 and node2, node1 configured through its own client.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from meshtastic.protobuf import config_pb2
from meshtastic.tcp_interface import TCPInterface

from nspgw.core.airtime import preset, time_on_air_ms
from nspgw.sim import topology
from nspgw.sim.server import MeshServer
from tests.sim.test_device_library import Inbox

PORTNUM = 311
Role = config_pb2.Config.DeviceConfig.Role
Mode = config_pb2.Config.DeviceConfig.RebroadcastMode


@pytest.fixture
def chain3() -> Iterator[MeshServer]:
    server = MeshServer(topology.chain(3, preset="SHORT_TURBO", seed=21), use_pty=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _client(server: MeshServer, name: str) -> TCPInterface:
    return TCPInterface("127.0.0.1", portNumber=server.endpoints[name].port, timeout=20)


def _num(server: MeshServer, name: str) -> int:
    return server.devices[name].node_num


def _knows(server: MeshServer, at: str, of: str) -> bool:
    info = server.devices[at].state["nodes"].get(_num(server, of))
    return info is not None and len(info.user.public_key) == 32


def test_core_portnums_only_router_drops_port_311_but_relays_text(chain3: MeshServer,
                                                                  wait_for: Callable[..., Any]) -> None:
    """NodeDB::installRoleDefaults + Router::handleReceived (CORE_PORTNUMS_ONLY whitelist): node1 set to ROUTER
    with LOCAL_ONLY in one write stores CORE_PORTNUMS_ONLY and stops relaying port 311; a second write of the
    mode (role unchanged) keeps LOCAL_ONLY and port 311 flows again."""
    mid, a, b = _client(chain3, "node1"), _client(chain3, "node0"), _client(chain3, "node2")
    inbox = Inbox(b)
    try:
        dev = mid.localNode.localConfig.device
        dev.role = Role.ROUTER
        dev.rebroadcast_mode = Mode.LOCAL_ONLY
        mid.localNode.writeConfig("device")
        wait_for(lambda: chain3.mesh.node("node1").rebroadcast_mode == "CORE_PORTNUMS_ONLY", message="mode")
        a.sendData(b"bulletin-1", portNum=PORTNUM)
        a.sendText("tekst-1")
        wait_for(lambda: any(p.get("decoded", {}).get("text") == "tekst-1" for p in inbox.packets),
                 timeout_s=20, message="text relayed by the ROUTER")
        time.sleep(1.0)  # the port-311 broadcast went first; give it the same chance on air (frames ~30 ms)
        assert b"bulletin-1" not in inbox.payloads()
        assert chain3.mesh.node("node1").stats.relays_refused >= 1

        mid.localNode.localConfig.device.rebroadcast_mode = Mode.LOCAL_ONLY
        mid.localNode.writeConfig("device")
        wait_for(lambda: chain3.mesh.node("node1").rebroadcast_mode == "LOCAL_ONLY", message="mode")
        a.sendData(b"bulletin-2", portNum=PORTNUM)
        wait_for(lambda: b"bulletin-2" in inbox.payloads(), timeout_s=20, message="port 311 relayed")
    finally:
        inbox.close()
        for c in (mid, a, b):
            c.close()


def test_client_mute_never_relays(chain3: MeshServer, wait_for: Callable[..., Any]) -> None:
    """FloodingRouter::isRebroadcaster: CLIENT_MUTE does not relay (set through the official client)."""
    mid, a, b = _client(chain3, "node1"), _client(chain3, "node0"), _client(chain3, "node2")
    inbox = Inbox(b)
    try:
        mid.localNode.localConfig.device.role = Role.CLIENT_MUTE
        mid.localNode.writeConfig("device")
        wait_for(lambda: chain3.mesh.node("node1").role == "CLIENT_MUTE", message="role")
        a.sendText("niet door")
        wait_for(lambda: chain3.mesh.node("node1").stats.relays_refused >= 1, timeout_s=20, message="refusal")
        assert not any(p.get("decoded", {}).get("text") == "niet door" for p in inbox.packets)
    finally:
        inbox.close()
        for c in (mid, a, b):
            c.close()


def test_dm_learns_next_hop_then_only_it_relays(chain3: MeshServer, wait_for: Callable[..., Any]) -> None:
    """NextHopRouter::sniffReceived learns node1 as next hop from the relayed ack; the next DM names it
    (NextHopRouter::send / getNextHop) and arrives with next_hop = node1's last byte; the client saw an
    implicit ack (ReliableRouter::shouldFilterReceived) for the first DM."""
    a, b = _client(chain3, "node0"), _client(chain3, "node2")
    inbox = Inbox(b)
    try:
        wait_for(lambda: _knows(chain3, "node0", "node2"), timeout_s=20, message="node2's key at node0")
        num2, relay = _num(chain3, "node2"), _num(chain3, "node1") & 0xFF
        acks: list[dict[str, Any]] = []
        sent = a.sendData(b"eerste", destinationId=num2, portNum=PORTNUM, wantAck=True,
                          onResponse=acks.append, onResponseAckPermitted=True)
        wait_for(lambda: acks, timeout_s=20, message="ack of the first DM")
        assert acks[0]["decoded"]["requestId"] == sent.id
        assert acks[0]["from"] == _num(chain3, "node0")  # implicit: hearing node1 relay it
        wait_for(lambda: chain3.mesh.node("node0").next_hops.get(num2) == relay, timeout_s=20,
                 message="next hop learned from the relayed ack")
        sent2 = a.sendData(b"tweede", destinationId=num2, portNum=PORTNUM, wantAck=True)
        wait_for(lambda: b"tweede" in inbox.payloads(), timeout_s=20, message="second DM")
        # node0 named node1 (PacketHistory keeps the next hop a packet was sent with) ...
        with chain3.lock:
            assert chain3.mesh.node("node0").seen[(_num(chain3, "node0"), sent2.id)].next_hop == relay
        # ... and node1, relaying, named its own next hop: node2 itself (learned from node2's direct ack).
        second = next(p for p in inbox.packets if p.get("decoded", {}).get("payload") == b"tweede")
        assert second["relayNode"] == relay and second["nextHop"] == num2 & 0xFF
        assert second.get("pkiEncrypted") is True  # Router::perhapsEncode: DMs are PKI-encrypted
    finally:
        inbox.close()
        a.close()
        b.close()


def test_dm_to_unknown_key_is_refused(chain3: MeshServer, wait_for: Callable[..., Any]) -> None:
    """Router::perhapsEncode: no public key for the destination -> PKI_SEND_FAIL_PUBLIC_KEY, nothing on air."""
    a = _client(chain3, "node0")
    try:
        responses: list[dict[str, Any]] = []
        sent = a.sendData(b"wie?", destinationId=0x0BADCAFE, portNum=PORTNUM, wantAck=True,
                          onResponse=responses.append)
        wait_for(lambda: responses, timeout_s=10, message="PKI refusal")
        assert responses[0]["decoded"]["requestId"] == sent.id
        assert responses[0]["decoded"]["routing"]["errorReason"] == "PKI_SEND_FAIL_PUBLIC_KEY"
    finally:
        a.close()


def test_no_frame_arrives_before_its_time_on_air(chain3: MeshServer, wait_for: Callable[..., Any]) -> None:
    """Real-time driver: a 150-byte text at SHORT_TURBO reaches the neighbour no earlier than its airtime
    after sendText (it arrived 1-2 ms after when the mesh clock lagged wall time)."""
    a, b = _client(chain3, "node0"), _client(chain3, "node1")
    inbox = Inbox(b)
    try:
        text = "x" * 150
        time.sleep(2.5)  # let the driver fall asleep with the mesh clock behind, as in the reported bug
        t0 = time.monotonic()
        a.sendText(text)
        got = wait_for(lambda: next((time.monotonic() for p in list(inbox.packets)
                                     if p.get("decoded", {}).get("text") == text), None),
                       timeout_s=10, interval_s=0.001, message="text at node1")
        frame = 16 + 2 + 2 + 150 + 2  # header + portnum + payload tag/len + text + bitfield
        assert got - t0 >= time_on_air_ms(frame, preset("SHORT_TURBO")) / 1000.0
    finally:
        inbox.close()
        a.close()
        b.close()


def test_client_hop_limit_zero_stands_unless_want_ack(chain3: MeshServer, wait_for: Callable[..., Any]) -> None:
    """Router::sendLocal keeps a client's hop limit 0 (direct neighbours only); only want_ack with 0 gets the
    configured hop limit. A neighbour gets such a DM; one two hops away never does (nobody relays it)."""
    a, mid, b = _client(chain3, "node0"), _client(chain3, "node1"), _client(chain3, "node2")
    at_mid, at_far = Inbox(mid), Inbox(b)
    try:
        wait_for(lambda: _knows(chain3, "node0", "node1") and _knows(chain3, "node0", "node2"), timeout_s=20,
                 message="keys at node0")
        a.sendData(b"te ver", destinationId=_num(chain3, "node2"), portNum=PORTNUM, hopLimit=0)
        a.sendData(b"alleen buren", destinationId=_num(chain3, "node1"), portNum=PORTNUM, hopLimit=0)
        wait_for(lambda: b"alleen buren" in at_mid.payloads(), timeout_s=20, message="the DM at node1")
        got = next(p for p in at_mid.packets if p.get("decoded", {}).get("payload") == b"alleen buren")
        assert got.get("hopLimit", 0) == 0 and got.get("hopStart", 0) == 0
        a.sendData(b"met ack", destinationId=_num(chain3, "node2"), portNum=PORTNUM, hopLimit=0, wantAck=True)
        wait_for(lambda: b"met ack" in at_far.payloads(), timeout_s=20, message="the want_ack DM at node2")
        got = next(p for p in at_far.packets if p.get("decoded", {}).get("payload") == b"met ack")
        assert got["hopStart"] == 3  # want_ack asking for 0: the configured hop limit
        assert b"te ver" not in at_far.payloads()  # sent before "met ack", never relayed by node1
    finally:
        at_mid.close()
        at_far.close()
        for c in (a, mid, b):
            c.close()
