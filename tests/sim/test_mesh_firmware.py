"""Router details of firmware 2.7.26 in the mesh model, each test naming the source it mirrors.

Deterministic, on virtual time (no library): the tx queue (MeshPacketQueue.cpp), next-hop retries
(NextHopRouter.cpp), acks cancelling relays, contention (RadioInterface.cpp / RadioLibInterface.cpp) and the
rebroadcast modes for packets a relay cannot decode (RoutingModule.cpp).
"""

from __future__ import annotations

import pytest

from nspgw.sim import mesh_radio
from nspgw.sim.mesh import BROADCAST, ERRNO_UNKNOWN, Mesh, QueueStatus, RadioPacket, RoutingEvent
from nspgw.sim.mesh_types import NUM_INTERMEDIATE_RETX, PRIORITY_ACK, QueuedTx, fix_priority, relay_priority

PORT = 311
A, B, C, D = 0x21, 0x22, 0x23, 0x24


def chain(n: int, preset: str = "SHORT_FAST", seed: int = 3, **kw: str) -> Mesh:
    mesh = Mesh(preset=preset, seed=seed)
    for i in range(n):
        mesh.add_node("abcd"[i], A + i, **({"role": kw["role"]} if "role" in kw and i == 1 else {}))
    for i in range(n - 1):
        mesh.set_link("abcd"[i], "abcd"[i + 1], snr=5.0)
    return mesh


def pkt(pid: int, src: int = A, dest: int = BROADCAST, **kw: object) -> RadioPacket:
    return RadioPacket(src=src, dest=dest, packet_id=pid, portnum=PORT, payload=b"x" * 20, **kw)  # type: ignore[arg-type]


def test_queue_orders_by_priority_then_relays_then_fifo_and_evicts_lower() -> None:
    """MeshPacketQueue.cpp CompareMeshPacketFunc / replaceLowerPriorityPacket; fixPriority for UNSET."""
    mesh = Mesh(preset="SHORT_FAST", seed=1)
    node = mesh.add_node("a", A)
    statuses: list[QueueStatus] = []
    mesh.on_queue_status = lambda n, st: statuses.append(st)
    for pid in range(1, 17):
        mesh.send("a", pkt(pid, priority=10))  # BACKGROUND fills the 16 places
    assert statuses[-1] == QueueStatus(0, 0, 16, 16)
    mesh.send("a", pkt(17, priority=10))
    assert statuses[-1].res == ERRNO_UNKNOWN  # equal priority: no room, refused
    mesh.send("a", pkt(18, priority=100))  # HIGH evicts the last BACKGROUND packet
    assert statuses[-1].res == 0 and node.stats.queue_evictions == 1
    ids = [q.packet.packet_id for q in node.queue]
    assert ids[0] == 18 and 16 not in ids and len(ids) == 16
    relayed = QueuedTx(pkt(99, src=B, priority=10), 10_000, True, 5.0)
    own = QueuedTx(pkt(98, priority=10), 9_999, False)
    assert relayed.sort_key() < own.sort_key()  # equal priority: already on the mesh goes first
    assert fix_priority(pkt(1)) == 64 and fix_priority(pkt(1, want_ack=True)) == 70
    assert fix_priority(RadioPacket(src=A, dest=B, packet_id=1, portnum=5, payload=b"")) == PRIORITY_ACK


def test_a_relay_gets_fixpriority_not_the_originators_client_priority() -> None:
    """Priority is not in the on-air PacketHeader: the relaying radio's copy arrives UNSET and Router::send
    gives it fixPriority's value (DEFAULT, RELIABLE with want_ack, ACK for routing), whatever priority the
    originator's client asked for (here ALERT, as nspgw sends FLASH)."""
    mesh = chain(3)
    a, b = mesh.node("a"), mesh.node("b")
    mesh.send("a", pkt(8, dest=C, priority=110))
    assert [q.packet.priority for q in a.queue] == [110]  # the originator's queue keeps the client's priority
    assert mesh._perhaps_rebroadcast(b, pkt(8, dest=C, priority=110), a.relay_id, rx_snr=5.0)
    assert [q.packet.priority for q in b.queue if q.packet.packet_id == 8] == [64]
    assert relay_priority(pkt(1, priority=110)) == 64 and relay_priority(pkt(1, want_ack=True, priority=110)) == 70
    assert relay_priority(pkt(1, dest=B, pki=True, priority=110)) == 64
    assert relay_priority(RadioPacket(src=A, dest=B, packet_id=1, portnum=5, payload=b"", priority=10)) == PRIORITY_ACK


def test_overheard_ack_cancels_a_queued_dm_relay() -> None:
    """FloodingRouter/NextHopRouter::sniffReceived: an ack for a DM (request_id) heard by a node still holding
    a relay of that DM cancels it (Router::cancelSending)."""
    mesh = chain(3)
    b = mesh.node("b")
    mesh.send("a", pkt(7, dest=C, want_ack=False))
    mesh.run_until(0.5)
    mesh.node("b").queue.clear()  # make the situation explicit: b holds a relay of DM 7 ...
    mesh._router_send(b, pkt(7, dest=C, hop_limit=2), from_client=False, rx_snr=5.0)
    assert [q.packet.packet_id for q in b.queue] == [7]
    ack = RadioPacket(src=C, dest=A, packet_id=500, portnum=5, payload=b"\x18\x00", request_id=7, hop_limit=2,
                      hop_start=2)
    mesh._receive(b, ack, _rx(mesh, b), mesh.node("c"))  # ... when it hears c's ack
    assert not any(q.packet.packet_id == 7 for q in b.queue)
    assert b.stats.rebroadcasts_cancelled == 1


def _rx(mesh: Mesh, node: object) -> object:
    from nspgw.sim.mesh_types import RxAttempt, Transmission

    link = mesh.link("b", "c")
    return RxAttempt(Transmission(mesh.node("c"), pkt(0), 0.0, []), node, link, 5.0, -80, 0.0)  # type: ignore[arg-type]


def test_named_relay_retries_then_originator_floods_on_its_last_try() -> None:
    """NextHopRouter::perhapsRebroadcast/send: the relay named as next hop keeps a PendingPacket with
    NUM_INTERMEDIATE_RETX transmissions; doRetransmissions: the originator's last retry clears next_hop."""
    mesh = chain(4)
    a, b = mesh.node("a"), mesh.node("b")
    a.next_hops[D] = B & 0xFF
    b.next_hops[D] = C & 0xFF
    mesh.set_link_up("b", "c", False)  # c hearing b would stop b's retries (a dupe: stopRetransmission)
    routing: list[RoutingEvent] = []
    mesh.on_routing = lambda n, ev: routing.append(ev)
    mesh.send("a", pkt(11, dest=D, want_ack=True))
    assert a.seen[(A, 11)].next_hop == B & 0xFF
    mesh.run_until(300.0)
    # b relayed naming c, and retried once (nothing heard back), then gave up without a NAK ...
    assert b.stats.retransmissions == NUM_INTERMEDIATE_RETX - 1 and b.stats.rebroadcasts == NUM_INTERMEDIATE_RETX
    assert not b.pending_by_key
    # ... a got its implicit ack from b's relay, so it never needed its own retries; its table stays.
    assert routing and routing[0].implicit and a.stats.retransmissions == 0

    mesh = chain(3)
    a = mesh.node("a")
    a.next_hops[C] = 0x77  # a stale next hop nobody answers to
    mesh.send("a", pkt(12, dest=C, want_ack=True))
    delivered: list[int] = []
    mesh.on_deliver = lambda n, rx: delivered.append(n) if rx.packet.portnum == PORT else None
    mesh.run_until(300.0)
    assert a.stats.retransmissions == mesh_radio.NUM_RELIABLE_RETX - 1
    assert a.next_hops[C] == B & 0xFF  # the stale hop was reset for the flooding last try, then relearned
    assert delivered == [C]


def test_destination_reacks_a_repeated_dm_with_hop_limit_zero() -> None:
    """NextHopRouter::shouldFilterReceived: a dupe heard straight from its originator (hops away 0), not in the
    tx queue, addressed to us with want_ack: sendAckNak with hop limit 0."""
    mesh = chain(2)
    acks: list[RadioPacket] = []
    mesh.on_deliver = lambda n, rx: acks.append(rx.packet) if n == A and rx.packet.portnum == 5 else None
    first = pkt(13, dest=B, want_ack=True, hop_limit=3, hop_start=3, pki=True)
    b = mesh.node("b")
    mesh._receive(b, first, _rx_from(mesh, "a", "b"), mesh.node("a"))
    mesh._receive(b, first, _rx_from(mesh, "a", "b"), mesh.node("a"))  # the retransmission
    hops = sorted(q.packet.hop_limit for q in b.queue if q.packet.portnum == 5)
    assert hops == [0, 2]  # first ack: getHopLimitForResponse (0 hops used + 2); the re-ack: 0


def _rx_from(mesh: Mesh, a: str, b: str) -> object:
    from nspgw.sim.mesh_types import RxAttempt, Transmission

    return RxAttempt(Transmission(mesh.node(a), pkt(0), 0.0, []), mesh.node(b), mesh.link(a, b), 5.0, -80, 0.0)  # type: ignore[arg-type]


def test_busy_channel_draws_a_fresh_delay_and_cw_grows_with_utilisation() -> None:
    """RadioLibInterface::onNotify(TRANSMIT_DELAY_COMPLETED): busy -> setTransmitDelay (a fresh full delay);
    RadioInterface::getTxDelayMsec: CW = map(channel utilisation, 0..100, CWmin..CWmax)."""
    assert [mesh_radio.cw_for_utilisation(u) for u in (0, 19.9, 20, 50, 100)] == [3, 3, 4, 5, 8]
    mesh = Mesh(preset="LONG_FAST", seed=2)
    for name, num in (("a", A), ("b", B), ("c", C)):
        mesh.add_node(name, num)
    mesh.set_link("a", "b", snr=5.0)
    mesh.set_link("b", "c", snr=5.0)
    mesh.send("a", pkt(20))
    mesh.run_until(0.4)  # a's frame is on air at b
    mesh.send("b", pkt(21, src=B))
    mesh.run_until(30.0)
    assert mesh.node("b").stats.busy_deferrals + mesh.node("b").stats.frames_tx >= 1
    assert mesh.node("b").stats.collisions == 0


def test_router_late_moves_its_relay_to_the_late_window_instead_of_cancelling() -> None:
    """FloodingRouter::perhapsCancelDupe + RadioLibInterface::clampToLateRebroadcastWindow (ROUTER_LATE)."""
    mesh = Mesh(preset="SHORT_FAST", seed=4)
    for i, role in enumerate(("CLIENT", "ROUTER_LATE", "CLIENT", "CLIENT")):
        mesh.add_node("abcd"[i], A + i, role=role)
    for x, y in (("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("b", "c")):
        mesh.set_link(x, y, snr=5.0)
    mesh.send("a", pkt(30))
    mesh.run_until(60.0)
    b = mesh.node("b")
    assert b.stats.rebroadcasts == 1 and b.stats.rebroadcasts_cancelled == 0


@pytest.mark.parametrize(("mode", "known", "relayed"), [
    ("ALL", None, True), ("LOCAL_ONLY", set(), False), ("LOCAL_ONLY", {A}, True), ("KNOWN_ONLY", {C}, True),
    ("NONE", None, False),
])
def test_rebroadcast_modes_for_a_pki_dm_the_relay_cannot_decode(mode: str, known: set[int] | None,
                                                                relayed: bool) -> None:
    """RoutingModule::handleReceivedProtobuf: LOCAL_ONLY/KNOWN_ONLY relay an undecodable PKI DM only when
    sender or destination is a known node; FloodingRouter::isRebroadcaster: NONE never relays."""
    mesh = chain(3)
    b = mesh.node("b")
    b.rebroadcast_mode = mode
    b.known = known
    got: list[int] = []
    mesh.on_deliver = lambda n, rx: got.append(n) if rx.packet.portnum == PORT else None
    mesh.send("a", pkt(40, dest=C))
    mesh.run_until(30.0)
    assert (got == [C]) is relayed


def test_core_portnums_only_drops_port_311_broadcasts_not_text() -> None:
    """Router::handleReceived: CORE_PORTNUMS_ONLY skips decoded packets outside the whitelist (311 is not in it)."""
    mesh = chain(3)
    mesh.node("b").rebroadcast_mode = "CORE_PORTNUMS_ONLY"
    got: list[tuple[int, int]] = []
    mesh.on_deliver = lambda n, rx: got.append((n, rx.packet.portnum))
    mesh.send("a", pkt(50))
    mesh.send("a", RadioPacket(src=A, dest=BROADCAST, packet_id=51, portnum=1, payload=b"tekst"))
    mesh.run_until(30.0)
    assert (C, 1) in got and (C, PORT) not in got and (B, PORT) not in got
