"""The simulated links as the driver's ports (nspgw/adapters/ports.py): what the Meshtastic and MQTT adapters
are to the daemon, these are to each box of a simulation, so the box's `Driver` (nspgw/daemon/driver.py)
decides exactly as the daemon does what leaves, to whom and with which firmware ack.

They model only what sits below the daemon: the radio's firmware (packet ids, queue priority, routing
answers) and the broker's delivery delay."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from nspgw.core.events import IP, FrameIn
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.sim.mesh import BROADCAST, DUTY_CYCLE_LIMIT, MAX_RETRANSMIT, TOO_LARGE, RadioPacket
from nspgw.wire.frames import NSPGW_PORTNUM

if TYPE_CHECKING:
    from nspgw.sim.scenario_net import SimNet

# The daemon's adapter sends through `meshtastic`'s MeshInterface.sendData without a priority, so every
# frame carries the library's default MeshPacket.Priority RELIABLE (70); nspgw orders by precedence in its
# own queue before the firmware sees a frame (adapters/meshtastic_radio.py).
LIBRARY_PRIORITY = 70
NSPGW_CHANNEL = 1
ROUTING_ERRORS = {0: "NONE", MAX_RETRANSMIT: "MAX_RETRANSMIT", TOO_LARGE: "TOO_LARGE",
                  DUTY_CYCLE_LIMIT: "DUTY_CYCLE_LIMIT"}


def routing_error_name(code: int) -> str:
    """Routing.Error as the meshtastic library names it (the daemon's adapter passes the name on)."""
    return ROUTING_ERRORS.get(code, f"ERROR_{code}")


class SimRadioPort:
    """One box's radio: gives each frame a packet id, hands it to its mesh node, reports the id back as the
    adapter's "delivered" event does (`queued(packet_id, ref)`)."""

    def __init__(self, net: SimNet, addr: int, queued: Callable[[int, object], None]) -> None:
        self.net = net
        self.addr = addr
        self.queued = queued

    def send(self, hop_dst_addr: int, data: bytes, precedence: int = 3, *, ref: object = None,
             want_ack: bool = False) -> None:
        from nspgw.adapters.radio_priority import mesh_priority  # the adapter's precedence mapping

        box = self.net.boxes[self.addr]
        packet_id = self.net.next_packet_id()
        dest = hop_dst_addr  # BROADCAST (0xFFFFFFFF) or a node number, as the driver chose it
        packet = RadioPacket(box.spec.node_num, dest, packet_id, NSPGW_PORTNUM, data, NSPGW_CHANNEL,
                             want_ack=want_ack and dest != BROADCAST, priority=mesh_priority(precedence))
        self.net.mesh.send(box.name, packet)
        self.queued(packet_id, ref)


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
