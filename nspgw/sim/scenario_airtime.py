"""What went on air in a scenario run, frame by frame: the channel utilisation, airtime efficiency and per-kind
breakdown of the report (scenario_report.py; definitions in docs/simulation.md and docs/benchmarks.md).

The mesh model knows nothing of nspgw: it calls `Mesh.on_transmit(node, packet, rebroadcast, airtime_s)` for
every frame that goes on air, and this log classifies it (Meshtastic port; on nspgw's port the frame kind from
the cleartext header, nspgw/wire/codec.py). The offered load needs to know which frame carried a message's
fragment first: the boxes' `StoreFrameSent` actions say which counter carried which fragment, the radio
`Transmit` actions the bytes, and the header holds (origin, counter).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from typing import Any

from nspgw.core.actions import Transmit
from nspgw.core.airtime import meshtastic_frame_len, time_on_air_ms
from nspgw.core.airtime import preset as lookup_preset
from nspgw.core.events import RADIO
from nspgw.ids import BROADCAST_ADDR
from nspgw.sim.mesh_types import BROADCAST, NODEINFO_APP, PKI_OVERHEAD, ROUTING_APP, RadioPacket, SimNode
from nspgw.wire.codec import HEADER_LEN, Kind
from nspgw.wire.frames import NSPGW_PORTNUM

HOUR_S = 3600.0
# Report names of the nspgw frame kinds (header byte 0, bits 3..5).
KIND_NAMES = {Kind.MESSAGE: "message", Kind.RECEIPT: "receipt", Kind.CUSTODY_ACK: "custody_ack",
              Kind.FRAGMENT_REQUEST: "fragment_request", Kind.EXPIRED: "expired", Kind.CONTROL: "control",
              Kind.BEACON: "beacon", Kind.ROSTER_UPDATE: "roster"}


def frame_header(data: bytes) -> tuple[int, int, int, int] | None:
    """(kind, src box, dst box, counter) from the cleartext header of an nspgw frame (codec `_header`)."""
    if len(data) < HEADER_LEN:
        return None
    addrs = int.from_bytes(data[1:4], "big")
    return (data[0] >> 3) & 7, addrs >> 12, addrs & 0xFFF, int.from_bytes(data[4:8], "big")


class AirLog:
    """Every frame on air of one run: counts and airtime per class, and per radio its transmissions in time
    order (for the busiest hour). `boxes`: radio node number → box address."""

    def __init__(self, boxes: dict[int, int]) -> None:
        self.boxes = boxes
        self._counts: dict[tuple[int, int, bool, int], list[float]] = {}  # class key → [frames, airtime_s]
        self.tx_times: dict[int, list[tuple[float, float]]] = {}  # node number → [(start, airtime_s)]
        self.total_s = 0.0

    def note(self, node: SimNode, packet: RadioPacket, rebroadcast: bool, airtime_s: float, now: float) -> None:
        """`Mesh.on_transmit`: one frame goes on air from `node`'s radio (called per frame: kept cheap, the
        class is named only for the report)."""
        num = node.node_num
        key = _key(packet, num, self.boxes.get(num))
        c = self._counts.get(key)
        if c is None:
            c = self._counts[key] = [0, 0.0]
        c[0] += 1
        c[1] += airtime_s
        self.total_s += airtime_s
        txs = self.tx_times.get(num)
        if txs is None:
            txs = self.tx_times[num] = []
        txs.append((now, airtime_s))

    @property
    def frames(self) -> Counter[str]:
        return Counter({_name(k): int(c[0]) for k, c in self._counts.items()})

    def by_kind(self) -> dict[str, dict[str, float | int]]:
        rows = sorted(((_name(k), int(c[0]), c[1]) for k, c in self._counts.items()), key=lambda r: (-r[1], r[0]))
        return {name: {"frames": n, "airtime_s": round(a, 1)} for name, n, a in rows}

    def worst_hour(self) -> tuple[int | None, float]:
        """The radio with the most airtime in any hour (a sliding window over transmission starts, as the
        duty-cycle ledger books a frame at its start) and that airtime as a fraction of the hour."""
        best: tuple[int | None, float] = (None, 0.0)
        for num, txs in self.tx_times.items():
            starts = [t for t, _ in txs]
            cum = [0.0]
            for _, a in txs:
                cum.append(cum[-1] + a)
            for i, t in enumerate(starts):
                j = bisect_right(starts, t + HOUR_S - 1e-9)
                used = cum[j] - cum[i]
                if used > best[1]:
                    best = (num, used)
        return best[0], best[1] / HOUR_S


_HOW = ("orig", "forward", "relay")


def _key(packet: RadioPacket, node_num: int, box: int | None) -> tuple[int, int, bool, int]:
    """(port, nspgw kind or -1, broadcast, index in _HOW): what `classify` names."""
    port = packet.portnum
    how = 2 if packet.src != node_num else 0
    kind = -1
    if port == NSPGW_PORTNUM:
        d = packet.payload
        if len(d) >= HEADER_LEN:
            kind = (d[0] >> 3) & 7
            if how == 0 and box is not None and (d[1] << 4 | d[2] >> 4) != box:
                how = 1  # the header's source box is another box: this radio hands its frame on
    return port, kind, packet.dest == BROADCAST, how


def _name(key: tuple[int, int, bool, int]) -> str:
    port, kind, bcast, how = key
    if port == NSPGW_PORTNUM:
        base = KIND_NAMES[Kind(kind)] if kind >= 0 else "short"
    elif port == ROUTING_APP:
        base = "routing_ack"
    elif port == NODEINFO_APP:
        base = "nodeinfo"
    else:
        base = f"port{port}"
    return f"{base}_{'bcast' if bcast else 'dm'}_{_HOW[how]}"


def classify(packet: RadioPacket, node_num: int, box: int | None) -> str:
    """`<kind>_<dm|bcast>_<orig|forward|relay>`. kind: the nspgw frame kind on port 311 (header byte 0, bits
    3..5), `routing_ack` for Meshtastic's ROUTING_APP, `nodeinfo`, else `port<N>`. relay: a Meshtastic
    rebroadcast (the radio is not the packet's source); forward: a box's radio sending an nspgw frame another
    box sealed (a CP handing a message, receipt or bulletin on); orig: the radio's own packet (firmware
    retransmissions included). `box`: the address of the box whose radio sends it."""
    return _name(_key(packet, node_num, box))


def offered_airtime_s(frames: dict[int, dict[int, tuple[int, int]]],
                      transmits: dict[int, Iterable[tuple[float, Transmit]]], preset: str) -> float:
    """Airtime the messages' own first transmissions need: for every fragment of every message, the first
    frame its originating box handed to the radio for it, at its size on air (Meshtastic header and Data
    protobuf, + PKI overhead for a DM). `frames`: box → counter → (seq, fragment index), from the boxes'
    `StoreFrameSent` actions; `transmits`: box → its (time, Transmit) in time order."""
    p = lookup_preset(preset)
    total_ms = 0.0
    for addr, carried in frames.items():
        done: set[tuple[int, int]] = set()
        for _, t in transmits.get(addr, ()):
            if t.link != RADIO:
                continue
            h = frame_header(t.data)
            if h is None or h[0] != Kind.MESSAGE or h[1] != addr:
                continue
            frag = carried.get(h[3])
            if frag is None or frag in done:
                continue
            done.add(frag)
            n = meshtastic_frame_len(len(t.data), NSPGW_PORTNUM)
            dm = t.hop_dst is not None and t.hop_dst != BROADCAST_ADDR
            total_ms += time_on_air_ms(n + (PKI_OVERHEAD if dm else 0), p)
    return total_ms / 1000.0


def channel_figures(log: AirLog, offered_s: float, duration_s: float, duty_limit: float,
                    names: dict[int, str]) -> dict[str, Any]:
    """The report's `channel_utilisation`, `airtime_efficiency` and `on_air_by_kind` (scenario_report.py)."""
    num, worst = log.worst_hour()
    span = max(duration_s, 1e-9)
    return {
        "channel_utilisation": {
            "used": round(log.total_s / span, 4), "offered": round(offered_s / span, 4),
            "airtime_s": round(log.total_s, 1), "offered_airtime_s": round(offered_s, 1),
            "busiest_box": names.get(num) if num is not None else None,
            "busiest_box_worst_hour": round(worst, 4), "duty_cycle_limit": duty_limit,
        },
        "airtime_efficiency": round(offered_s / log.total_s, 4) if log.total_s > 0 else None,
        "on_air_by_kind": log.by_kind(),
    }
