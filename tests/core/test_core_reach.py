"""How far the core asks the radio to carry a frame (core/reach.py): the hop limit decides how many radios relay
it (issue #12)."""

from __future__ import annotations

from core_boxes import CP, GCT, NET, NSP, NSP2, codec, node, tx

from nspgw.core import reach
from nspgw.core.actions import Transmit
from nspgw.core.events import FrameIn, MessageAccepted
from nspgw.core.node import Node
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.frames import BeaconFrame, MsgId, Precedence

CP2, NSP3 = BoxAddr(11), BoxAddr(201)


def hear(n: Node, src: BoxAddr, now: float, mesh_hops: int) -> None:
    """`n` hears `src`'s beacon, `mesh_hops` Meshtastic relays away."""
    beacon = codec(src).encode(BeaconFrame(src, NET.roster.version), int(now * 10) + 1)
    n.handle(FrameIn("radio", beacon, src, mesh_hops=mesh_hops), now)


def test_a_dm_goes_as_far_as_the_destination_was_heard_or_one_beyond_its_cp() -> None:
    gct = node(GCT)
    gct.handle_timer(0.0)
    assert reach.dm_hops(gct, NSP, 1.0) is None  # nothing known: the radio's own limit
    hear(gct, CP, 1.0, 0)
    hear(gct, NSP2, 2.0, 2)
    assert reach.dm_hops(gct, CP, 3.0) == 0
    assert reach.dm_hops(gct, NSP2, 3.0) == 2  # heard through two relays
    assert reach.dm_hops(gct, NSP, 3.0) == 1  # not heard, its CP straight: the CP's relay reaches it
    assert reach.dm_hops(gct, NSP3, 3.0) is None  # its CP (11) not heard either
    # A distance that did not work: from the fourth attempt on, the radio's own limit again.
    assert reach.dm_hops(gct, NSP, 3.0, attempt=reach.MEASURED_TRIES - 1) == 1
    assert reach.dm_hops(gct, NSP, 3.0, attempt=reach.MEASURED_TRIES) is None
    # Heard too long ago: not a distance any more.
    assert reach.dm_hops(gct, CP, 3.0 + gct.cfg.heard_fresh_s + 1) is None


def bulletin_hops(gct: Node, now: float) -> list[int | None]:
    text = b"Water bij het gemeentehuis"
    acts = gct.handle(MessageAccepted(MsgId(GCT, 1), BROADCAST_ADDR, Precedence.PRIORITY, text), now)
    out: list[Transmit] = tx(acts)
    t = now
    while not [a for a in out if a.hop_dst is None and a.data[0] >> 3 & 7 == 0]:
        t = max(gct.next_deadline() or t + 1.0, t + 1e-3)
        out += tx(gct.handle_timer(t))
    return [a.hops for a in out if a.hop_dst is None and a.data[0] >> 3 & 7 == 0]


def test_the_gcts_bulletin_goes_one_relay_beyond_its_cps_when_they_are_all_heard() -> None:
    gct = node(GCT)
    gct.handle_timer(0.0)
    hear(gct, CP, 1.0, 0)
    hear(gct, CP2, 2.0, 0)
    assert bulletin_hops(gct, 5.0) == [1]  # the CPs' relays reach their posts; the posts relay nothing

    gct = node(GCT)
    gct.handle_timer(0.0)
    hear(gct, CP, 1.0, 0)  # CP 11 and its post unknown: a full flood
    assert bulletin_hops(gct, 5.0) == [None]
