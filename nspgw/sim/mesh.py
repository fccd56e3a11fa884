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
- `on_transmit(node, packet, rebroadcast, airtime_s, t)`: optional (None by default), every frame as it goes
  on air (a pure observer: it must not call back into the mesh).
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
from nspgw.sim import mesh_history as history
from nspgw.sim import mesh_radio as radio
from nspgw.sim.clock import VirtualClock
from nspgw.sim.mesh_radio import RadioLink
from nspgw.sim.mesh_types import (
    ALWAYS_REBROADCAST,
    BROADCAST,
    CORE_PORTNUMS,
    DUTY_CYCLE_LIMIT,
    ERRNO_OK,
    ERRNO_UNKNOWN,
    ERROR_NONE,
    MAX_RETRANSMIT,
    NO_NEXT_HOP,
    NODEINFO_APP,
    NUM_INTERMEDIATE_RETX,
    PKI_EXEMPT_PORTS,
    PRIORITY_ACK,
    REBROADCAST_MODES,
    ROLES,
    ROUTER_DELAY_ROLES,
    ROUTING_APP,
    TEXT_PORTS,
    TOO_LARGE,
    HeardInfo,
    NodeStats,
    PacketRecord,
    PendingAck,
    QueuedTx,
    QueueStatus,
    RadioPacket,
    Reception,
    RoutingEvent,
    RxAttempt,
    SimNode,
    Transmission,
    fix_priority,
    hop_limit_for_response,
    link_key,
    relay_priority,
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
        self.timing = radio.PresetTiming.for_preset(self.preset)
        self.demod_floor = radio.demod_floor_snr(self.preset)
        self._nodes: dict[str, SimNode] = {}
        self._by_num: dict[int, SimNode] = {}
        self._links: dict[tuple[int, int], RadioLink] = {}
        self._heap: list[tuple[float, int, int, object, int]] = []
        self._seq = 0
        self._toa_cache: dict[int, float] = {}
        # Firmware refuses a packet whose 16-byte header + Data protobuf exceed 255 bytes (so 232-233 payload
        # bytes on app port 311 are TOO_LARGE). False only checks the contract's 233-byte payload limit.
        self.strict_frame_limit = True
        # Firmware 2.5+ PKI-encrypts every direct message on a non-exempt port (+12 bytes on air; relays cannot
        # decode it). The device layer refuses a DM to a node whose key it lacks (PKI_SEND_FAIL_PUBLIC_KEY).
        self.pki = True
        self._acked: dict[tuple[int, int], int] = {}  # (node, request_id) acked by a remote Routing packet
        self.on_deliver: Callable[[int, Reception], None] = lambda num, rx: None
        self.on_routing: Callable[[int, RoutingEvent], None] = lambda num, ev: None
        self.on_queue_status: Callable[[int, QueueStatus], None] = lambda num, st: None
        # Router::perhapsDecode of a PKI DM at its destination: ERROR_NONE, or the NAK the destination sends
        # (ReliableRouter::sniffReceived: PKI_UNKNOWN_PUBKEY, NO_CHANNEL); the device layer knows the keys.
        self.pki_decrypt: Callable[[int, RadioPacket], int] = lambda num, p: ERROR_NONE
        # An observer of the channel: (sending node, packet, is a rebroadcast, airtime s, start time) for every
        # frame that goes on air. None (the default) costs one test per frame; the scenario runner counts
        # frames by kind with it (sim/scenario_airtime.py), the model itself stays application-agnostic.
        self.on_transmit: Callable[[SimNode, RadioPacket, bool, float, float], None] | None = None

    # -- topology -------------------------------------------------------------------------------------

    def add_node(self, name: str, node_num: int, *, role: str = "CLIENT", hop_limit: int = 3,
                 position: tuple[float, float] | None = None, rebroadcast_mode: str = "ALL") -> SimNode:
        if name in self._nodes or node_num in self._by_num:
            raise ConfigError(f"node {name!r} / {node_num:#010x}: name or node number already in the mesh")
        if role not in ROLES:
            raise ConfigError(f"node {name!r}: unknown role {role!r}")
        if rebroadcast_mode not in REBROADCAST_MODES:
            raise ConfigError(f"node {name!r}: unknown rebroadcast mode {rebroadcast_mode!r}")
        if not 0 < node_num < BROADCAST:
            raise ConfigError(f"node {name!r}: node number must be 1..0xFFFFFFFE")
        node = SimNode(name, node_num, role=role, hop_limit=hop_limit, position=position,
                       rebroadcast_mode=rebroadcast_mode, ledger=DutyCycleLedger.for_region(self.region))
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
        self._links[link_key(na.node_num, nb.node_num)] = RadioLink(loss=loss, snr=snr, rssi=int(rssi), up=up)
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
            node.pending_by_key.clear()
            node.busy.clear()
            node.busy_sum = 0.0
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

    def link(self, a: str, b: str) -> RadioLink | None:
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
        """A packet from the node's client (ToRadio): Router::sendLocal -> ReliableRouter::send ->
        NextHopRouter::send / FloodingRouter::send -> Router::send."""
        node = self.node(src)
        now = self.clock.now()
        if not node.up:
            return  # a powered-off radio has no client connection
        if packet.dest == node.node_num:
            self.on_deliver(node.node_num, Reception(packet, now, 0.0, 0, node.relay_id))
            return
        reliable = packet.want_ack  # ReliableRouter::send: a retransmission record, broadcast or not
        pki = self.pki and packet.dest != BROADCAST and packet.portnum not in PKI_EXEMPT_PORTS
        # Router::send never puts want_ack on a broadcast on air; fixPriority fills an UNSET priority.
        packet = replace(packet, priority=fix_priority(packet), pki=pki,
                         want_ack=packet.want_ack and packet.dest != BROADCAST)
        too_big = self.strict_frame_limit and packet.frame_len() > MAX_LORA_PAYLOAD_LEN
        if len(packet.payload) > DATA_PAYLOAD_LEN or too_big:
            # perhapsEncode: header + encoded Data (with the bitfield firmware always adds, and the PKI
            # overhead of a direct message) must fit in one 255-byte LoRa frame.
            self._local_nak(node, packet, TOO_LARGE)
            self._tell_queue(node, ERRNO_OK, packet.packet_id)
            return
        res = self._send_own(node, packet, reliable=reliable)
        self._tell_queue(node, res, packet.packet_id)

    def _send_own(self, node: SimNode, packet: RadioPacket, *, reliable: bool) -> int:
        if packet.dest != BROADCAST:
            packet = replace(packet, next_hop=history.next_hop_for(node, packet.dest, node.relay_id))
        res = self._router_send(node, packet, from_client=True)
        if res == ERRNO_OK:
            if reliable:
                self._start_retransmission(node, packet, radio.NUM_RELIABLE_RETX, from_us=True)
            elif packet.next_hop != NO_NEXT_HOP and packet.hop_limit > 0:
                # NextHopRouter::send: a DM sent to a named next hop gets retried even without want_ack.
                self._start_retransmission(node, packet, NUM_INTERMEDIATE_RETX, from_us=True)
            self._push_back_pending(node, packet, skip=packet.packet_id)
        return res

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

    # -- tx queue and channel access (MeshPacketQueue, RadioLibInterface) -----------------------------

    def _router_send(self, node: SimNode, packet: RadioPacket, *, from_client: bool,
                     rx_snr: float | None = None) -> int:
        """Router::send: duty-cycle gate, then RadioLibInterface::send into the tx queue. Returns firmware's
        ErrorCode (0 = queued)."""
        now = self.clock.now()
        ledger = node.ledger
        if ledger.limit_fraction < 1.0 and ledger.utilization(now) > ledger.limit_fraction:
            # Router::send refuses once the hourly TX utilisation is over the region's duty cycle; only a
            # packet from our own node gets a NAK, a relayed one is dropped silently.
            node.stats.duty_cycle_refusals += 1
            if from_client:
                self._local_nak(node, packet, DUTY_CYCLE_LIMIT, silent_minutes=self._silent_minutes(node))
            return DUTY_CYCLE_LIMIT
        self._seq += 1
        q = QueuedTx(packet, self._seq, rx_snr is not None, rx_snr)
        if not self._enqueue(node, q):
            node.stats.queue_full_drops += 1
            return ERRNO_UNKNOWN
        history.record_sent(node, packet, now)
        self._set_tx_delay(node, overwrite=False)
        return ERRNO_OK

    def _enqueue(self, node: SimNode, q: QueuedTx) -> bool:
        """MeshPacketQueue::enqueue: sorted insert; when full, replaceLowerPriorityPacket evicts the last
        packet outside the late window if its priority is lower, else a late packet already overdue."""
        queue = node.queue
        if len(queue) >= node.tx_queue_max:
            victim: QueuedTx | None = None
            normal = [x for x in queue if x.late_at is None]
            if normal and normal[-1].packet.priority < q.packet.priority:
                victim = normal[-1]
            elif queue and queue[-1].late_at is not None and queue[-1].late_at < self.clock.now() and (
                    q.late_at is None or queue[-1].late_at > q.late_at):
                victim = queue[-1]
            if victim is None:
                return False
            queue.remove(victim)
            node.stats.queue_evictions += 1
        key = q.sort_key()
        i = len(queue)
        while i > 0 and queue[i - 1].sort_key() > key:
            i -= 1
        queue.insert(i, q)
        return True

    def _util_percent(self, node: SimNode) -> float:
        """AirTime::channelUtilizationPercent: seconds this radio heard or sent frames over the last minute."""
        busy = node.busy
        horizon = self.clock.now() - radio.UTIL_WINDOW_S
        while busy and busy[0][0] < horizon:
            node.busy_sum -= busy.popleft()[1]
        return max(node.busy_sum, 0.0) * 100.0 / radio.UTIL_WINDOW_S

    def _log_busy(self, node: SimNode, seconds: float) -> None:
        node.busy.append((self.clock.now(), seconds))
        node.busy_sum += seconds

    def _own_delay(self, node: SimNode) -> float:
        """getTxDelayMsec: random(0, 2^CW) slots, CW growing with the channel utilisation."""
        cw = radio.cw_for_utilisation(self._util_percent(node))
        return self.rng.randrange(1 << cw) * self.timing.slot_s

    def _relay_delay(self, node: SimNode, snr: float) -> float:
        """getTxDelayMsecWeighted: weak-SNR receivers (likely farther away) relay first; ROUTER early."""
        cw = radio.cw_size(snr)
        slot = self.timing.slot_s
        if node.role in ROUTER_DELAY_ROLES:
            return self.rng.randrange(2 * cw) * slot
        return (2 * radio.CW_MAX + self.rng.randrange(1 << cw)) * slot

    def _worst_delay(self, snr: float) -> float:
        """getTxDelayMsecWeightedWorst: the end of the client window, where the late window starts."""
        return (2 * radio.CW_MAX + (1 << radio.cw_size(snr))) * self.timing.slot_s

    def _set_tx_delay(self, node: SimNode, *, overwrite: bool) -> None:
        """RadioLibInterface::setTransmitDelay for the packet at the head of the queue. The timer is a
        notifyLater(..., overwrite=false): a new packet does not move a pending timer, but the end of every
        reception or transmission (ISR_RX/ISR_TX, which overwrite) and a busy channel draw a fresh delay."""
        if not node.queue or node.tx is not None:
            return
        if not overwrite and node.timer_at is not None:
            return
        now = self.clock.now()
        q = node.queue[0]
        if q.late_at is not None:
            add = self._own_delay(node) if q.rx_snr is None else self._relay_delay(node, q.rx_snr)
            worst = self._worst_delay(q.rx_snr or 0.0)
            q.late_at = min(max(q.late_at + add, now + add), now + 2 * worst)
            when = q.late_at
        elif q.rx_snr is None:
            when = now + self._own_delay(node)
        else:
            when = now + self._relay_delay(node, q.rx_snr)
        node.timer_gen += 1
        node.timer_at = when
        self._push(when, _ATTEMPT, node, node.timer_gen)

    def _silent_minutes(self, node: SimNode) -> int:
        ledger = node.ledger
        now = self.clock.now()
        t = ledger.next_time_available(now, 0.0)
        if math.isinf(t) or t <= now:
            return 1
        return max(1, math.ceil((t - now) / 60.0))

    def _push(self, when: float, kind: int, obj: object, gen: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, kind, obj, gen))

    def _attempt(self, node: SimNode) -> None:
        """onNotify(TRANSMIT_DELAY_COMPLETED): busy receiving -> a fresh delay; head still in its late window
        -> wait for it; channel activity (CAD) -> a fresh full delay; else send the head of the queue."""
        if node.tx is not None or not node.queue:
            return
        if node.active_rx:
            node.stats.busy_deferrals += 1
            self._set_tx_delay(node, overwrite=True)
            return
        q = node.queue[0]
        now = self.clock.now()
        if q.late_at is not None and q.late_at > now + 1e-12:
            node.timer_gen += 1
            node.timer_at = q.late_at
            self._push(q.late_at, _ATTEMPT, node, node.timer_gen)
            return
        node.queue.pop(0)
        self._queue_freed(node)
        self._start_tx(node, q)

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
        if self.on_transmit is not None:
            self.on_transmit(node, q.packet, q.rebroadcast, airtime, now)
        for rx in node.active_rx:  # half duplex: whatever we were receiving is gone
            rx.ok = False
        crit = self.timing.critical_s
        rng = self.rng
        end = tx.end
        for other, link in node.neighbours:
            if not other.up or not link.up:
                continue
            rx = RxAttempt(tx, other, link, link.snr, link.rssi, now)
            if other.tx is not None or (link.loss > 0.0 and rng.random() < link.loss):
                rx.ok = False
            for prior in other.active_rx:
                overlap_end = min(prior.tx.end, end)
                if prior.ok and radio.lost_to(prior.snr, prior.start, crit, rx.snr, overlap_end):
                    prior.ok = False
                    other.stats.collisions += 1
                if rx.ok and radio.lost_to(rx.snr, now, crit, prior.snr, overlap_end):
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
        airtime = self._airtime_s(tx.packet)
        self._log_busy(sender, airtime)
        for rx in tx.receptions:
            rx.node.active_rx.remove(rx)
        for rx in tx.receptions:
            node = rx.node
            if not node.up or node.tx is not None:
                continue
            self._log_busy(node, airtime)
            if rx.ok and rx.link.up:
                self._receive(node, tx.packet, rx, sender)
            self._set_tx_delay(node, overwrite=True)  # ISR_RX
        if sender.up:
            self._set_tx_delay(sender, overwrite=True)  # ISR_TX

    def cancel_sending(self, node: SimNode, src: int, packet_id: int, *, late_too: bool = True) -> bool:
        """Router::cancelSending -> MeshPacketQueue::remove: drop a queued copy (and we no longer relay it)."""
        for q in node.queue:
            if q.packet.src == src and q.packet.packet_id == packet_id and (late_too or q.late_at is None):
                node.queue.remove(q)
                if q.rebroadcast:
                    node.stats.rebroadcasts_cancelled += 1
                history.remove_relayer(node, src, packet_id)
                self._queue_freed(node)
                return True
        return False

    def _in_queue(self, node: SimNode, key: tuple[int, int]) -> bool:
        return any((q.packet.src, q.packet.packet_id) == key for q in node.queue)

    # -- router: receive (ReliableRouter / NextHopRouter / FloodingRouter / Router) --------------------

    def _receive(self, node: SimNode, packet: RadioPacket, rx: RxAttempt, sender: SimNode) -> None:
        now = self.clock.now()
        node.stats.frames_rx += 1
        key = (packet.src, packet.packet_id)
        relay = sender.relay_id
        # ReliableRouter::shouldFilterReceived: hearing our own packet relayed is an implicit ack.
        if packet.src == node.node_num:
            pending = node.pending.get(packet.packet_id)
            if pending is not None:
                node.stats.implicit_acks += 1
                self._stop_retransmission(node, key)
                self._local_ack(node, pending.packet, ERROR_NONE, implicit=True)
        # ... and while receiving we could not have heard an ack: push every pending timer back.
        self._push_back_pending(node, packet)
        node.heard[packet.src] = HeardInfo(now, rx.snr, rx.rssi, max(packet.hop_start - packet.hop_limit, 0))
        rec = node.seen.get(key)
        if rec is not None:
            self._handle_dupe(node, packet, rec, relay)
            return
        if packet.src == node.node_num:
            return  # our own packet after its history expired: never handled again
        history.record_received(node, packet, now)
        if packet.portnum == NODEINFO_APP and node.known is not None:
            node.known.add(packet.src)
        self._handle_new(node, packet, rx, relay)

    def _handle_dupe(self, node: SimNode, packet: RadioPacket, rec: PacketRecord, relay: int) -> None:
        """NextHopRouter / FloodingRouter::shouldFilterReceived for a packet already in the history."""
        node.stats.duplicates += 1
        rec.time = self.clock.now()
        key = (packet.src, packet.packet_id)
        # wasSeenRecently(withUpdate): a node that relayed our relay onward (its hop limit one lower than
        # ours, or equal) heard us directly, so it becomes a known relayer of this packet.
        we_relayed = node.relay_id in rec.relayed_by
        if we_relayed and rec.our_tx_hop is not None and packet.hop_limit in (rec.our_tx_hop, rec.our_tx_hop - 1):
            history.add_relayer(rec, relay)
        if packet.dest == BROADCAST:
            # FloodingRouter: the originator's retry arrives with its full hop limit.
            repeated = packet.hop_start > 0 and packet.hop_start == packet.hop_limit
            if repeated and not self._in_queue(node, key):
                self._perhaps_rebroadcast(node, packet, relay)  # so the originator gets its implicit ack
            elif not repeated:
                self._perhaps_cancel_dupe(node, packet)
            return
        repeated = packet.hop_start == packet.hop_limit  # NextHopRouter: getHopsAway(p) == 0
        self._stop_retransmission(node, key)
        fallback = (packet.src != node.node_num and rec.next_hop not in (NO_NEXT_HOP, node.relay_id)
                    and packet.next_hop == NO_NEXT_HOP and relay in rec.relayed_by and not we_relayed
                    and rec.next_hop not in rec.relayed_by)
        if fallback:
            if not self._in_queue(node, key):
                self._perhaps_rebroadcast(node, packet, relay)
        elif repeated:
            if not self._in_queue(node, key) and not self._perhaps_rebroadcast(node, packet, relay) and (
                    packet.dest == node.node_num and packet.want_ack):
                # Our ack was lost: ack again, but only with hop limit 0 (the originator hears us directly).
                self._send_ack(node, packet, hop_limit=0)
        elif rec.next_hop != node.relay_id:
            self._perhaps_cancel_dupe(node, packet)

    def _perhaps_cancel_dupe(self, node: SimNode, packet: RadioPacket) -> None:
        """FloodingRouter::perhapsCancelDupe: someone else relayed it first. Most roles drop their queued
        copy; ROUTER and ROUTER_LATE never do (ROUTER_LATE, and CLIENT_BASE for favourites, move it to the
        late window instead)."""
        favourite = packet.src in node.favourites or packet.dest in node.favourites
        if node.role not in ALWAYS_REBROADCAST and not (node.role == "CLIENT_BASE" and favourite):
            self.cancel_sending(node, packet.src, packet.packet_id)
        if node.role == "ROUTER_LATE" or (node.role == "CLIENT_BASE" and favourite):
            self._clamp_late(node, packet.src, packet.packet_id)

    def _clamp_late(self, node: SimNode, src: int, packet_id: int) -> None:
        """RadioLibInterface::clampToLateRebroadcastWindow."""
        for q in node.queue:
            if q.packet.src == src and q.packet.packet_id == packet_id and q.late_at is None:
                node.queue.remove(q)
                q.late_at = self.clock.now() + self._worst_delay(q.rx_snr or 0.0)
                self._enqueue(node, q)
                return

    def _handle_new(self, node: SimNode, packet: RadioPacket, rx: RxAttempt, relay: int) -> None:
        """Router::handleReceived (decode, CORE_PORTNUMS_ONLY), RoutingModule (LOCAL_ONLY/KNOWN_ONLY), then
        ReliableRouter / NextHopRouter::sniffReceived and delivery to the client."""
        to_us = packet.dest == node.node_num
        mode = node.rebroadcast_mode
        decoded = (not packet.pki or to_us) and not (mode == "KNOWN_ONLY" and not node.knows(packet.src))
        if decoded and mode == "CORE_PORTNUMS_ONLY" and packet.portnum not in CORE_PORTNUMS:
            node.stats.relays_refused += 1  # not handled at all: neither relayed nor given to the client
            return
        if not decoded and mode in ("LOCAL_ONLY", "KNOWN_ONLY") and (
                not packet.pki or not (node.knows(packet.src) or node.knows(packet.dest))):
            node.stats.relays_refused += 1
            return
        if to_us and packet.pki and (error := self.pki_decrypt(node.node_num, packet)) != ERROR_NONE:
            if packet.want_ack:  # undecodable, nothing for the client: NAK on the primary channel
                self._send_ack(node, replace(packet, channel=0), error=error)
            return
        if to_us and decoded:
            self._reliable_sniff(node, packet)
        is_reply = decoded and bool(packet.request_id or packet.reply_id)
        if packet.dest != BROADCAST and is_reply:
            history.learn_next_hop(node, packet, relay)
            if not to_us:
                # An ack or reply for a DM we may still relay: the DM arrived, drop our copy and retries.
                self.cancel_sending(node, packet.dest, packet.request_id)
                self._stop_retransmission(node, (packet.dest, packet.request_id))
        self._perhaps_rebroadcast(node, packet, relay, rx_snr=rx.snr)
        if to_us or packet.dest == BROADCAST:
            self.on_deliver(node.node_num, Reception(packet, self.clock.now(), rx.snr, rx.rssi, relay))
            acked = to_us and packet.portnum == ROUTING_APP and packet.request_id
            if acked and self._acked.pop((node.node_num, packet.request_id), None) is not None:
                self.on_routing(node.node_num, RoutingEvent(packet.request_id, routing_error(packet.payload),
                                                            packet.src))

    def _reliable_sniff(self, node: SimNode, packet: RadioPacket) -> None:
        """ReliableRouter::sniffReceived for a packet addressed to us: send the ack it asks for, and stop
        retransmitting what it acks (a Routing packet with request_id, or any reply)."""
        hops_away = packet.hop_start - packet.hop_limit
        if packet.want_ack:
            if packet.portnum in TEXT_PORTS:
                self._send_ack(node, packet, want_ack=True)  # shouldSuccessAckWithWantAck: text DMs
            elif not packet.request_id and not packet.reply_id:
                self._send_ack(node, packet)
            elif hops_away == 0 or packet.next_hop != NO_NEXT_HOP:
                self._send_ack(node, packet, hop_limit=0)
        elif packet.next_hop == node.relay_id and packet.hop_limit > 0:
            self._send_ack(node, packet, hop_limit=0)  # stop the relay that named us from retrying
        if packet.request_id:
            error = routing_error(packet.payload) if packet.portnum == ROUTING_APP else ERROR_NONE
            pending = node.pending.get(packet.request_id)
            if pending is not None and pending.packet.src == node.node_num:
                self._stop_retransmission(node, (node.node_num, packet.request_id))
                if packet.portnum == ROUTING_APP:
                    self._acked[(node.node_num, packet.request_id)] = error

    def _perhaps_rebroadcast(self, node: SimNode, packet: RadioPacket, relay: int,
                             rx_snr: float | None = None) -> bool:
        """NextHopRouter::perhapsRebroadcast: not ours, not for us, hops left, a rebroadcasting role/mode,
        and either flooded or naming us as next hop. A named relay retries it (NUM_INTERMEDIATE_RETX)."""
        if packet.dest == node.node_num or packet.src == node.node_num or packet.hop_limit <= 0:
            return False
        if node.role == "CLIENT_MUTE" or node.rebroadcast_mode == "NONE":
            node.stats.relays_refused += 1
            return False
        if packet.next_hop not in (NO_NEXT_HOP, node.relay_id):
            return False
        if rx_snr is None:
            info = node.heard.get(packet.src)
            rx_snr = info.snr if info is not None else 0.0
        out = replace(packet, hop_limit=packet.hop_limit - 1, priority=relay_priority(packet))
        if packet.next_hop != NO_NEXT_HOP and packet.dest != BROADCAST:
            out = replace(out, next_hop=history.next_hop_for(node, packet.dest, relay))
        res = self._router_send(node, out, from_client=False, rx_snr=rx_snr)
        if res == ERRNO_OK and out.next_hop != NO_NEXT_HOP and (out.hop_limit > 0 or out.want_ack):
            self._start_retransmission(node, out, NUM_INTERMEDIATE_RETX, from_us=False)
        return res == ERRNO_OK

    # -- acks and retransmission (ReliableRouter / NextHopRouter) -------------------------------------

    def _next_packet_id(self, node: SimNode) -> int:
        node.packet_counter = (node.packet_counter + 1) & 0x3FF
        return node.packet_counter | (self.rng.getrandbits(22) << 10)

    def _send_ack(self, node: SimNode, original: RadioPacket, *, hop_limit: int | None = None,
                  want_ack: bool = False, error: int = ERROR_NONE) -> None:
        """RoutingModule::sendAckNak over the air (Router::sendLocal -> ReliableRouter::send)."""
        hop = (hop_limit_for_response(original.hop_start, original.hop_limit, node.hop_limit)
               if hop_limit is None else hop_limit)
        ack = RadioPacket(src=node.node_num, dest=original.src, packet_id=self._next_packet_id(node),
                          portnum=ROUTING_APP, payload=routing_payload(error), channel=original.channel,
                          request_id=original.packet_id, hop_limit=hop, hop_start=hop, priority=PRIORITY_ACK,
                          want_ack=want_ack)
        self._send_own(node, ack, reliable=want_ack)

    def _local_ack(self, node: SimNode, packet: RadioPacket, error: int, *, implicit: bool = False,
                   silent_minutes: int = 0) -> None:
        """sendAckNak to ourselves: the client sees a ROUTING_APP packet from its own node."""
        now = self.clock.now()
        ack = RadioPacket(src=node.node_num, dest=node.node_num, packet_id=self._next_packet_id(node),
                          portnum=ROUTING_APP, payload=routing_payload(error), channel=packet.channel,
                          request_id=packet.packet_id, hop_limit=0, hop_start=0, priority=PRIORITY_ACK)
        self.on_deliver(node.node_num, Reception(ack, now, 0.0, 0, node.relay_id))
        self.on_routing(node.node_num, RoutingEvent(packet.packet_id, error, node.node_num, implicit,
                                                    silent_minutes))

    def _local_nak(self, node: SimNode, packet: RadioPacket, error: int, *, silent_minutes: int = 0) -> None:
        self._local_ack(node, packet, error, silent_minutes=silent_minutes)

    def _retx_timeout(self, node: SimNode, packet: RadioPacket) -> float:
        cw = radio.cw_for_utilisation(self._util_percent(node))
        return radio.retransmission_timeout_s(min(packet.plain_len(), MAX_LORA_PAYLOAD_LEN), self.preset, cw)

    def _start_retransmission(self, node: SimNode, packet: RadioPacket, transmissions: int, *,
                              from_us: bool) -> None:
        """NextHopRouter::startRetransmission: PendingPacket with numRetransmissions = N - 1."""
        key = (packet.src, packet.packet_id)
        self._stop_retransmission(node, key, cancel=False)
        self._seq += 1
        pending = PendingAck(node, packet, transmissions - 1, self._seq, from_us=from_us)
        node.pending_by_key[key] = pending
        if from_us:
            node.pending[packet.packet_id] = pending
        pending.next_tx = self.clock.now() + self._retx_timeout(node, packet)
        self._push(pending.next_tx, _RETX, pending, pending.gen)

    def _stop_retransmission(self, node: SimNode, key: tuple[int, int], *, cancel: bool = True) -> bool:
        """NextHopRouter::stopRetransmission: forget the record; once it was retransmitted, also drop a copy
        still queued (always for our own packets, for relays only if the role may cancel)."""
        pending = node.pending_by_key.pop(key, None)
        if pending is None:
            return False
        if pending.from_us:
            node.pending.pop(pending.packet.packet_id, None)
        pending.gen = -1
        retried = pending.retries_left < radio.NUM_RELIABLE_RETX - 1
        if cancel and retried and (pending.from_us or node.role not in ALWAYS_REBROADCAST):
            self.cancel_sending(node, key[0], key[1])
        return True

    def _push_back_pending(self, node: SimNode, packet: RadioPacket, skip: int | None = None) -> None:
        """ReliableRouter: while a packet is on air (ours or one we receive) no ack can arrive, so every
        pending retransmission timer moves back by its airtime."""
        if not node.pending_by_key:
            return
        airtime = self._airtime_s(packet)
        for pending in node.pending_by_key.values():
            if pending.packet.packet_id != skip:
                pending.next_tx += airtime

    def _retransmit(self, pending: PendingAck, gen: int) -> None:
        """NextHopRouter::doRetransmissions for one record."""
        node = pending.node
        if pending.gen != gen or not node.up:
            return
        now = self.clock.now()
        if pending.next_tx > now + 1e-9:
            self._push(pending.next_tx, _RETX, pending, gen)  # pushed back by airtime meanwhile
            return
        key = (pending.packet.src, pending.packet.packet_id)
        if pending.retries_left <= 0:
            self._stop_retransmission(node, key)
            if pending.from_us:
                self._local_nak(node, pending.packet, MAX_RETRANSMIT)
            return
        node.stats.retransmissions += 1
        packet = pending.packet
        if packet.dest != BROADCAST:
            if pending.retries_left == 1:
                # The last try floods: next_hop cleared in the packet and in the node DB.
                node.next_hops.pop(packet.dest, None)
                packet = replace(packet, next_hop=NO_NEXT_HOP)
            else:
                packet = replace(packet, next_hop=history.next_hop_for(node, packet.dest, node.relay_id))
            pending.packet = packet
        res = self._router_send(node, packet, from_client=pending.from_us,
                                rx_snr=None if pending.from_us else self._snr_of(node, packet.src))
        if res == DUTY_CYCLE_LIMIT and pending.from_us:
            self._stop_retransmission(node, key)  # the NAK went to the client (abortSendAndNak)
            return
        pending.retries_left -= 1
        self._seq += 1
        pending.gen = self._seq
        pending.next_tx = now + self._retx_timeout(node, packet)
        self._push(pending.next_tx, _RETX, pending, pending.gen)

    def _snr_of(self, node: SimNode, src: int) -> float:
        info = node.heard.get(src)
        return info.snr if info is not None else 0.0
