"""When the radio adapter may hand the radio its next frame, and which firmware NAKs prove nothing.

Why pace at all: Meshtastic firmware 2.7 (RadioLibInterface::onNotify, v2.7.26) draws a fresh transmit delay
on every reception (ISR_RX) and after every own transmission (ISR_TX). Our own packets get the short delay
(RadioInterface::getTxDelayMsec: random(0, 2^CW) slots), a neighbour relaying them gets the long one
(getTxDelayMsecWeighted: 2·CWmax + random(0, 2^CW) slots, CW up to CWmax = 8 at a good SNR). A box that
pours its backlog into its radio keeps that radio on air every few slots, so the neighbour's relay timer
restarts on each of our frames and it never gets on air: its 16-packet queue fills and relays are dropped
(MeshPacketQueue), our DMs to a learned next hop are retried by NextHopRouter and end in MAX_RETRANSMIT.
Airtime we spend so that the relay cannot spend its share is airtime wasted.

So the adapter keeps at most one frame "in flight" at the radio: after handing one over it waits for the
frame's time on air plus a window in which the other side gets its turn:
- a broadcast, or a DM to a node last heard through a relay (hop_start > hop_limit), needs a relay: the
  window fits one (getTxDelayMsecWeightedWorst at CWmax, 272 slots, plus the copy's own time on air);
- any other DM (a direct neighbour, or a node not heard yet: nspgw's next hop is nearly always its own CP or
  the box itself) needs no relay. The neighbour's own packets (custody acks, forwards, the firmware's routing
  acks) draw the short delay random(0, 2^CW) slots, so a gap of 2^((CWmin + CWmax) / 2) = 32 slots (the term
  the firmware itself uses for "a client at half the range" in RadioInterface::getRetransmissionMsec) lets
  it win the channel at the usual utilisation (CW 3..5) instead of losing every draw to our backlog.
The daemon gives the core the same neighbour gap as its per-frame radio margin (`neighbour_gap_s`), so the
core does not hand over frames faster than the adapter passes them on (a backlog here would age past the
core's retry timer and be sent twice).

The firmware's answer for that frame ends the wait early: an (implicit) ack
means the next hop already had its turn (NextHopRouter::send keeps a record for a DM to a named next hop, so
its relay's rebroadcast or the destination's hop-limit-0 ack comes back as an ack — ReliableRouter), and a
NAK means the radio is done with it. Broadcasts and DMs without a known next hop get no answer and cost the
whole window: at SHORT_TURBO about 2.3 s for a 100-byte frame, at LONG_FAST about 9 s.

MAX_RETRANSMIT for a frame sent without want_ack is no proof of loss: NextHopRouter::doRetransmissions
sends it for a DM to a named next hop whose relay the radio did not hear (a busy channel, a relay that was
itself starved), whether or not the frame arrived. nspgw repairs loss with its own custody acks and
receipts, so such a NAK is not passed on as a failed send (`proves_loss`).

Pure (no clock reads, no I/O): the adapter passes `now` (time.monotonic) in.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from dataclasses import dataclass, field

from nspgw.core.airtime import PRESETS, meshtastic_frame_len, slot_time_ms, time_on_air_ms
from nspgw.core.reach import HOP_MAX
from nspgw.wire.frames import NSPGW_PORTNUM, PKC_OVERHEAD

CW_MAX = 8
"""RadioInterface.h `CWmax`: the largest contention window (2^8 slots)."""

WORST_RELAY_SLOTS = 2 * CW_MAX + (1 << CW_MAX)
"""RadioInterface::getTxDelayMsecWeightedWorst at the best SNR (CW = CWmax): 272 slots."""

NEIGHBOUR_SLOTS = 1 << ((3 + CW_MAX) // 2)
"""2^((CWmin + CWmax) / 2) = 32 slots: the gap after a DM to a direct neighbour."""

BROADCAST = 0xFFFFFFFF

_REMEMBER = 512
"""Packet ids remembered for `proves_loss` (more than the radio's 16-packet queue can hold answers for)."""


def frame_airtime_s(data_len: int, preset: str, *, direct: bool) -> float:
    """Time on air of one nspgw frame as the firmware sends it (header, Data with bitfield, PKI overhead)."""
    on_air = meshtastic_frame_len(data_len, NSPGW_PORTNUM) + (PKC_OVERHEAD if direct else 0)
    return time_on_air_ms(min(on_air, 255), preset) / 1000.0


def neighbour_gap_s(preset: str) -> float:
    """The idle time after each frame that lets a neighbour's own packet win the channel (NEIGHBOUR_SLOTS)."""
    return NEIGHBOUR_SLOTS * slot_time_ms(preset) / 1000.0


class RadioPacer:
    """One frame at the radio at a time, with room for a relay; see the module docstring."""

    def __init__(self, preset: str = "LONG_FAST") -> None:
        self.preset = preset if preset in PRESETS else "LONG_FAST"
        self._ready_at = 0.0
        self._awaiting = 0
        self._no_ack: OrderedDict[int, None] = OrderedDict()  # ids sent without want_ack
        self._hops_away: dict[int, int] = {}  # node number → Meshtastic relays between us when last heard

    # ---- where a node is: from the frames we hear, else from the radio's node list -------------------------

    def heard(self, node: int, hop_start: int, hop_limit: int) -> None:
        """A packet from `node` arrived having crossed hop_start - hop_limit relays.

        hop_start = hop_limit = 0 is a packet sent with hop limit 0 (a beacon, a DM to a neighbour: nspgw's own
        radios run firmware 2.7, which always sets hop_start), so it came straight. Firmware before 2.3 sent no
        hop_start, and a packet relayed three times by such radios would look the same: one DM with hop limit 0
        lost, the core retries, and the next packet heard through a relay corrects it."""
        if hop_start >= hop_limit:
            self._hops_away[node] = hop_start - hop_limit

    def learn_nodes(self, nodes_by_num: object) -> None:
        """The library's `nodesByNum` at connect: `hopsAway` as the radio last saw it. It is absent when 0 (a
        protobuf default), so only "behind a relay" is learnt here; a neighbour is known once heard."""
        if not isinstance(nodes_by_num, dict):
            return
        for num, info in nodes_by_num.items():
            if isinstance(num, int) and isinstance(info, dict) and isinstance(info.get("hopsAway"), int):
                self._hops_away.setdefault(num, int(info["hopsAway"]))

    def relayed(self, node: int) -> bool:
        return self._hops_away.get(node, 0) > 0

    def hop_limit_for(self, node: int, *, want_ack: bool) -> int | None:
        """0 for a DM without want_ack to a radio last heard straight, else None (the radio's configured limit).

        With hop limit 0 no other radio queues a flood relay of the DM (FloodingRouter relays a DM that names no
        next hop; such relays wait the long delay and sort before that radio's own packets, MeshPacketQueue),
        NextHopRouter keeps no retransmission record (it needs hop_limit > 0 or want_ack), and the destination
        sends no hop-limit-0 routing ack (ReliableRouter::sniffReceived). Router::sendLocal keeps a client's 0
        unless want_ack. A neighbour that moves out of reach costs one lost frame: the core retries, and once
        the box is heard through a relay its DMs carry the configured limit again."""
        if want_ack or node == BROADCAST or self._hops_away.get(node) != 0:
            return None
        return 0

    def set_preset(self, preset: str) -> None:
        """The radio's own modem preset (read at every connect); unknown names keep LONG_FAST's timing."""
        self.preset = preset if preset in PRESETS else "LONG_FAST"

    def window_s(self, data_len: int, *, direct: bool, relayed: bool = False, local: bool = False) -> float:
        """The frame's time on air and the idle time after it; `local`: sent with hop limit 0, nobody relays."""
        airtime = frame_airtime_s(data_len, self.preset, direct=direct)
        if local or (direct and not relayed):
            return airtime + neighbour_gap_s(self.preset)
        return airtime + WORST_RELAY_SLOTS * slot_time_ms(self.preset) / 1000.0 + airtime

    def ready_at(self) -> float:
        """Earliest monotonic time the next frame may go to the radio."""
        return self._ready_at

    def sent(self, now: float, packet_id: int, data_len: int, *, direct: bool, want_ack: bool,
             relayed: bool = False, local: bool = False) -> None:
        self._ready_at = now + self.window_s(data_len, direct=direct, relayed=relayed, local=local)
        self._awaiting = packet_id
        if not want_ack and packet_id:
            self._no_ack[packet_id] = None
            while len(self._no_ack) > _REMEMBER:
                self._no_ack.popitem(last=False)

    def answered(self, now: float, packet_id: int) -> None:
        """The radio answered (ack or NAK) for `packet_id`: if it is the frame in flight, the wait ends."""
        if packet_id and packet_id == self._awaiting:
            self._awaiting = 0
            self._ready_at = min(self._ready_at, now)

    def reset(self) -> None:
        """A new interface (reconnect): nothing of ours is in flight at the new radio."""
        self._ready_at = 0.0
        self._awaiting = 0

    def proves_loss(self, packet_id: int, error_reason: str) -> bool:
        """False for MAX_RETRANSMIT on a frame sent without want_ack (see the module docstring)."""
        return not (error_reason == "MAX_RETRANSMIT" and packet_id in self._no_ack)


@dataclass(frozen=True, slots=True, order=True)
class OutFrame:
    """A frame waiting for the radio: lower `precedence` first (FLASH 0), then in the order handed over."""

    precedence: int
    seq: int
    node: int = field(compare=False)  # Meshtastic node number, BROADCAST for everyone in reach
    data: bytes = field(compare=False)
    ref: object = field(compare=False, default=None)
    want_ack: bool = field(compare=False, default=False)
    hops: int | None = field(compare=False, default=None)  # hop limit the core asked for (0: radios in reach)


class RadioOutbox:
    """The frames the radio adapter has not yet handed to its radio, and the pacing that releases them.

    The one policy of how nspgw frames enter a Meshtastic radio, used by the daemon's adapter
    (adapters/meshtastic_radio.py, under its lock) and by every box of a simulation (sim/scenario_ports.py,
    on virtual time): FLASH first, one frame in flight (`RadioPacer`), hop limit 0 where no relay is needed.
    Pure: `now` comes from the caller."""

    def __init__(self, preset: str = "LONG_FAST", *, pace: bool = True) -> None:
        self.pacer = RadioPacer(preset)
        self.pace = pace  # False only for tests of queue order against a stand-in radio
        self._heap: list[OutFrame] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, node: int, data: bytes, precedence: int, *, ref: object = None, want_ack: bool = False,
             hops: int | None = None) -> None:
        ack = want_ack and node != BROADCAST
        heapq.heappush(self._heap, OutFrame(int(precedence), next(self._seq), node, bytes(data), ref, ack, hops))

    def requeue(self, frame: OutFrame) -> None:
        """A frame the radio did not take (the link broke while writing): back at its old place."""
        heapq.heappush(self._heap, frame)

    def wait_s(self, now: float) -> float | None:
        """Seconds until the next frame may go (0: now); None when nothing waits."""
        if not self._heap:
            return None
        return max(0.0, self.pacer.ready_at() - now) if self.pace else 0.0

    def pop_ready(self, now: float) -> OutFrame | None:
        if self.wait_s(now) != 0.0:
            return None
        return heapq.heappop(self._heap)

    def hop_limit(self, frame: OutFrame) -> int | None:
        """The hop limit to ask of the radio: the core's (`Transmit.hops`, from the post tree), else 0 for a DM to
        a radio heard straight (`RadioPacer.hop_limit_for`), else None (the radio's configured limit).

        With want_ack, 0 is not asked for: Router::sendLocal raises it to the radio's own limit anyway, and the
        pacing must expect the relays that follow."""
        if frame.hops is not None and not (frame.hops == 0 and frame.want_ack):
            return min(frame.hops, HOP_MAX)
        return self.pacer.hop_limit_for(frame.node, want_ack=frame.want_ack)

    def sent(self, now: float, frame: OutFrame, packet_id: int) -> None:
        """The radio took `frame` as `packet_id`: nothing more goes until its window has passed."""
        self.pacer.sent(now, packet_id, len(frame.data), direct=frame.node != BROADCAST, want_ack=frame.want_ack,
                        relayed=self.pacer.relayed(frame.node) or bool(frame.hops), local=self.hop_limit(frame) == 0)
