"""Discrete-event model of a Meshtastic LoRa mesh: the shared channel and each node's firmware router.

Implements the "Mesh contract" of docs/architecture.md. One seeded `random.Random` drives every draw, one
heap of events drives time (`run_until`), so a run repeats exactly. What the model does and leaves out is
in docs/simulation-model.md.

Callbacks (all called synchronously from `send`, `run_until`, `set_node_up`):
- `on_deliver(node_num, Reception)`: every packet the firmware router hands its client: packets for the
  node or broadcast, and ROUTING_APP acks/naks, including the ones the node's own router generates
  (implicit ack, MAX_RETRANSMIT, TOO_LARGE, DUTY_CYCLE_LIMIT: src == dest == node_num, as firmware's
  `sendAckNak` to the local node). This is the one path by which the client sees acks and naks.
- `on_routing(node_num, RoutingEvent)`: the same ack/nak outcome in structured form, for tests, the
  scenario runner and client notifications (duty cycle carries `silent_minutes`). It is not a second
  packet: a device must not turn it into another ROUTING_APP packet.
- `on_queue_status(node_num, QueueStatus)`: after every client `send` (res 0 = queued).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import cast

from nspgw.core.airtime import DATA_PAYLOAD_LEN, MAX_LORA_PAYLOAD_LEN, DutyCycleLedger, time_on_air_ms
from nspgw.core.airtime import preset as lookup_preset
from nspgw.errors import ConfigError, UsageError
from nspgw.sim import mesh_radio as radio
from nspgw.sim.clock import VirtualClock
from nspgw.sim.mesh_radio import Link
from nspgw.sim.mesh_types import (
    ALWAYS_REBROADCAST,
    BROADCAST,
    DUTY_CYCLE_LIMIT,
    ERRNO_OK,
    ERRNO_UNKNOWN,
    ERROR_NONE,
    MAX_RETRANSMIT,
    PRIORITY_ACK,
    ROLES,
    ROUTER_DELAY_ROLES,
    ROUTING_APP,
    SEEN_EXPIRE_S,
    TOO_LARGE,
    HeardInfo,
    NodeStats,
    PendingAck,
    QueuedTx,
    QueueStatus,
    RadioPacket,
    Reception,
    RoutingEvent,
    RxAttempt,
    SimNode,
    Transmission,
    hop_limit_for_response,
    link_key,
    routing_error,
    routing_payload,
)

__all__ = [
    "BROADCAST", "DUTY_CYCLE_LIMIT", "ERRNO_OK", "ERRNO_UNKNOWN", "ERROR_NONE", "MAX_RETRANSMIT", "ROLES",
    "ROUTING_APP", "TOO_LARGE", "HeardInfo", "Mesh", "NodeStats", "QueueStatus", "RadioPacket", "Reception",
    "RoutingEvent", "SimNode",
]

_ATTEMPT, _TX_END, _RETX = 0, 1, 2


class Mesh:
    """The channel plus every node's router, on a virtual clock. Not thread-safe: call it under one lock."""

    def __init__(self, preset: str = "LONG_FAST", seed: int = 0, region: str = "EU_868",
                 clock: VirtualClock | None = None) -> None:
        self.preset = lookup_preset(preset)
        self.region = region
        self.clock = clock or VirtualClock()
        self.rng = random.Random(seed)
        self.timing = radio.Timing.for_preset(self.preset)
        self.demod_floor = radio.demod_floor_snr(self.preset)
        self._nodes: dict[str, SimNode] = {}
        self._by_num: dict[int, SimNode] = {}
        self._links: dict[tuple[int, int], Link] = {}
        self._heap: list[tuple[float, int, int, object, int]] = []
        self._seq = 0
        self._toa_cache: dict[int, float] = {}
        # Firmware refuses a packet whose 16-byte header + Data protobuf exceed 255 bytes (so 232-233 payload
        # bytes on app port 311 are TOO_LARGE). False only checks the contract's 233-byte payload limit.
        self.strict_frame_limit = True
        self.on_deliver: Callable[[int, Reception], None] = lambda num, rx: None
        self.on_routing: Callable[[int, RoutingEvent], None] = lambda num, ev: None
        self.on_queue_status: Callable[[int, QueueStatus], None] = lambda num, st: None

    # -- topology -------------------------------------------------------------------------------------

    def add_node(self, name: str, node_num: int, *, role: str = "CLIENT", hop_limit: int = 3,
                 position: tuple[float, float] | None = None) -> SimNode:
        if name in self._nodes or node_num in self._by_num:
            raise ConfigError(f"node {name!r} / {node_num:#010x}: name or node number already in the mesh")
        if role not in ROLES:
            raise ConfigError(f"node {name!r}: unknown role {role!r}")
        if not 0 < node_num < BROADCAST:
            raise ConfigError(f"node {name!r}: node number must be 1..0xFFFFFFFE")
        node = SimNode(name, node_num, role=role, hop_limit=hop_limit, position=position,
                       ledger=DutyCycleLedger.for_region(self.region))
        if position is not None:
            for other in self._nodes.values():
                if other.position is not None:
                    link = radio.link_from_distance(math.dist(position, other.position), self.preset)
                    if link is not None:
                        self._links[link_key(node_num, other.node_num)] = link
        self._nodes[name] = node
        self._by_num[node_num] = node
        self._rebuild_neighbours()
        return node

    def set_link(self, a: str, b: str, *, loss: float = 0.0, snr: float = 10.0, rssi: int = -80,
                 up: bool = True) -> None:
        """A symmetric link; replaces any link computed from positions."""
        na, nb = self.node(a), self.node(b)
        if na is nb:
            raise UsageError(f"link {a!r}-{b!r}: a node cannot link to itself")
        if not 0.0 <= loss <= 1.0:
            raise ConfigError(f"link {a!r}-{b!r}: loss must be between 0 and 1")
        self._links[link_key(na.node_num, nb.node_num)] = Link(loss=loss, snr=snr, rssi=int(rssi), up=up)
        self._rebuild_neighbours()

    def set_link_up(self, a: str, b: str, up: bool) -> None:
        na, nb = self.node(a), self.node(b)
        link = self._links.get(link_key(na.node_num, nb.node_num))
        if link is None:
            raise UsageError(f"no link between {na.name!r} and {nb.name!r}")
        link.up = up

    def set_node_up(self, name: str, up: bool) -> None:
        """Power off: the node leaves the air and loses its RAM (queue, pending acks, packet history, airtime
        counters, as firmware keeps those in RAM); power on: it starts empty with the same node number."""
        node = self.node(name)
        if node.up == up:
            return
        node.up = up
        if not up:
            if node.tx is not None:
                self._abort_tx(node.tx)
            for rx in node.active_rx:
                rx.ok = False
            node.queue.clear()
            node.told_full = False
            node.pending.clear()
            node.seen.clear()
            node.seen_order.clear()
            node.timer_gen += 1
            node.timer_at = None
            node.ledger = DutyCycleLedger.for_region(self.region)

    def node(self, name_or_num: str | int) -> SimNode:
        found = self._nodes.get(name_or_num) if isinstance(name_or_num, str) else self._by_num.get(name_or_num)
        if found is None:
            raise UsageError(f"unknown node {name_or_num!r}")
        return found

    def nodes(self) -> list[SimNode]:
        return list(self._nodes.values())

    def link(self, a: str, b: str) -> Link | None:
        return self._links.get(link_key(self.node(a).node_num, self.node(b).node_num))

    def _rebuild_neighbours(self) -> None:
        for node in self._nodes.values():
            node.neighbours = []
        for (x, y), link in sorted(self._links.items()):
            if link.snr < self.demod_floor:
                continue  # below the floor: never heard, and (model limit) no interference either
            nx, ny = self._by_num[x], self._by_num[y]
            nx.neighbours.append((ny, link))
            ny.neighbours.append((nx, link))

    # -- client API -----------------------------------------------------------------------------------

    def send(self, src: str | int, packet: RadioPacket) -> None:
        """A packet from the node's client (ToRadio), as Router::sendLocal handles it."""
        node = self.node(src)
        now = self.clock.now()
        if not node.up:
            return  # a powered-off radio has no client connection
        too_big = self.strict_frame_limit and packet.frame_len() > MAX_LORA_PAYLOAD_LEN
        if len(packet.payload) > DATA_PAYLOAD_LEN or too_big:
            # perhapsEncode: header + encoded Data (with the bitfield firmware always adds) must fit in one
            # 255-byte LoRa frame, so on port 311 only 231 payload bytes fit, not DATA_PAYLOAD_LEN.
            self._local_nak(node, packet, TOO_LARGE)
            self._tell_queue(node, ERRNO_OK, packet.packet_id)
            return
        if packet.dest == node.node_num:
            self.on_deliver(node.node_num, Reception(packet, now, 0.0, 0, node.node_num & 0xFF))
            return
        res = self._router_send(node, packet, from_client=True)
        if res == ERRNO_OK and packet.want_ack:
            self._start_retransmission(node, packet, radio.NUM_RELIABLE_RETX - 1)
        self._tell_queue(node, res, packet.packet_id)

    def _tell_queue(self, node: SimNode, res: int, packet_id: int) -> None:
        node.told_full = node.tx_queue_free == 0
        self.on_queue_status(node.node_num, QueueStatus(res, node.tx_queue_free, node.tx_queue_max, packet_id))

    def _queue_freed(self, node: SimNode) -> None:
        """MeshService::loop: a client told "no room" hears when there is room again (id 0). Without it the
        library waits for queue space forever, as it would on a real radio."""
        if node.told_full and node.tx_queue_free > 0:
            self._tell_queue(node, ERRNO_OK, 0)

    def run_until(self, t: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= t:
            when, _, kind, obj, gen = heapq.heappop(heap)
            self.clock.advance_to(when)
            if kind == _ATTEMPT:
                node = cast(SimNode, obj)
                if gen == node.timer_gen and node.up:
                    node.timer_at = None
                    self._attempt(node)
            elif kind == _TX_END:
                tx = cast(Transmission, obj)
                if not tx.aborted:
                    self._tx_end(tx)
            else:
                self._retransmit(cast(PendingAck, obj), gen)
        self.clock.advance_to(t)

    def next_event_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def stats(self) -> dict[str, dict[str, float | int]]:
        return {n.name: asdict(n.stats) for n in self._nodes.values()}

    # -- router ---------------------------------------------------------------------------------------

    def _router_send(self, node: SimNode, packet: RadioPacket, *, from_client: bool,
                     rebroadcast_snr: float | None = None) -> int:
        """Router::send: duty-cycle gate, then the tx queue. Returns firmware's ErrorCode (0 = queued)."""
        now = self.clock.now()
        ledger = node.ledger
        if ledger.limit_fraction < 1.0 and ledger.utilization(now) > ledger.limit_fraction:
            # Router::send refuses once the hourly TX utilisation is over the region's duty cycle; only a
            # packet from our own client gets a NAK, a relayed one is dropped silently.
            node.stats.duty_cycle_refusals += 1
            if from_client:
                self._local_nak(node, packet, DUTY_CYCLE_LIMIT, silent_minutes=self._silent_minutes(node))
            return DUTY_CYCLE_LIMIT
        if len(node.queue) >= node.tx_queue_max:
            node.stats.queue_full_drops += 1
            return ERRNO_UNKNOWN
        if rebroadcast_snr is None:
            delay = self.rng.randrange(1 << radio.CW_MIN) * self.timing.slot_s  # getTxDelayMsec, idle channel
        else:
            delay = self._relay_delay(node, rebroadcast_snr)
        self._seq += 1
        node.queue.append(QueuedTx(packet, now + delay, self._seq, rebroadcast_snr is not None))
        self._mark_seen(node, (packet.src, packet.packet_id), now)
        self._schedule_attempt(node, now + delay)
        return ERRNO_OK

    def _relay_delay(self, node: SimNode, snr: float) -> float:
        """getTxDelayMsecWeighted: weak-SNR receivers (likely farther away) relay first."""
        cw = radio.cw_size(snr)
        slot = self.timing.slot_s
        if node.role in ROUTER_DELAY_ROLES:
            return self.rng.randrange(2 * cw) * slot
        return (2 * radio.CW_MAX + self.rng.randrange(1 << cw)) * slot

    def _silent_minutes(self, node: SimNode) -> int:
        ledger = node.ledger
        now = self.clock.now()
        t = ledger.next_time_available(now, 0.0)
        if math.isinf(t) or t <= now:
            return 1
        return max(1, math.ceil((t - now) / 60.0))

    def _schedule_attempt(self, node: SimNode, when: float) -> None:
        if node.tx is not None:
            return  # the end of the current transmission schedules the next attempt
        if node.timer_at is not None and node.timer_at <= when:
            return
        node.timer_gen += 1
        node.timer_at = when
        self._push(when, _ATTEMPT, node, node.timer_gen)

    def _push(self, when: float, kind: int, obj: object, gen: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, kind, obj, gen))

    def _attempt(self, node: SimNode) -> None:
        """The transmit timer fired: send the best ready packet unless the channel is busy (CSMA)."""
        if node.tx is not None or not node.queue:
            return
        now = self.clock.now()
        best: QueuedTx | None = None
        earliest = math.inf
        for q in node.queue:
            if q.tx_after <= now + 1e-12:
                if best is None or (q.packet.priority, -q.order) > (best.packet.priority, -best.order):
                    best = q
            elif q.tx_after < earliest:
                earliest = q.tx_after
        if best is None:
            self._schedule_attempt(node, earliest)
            return
        if node.active_rx:
            # Channel activity detected: back off a random number of slots and listen again.
            backoff = (1 + self.rng.randrange(1 << radio.CW_MIN)) * self.timing.slot_s
            self._schedule_attempt(node, now + backoff)
            return
        node.queue.remove(best)
        self._queue_freed(node)
        self._start_tx(node, best)

    def _airtime_s(self, packet: RadioPacket) -> float:
        n = min(packet.frame_len(), MAX_LORA_PAYLOAD_LEN)  # only relayed frames reach here; they fit
        t = self._toa_cache.get(n)
        if t is None:
            t = self._toa_cache[n] = time_on_air_ms(n, self.preset) / 1000.0
        return t

    def _start_tx(self, node: SimNode, q: QueuedTx) -> None:
        now = self.clock.now()
        airtime = self._airtime_s(q.packet)
        tx = Transmission(node, q.packet, now + airtime, [])
        node.tx = tx
        st = node.stats
        st.frames_tx += 1
        st.airtime_s += airtime
        if q.rebroadcast:
            st.rebroadcasts += 1
        node.ledger.record(now, airtime * 1000.0)
        for rx in node.active_rx:  # half duplex: whatever we were receiving is gone
            rx.ok = False
        preamble = self.timing.preamble_s
        rng = self.rng
        for other, link in node.neighbours:
            if not other.up or not link.up:
                continue
            rx = RxAttempt(tx, other, link, link.snr, link.rssi, now)
            if other.tx is not None or (link.loss > 0.0 and rng.random() < link.loss):
                rx.ok = False
            for prior in other.active_rx:
                first_ok, second_ok = radio.capture(prior.snr, rx.snr, now - prior.start, preamble)
                if not first_ok and prior.ok:
                    prior.ok = False
                    other.stats.collisions += 1
                if not second_ok and rx.ok:
                    rx.ok = False
                    other.stats.collisions += 1
            other.active_rx.append(rx)
            tx.receptions.append(rx)
        self._push(tx.end, _TX_END, tx, 0)

    def _abort_tx(self, tx: Transmission) -> None:
        tx.aborted = True
        tx.sender.tx = None
        for rx in tx.receptions:
            rx.ok = False
            if rx in rx.node.active_rx:
                rx.node.active_rx.remove(rx)

    def _tx_end(self, tx: Transmission) -> None:
        sender = tx.sender
        sender.tx = None
        for rx in tx.receptions:
            rx.node.active_rx.remove(rx)
        for rx in tx.receptions:
            if rx.ok and rx.link.up and rx.node.up:
                self._receive(rx.node, tx.packet, rx, sender)
        if sender.queue and sender.up:
            delay = self.rng.randrange(1 << radio.CW_MIN) * self.timing.slot_s
            self._schedule_attempt(sender, self.clock.now() + delay)

    def _mark_seen(self, node: SimNode, key: tuple[int, int], now: float) -> None:
        order = node.seen_order
        while order and order[0][0] < now - SEEN_EXPIRE_S:
            _, old = order.popleft()
            if node.seen.get(old, math.inf) < now - SEEN_EXPIRE_S:
                del node.seen[old]
        if key not in node.seen:
            order.append((now, key))
        node.seen[key] = now

    def _receive(self, node: SimNode, packet: RadioPacket, rx: RxAttempt, sender: SimNode) -> None:
        now = self.clock.now()
        node.stats.frames_rx += 1
        key = (packet.src, packet.packet_id)
        if packet.src == node.node_num:
            # Someone relayed our own packet: for a broadcast want_ack that is the implicit ack.
            pending = node.pending.get(packet.packet_id)
            if pending is not None and pending.packet.dest == BROADCAST:
                del node.pending[packet.packet_id]
                self._local_ack(node, pending.packet, ERROR_NONE, implicit=True)
            return
        node.heard[packet.src] = HeardInfo(now, rx.snr, rx.rssi, max(packet.hop_start - packet.hop_limit, 0))
        if key in node.seen:
            node.stats.duplicates += 1
            node.seen[key] = now
            if node.role not in ALWAYS_REBROADCAST:
                self._cancel_rebroadcast(node, key)
            if packet.dest == node.node_num and packet.want_ack:
                self._send_ack(node, packet)  # our ack may have been lost: the sender retransmitted
            return
        self._mark_seen(node, key, now)
        reception = Reception(packet, now, rx.snr, rx.rssi, sender.node_num & 0xFF)
        to_us = packet.dest == node.node_num
        if to_us or packet.dest == BROADCAST:
            self.on_deliver(node.node_num, reception)
        if to_us:
            if packet.portnum == ROUTING_APP and packet.request_id:
                pending = node.pending.pop(packet.request_id, None)
                if pending is not None:
                    self.on_routing(node.node_num, RoutingEvent(packet.request_id, routing_error(packet.payload),
                                                                packet.src))
            elif packet.want_ack:
                self._send_ack(node, packet)
            return
        if packet.hop_limit > 0 and node.role != "CLIENT_MUTE":
            relay = replace(packet, hop_limit=packet.hop_limit - 1)
            self._router_send(node, relay, from_client=False, rebroadcast_snr=rx.snr)

    def _cancel_rebroadcast(self, node: SimNode, key: tuple[int, int]) -> None:
        for q in node.queue:
            if q.rebroadcast and (q.packet.src, q.packet.packet_id) == key:
                node.queue.remove(q)
                node.stats.rebroadcasts_cancelled += 1
                self._queue_freed(node)
                return

    # -- acks and retransmission (ReliableRouter) -----------------------------------------------------

    def _next_packet_id(self, node: SimNode) -> int:
        node.packet_counter = (node.packet_counter + 1) & 0x3FF
        return node.packet_counter | (self.rng.getrandbits(22) << 10)

    def _send_ack(self, node: SimNode, original: RadioPacket) -> None:
        hop = hop_limit_for_response(original.hop_start, original.hop_limit, node.hop_limit)
        ack = RadioPacket(src=node.node_num, dest=original.src, packet_id=self._next_packet_id(node),
                          portnum=ROUTING_APP, payload=routing_payload(ERROR_NONE), channel=original.channel,
                          request_id=original.packet_id, hop_limit=hop, hop_start=hop, priority=PRIORITY_ACK)
        self._router_send(node, ack, from_client=False)

    def _local_ack(self, node: SimNode, packet: RadioPacket, error: int, *, implicit: bool = False,
                   silent_minutes: int = 0) -> None:
        """sendAckNak to ourselves: the client sees a ROUTING_APP packet from its own node."""
        now = self.clock.now()
        ack = RadioPacket(src=node.node_num, dest=node.node_num, packet_id=self._next_packet_id(node),
                          portnum=ROUTING_APP, payload=routing_payload(error), channel=packet.channel,
                          request_id=packet.packet_id, hop_limit=0, hop_start=0, priority=PRIORITY_ACK)
        self.on_deliver(node.node_num, Reception(ack, now, 0.0, 0, node.node_num & 0xFF))
        self.on_routing(node.node_num, RoutingEvent(packet.packet_id, error, node.node_num, implicit,
                                                    silent_minutes))

    def _local_nak(self, node: SimNode, packet: RadioPacket, error: int, *, silent_minutes: int = 0) -> None:
        self._local_ack(node, packet, error, silent_minutes=silent_minutes)

    def _start_retransmission(self, node: SimNode, packet: RadioPacket, retries: int) -> None:
        self._seq += 1
        pending = node.pending[packet.packet_id] = PendingAck(node, packet, retries, self._seq)
        timeout = radio.retransmission_timeout_s(packet.frame_len(), self.preset)
        self._push(self.clock.now() + timeout, _RETX, pending, self._seq)

    def _retransmit(self, pending: PendingAck, gen: int) -> None:
        node, packet_id = pending.node, pending.packet.packet_id
        if node.pending.get(packet_id) is not pending or pending.gen != gen or not node.up:
            return
        if pending.retries_left <= 0:
            del node.pending[packet_id]
            self._local_nak(node, pending.packet, MAX_RETRANSMIT)
            return
        node.stats.retransmissions += 1
        self._router_send(node, pending.packet, from_client=False)
        self._seq += 1
        pending.retries_left -= 1
        pending.gen = self._seq
        timeout = radio.retransmission_timeout_s(pending.packet.frame_len(), self.preset)
        self._push(self.clock.now() + timeout, _RETX, pending, self._seq)
