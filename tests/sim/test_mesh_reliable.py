"""ReliableRouter behaviour: real acks for DMs, implicit acks for broadcasts, retransmission, NAKs, limits."""

from __future__ import annotations

import pytest
from meshtastic.protobuf import mesh_pb2

from nspgw.sim import mesh_radio
from nspgw.sim.mesh import (
    BROADCAST,
    DUTY_CYCLE_LIMIT,
    ERRNO_UNKNOWN,
    MAX_RETRANSMIT,
    ROUTING_APP,
    TOO_LARGE,
    Mesh,
    QueueStatus,
    RadioPacket,
    Reception,
    RoutingEvent,
)

PORT = 311
A, B, C, D = 0x10, 0x11, 0x12, 0x13


class Recorder:
    def __init__(self, mesh: Mesh) -> None:
        self.deliveries: list[tuple[int, Reception]] = []
        self.routing: list[tuple[int, RoutingEvent, float]] = []
        self.queue: list[tuple[int, QueueStatus]] = []
        mesh.on_deliver = lambda n, rx: self.deliveries.append((n, rx))
        mesh.on_routing = lambda n, ev: self.routing.append((n, ev, mesh.clock.now()))
        mesh.on_queue_status = lambda n, st: self.queue.append((n, st))


def chain(n: int, preset: str = "SHORT_FAST", seed: int = 5, region: str = "EU_868") -> Mesh:
    mesh = Mesh(preset=preset, seed=seed, region=region)
    for i in range(n):
        mesh.add_node("abcd"[i], A + i)
    for i in range(n - 1):
        mesh.set_link("abcd"[i], "abcd"[i + 1], snr=5.0)
    return mesh


def dm(pid: int, dest: int = C, payload: bytes = b"melding", want_ack: bool = True) -> RadioPacket:
    return RadioPacket(src=A, dest=dest, packet_id=pid, portnum=PORT, payload=payload, want_ack=want_ack)


def test_want_ack_dm_across_two_hops_gets_implicit_then_real_ack() -> None:
    """ReliableRouter::shouldFilterReceived (src/mesh/ReliableRouter.cpp): hearing B relay our DM is an
    implicit ack (local Routing packet from our own node, retries stop); C's real ack still reaches the
    client as a Routing packet from C."""
    mesh = chain(3)
    rec = Recorder(mesh)
    mesh.send("a", dm(100))
    assert rec.queue == [(A, QueueStatus(0, 15, 16, 100))]
    mesh.run_until(60.0)
    assert [(n, rx.packet.payload) for n, rx in rec.deliveries if rx.packet.portnum == PORT] == [(C, b"melding")]
    acks = [rx.packet for n, rx in rec.deliveries if n == A and rx.packet.portnum == ROUTING_APP]
    assert [(a.src, a.dest, a.request_id) for a in acks] == [(A, A, 100), (C, A, 100)]
    assert all(mesh_pb2.Routing.FromString(a.payload).error_reason == mesh_pb2.Routing.Error.NONE for a in acks)
    assert [(n, ev) for n, ev, _ in rec.routing] == [(A, RoutingEvent(100, 0, A, True))]
    assert mesh.node("a").stats.retransmissions == 0


def test_cut_link_gives_max_retransmit_nak_after_the_firmware_retries() -> None:
    """NextHopRouter::doRetransmissions: NUM_RELIABLE_RETX transmissions, getRetransmissionMsec apart, then
    the MAX_RETRANSMIT NAK. (A cut beyond the first relay would not do: hearing B relay is an implicit ack.)"""
    mesh = chain(3)
    mesh.set_link_up("a", "b", False)
    rec = Recorder(mesh)
    mesh.send("a", dm(200))
    mesh.run_until(300.0)
    assert not [rx for n, rx in rec.deliveries if n == C]
    a = mesh.node("a")
    assert a.stats.frames_tx == mesh_radio.NUM_RELIABLE_RETX  # first send + 2 retransmissions
    assert a.stats.retransmissions == mesh_radio.NUM_RELIABLE_RETX - 1
    (num, ev, when), = rec.routing
    assert (num, ev.request_id, ev.error_reason, ev.from_node) == (A, 200, MAX_RETRANSMIT, A)
    timeout = mesh_radio.retransmission_timeout_s(dm(200).frame_len(), mesh.preset)
    assert when == pytest.approx(mesh_radio.NUM_RELIABLE_RETX * timeout)
    naks = [rx.packet for n, rx in rec.deliveries if n == A and rx.packet.portnum == ROUTING_APP]
    assert len(naks) == 1 and naks[0].src == A and naks[0].request_id == 200
    assert mesh_pb2.Routing.FromString(naks[0].payload).error_reason == mesh_pb2.Routing.Error.MAX_RETRANSMIT


def test_link_restored_before_the_last_retry_still_delivers() -> None:
    mesh = chain(3)
    mesh.set_link_up("a", "b", False)
    rec = Recorder(mesh)
    mesh.send("a", dm(201))
    mesh.run_until(1.0)  # the first copy is gone into the dead link
    mesh.set_link_up("a", "b", True)
    mesh.run_until(300.0)
    assert [n for n, rx in rec.deliveries if rx.packet.portnum == PORT] == [C]
    assert [(ev.error_reason, ev.implicit) for _, ev, _ in rec.routing] == [(0, True)]


def test_broadcast_want_ack_is_acked_implicitly_by_a_relay() -> None:
    mesh = chain(3)
    rec = Recorder(mesh)
    mesh.send("a", RadioPacket(src=A, dest=BROADCAST, packet_id=300, portnum=PORT, payload=b"bulletin",
                               want_ack=True))
    mesh.run_until(60.0)
    assert [(n, ev) for n, ev, _ in rec.routing] == [(A, RoutingEvent(300, 0, A, True))]
    assert mesh.node("a").stats.frames_tx == 1


def test_payload_over_233_bytes_is_too_large() -> None:
    mesh = chain(2)
    rec = Recorder(mesh)
    mesh.send("a", dm(400, dest=B, payload=bytes(234)))
    (num, ev, _), = rec.routing
    assert (num, ev.request_id, ev.error_reason) == (A, 400, TOO_LARGE)
    assert rec.deliveries[0][1].packet.portnum == ROUTING_APP
    mesh.run_until(30.0)
    assert mesh.node("a").stats.frames_tx == 0


def test_frames_over_255_bytes_on_air_are_too_large_as_firmware_encodes_them() -> None:
    mesh = chain(2)
    rec = Recorder(mesh)
    # A DM is PKI-encrypted (+12 bytes, Router::perhapsEncode): 219 payload bytes fit, 220 do not.
    mesh.send("a", dm(401, dest=B, payload=bytes(219), want_ack=False))
    mesh.send("a", dm(402, dest=B, payload=bytes(220), want_ack=False))
    assert [(ev.request_id, ev.error_reason) for _, ev, _ in rec.routing] == [(402, TOO_LARGE)]
    mesh.strict_frame_limit = False
    mesh.send("a", dm(403, dest=B, payload=bytes(233), want_ack=False))
    mesh.run_until(30.0)
    assert sorted(rx.packet.packet_id for n, rx in rec.deliveries if n == B) == [401, 403]


def test_duty_cycle_spent_gives_duty_cycle_limit_nak() -> None:
    mesh = chain(2, preset="LONG_FAST")
    rec = Recorder(mesh)
    frame_s = mesh_radio.time_on_air_ms(dm(1, dest=B, payload=bytes(200)).frame_len(), mesh.preset) / 1000
    t, pid = 0.0, 1000
    while not rec.routing:
        mesh.send("a", dm(pid, dest=B, payload=bytes(200), want_ack=False))
        pid += 1
        t += 10.0
        mesh.run_until(t)
    (num, ev, when), = rec.routing
    assert (num, ev.error_reason) == (A, DUTY_CYCLE_LIMIT)
    assert 1 <= ev.silent_minutes <= 60
    a = mesh.node("a")
    assert a.airtime_tx_s >= 360.0  # refused only once 10 % of the hour (360 s) was spent
    assert a.airtime_tx_s <= 360.0 + frame_s
    assert a.stats.duty_cycle_refusals == 1
    nak = rec.deliveries[-1]
    assert nak[0] == A and nak[1].packet.portnum == ROUTING_APP and nak[1].packet.request_id == ev.request_id
    # an hour later the budget is back
    mesh.run_until(when + 3700.0)
    mesh.send("a", dm(pid, dest=B, want_ack=False))
    assert len(rec.routing) == 1


def test_no_duty_cycle_outside_eu() -> None:
    mesh = chain(2, preset="LONG_FAST", region="US")
    rec = Recorder(mesh)
    for i in range(500):
        mesh.send("a", dm(i + 1, dest=B, payload=bytes(200), want_ack=False))
        mesh.run_until(3.0 * (i + 1))
    assert not rec.routing
    assert mesh.node("a").airtime_tx_s > 900


def test_tx_queue_is_bounded() -> None:
    mesh = chain(2)
    rec = Recorder(mesh)
    for i in range(17):
        mesh.send("a", dm(500 + i, dest=B, want_ack=False))
    assert [st.res for _, st in rec.queue] == [0] * 16 + [ERRNO_UNKNOWN]
    assert rec.queue[15][1].free == 0 and rec.queue[0][1].maxlen == 16
    assert mesh.node("a").tx_queue_free == 0
    mesh.run_until(60.0)
    assert mesh.node("a").tx_queue_free == 16
    assert len([1 for n, _ in rec.deliveries if n == B]) == 16


def test_power_loss_drops_queue_and_pending_acks() -> None:
    mesh = chain(3)
    rec = Recorder(mesh)
    for i in range(5):
        mesh.send("a", dm(600 + i))
    mesh.set_node_up("a", False)
    a = mesh.node("a")
    assert a.tx_queue_free == 16 and not a.pending
    mesh.run_until(300.0)
    assert not rec.deliveries and not rec.routing  # nothing sent, and no NAK from a dead radio
    mesh.set_node_up("a", True)
    assert mesh.node(A) is a and a.up
    mesh.send("a", dm(700))
    mesh.run_until(400.0)
    assert [ev.request_id for _, ev, _ in rec.routing] == [700]


def test_powered_off_node_hears_nothing() -> None:
    mesh = chain(3)
    rec = Recorder(mesh)
    mesh.set_node_up("c", False)
    mesh.send("a", RadioPacket(src=A, dest=BROADCAST, packet_id=800, portnum=PORT, payload=b"x"))
    mesh.run_until(60.0)
    assert [n for n, _ in rec.deliveries] == [B]


def test_lost_ack_is_answered_again_when_the_sender_retransmits() -> None:
    # Destination acks, but the ack cannot get back (one-way failure modelled by cutting the link right
    # after the DM arrives). The sender retransmits; once the link is back, the duplicate is acked again.
    mesh = chain(2)
    rec = Recorder(mesh)
    mesh.send("a", dm(900, dest=B))
    while not any(n == B for n, _ in rec.deliveries):
        mesh.run_until(mesh.next_event_time() or 100.0)
    mesh.set_link_up("a", "b", False)
    mesh.run_until(mesh.clock.now() + 3.0)
    mesh.set_link_up("a", "b", True)
    mesh.run_until(200.0)
    assert [ev.error_reason for _, ev, _ in rec.routing] == [0]
    assert len([1 for n, rx in rec.deliveries if n == B and rx.packet.portnum == PORT]) == 1  # delivered once
    assert mesh.node("b").stats.duplicates >= 1


def test_full_tx_queue_tells_the_client_when_there_is_room_again() -> None:
    """MeshService::loop: after "free 0" the client hears (packet id 0) as soon as a slot frees up; the
    library's _sendToRadio waits for exactly that, and without it blocks forever."""
    mesh = chain(2)
    rec = Recorder(mesh)
    a = mesh.node("a")
    for pid in range(1, a.tx_queue_max + 2):
        mesh.send("a", dm(pid, dest=B, want_ack=False))
    statuses = [st for n, st in rec.queue if n == A]
    assert statuses[a.tx_queue_max - 1].free == 0
    assert statuses[-1] == QueueStatus(ERRNO_UNKNOWN, 0, a.tx_queue_max, a.tx_queue_max + 1)  # refused: full
    mesh.run_until(60.0)
    room = [st for n, st in rec.queue[len(statuses):] if n == A]
    assert room and room[0].mesh_packet_id == 0 and room[0].res == 0 and room[0].free > 0
    assert len(room) == 1, "told once, not on every frame that leaves the queue"
