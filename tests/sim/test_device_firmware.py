"""Firmware 2.7.26 router behaviour through the official library against a real-time MeshServer.

Each test names the firmware source it mirrors (tag v2.7.26.54e0d8d). A 3-node chain node0 - node1 -
node2 at SHORT_TURBO; clients on node0 and node2, node1 configured through its own client.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from meshtastic.protobuf import config_pb2, mesh_pb2
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


def _settled(server: MeshServer) -> bool:
    """Nothing left in any radio's transmit queue: the NodeInfo exchange after boot (announcements, their
    BACKGROUND replies behind relays) is over, so a later NodeInfo or next hop is the test's own doing."""
    with server.lock:
        return all(not server.mesh.node(name).queue for name in server.devices)


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
        wait_for(lambda: chain3.mesh.node("node1").rebroadcast_mode == "CORE_PORTNUMS_ONLY", what="mode")
        a.sendData(b"bulletin-1", portNum=PORTNUM)
        a.sendText("tekst-1")
        wait_for(lambda: any(p.get("decoded", {}).get("text") == "tekst-1" for p in inbox.packets),
                 timeout_s=20, what="text relayed by the ROUTER")
        time.sleep(1.0)  # the port-311 broadcast went first; give it the same chance on air (frames ~30 ms)
        assert b"bulletin-1" not in inbox.payloads()
        assert chain3.mesh.node("node1").stats.relays_refused >= 1

        mid.localNode.localConfig.device.rebroadcast_mode = Mode.LOCAL_ONLY
        mid.localNode.writeConfig("device")
        wait_for(lambda: chain3.mesh.node("node1").rebroadcast_mode == "LOCAL_ONLY", what="mode")
        a.sendData(b"bulletin-2", portNum=PORTNUM)
        wait_for(lambda: b"bulletin-2" in inbox.payloads(), timeout_s=20, what="port 311 relayed")
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
        wait_for(lambda: chain3.mesh.node("node1").role == "CLIENT_MUTE", what="role")
        a.sendText("niet door")
        wait_for(lambda: chain3.mesh.node("node1").stats.relays_refused >= 1, timeout_s=20, what="refusal")
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
        wait_for(lambda: _knows(chain3, "node0", "node2"), timeout_s=20, what="node2's key at node0")
        num2, relay = _num(chain3, "node2"), _num(chain3, "node1") & 0xFF
        acks: list[dict[str, Any]] = []
        sent = a.sendData(b"eerste", destinationId=num2, portNum=PORTNUM, wantAck=True,
                          onResponse=acks.append, onResponseAckPermitted=True)
        wait_for(lambda: acks, timeout_s=20, what="ack of the first DM")
        assert acks[0]["decoded"]["requestId"] == sent.id
        assert acks[0]["from"] == _num(chain3, "node0")  # implicit: hearing node1 relay it
        wait_for(lambda: chain3.mesh.node("node0").next_hops.get(num2) == relay, timeout_s=20,
                 what="next hop learned from the relayed ack")
        sent2 = a.sendData(b"tweede", destinationId=num2, portNum=PORTNUM, wantAck=True)
        wait_for(lambda: b"tweede" in inbox.payloads(), timeout_s=20, what="second DM")
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
        wait_for(lambda: responses, timeout_s=10, what="PKI refusal")
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
                       timeout_s=10, interval_s=0.001, what="text at node1")
        frame = 16 + 2 + 2 + 150 + 2  # header + portnum + payload tag/len + text + bitfield
        assert got - t0 >= time_on_air_ms(frame, preset("SHORT_TURBO")) / 1000.0
    finally:
        inbox.close()
        a.close()
        b.close()


def _dm_outcome(a: TCPInterface, dest: int, payload: bytes, wait_for: Callable[..., Any]) -> str:
    """A want_ack DM on port 311 through the library; the routing answer's errorReason ("NONE" for an ack)."""
    responses: list[dict[str, Any]] = []
    sent = a.sendData(payload, destinationId=dest, portNum=PORTNUM, wantAck=True, onResponse=responses.append,
                      onResponseAckPermitted=True)
    wait_for(lambda: responses, timeout_s=20, what=f"answer to {payload!r}")
    assert responses[0]["decoded"]["requestId"] == sent.id
    return str(responses[0]["decoded"]["routing"].get("errorReason", "NONE"))


def test_replaced_radio_is_unreachable_by_dms_to_its_old_key(chain3: MeshServer,
                                                            wait_for: Callable[..., Any]) -> None:
    """A replaced radio (node1 after a full factory reset: same node number, new key pair).

    - NodeDB.cpp `updateUser`: node0 keeps the key it learned ("Public Key mismatch, dropping NodeInfo"), so
      node1's new announcement does not teach node0 the new key;
    - Router.cpp `perhapsDecode` + ReliableRouter.cpp `sniffReceived`: node1 cannot decrypt a DM to its old
      key: it NAKs PKI_UNKNOWN_PUBKEY while it does not know node0's key, and node0 answers that NAK with its
      NodeInfo; once node1 knows node0, the NAK is NO_CHANNEL;
    - AdminModule `remove_by_nodenum`: only after node0 forgets node1 does node1's next announcement teach the
      new key, and the DM is acked."""
    a, b = _client(chain3, "node0"), _client(chain3, "node1")
    n1 = _num(chain3, "node1")
    try:
        wait_for(lambda: _knows(chain3, "node0", "node1") and _knows(chain3, "node1", "node0"), what="keys")
        assert _dm_outcome(a, n1, b"voor de vervanging", wait_for) == "NONE"
        wait_for(lambda: _settled(chain3), what="boot NodeInfo replies on air")
        old_key = bytes(chain3.devices["node0"].state["nodes"][n1].user.public_key)
        rx_before = chain3.mesh.node("node0").stats.frames_rx
        b.localNode.factoryReset(full=True)  # factory_reset_device: installDefaultConfig without the key
        wait_for(lambda: bytes(chain3.devices["node1"].state["config"].security.public_key) != old_key,
                 what="new key")
        wait_for(lambda: chain3.mesh.node("node0").stats.frames_rx > rx_before, what="new announcement heard")
        time.sleep(0.5)
        assert bytes(chain3.devices["node0"].state["nodes"][n1].user.public_key) == old_key  # pinned
        assert not _knows(chain3, "node1", "node0")  # fresh node DB; node0's reply is suppressed for 12 h

        assert _dm_outcome(a, n1, b"na de vervanging 1", wait_for) == "PKI_UNKNOWN_PUBKEY"
        wait_for(lambda: _knows(chain3, "node1", "node0"), what="node0's NodeInfo after the NAK")
        assert _dm_outcome(a, n1, b"na de vervanging 2", wait_for) == "NO_CHANNEL"

        a.localNode.removeNode(n1)
        wait_for(lambda: n1 not in chain3.devices["node0"].state["nodes"], what="node removed")
        chain3.set_node_up("node1", False)
        chain3.set_node_up("node1", True)  # reboot: announces itself again
        wait_for(lambda: _knows(chain3, "node0", "node1"), what="new key learned")
        assert bytes(chain3.devices["node0"].state["nodes"][n1].user.public_key) != old_key
        assert _dm_outcome(a, n1, b"na het vergeten", wait_for) == "NONE"
    finally:
        a.close()
        b.close()


def test_originator_last_retry_clears_a_stale_next_hop_and_floods(chain3: MeshServer,
                                                                  wait_for: Callable[..., Any]) -> None:
    """NextHopRouter.cpp `doRetransmissions`: while retries are left the originator re-sends naming its next
    hop (`NextHopRouter::send`); on the last one (numRetransmissions == 1) it clears next_hop in the packet
    and in the node DB and floods (`FloodingRouter::send`). node0's next hop for node2 is a radio that is gone
    (0x77): node1 ignores the first tries, relays the flooded last one, and node2's ack reaches the client."""
    a, c = _client(chain3, "node0"), _client(chain3, "node2")
    inbox = Inbox(c)
    n0, n2 = chain3.mesh.node("node0"), _num(chain3, "node2")
    sent_hops: list[int] = []
    start_tx = chain3.mesh._start_tx

    def watch(node: Any, q: Any) -> None:  # observe only: the next_hop of each frame node0 puts on air
        if node is n0 and q.packet.portnum == PORTNUM:
            sent_hops.append(q.packet.next_hop)
        start_tx(node, q)

    try:
        wait_for(lambda: _knows(chain3, "node0", "node2") and _knows(chain3, "node2", "node0"), what="keys")
        wait_for(lambda: _settled(chain3), what="boot NodeInfo replies on air")  # no reply relearns the hop
        with chain3.lock:
            chain3.mesh._start_tx = watch  # type: ignore[method-assign]
            n0.next_hops[n2] = 0x77  # the learned relay was replaced: nobody answers to 0x77 any more
            relays_before = chain3.mesh.node("node1").stats.rebroadcasts
        assert _dm_outcome(a, n2, b"via een verdwenen relais", wait_for) == "NONE"
        assert sent_hops == [0x77, 0x77, 0]  # NUM_RELIABLE_RETX = 3: two named tries, then the flood
        assert chain3.mesh.node("node1").stats.rebroadcasts - relays_before >= 1
        wait_for(lambda: b"via een verdwenen relais" in inbox.payloads(), what="delivered")
        assert inbox.payloads().count(b"via een verdwenen relais") == 1
        assert n0.next_hops.get(n2) != 0x77  # reset in the node DB (then relearned from the ack, or empty)
    finally:
        chain3.mesh._start_tx = start_tx  # type: ignore[method-assign]
        inbox.close()
        a.close()
        c.close()



def test_tx_queue_orders_by_client_priority_and_evicts_lower_when_full(wait_for: Callable[..., Any]) -> None:
    """MeshPacketQueue.cpp `enqueue` (CompareMeshPacketFunc: higher MeshPacket.priority first, FIFO at equal
    priority) and `replaceLowerPriorityPacket` (MAX_TX_QUEUE 16: a packet of higher priority evicts the last
    lower one); RadioLibInterface `onNotify` keeps a receiving radio off the air.

    node1's client sends node0 a long want_ack DM (~1.6 s on air at LONG_FAST). While node0 receives it, node0's
    client writes 15 BACKGROUND broadcasts and one ALERT: the library fills the 16 places the radio announced
    (it holds back a 17th until QueueStatus says there is room, so a client never overfills the queue itself).
    When the DM ends, node0's ack (priority ACK) finds the queue full and evicts the last BACKGROUND."""
    server = MeshServer(topology.chain(2, preset="LONG_FAST", seed=5), use_pty=False)
    server.start()
    a, b = _client(server, "node0"), _client(server, "node1")
    inbox = Inbox(b)
    Priority = mesh_pb2.MeshPacket.Priority
    n0, n1 = server.mesh.node("node0"), server.mesh.node("node1")
    try:
        wait_for(lambda: _knows(server, "node1", "node0") and _knows(server, "node0", "node1"), timeout_s=20,
                 what="keys")
        wait_for(lambda: not n0.queue and n0.tx is None and n1.tx is None, what="quiet channel")
        answers: list[dict[str, Any]] = []
        b.sendData(b"d" * 180, destinationId=_num(server, "node0"), portNum=PORTNUM, wantAck=True,
                   onResponse=answers.append, onResponseAckPermitted=True)
        wait_for(lambda: n1.tx is not None and n1.tx.packet.portnum == PORTNUM, interval_s=0.001,
                 what="the DM on air")
        ids = [a.sendData(f"bg{k}".encode(), portNum=PORTNUM, priority=Priority.BACKGROUND).id for k in range(1, 16)]
        alert = a.sendData(b"alert", portNum=PORTNUM, priority=Priority.ALERT).id
        with server.lock:
            assert n1.tx is not None and n1.tx.packet.portnum == PORTNUM, "burst slower than the DM's airtime"
        wait_for(lambda: n0.stats.queue_evictions == 1, timeout_s=10, what="the ack evicts")
        with server.lock:
            queued = [(q.packet.portnum, q.packet.packet_id) for q in n0.queue]
        head_port = queued[0][0] if n0.tx is None else n0.tx.packet.portnum
        assert head_port == 5  # the ack (ROUTING_APP, priority ACK) goes first
        rest = [pid for port, pid in queued if port == PORTNUM]
        assert rest == [alert, *ids[:14]]  # ALERT before BACKGROUND, BACKGROUND in order, bg15 evicted
        wait_for(lambda: answers, timeout_s=15, what="node1's ack")
        assert answers[0]["decoded"]["routing"].get("errorReason", "NONE") == "NONE"
        wait_for(lambda: b"bg2" in inbox.payloads(), timeout_s=20, what="first BACKGROUND frames")
        got = inbox.payloads()
        assert got.index(b"alert") < got.index(b"bg1") < got.index(b"bg2")
    finally:
        inbox.close()
        a.close()
        b.close()
        server.stop()


def test_client_hop_limit_zero_stands_unless_want_ack(chain3: MeshServer, wait_for: Callable[..., Any]) -> None:
    """Router::sendLocal keeps a client's hop limit 0 (direct neighbours only); only want_ack with 0 gets the
    configured hop limit. A neighbour gets such a DM; one two hops away never does (nobody relays it)."""
    a, mid, b = _client(chain3, "node0"), _client(chain3, "node1"), _client(chain3, "node2")
    at_mid, at_far = Inbox(mid), Inbox(b)
    try:
        wait_for(lambda: _knows(chain3, "node0", "node1") and _knows(chain3, "node0", "node2"), timeout_s=20,
                 what="keys at node0")
        a.sendData(b"te ver", destinationId=_num(chain3, "node2"), portNum=PORTNUM, hopLimit=0)
        a.sendData(b"alleen buren", destinationId=_num(chain3, "node1"), portNum=PORTNUM, hopLimit=0)
        wait_for(lambda: b"alleen buren" in at_mid.payloads(), timeout_s=20, what="the DM at node1")
        got = next(p for p in at_mid.packets if p.get("decoded", {}).get("payload") == b"alleen buren")
        assert got.get("hopLimit", 0) == 0 and got.get("hopStart", 0) == 0
        a.sendData(b"met ack", destinationId=_num(chain3, "node2"), portNum=PORTNUM, hopLimit=0, wantAck=True)
        wait_for(lambda: b"met ack" in at_far.payloads(), timeout_s=20, what="the want_ack DM at node2")
        got = next(p for p in at_far.packets if p.get("decoded", {}).get("payload") == b"met ack")
        assert got["hopStart"] == 3  # want_ack asking for 0: the configured hop limit
        assert b"te ver" not in at_far.payloads()  # sent before "met ack", never relayed by node1
    finally:
        at_mid.close()
        at_far.close()
        for c in (a, mid, b):
            c.close()
