"""What a CP remembers of the bulletins it carries for its NSPs (core/bulletins.py has the logic)."""

from __future__ import annotations

from dataclasses import dataclass, field

from nspgw.ids import BoxAddr
from nspgw.wire.frames import MessageFrame, MsgId, Precedence

_KEPT = 64  # bulletins a CP keeps frames and confirmations of (oldest forgotten first)


@dataclass
class Relayed:
    """A bulletin as a CP holds it for its NSPs."""

    precedence: Precedence
    count: int  # fragments
    raws: dict[int, bytes] = field(default_factory=dict)  # fragment index → GCT-sealed bytes as received
    parts: dict[int, MessageFrame] = field(default_factory=dict)  # the same fragments, decoded
    mesh_hops: int = 0  # most Meshtastic relays a fragment took to reach us
    from_origin: bool = False  # a fragment came by the originator's own flood: its flood reaches us
    via_cp: BoxAddr | None = None  # else: the neighbour CP whose own send brought us a fragment
    asked_at: dict[BoxAddr, float] = field(default_factory=dict)  # box → when we last served its request
    whole: bool = False  # delivered here and its frames match the verified bulletin: may be re-sent
    digest: bytes = b""
    confirmed: set[BoxAddr] = field(default_factory=set)  # our NSPs (and we) known to hold it
    pending: set[BoxAddr] = field(default_factory=set)  # our NSPs not known to hold it
    attempts: int = 0
    due: float | None = None  # next re-send to pending NSPs
    deadline: float = 0.0
    # At the end of the originator's flood: our broadcasts for the CPs beyond (core/bulletins.py `edge_timer`).
    edge_sends: int = 0
    edge_due: float | None = None


class BulletinRelay:
    """What a node remembers of bulletins it relays (a CP) — only this class changes it."""

    def __init__(self) -> None:
        self._items: dict[MsgId, Relayed] = {}
        # Originator → the CP whose re-broadcast brought us its last bulletin (we are beyond its flood): our
        # frames for that originator go to this CP with custody (core/bulletins.py `upstream_for`).
        self._upstream: dict[BoxAddr, BoxAddr] = {}

    def upstream(self, origin: BoxAddr) -> BoxAddr | None:
        return self._upstream.get(origin)

    def set_upstream(self, origin: BoxAddr, hop: BoxAddr | None) -> None:
        if hop is None:
            self._upstream.pop(origin, None)
        else:
            self._upstream[origin] = hop

    def get(self, msg: MsgId) -> Relayed | None:
        return self._items.get(msg)

    def add(self, msg: MsgId, r: Relayed) -> Relayed:
        self._items[msg] = r
        if len(self._items) > _KEPT:
            self._items.pop(next(iter(self._items)))
        return r

    def due(self) -> list[tuple[MsgId, Relayed]]:
        return [(m, r) for m, r in self._items.items() if r.due is not None or r.edge_due is not None]

    def next_due(self) -> float | None:
        times = [t for r in self._items.values() for t in (r.due, r.edge_due) if t is not None]
        return min(times) if times else None
