"""Bulletins along the post tree (core/bulletins.py, issue #12): NSPs confirm to their CP, the CP reports them to
the GCT in one frame and re-sends the GCT's own signed bytes to its NSPs that did not confirm; the GCT counts a
CP's report only for that CP and its own NSPs; a box without a CP keeps the per-reader receipt."""

from __future__ import annotations

import itertools
import random

from core_boxes import CP, GCT, NET, NSP, NSP2, codec, node, tx

from nspgw.core.actions import Action, StoreReceipt, Transmit
from nspgw.core.config import NodeConfig, NodeState
from nspgw.core.events import FrameIn, MessageAccepted
from nspgw.core.node import Node
from nspgw.crypto.enrol import make_network
from nspgw.crypto.roster import Role
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.codec import FrameCodec
from nspgw.wire.frames import (
    BeaconFrame,
    BulletinHeldFrame,
    MessageFrame,
    MsgId,
    Precedence,
    ReceiptFrame,
    receipt_digest,
)

CP2, NSP3 = BoxAddr(11), BoxAddr(201)
TEXT = b"Drinkwater verkrijgbaar bij het gemeentehuis tot 20:00"
MSG = MsgId(GCT, 1)


def run(n: Node, start: float, end: float, first: list[Action] | None = None) -> list[tuple[float, Transmit]]:
    """Every transmission of `n` from `start` to `end` (nothing comes in)."""
    out = [(start, t) for t in tx(first or [])]
    t = start
    while True:
        d = n.next_deadline()
        if d is None or d > end:
            return out
        t = max(d, t)
        out += [(t, a) for a in tx(n.handle_timer(t))]
        t += 1e-3


def gct_broadcast(text: bytes = TEXT) -> tuple[Node, list[bytes]]:
    """The GCT's first broadcast round of a bulletin, one frame per fragment."""
    gct = node(GCT)
    gct.handle_timer(0.0)
    acts = gct.handle(MessageAccepted(MSG, BROADCAST_ADDR, Precedence.PRIORITY, text), 1.0)
    frames = [a.data for _, a in run(gct, 1.0, 30.0, acts) if a.hop_dst is None and a.data[0] >> 3 & 7 == 0]
    return gct, frames


def decode(by: BoxAddr, t: Transmit, hop: BoxAddr) -> object:
    return codec(by).decode(t.data, hop).frame


def test_an_nsp_under_a_cp_confirms_to_its_cp_only() -> None:
    _, frames = gct_broadcast()
    nsp = node(NSP)
    nsp.handle_timer(0.0)
    acts = nsp.handle(FrameIn("radio", frames[0], GCT), 5.0)
    sent = run(nsp, 5.0, 120.0, acts)
    frames_out = [(a.hop_dst, decode(a.hop_dst or GCT, a, NSP)) for _, a in sent if a.hop_dst is not None]
    assert frames_out == [(CP, BulletinHeldFrame(NSP, CP, MSG, receipt_digest(TEXT), (NSP,)))]


def test_the_cp_reports_itself_and_its_nsps_in_one_frame_and_the_gct_counts_them() -> None:
    gct, frames = gct_broadcast()
    cp = node(CP)
    cp.handle_timer(0.0)
    acts = cp.handle(FrameIn("radio", frames[0], GCT), 5.0)
    for who in (NSP, NSP2):  # both its NSPs confirm within the spread
        held = codec(who).encode(BulletinHeldFrame(who, CP, MSG, receipt_digest(TEXT), (who,)), 7 + who)
        acts += cp.handle(FrameIn("radio", held, who), 12.0)
    reports = [a for _, a in run(cp, 5.0, 200.0, acts) if a.hop_dst == GCT]
    assert len(reports) == 1
    frame = decode(GCT, reports[0], CP)
    assert frame == BulletinHeldFrame(CP, GCT, MSG, receipt_digest(TEXT), (CP, NSP, NSP2))
    got = gct.handle(FrameIn("radio", reports[0].data, CP), 60.0)
    assert {a.by for a in got if isinstance(a, StoreReceipt)} == {CP, NSP, NSP2}  # per reader, as before
    assert gct.out[1].pending == {CP2, NSP3}


def test_a_cp_cannot_vouch_for_another_cps_nsp() -> None:
    gct, _ = gct_broadcast()
    forged = codec(CP).encode(BulletinHeldFrame(CP, GCT, MSG, receipt_digest(TEXT), (NSP, NSP3)), 99)
    rejected = gct.stats["rejected"]
    got = gct.handle(FrameIn("radio", forged, CP), 60.0)
    assert {a.by for a in got if isinstance(a, StoreReceipt)} == {NSP}  # its own NSP only
    assert NSP3 in gct.out[1].pending and gct.stats["rejected"] == rejected + 1
    # nor can an NSP confirm for its sibling at the CP
    cp = node(CP)
    cp.handle_timer(0.0)
    lie = codec(NSP).encode(BulletinHeldFrame(NSP, CP, MSG, receipt_digest(TEXT), (NSP2,)), 5)
    before = cp.stats["rejected"]
    cp.handle(FrameIn("radio", lie, NSP), 1.0)
    assert cp.stats["rejected"] == before + 1


def test_a_report_with_another_content_digest_is_not_counted() -> None:
    gct, _ = gct_broadcast()
    other = codec(CP).encode(BulletinHeldFrame(CP, GCT, MSG, b"\x00\x00", (CP,)), 5)
    got = gct.handle(FrameIn("radio", other, CP), 60.0)
    assert not [a for a in got if isinstance(a, StoreReceipt)] and CP in gct.out[1].pending


def test_the_cp_resends_the_gcts_own_bytes_to_an_nsp_that_did_not_confirm() -> None:
    _, frames = gct_broadcast()
    cp = node(CP)
    cp.handle_timer(0.0)
    acts = cp.handle(FrameIn("radio", frames[0], GCT), 5.0)
    held = codec(NSP).encode(BulletinHeldFrame(NSP, CP, MSG, receipt_digest(TEXT), (NSP,)), 3)
    acts += cp.handle(FrameIn("radio", held, NSP), 12.0)
    resent = [a for _, a in run(cp, 5.0, 400.0, acts) if a.hop_dst == NSP2]
    assert resent and all(a.data == frames[0] for a in resent)  # unchanged: the GCT's seal and signature
    assert not [a for _, a in run(cp, 400.0, 1e5) if a.hop_dst == NSP]  # NSP confirmed: never re-sent to it
    nsp2 = node(NSP2)
    nsp2.handle_timer(0.0)
    nsp2.handle(FrameIn("radio", resent[0].data, CP), 500.0)  # from its CP, verified against the GCT's key
    assert MSG in nsp2.delivered


def test_a_repeat_from_the_gct_goes_to_the_cp_not_to_each_of_its_nsps() -> None:
    gct, _ = gct_broadcast()
    for box in (CP2, NSP3):  # CP Zuid and its NSP confirmed: CP Noord, NSP Bieb and NSP Kerk did not
        gct.out[1].pending.discard(box)  # type: ignore[union-attr]
    repeats = [a.hop_dst for _, a in run(gct, 30.0, 400.0) if a.hop_dst is not None and a.data[0] >> 3 & 7 == 0]
    assert repeats and set(repeats) == {CP}


def test_an_nsp_without_a_cp_confirms_straight_to_the_gct() -> None:
    specs = [(1, "GCT", Role.GCT, None), (301, "NSP direct", Role.NSP, 1)]
    from nspgw.crypto.enrol import BoxSpec

    net = make_network([BoxSpec(BoxAddr(a), n, r, 0x3000_0000 + a, None if p is None else BoxAddr(p))
                        for a, n, r, p in specs], b"m" * 32)
    gct = Node(NodeConfig(net.keyring(BoxAddr(1))), NodeState(), random.Random(1))
    gct.handle_timer(0.0)
    acts = gct.handle(MessageAccepted(MSG, BROADCAST_ADDR, Precedence.PRIORITY, TEXT), 1.0)
    frame = next(a.data for _, a in run(gct, 1.0, 30.0, acts) if a.hop_dst is None and a.data[0] >> 3 & 7 == 0)
    nsp = Node(NodeConfig(net.keyring(BoxAddr(301))), NodeState(), random.Random(1))
    nsp.handle_timer(0.0)
    acts = nsp.handle(FrameIn("radio", frame, GCT), 5.0)
    out = [FrameCodec(net.keyring(BoxAddr(1))).decode(a.data, BoxAddr(301)).frame
           for _, a in run(nsp, 5.0, 120.0, acts) if a.hop_dst is not None]
    assert [type(f) for f in out] == [ReceiptFrame]


def test_an_nsp_the_gct_repeats_to_directly_confirms_to_the_gct() -> None:
    """Its CP did not pass its confirmation on (down, restarted): the GCT's own repeat gets a plain receipt."""
    _, frames = gct_broadcast()
    nsp = node(NSP)
    nsp.handle_timer(0.0)
    run(nsp, 5.0, 120.0, nsp.handle(FrameIn("radio", frames[0], GCT), 5.0))
    repeat = codec(GCT).encode(MessageFrame(GCT, BROADCAST_ADDR, MSG, Precedence.PRIORITY, 0, TEXT), 500)
    out = run(nsp, 600.0, 800.0, nsp.handle(FrameIn("radio", repeat, GCT), 600.0))
    assert [type(decode(GCT, a, NSP)) for _, a in out if a.hop_dst == GCT] == [ReceiptFrame]


def test_everyone_in_the_tree_gets_it_and_the_gct_sees_every_reader() -> None:
    """The demo network wired as a tree on an ideal channel: GCT ↔ CPs, each CP ↔ its NSPs (NSPs do not hear the
    GCT). The GCT's view ends with every box confirmed, and no NSP sent a frame to the GCT."""
    boxes = {BoxAddr(a): node(BoxAddr(a)) for a in NET.identities}
    hears = {GCT: {CP, CP2}, CP: {GCT, NSP, NSP2}, CP2: {GCT, NSP3}, NSP: {CP}, NSP2: {CP}, NSP3: {CP2}}
    queue: list[tuple[float, BoxAddr, Transmit]] = []
    for b in boxes.values():
        b.handle_timer(0.0)
    queue += [(1.0, GCT, a) for a in tx(boxes[GCT].handle(MessageAccepted(MSG, BROADCAST_ADDR,
                                                                              Precedence.PRIORITY, TEXT), 1.0))]
    to_gct_from_nsp = 0
    t = 1.0
    while t < 3600.0:
        for when, src, a in sorted(queue, key=lambda x: x[0]):
            if a.link != "radio":
                continue
            targets = hears[src] if a.hop_dst is None else {a.hop_dst} & hears[src]
            to_gct_from_nsp += int(src in (NSP, NSP2, NSP3) and a.hop_dst == GCT)
            for dst in targets:
                boxes[dst].handle(FrameIn("radio", a.data, src), when + 0.5)
        queue = []
        deadlines = [(b.next_deadline(), a) for a, b in boxes.items() if b.next_deadline() is not None]
        if not deadlines:
            break
        t = max(t, min(d for d, _ in deadlines if d is not None))
        for addr, b in boxes.items():
            d = b.next_deadline()
            if d is not None and d <= t:
                queue += [(t, addr, a) for a in tx(b.handle_timer(t))]
        t += 1e-3
        if 1 not in boxes[GCT].out:
            break
    assert all(MSG in boxes[a].delivered for a in boxes if a != GCT)
    assert 1 not in boxes[GCT].out  # delivered: every box confirmed, through its CP
    assert to_gct_from_nsp == 0


def test_a_cp_at_the_end_of_the_flood_broadcasts_the_gcts_frames_once_more() -> None:
    """A chain of CPs longer than the hop limit: the CP that got the bulletin with the flood's last hop passes
    it on (unchanged) for the posts beyond; one nearer the GCT does not."""
    _, frames = gct_broadcast()
    for hops, expected in ((3, [frames[0]]), (1, [])):
        cp = node(CP)
        cp.handle_timer(0.0)
        acts = cp.handle(FrameIn("radio", frames[0], GCT, mesh_hops=hops), 5.0)
        out = [a.data for _, a in run(cp, 5.0, 30.0, acts) if a.hop_dst is None and a.data[0] >> 3 & 7 == 0]
        assert out == expected


def test_a_cp_at_the_end_of_the_flood_broadcasts_twice_more_one_relay_far() -> None:
    """Nobody else reaches the CPs beyond the flood's edge (the GCT's repeats end at the hop limit too): one lost
    edge broadcast lost the bulletin for every post beyond. Two more follow with backoff, for the neighbour CP
    beyond and its posts only (hop limit 1); then it stops, whatever it hears."""
    _, frames = gct_broadcast()
    cp = node(CP)
    cp.handle_timer(0.0)
    for i, nsp in enumerate((NSP, NSP2)):  # its own posts heard straight: their re-sends go neighbour-only
        cp.handle(FrameIn("radio", codec(nsp).encode(BeaconFrame(nsp, NET.roster.version), 1), nsp), 1.0 + i)
    acts = cp.handle(FrameIn("radio", frames[0], GCT, mesh_hops=3), 5.0)
    sent = [(t, a) for t, a in run(cp, 5.0, 1800.0, acts) if a.hop_dst is None and a.data == frames[0]]
    edge = [(t, a.hops) for t, a in sent if a.hops != 0]  # not the CP's neighbour-only re-sends to its own NSPs
    assert len(edge) == 3, edge
    assert edge[0] == (5.0, None) and [h for _, h in edge[1:]] == [1, 1]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(edge)]
    assert all(g >= 1.5 * cp.cfg.ack_timeout_s * 0.99 for g in gaps), gaps  # 3 × the timeout, ±50 %


def test_a_cp_beyond_the_flood_reports_back_the_way_the_bulletin_came() -> None:
    """CP Zuid got the bulletin only from CP Noord's re-broadcast: its report to the GCT goes to CP Noord with
    custody (a direct message to the GCT would not reach), and CP Noord hands it on to the GCT."""
    _, frames = gct_broadcast()
    cp2 = node(CP2)
    cp2.handle_timer(0.0)
    acts = cp2.handle(FrameIn("radio", frames[0], CP), 5.0)
    sent = [a for _, a in run(cp2, 5.0, 200.0, acts) if a.hop_dst is not None and a.data[0] >> 3 & 7 != 0]
    assert sent and all(a.hop_dst == CP for a in sent)  # (its bulletin re-sends go to its own NSP)
    got = codec(CP).decode(sent[0].data, CP2)
    assert got.frame is None and got.header.custody and got.header.dst == GCT  # sealed for the GCT, held by CP


def test_a_cp_the_gcts_flood_reaches_does_not_take_a_neighbour_cp_for_its_way_back() -> None:
    """CP Zuid hears the GCT's own flood and also CP Noord's send of the same bulletin (a re-send to CP Noord's
    posts, or its re-broadcast): its report still goes to the GCT itself. Taking the neighbour for its way back
    sent every CP's reports down a chain of CPs, away from the GCT, each custody hand-over one more loop."""
    _, frames = gct_broadcast()
    for order in ((GCT, CP), (CP, GCT)):
        cp2 = node(CP2)
        cp2.handle_timer(0.0)
        acts: list[Action] = []
        for t, hop in enumerate(order):
            acts += cp2.handle(FrameIn("radio", frames[0], hop, mesh_hops=1 if hop == GCT else 0), 5.0 + t)
        sent = [a for _, a in run(cp2, 5.0, 200.0, acts) if a.hop_dst is not None and a.data[0] >> 3 & 7 != 0]
        assert sent and all(a.hop_dst == GCT for a in sent), order


def test_a_cp_resends_to_its_own_posts_heard_straight_for_the_radios_in_reach_only() -> None:
    """A re-send broadcast for the CP's own NSPs goes with hop limit 0 when it hears them all straight (their
    beacons): relayed, it flooded the neighbouring CPs' areas too. Not heard straight: relayed as before."""
    _, frames = gct_broadcast()
    for heard, hops in ((True, 0), (False, None)):
        cp = node(CP)
        cp.handle_timer(0.0)
        if heard:
            for i, nsp in enumerate((NSP, NSP2)):
                beacon = codec(nsp).encode(BeaconFrame(nsp, NET.roster.version), 1)
                cp.handle(FrameIn("radio", beacon, nsp), 1.0 + i)
        acts = cp.handle(FrameIn("radio", frames[0], GCT), 5.0)
        resent = [a for _, a in run(cp, 5.0, 400.0, acts) if a.hop_dst is None and a.data == frames[0]]
        assert resent and all(a.hops == hops for a in resent), heard


def test_an_nsp_on_the_broker_confirms_by_radio_when_its_cp_left_the_broker() -> None:
    from nspgw.core.events import IP, RADIO, LinkChanged, PeerPresence

    _, frames = gct_broadcast()
    for cp_online, link in ((True, IP), (False, RADIO)):
        n = node(NSP)
        n.handle(LinkChanged(IP, True), 0.0)
        n.handle(LinkChanged(RADIO, True), 0.0)
        n.handle(PeerPresence(CP, cp_online), 0.0)
        acts = n.handle(FrameIn(IP, frames[0], GCT), 5.0)
        to_cp = [a.link for _, a in run(n, 5.0, 120.0, acts) if a.hop_dst == CP]
        assert to_cp == [link]
