"""Values and per-node state of the simulated mesh (see `nspgw.sim.mesh`, which re-exports the public ones).

Packet-level helpers that mirror firmware encodings (Routing payload, response hop limit) live here too, so
`mesh.py` keeps only the event loop and the router decisions.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from nspgw.core.airtime import DutyCycleLedger, meshtastic_frame_len
from nspgw.sim import mesh_radio as radio
from nspgw.sim.mesh_radio import Link

BROADCAST = 0xFFFFFFFF
ROUTING_APP = 5  # portnums.proto
PRIORITY_ACK = 120  # MeshPacket.Priority.ACK

# meshtastic.protobuf.mesh_pb2.Routing.Error values
ERROR_NONE = 0
MAX_RETRANSMIT = 5
TOO_LARGE = 7
DUTY_CYCLE_LIMIT = 9
ERRNO_OK = 0
ERRNO_UNKNOWN = 32  # firmware ErrorCode when the tx queue refuses a packet

ROLES = ("CLIENT", "CLIENT_MUTE", "ROUTER", "ROUTER_CLIENT", "REPEATER", "TRACKER", "SENSOR", "TAK",
         "CLIENT_HIDDEN", "LOST_AND_FOUND", "TAK_TRACKER", "ROUTER_LATE", "CLIENT_BASE")
# Roles that always rebroadcast: they never cancel on hearing someone else relay (FloodingRouter).
ALWAYS_REBROADCAST = frozenset({"ROUTER", "REPEATER", "ROUTER_LATE", "ROUTER_CLIENT"})
# Roles whose relay delay is the short router window (getTxDelayMsecWeighted).
ROUTER_DELAY_ROLES = frozenset({"ROUTER", "REPEATER"})  # 2.7 shouldRebroadcastEarlyLikeRouter: ROUTER
SEEN_EXPIRE_S = 600.0  # PacketHistory FLOOD_EXPIRE_TIME: 10 minutes


@dataclass(frozen=True)
class RadioPacket:
    """What a firmware router handles; the device converts protobufs to and from it."""

    src: int
    dest: int
    packet_id: int
    portnum: int
    payload: bytes
    channel: int = 0
    want_ack: bool = False
    want_response: bool = False
    request_id: int = 0
    reply_id: int = 0
    hop_limit: int = 3
    hop_start: int = 3
    priority: int = 0
    emoji: int = 0
    bitfield: int = 0

    def frame_len(self) -> int:
        """Bytes on air: 16-byte header + the `Data` protobuf (see core.airtime.meshtastic_frame_len)."""
        return meshtastic_frame_len(len(self.payload), self.portnum, want_response=self.want_response,
                                    request_id=self.request_id, reply_id=self.reply_id, emoji=self.emoji,
                                    bitfield=self.bitfield)


@dataclass(frozen=True)
class Reception:
    packet: RadioPacket  # as received (hop_limit as it arrived)
    rx_time: float
    rx_snr: float
    rx_rssi: int
    relay_node: int  # last byte of the node that transmitted this copy


@dataclass(frozen=True)
class RoutingEvent:
    """Outcome of a packet the node's client sent: ack (error_reason 0) or nak (Routing.Error value)."""

    request_id: int
    error_reason: int
    from_node: int  # who acked (own node number for implicit acks and local naks)
    implicit: bool = False
    silent_minutes: int = 0  # DUTY_CYCLE_LIMIT: minutes until the hourly budget allows sending again


@dataclass(frozen=True)
class QueueStatus:
    res: int
    free: int
    maxlen: int
    mesh_packet_id: int


@dataclass(frozen=True)
class HeardInfo:
    last_heard: float
    snr: float
    rssi: int
    hops_away: int


@dataclass
class NodeStats:
    frames_tx: int = 0
    airtime_s: float = 0.0
    rebroadcasts: int = 0
    frames_rx: int = 0
    collisions: int = 0
    duplicates: int = 0
    rebroadcasts_cancelled: int = 0
    retransmissions: int = 0
    duty_cycle_refusals: int = 0
    queue_full_drops: int = 0


@dataclass(slots=True)
class QueuedTx:
    packet: RadioPacket
    tx_after: float
    order: int
    rebroadcast: bool


@dataclass(slots=True)
class PendingAck:
    """A want_ack packet awaiting its ack (ReliableRouter PendingPacket)."""

    node: SimNode
    packet: RadioPacket
    retries_left: int
    gen: int


@dataclass(slots=True)
class Transmission:
    sender: SimNode
    packet: RadioPacket
    end: float
    receptions: list[RxAttempt]
    aborted: bool = False


@dataclass(slots=True)
class RxAttempt:
    tx: Transmission
    node: SimNode
    link: Link
    snr: float
    rssi: int
    start: float
    ok: bool = True


@dataclass(eq=False)
class SimNode:
    name: str
    node_num: int
    role: str = "CLIENT"
    hop_limit: int = 3
    up: bool = True
    position: tuple[float, float] | None = None
    heard: dict[int, HeardInfo] = field(default_factory=dict)
    tx_queue_max: int = radio.TX_QUEUE_LEN
    stats: NodeStats = field(default_factory=NodeStats)
    ledger: DutyCycleLedger = field(default_factory=DutyCycleLedger)
    # router state (lost on power loss)
    queue: list[QueuedTx] = field(default_factory=list, repr=False)
    pending: dict[int, PendingAck] = field(default_factory=dict, repr=False)
    seen: dict[tuple[int, int], float] = field(default_factory=dict, repr=False)
    seen_order: deque[tuple[float, tuple[int, int]]] = field(default_factory=deque, repr=False)
    tx: Transmission | None = field(default=None, repr=False)
    active_rx: list[RxAttempt] = field(default_factory=list, repr=False)
    neighbours: list[tuple[SimNode, Link]] = field(default_factory=list, repr=False)
    timer_gen: int = 0
    timer_at: float | None = None
    packet_counter: int = 0
    told_full: bool = False  # the client was last told the tx queue is full (MeshService::lastQueueStatus)

    @property
    def airtime_tx_s(self) -> float:
        """Total seconds this node has transmitted since the mesh started."""
        return self.stats.airtime_s

    @property
    def tx_queue_free(self) -> int:
        return max(self.tx_queue_max - len(self.queue), 0)


def link_key(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def routing_payload(error: int) -> bytes:
    """Routing{error_reason} protobuf: field 3, varint (a oneof member, so written even when 0)."""
    out = bytearray(b"\x18")
    value = error
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def routing_error(payload: bytes) -> int:
    """error_reason of a Routing protobuf (0 when absent or not an error_reason message)."""
    if len(payload) < 2 or payload[0] != 0x18:
        return 0
    value, shift = 0, 0
    for b in payload[1:6]:
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value
        shift += 7
    return 0


def hop_limit_for_response(hop_start: int, hop_limit: int, config_hop_limit: int) -> int:
    """RoutingModule::getHopLimitForResponse: as many hops as the request used, plus 2 for margin."""
    if hop_start != 0:
        used = config_hop_limit if hop_start < hop_limit else hop_start - hop_limit
        if used > config_hop_limit:
            return used
        if used + 2 < config_hop_limit:
            return used + 2
    return config_hop_limit
