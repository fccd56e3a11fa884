"""The simulated links as the driver's ports (nspgw/adapters/ports.py): what the Meshtastic and MQTT adapters
are to the daemon, these are to each box of a simulation, so the box's `Driver` (nspgw/daemon/driver.py)
decides exactly as the daemon does what leaves, to whom and with which firmware ack.

The radio port hands frames to its mesh node exactly as the daemon's Meshtastic adapter hands them to its
radio: through the same `RadioOutbox` (adapters/radio_pacing.py: FLASH first, one frame in flight with room
for a relay, hop limit 0 to a radio heard straight and for beacons), with the firmware's answers and the
frames heard fed back to it as the adapter does. Below that they model only the radio's firmware (packet
ids, queue priority, routing answers) and the broker's delivery delay."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from nspgw.adapters.radio_pacing import RadioOutbox
from nspgw.adapters.radio_priority import mesh_priority
from nspgw.core.events import IP, FrameIn
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.sim.mesh import BROADCAST, DUTY_CYCLE_LIMIT, MAX_RETRANSMIT, TOO_LARGE, RadioPacket
from nspgw.wire.frames import NSPGW_PORTNUM

if TYPE_CHECKING:
    from nspgw.sim.scenario_net import SimNet

NSPGW_CHANNEL = 1
ROUTING_ERRORS = {0: "NONE", MAX_RETRANSMIT: "MAX_RETRANSMIT", TOO_LARGE: "TOO_LARGE",
                  DUTY_CYCLE_LIMIT: "DUTY_CYCLE_LIMIT"}


def routing_error_name(code: int) -> str:
    """Routing.Error as the meshtastic library names it (the daemon's adapter passes the name on)."""
    return ROUTING_ERRORS.get(code, f"ERROR_{code}")


class SimRadioPort:
    """One box's radio adapter: frames wait in its `RadioOutbox` until the pacing lets the next one go, then
    get a packet id and go to the box's mesh node; the id is reported back as the adapter's "delivered" event
    does (`queued(packet_id, ref)`). The net calls `pump()` when `wake_at` has come."""

    def __init__(self, net: SimNet, addr: int, queued: Callable[[int, object], None]) -> None:
        self.net = net
        self.addr = addr
        self.queued = queued
        self.outbox = RadioOutbox(net.preset)
        self.wake_at: float | None = None

    def send(self, hop_dst_addr: int, data: bytes, precedence: int = 3, *, ref: object = None,
             want_ack: bool = False, hops: int | None = None) -> None:
        self.outbox.push(hop_dst_addr, data, precedence, ref=ref, want_ack=want_ack, hops=hops)
        self.pump()

    def pump(self) -> None:
        """Hand the radio what the pacing allows now; note when to look again."""
        net = self.net
        now = net.now
        while (frame := self.outbox.pop_ready(now)) is not None:
            box = net.boxes[self.addr]
            packet_id = net.next_packet_id()
            hops = self.outbox.hop_limit(frame)
            if hops is None:  # sendData without hopLimit: the library takes the radio's lora.hop_limit (profile)
                hops = net.mesh.node(box.name).hop_limit
            # MeshInterface.sendData sets hop_start = hop_limit for our own packet (Router::send does too)
            packet = RadioPacket(box.spec.node_num, frame.node, packet_id, NSPGW_PORTNUM, frame.data, NSPGW_CHANNEL,
                                 want_ack=frame.want_ack and frame.node != BROADCAST,
                                 priority=mesh_priority(frame.precedence), hop_limit=hops, hop_start=hops)
            net.mesh.send(box.name, packet)
            self.outbox.sent(now, frame, packet_id)
            self.queued(packet_id, frame.ref)
        wait = self.outbox.wait_s(now)
        self.wake_at = None if wait is None else now + wait

    def heard(self, from_node: int, hop_start: int, hop_limit: int) -> None:
        """A packet from `from_node` reached this radio (the adapter's RadioFrame): where that node is."""
        self.outbox.pacer.heard(from_node, hop_start, hop_limit)

    def answered(self, packet_id: int, error_reason: str) -> bool:
        """The firmware's ACK/NAK for one of ours; False when it proves nothing and is not passed on."""
        self.outbox.pacer.answered(self.net.now, packet_id)
        self.pump()
        return self.outbox.pacer.proves_loss(packet_id, error_reason)


class SimIpPort:
    """One box's MQTT link: a frame reaches each addressed box on the broker after IP_LATENCY_S."""

    def __init__(self, net: SimNet, addr: int) -> None:
        self.net = net
        self.addr = addr

    def send(self, hop_dst_addr: int, data: bytes, precedence: int = 3, *, ref: object = None) -> None:
        net = self.net
        if not net.boxes[self.addr].ip_up:
            return
        if hop_dst_addr == BROADCAST_ADDR:
            targets = [b for b in net.boxes.values() if b.spec.addr != self.addr]
        else:
            targets = [net.boxes[hop_dst_addr]] if hop_dst_addr in net.boxes else []
        for t in targets:
            if t.ip_up:
                net.ip_later(t.spec.addr, FrameIn(IP, data, BoxAddr(self.addr)))
