"""What a scenario run gives: per-message outcomes and the figures the issue asks for.

Definitions (also in docs/simulation.md):
* `delivered`: every intended reader (the destination, or every other box for a bulletin) holds the message
  in its SQLite inbox at the end of the run.
* `expired`: not delivered, and the originating box's outbox reports it expired (the operator was told).
* `lost`: accepted, not delivered, not reported expired — including what is still under way at the end,
  so a scenario leaves a `drain` period after its traffic.
* `duplicates_delivered`: a reader's inbox holding the same MsgId twice, plus a reader's core handing the
  same MsgId to its inbox twice (counted from the StoreInbox actions the store committed).
* `latency_s`: acceptance to the last intended reader's inbox, per precedence (p50/p95/max), delivered only.
* `transmissions_per_delivered`: nspgw MESSAGE frames (fragments included) handed to the radio by any box
  (originators and relaying CPs) per delivered message. `origin_transmissions_per_delivered` counts only the
  originating boxes. `on_air_frames_per_delivered`: every LoRa frame on air (nspgw frames, Meshtastic acks,
  rebroadcasts by the mesh) per delivered message.
* `channel_utilisation`: `used` = airtime of every frame on air (all radios, all kinds) ÷ the run's virtual
  duration (one channel; above 1 only if radios out of each other's reach talk at once); `offered` = the
  airtime the messages' own first transmissions need ÷ the same duration: for every fragment of every
  accepted message, the first frame its originating box handed to the radio for it, at its size on air
  (Meshtastic header and Data protobuf, + 12 bytes PKI for a DM), once. `airtime_s` / `offered_airtime_s`
  are the two airtimes; `busiest_box_worst_hour` is the largest airtime one radio spent in any hour (sliding,
  by frame start, as the duty-cycle ledger books) as a fraction of the hour, for `busiest_box`, against
  `duty_cycle_limit` (0.10 in EU_868).
* `airtime_efficiency`: offered airtime ÷ all airtime on air (1.0 = nothing but the messages' first frames).
* `on_air_by_kind`: frames and airtime on air per `<kind>_<dm|bcast>_<orig|forward|relay>`; kind is the nspgw
  frame kind (header byte 0, bits 3..5) on port 311, `routing_ack` (Meshtastic ROUTING_APP), `nodeinfo`;
  orig = the radio's own packet (firmware retransmissions included), forward = a CP's radio sending an nspgw
  frame another box sealed, relay = a Meshtastic rebroadcast (sim/scenario_airtime.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from nspgw.core.airtime import DutyCycleLedger
from nspgw.core.events import RADIO
from nspgw.ids import BROADCAST_ADDR
from nspgw.sim.scenario_airtime import channel_figures, offered_airtime_s
from nspgw.sim.scenario_links import link_figures

_KIND_MESSAGE = 0


@dataclass
class MessageResult:
    id: str
    src: int
    dst: int
    precedence: str
    sent_at_s: float
    state: str
    done_at_s: float | None
    readers: int  # boxes that stored it (1, or every box for a bulletin)


@dataclass
class ScenarioResult:
    name: str
    duration_s: float
    messages: list[MessageResult]
    expectations: list[tuple[str, bool, str]]  # (message id, ok, explanation)
    airtime_s: dict[str, float]
    notices: list[tuple[int, str, str]]
    figures: dict[str, Any]

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.expectations)

    def to_json(self, *, messages: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "duration_s": self.duration_s, "ok": self.ok, **self.figures,
                               "airtime_s": self.airtime_s}
        if messages:
            out["messages"] = [vars(m) for m in self.messages]
        out["expectations"] = [{"message": m, "ok": ok, "detail": d} for m, ok, d in self.expectations]
        out["notices"] = [{"box": b, "kind": k, "text": t} for b, k, t in self.notices]
        return out


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))], 1)


def message_kind(data: bytes) -> int:
    """The frame kind: three bits of the cleartext header byte 0 (nspgw/wire/codec.py `_header`)."""
    return (data[0] >> 3) & 0x7 if data else -1


def figures(net: Any, sent: dict[str, tuple[Any, int, float]], wall_s: float) -> tuple[list[MessageResult],
                                                                                       dict[str, Any]]:
    """`sent`: scenario id → (SendSpec, seq, accepted at). Reads the real inboxes and outboxes of `net`."""
    inbox_count: Counter[tuple[int, int, int]] = Counter()  # (reader, origin, seq)
    for addr, box in net.boxes.items():
        for r in box.store.inbox():
            inbox_count[(addr, int(r.origin), r.seq)] += 1
    states = {(addr, r.seq): r.state.value for addr, box in net.boxes.items() for r in box.store.outbox()}
    first_at: dict[tuple[int, int, int], float] = {}
    handed: Counter[tuple[int, int, int]] = Counter()
    for t, reader, origin, seq in net.deliveries:
        handed[(reader, origin, seq)] += 1
        first_at.setdefault((reader, origin, seq), t)
    dup = sum(n - 1 for n in inbox_count.values() if n > 1) + sum(n - 1 for n in handed.values() if n > 1)
    all_addrs = list(net.boxes)
    messages: list[MessageResult] = []
    latency: dict[str, list[float]] = {}
    counts = Counter[str]()
    for sid, (s, seq, t0) in sent.items():
        readers = [a for a in all_addrs if a != s.src] if s.dst == BROADCAST_ADDR else [s.dst]
        have = [a for a in readers if inbox_count[(a, s.src, seq)] > 0]
        out_state = states.get((s.src, seq), "")
        prec = s.precedence.name.lower()
        done: float | None = None
        if len(have) == len(readers):
            state = "delivered"
            done = max(first_at.get((a, s.src, seq), t0) for a in readers) - t0
            latency.setdefault(prec, []).append(done)
        elif out_state == "expired":
            state = "expired"
            done = net.outcomes.get((s.src, seq), (None,))[0]
            done = None if done is None else done - t0
        else:
            state = "lost"
        counts[state] += 1
        counts["readers_total"] += len(readers)
        messages.append(MessageResult(sid, s.src, s.dst, prec, round(t0, 1),
                                      state if state != "lost" else f"lost ({out_state or 'unknown'})",
                                      None if done is None else round(done, 1), len(have)))
    stats = net.mesh.stats()
    msg_tx = sum(1 for b in net.boxes.values() for _, a in b.transmits
                 if a.link == RADIO and message_kind(a.data) == _KIND_MESSAGE)
    origins = {s.src for s, _, _ in sent.values()}
    origin_tx = sum(1 for addr in origins for _, a in net.boxes[addr].transmits
                    if a.link == RADIO and message_kind(a.data) == _KIND_MESSAGE
                    and (a.data[1] << 4 | a.data[2] >> 4) == addr)
    on_air = sum(int(st["frames_tx"]) for st in stats.values())
    delivered = counts["delivered"]

    def per(n: int) -> float | None:
        return round(n / delivered, 3) if delivered else None

    figs = {
        "sent": len(sent), "delivered": delivered, "lost": counts["lost"], "expired": counts["expired"],
        "duplicates_delivered": dup,
        "latency_s": {p: {"n": len(v), "p50": _pct(v, 0.5), "p95": _pct(v, 0.95), "max": round(max(v), 1)}
                      for p, v in sorted(latency.items())},
        "transmissions_per_delivered": per(msg_tx),
        "origin_transmissions_per_delivered": per(origin_tx),
        "on_air_frames_per_delivered": per(on_air),
        "radio": {"message_frames_tx": msg_tx, "origin_message_frames_tx": origin_tx, "on_air_frames": on_air,
                  "rebroadcasts": sum(int(st["rebroadcasts"]) for st in stats.values()),
                  "collisions": sum(int(st["collisions"]) for st in stats.values()),
                  "duty_cycle_refusals": sum(int(st["duty_cycle_refusals"]) for st in stats.values())},
        "wall_s": round(wall_s, 2),
    }
    air = getattr(net, "air_log", None)
    if air is not None:  # channel utilisation, airtime efficiency, frames on air by kind (sim/scenario_airtime.py)
        offered = offered_airtime_s(net.frames_sent, {a: b.transmits for a, b in net.boxes.items()}, net.preset)
        names = {b.spec.node_num: b.name for b in net.boxes.values()}
        limit = DutyCycleLedger.for_region(net.mesh.region).limit_fraction
        figs.update(channel_figures(air, offered, net.now, limit, names))
    log = getattr(net, "link_log", None)
    if log is not None:  # mixed IP and radio: which link each message really took (sim/scenario_links.py)
        figs.update(link_figures(log, [(s.src, s.dst, seq, t0) for s, seq, t0 in sent.values()]))
    return messages, figs
