"""Values and per-node state of the simulated mesh (see `nspgw.sim.mesh`, which re-exports the public ones).

Packet-level helpers that mirror firmware encodings (Routing payload, response hop limit) live here too, so
`mesh.py` keeps only the event loop and the router decisions.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

from nspgw.core.airtime import DutyCycleLedger, meshtastic_frame_len
from nspgw.sim import mesh_radio as radio
from nspgw.sim.mesh_radio import RadioLink

BROADCAST = 0xFFFFFFFF
ROUTING_APP = 5  # portnums.proto
NODEINFO_APP = 4
TEXT_PORTS = frozenset({1, 7})  # TEXT_MESSAGE_APP, TEXT_MESSAGE_COMPRESSED_APP
# MeshPacket.Priority values (mesh.proto)
PRIORITY_BACKGROUND = 10
PRIORITY_DEFAULT = 64
PRIORITY_RELIABLE = 70
PRIORITY_RESPONSE = 80
PRIORITY_HIGH = 100
PRIORITY_ACK = 120
NO_NEXT_HOP = 0  # NextHopRouter NO_NEXT_HOP_PREFERENCE
NUM_INTERMEDIATE_RETX = 2  # NextHopRouter.h: a relay named as next hop tries twice in all
# Router.cpp handleReceived: the ports a CORE_PORTNUMS_ONLY node still handles (and so relays): text (1, 7),
# position 3, nodeinfo 4, routing 5, admin 6, waypoint 8, alert 11, key verification 12, store&forward++ 35,
# store&forward 65, telemetry 67, traceroute 70. nspgw's port 311 is not among them.
CORE_PORTNUMS = frozenset({1, 3, 4, 5, 6, 7, 8, 11, 12, 35, 65, 67, 70})
# Router::perhapsEncode never PKI-encrypts these ports (traceroute, nodeinfo, routing, position).
PKI_EXEMPT_PORTS = frozenset({3, 4, 5, 70})
PKI_OVERHEAD = 12  # mesh-pb-constants.h MESHTASTIC_PKC_OVERHEAD
REBROADCAST_MODES = ("ALL", "ALL_SKIP_DECODING", "LOCAL_ONLY", "KNOWN_ONLY", "NONE", "CORE_PORTNUMS_ONLY")

# meshtastic.protobuf.mesh_pb2.Routing.Error values
ERROR_NONE = 0
MAX_RETRANSMIT = 5
TOO_LARGE = 7
DUTY_CYCLE_LIMIT = 9
PKI_SEND_FAIL_PUBLIC_KEY = 39
ERRNO_OK = 0
ERRNO_UNKNOWN = 32  # firmware ErrorCode when the tx queue refuses a packet

ROLES = ("CLIENT", "CLIENT_MUTE", "ROUTER", "ROUTER_CLIENT", "REPEATER", "TRACKER", "SENSOR", "TAK",
         "CLIENT_HIDDEN", "LOST_AND_FOUND", "TAK_TRACKER", "ROUTER_LATE", "CLIENT_BASE")
# FloodingRouter::roleAllowsCancelingDupe: only these never cancel a queued relay on hearing another one
# (CLIENT_BASE too, for packets from or to a favourite). The deprecated ROUTER_CLIENT and REPEATER behave as
# CLIENT wherever 2.7 checks a role, and AdminModule::handleSetConfig rewrites them to CLIENT when set.
ALWAYS_REBROADCAST = frozenset({"ROUTER", "ROUTER_LATE"})
# RadioInterface::shouldRebroadcastEarlyLikeRouter (2.7): ROUTER alone uses the early window.
ROUTER_DELAY_ROLES = frozenset({"ROUTER"})
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
    next_hop: int = NO_NEXT_HOP  # last byte of the node asked to relay (NextHopRouter), 0 = flood
    pki: bool = False  # PKI-encrypted direct message: only the destination can decode it
    # (sender's public key, the destination key the sender's node DB held) for a PKI DM from a virtual device;
    # empty: the keys are taken to match (the scenario runner's boxes all know each other).
    pki_keys: tuple[bytes, bytes] = ()

    def frame_len(self) -> int:
        """Bytes on air: 16-byte header + the `Data` protobuf (see core.airtime.meshtastic_frame_len)."""
        return self.plain_len() + (PKI_OVERHEAD if self.pki else 0)

    def plain_len(self) -> int:
        """Header + `Data` before PKI: what getRetransmissionMsec and the TOO_LARGE check measure."""
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
    queue_evictions: int = 0
    implicit_acks: int = 0
    relays_refused: int = 0  # not handled or not relayed because of the rebroadcast mode or role
    busy_deferrals: int = 0  # transmit timer fired on a busy channel: a fresh delay was drawn


@dataclass(slots=True)
class QueuedTx:
    """One packet in MeshPacketQueue. `late_at` is firmware's `tx_after` (late rebroadcast window)."""

    packet: RadioPacket
    order: int
    rebroadcast: bool
    rx_snr: float | None = None  # None: generated here (setTransmitDelay then uses getTxDelayMsec)
    late_at: float | None = None

    def sort_key(self) -> tuple[bool, int, bool, int]:
        # CompareMeshPacketFunc: outside the late window first, higher priority first, at equal priority
        # packets already on the mesh (relays) before our own; std::upper_bound keeps FIFO among equals.
        return (self.late_at is not None, -self.packet.priority, not self.rebroadcast, self.order)


@dataclass(slots=True)
class PendingAck:
    """A packet awaiting its (implicit) ack (NextHopRouter PendingPacket)."""

    node: SimNode
    packet: RadioPacket
    retries_left: int  # numRetransmissions: counts down, the NAK/stop comes at 0
    gen: int
    next_tx: float = 0.0
    from_us: bool = True


@dataclass(slots=True)
class PacketRecord:
    """PacketHistory::PacketRecord: what a node remembers of a packet it saw (10 minutes)."""

    time: float
    next_hop: int = NO_NEXT_HOP
    relayed_by: list[int] = field(default_factory=list)  # last bytes, at most NUM_RELAYERS (6)
    our_tx_hop: int | None = None  # hop limit we relayed it with


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
    link: RadioLink
    snr: float
    rssi: int
    start: float
    ok: bool = True


@dataclass(eq=False)
class SimNode:
    name: str
    node_num: int
    role: str = "CLIENT"
    rebroadcast_mode: str = "ALL"
    hop_limit: int = 3
    up: bool = True
    position: tuple[float, float] | None = None
    heard: dict[int, HeardInfo] = field(default_factory=dict)
    known: set[int] | None = None  # NodeDB entries with a User (None: every node, as after a NodeInfo round)
    favourites: set[int] = field(default_factory=set)
    next_hops: dict[int, int] = field(default_factory=dict)  # NodeInfoLite.next_hop by destination
    tx_queue_max: int = radio.TX_QUEUE_LEN
    stats: NodeStats = field(default_factory=NodeStats)
    ledger: DutyCycleLedger = field(default_factory=DutyCycleLedger)
    # router state (lost on power loss)
    queue: list[QueuedTx] = field(default_factory=list, repr=False)
    pending: dict[int, PendingAck] = field(default_factory=dict, repr=False)  # our own, by packet id
    pending_by_key: dict[tuple[int, int], PendingAck] = field(default_factory=dict, repr=False)
    seen: dict[tuple[int, int], PacketRecord] = field(default_factory=dict, repr=False)
    busy: deque[tuple[float, float]] = field(default_factory=deque, repr=False)  # (end, seconds) on air
    busy_sum: float = 0.0
    seen_order: deque[tuple[float, tuple[int, int]]] = field(default_factory=deque, repr=False)
    tx: Transmission | None = field(default=None, repr=False)
    active_rx: list[RxAttempt] = field(default_factory=list, repr=False)
    neighbours: list[tuple[SimNode, RadioLink]] = field(default_factory=list, repr=False)
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

    @property
    def relay_id(self) -> int:
        """NodeDB::getLastByteOfNodeNum: what `relay_node` / `next_hop` carry."""
        return self.node_num & 0xFF

    def knows(self, num: int) -> bool:
        return self.known is None or num in self.known


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


def relay_priority(packet: RadioPacket) -> int:
    """The priority a relaying radio gives its copy. Priority is not in the on-air header (PacketHeader: to,
    from, id, flags, channel, next_hop, relay_node), so the received packet has it UNSET and Router::send runs
    fixPriority on the relay: on the decoded packet when this radio holds the channel, else (a PKI direct
    message for someone else) only its want_ack flag counts. The originator's client priority stays local."""
    if packet.pki:
        return PRIORITY_RELIABLE if packet.want_ack else PRIORITY_DEFAULT
    return fix_priority(replace(packet, priority=0))


def fix_priority(packet: RadioPacket) -> int:
    """MeshPacketQueue.cpp fixPriority: the priority firmware gives a packet whose client left it UNSET."""
    if packet.priority:
        return packet.priority
    if packet.portnum == ROUTING_APP:
        return PRIORITY_ACK
    if packet.portnum in TEXT_PORTS or packet.portnum == 6:  # text and ADMIN_APP
        return PRIORITY_HIGH
    if packet.request_id:
        return PRIORITY_RESPONSE
    if packet.want_ack or packet.want_response:
        return PRIORITY_RELIABLE
    return PRIORITY_DEFAULT
