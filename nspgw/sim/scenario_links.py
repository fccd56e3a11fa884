"""Which link each message really took in a scenario, for drills that mix IP and radio posts.

`LinkLog` watches what the boxes of a `SimNet` commit and transmit (it never changes anything) and
`link_figures` turns that into report fields (docs/simulation.md):

* `radio_while_reader_had_ip`: messages whose first copy reached a reader by radio while that reader was on
  the broker (`n`), and how many of those while the sender was on it too (`sender_had_ip`): airtime spent
  where IP would have done (should be rare: FLASH goes on both links, and a box learns the other's presence).
* `waiting_on_dead_link_s`: per message, the time between a frame handed to the broker for a box that was
  not on it (nobody reads it) and the message's next frame on another path, or its delivery: the time lost
  waiting for a receipt that could not come. `messages`, `total`, `p95`, `max`.
* `off_broker_first_radio_s`: messages accepted by a box on the broker for a reader that was not: seconds
  from acceptance to the first radio frame of the message by any box (the sender or the CP it handed it to),
  p50/p95/max. The partial-failure target: p95 within 15 s at LONG_FAST.

A frame is matched to its message through the cleartext header (origin address, frame counter; a relay
forwards the origin's header unchanged) and the origin's `StoreFrameSent` actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nspgw.core.actions import Action, StoreFrameSent, StoreInbox, Transmit
from nspgw.core.events import IP, RADIO

_KIND_MESSAGE = 0


def frame_origin(data: bytes) -> tuple[int, int] | None:
    """(origin address, frame counter) from a frame's cleartext header (wire/codec.py `_header`)."""
    if len(data) < 8 or (data[0] >> 3) & 0x7 != _KIND_MESSAGE:
        return None
    return (data[1] << 4) | (data[2] >> 4), int.from_bytes(data[4:8], "big")


@dataclass
class LinkLog:
    frame_seq: dict[tuple[int, int], int] = field(default_factory=dict)  # (origin, counter) → seq
    # (origin, seq) → [(t, sending box, link, the hop could read it)] in order
    sends: dict[tuple[int, int], list[tuple[float, int, str, bool]]] = field(default_factory=dict)
    # (reader, origin, seq) → (t, link, reader on the broker) of the first copy stored
    first: dict[tuple[int, int, int], tuple[float, str, bool]] = field(default_factory=dict)
    accepted_ip: dict[tuple[int, int], tuple[bool, bool]] = field(default_factory=dict)  # (src ip, dst ip)

    def note_accept(self, src: int, seq: int, src_ip: bool, dst_ip: bool) -> None:
        self.accepted_ip[(src, seq)] = (src_ip, dst_ip)

    def note(self, box: int, now: float, acts: list[Action], on_ip: Callable[[int], bool]) -> None:
        """`on_ip(addr)`: whether that box is on the broker now (up and IP up)."""
        for a in acts:
            if isinstance(a, StoreFrameSent):
                self.frame_seq[(box, a.counter)] = a.seq
            elif isinstance(a, StoreInbox):
                key = (box, int(a.frame.msg.origin), a.frame.msg.seq)
                self.first.setdefault(key, (now, a.link, on_ip(box)))
            elif isinstance(a, Transmit):
                fo = frame_origin(a.data)
                seq = self.frame_seq.get(fo) if fo is not None else None
                if fo is None or seq is None:
                    continue
                hop = a.hop_dst
                readable = a.link == RADIO or (hop is None or on_ip(int(hop)))
                self.sends.setdefault((fo[0], seq), []).append((now, box, a.link, readable))


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    s = sorted(values)

    def q(p: float) -> float:
        return round(s[min(len(s) - 1, max(0, round(p * (len(s) - 1))))], 1)

    return {"n": len(s), "p50": q(0.5), "p95": q(0.95), "max": round(s[-1], 1)}


def link_figures(log: LinkLog, sent: list[tuple[int, int, int, float]]) -> dict[str, Any]:
    """`sent`: (origin, destination, seq, accepted at) of every scenario message."""
    radio_ip = both_ip = 0
    for (_reader, origin, seq), (_t, link, reader_ip) in log.first.items():
        if link == RADIO and reader_ip:
            radio_ip += 1
            both_ip += int(log.accepted_ip.get((origin, seq), (False, False))[0])
    lost: list[float] = []
    first_radio: list[float] = []
    delivered_at: dict[tuple[int, int], float] = {}
    for (_r, o, s), (t, _l, _i) in log.first.items():
        delivered_at[(o, s)] = max(t, delivered_at.get((o, s), t))
    for origin, dst, seq, t0 in sent:
        sends = log.sends.get((origin, seq), [])
        end = delivered_at.get((origin, seq))
        waited = 0.0
        for i, (t, _box, link, readable) in enumerate(sends):
            if link != IP or readable:
                continue
            nxt = next((tt for tt, _b, _l, ok in sends[i + 1:] if ok), None)
            stop = min(x for x in (nxt, end) if x is not None) if (nxt is not None or end is not None) else t
            waited += max(0.0, stop - t)
        if waited > 0:
            lost.append(waited)
        src_ip, dst_ip = log.accepted_ip.get((origin, seq), (False, False))
        if src_ip and not dst_ip and dst != 0xFFF:
            radio = next((t for t, _b, link, _ok in sends if link == RADIO), None)
            if radio is not None:
                first_radio.append(radio - t0)
    return {
        "radio_while_reader_had_ip": {"n": radio_ip, "sender_had_ip": both_ip},
        "waiting_on_dead_link_s": {"messages": len(lost), "total": round(sum(lost), 1),
                                   **{k: v for k, v in _stats(lost).items() if k in ("p95", "max")}},
        "off_broker_first_radio_s": _stats(first_radio),
    }
