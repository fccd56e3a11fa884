"""Review items 6 and 16: no radio frames pile up while the radio is down; one neighbour cannot fill a relay's
custody store."""

from __future__ import annotations

from core_boxes import CP, GCT, NSP, NSP2, codec, node, tx

from nspgw.core.actions import StoreCustody
from nspgw.core.events import FrameIn, LinkChanged, MessageAccepted
from nspgw.wire.frames import CustodyAckFrame, MessageFrame, MsgId, Precedence


def test_radio_down_makes_no_radio_frames_and_books_no_airtime_then_sends_when_back() -> None:
    n = node(NSP)
    n.handle(LinkChanged("radio", False, "usb weg"), 0.0)
    for s in range(1, 6):
        n.handle(MessageAccepted(MsgId(NSP, s), GCT, Precedence.ROUTINE, b"x" * 100), 0.0)
    t, sent = 0.0, []
    while t < 4 * 3600:
        t = max(n.next_deadline() or t, t + 0.01)
        sent += [a for a in tx(n.handle_timer(t)) if a.link == "radio"]
    assert sent == [] and n.ledger.used_ms(t) == 0
    assert len(n.out) == 5  # nothing expired or given up while waiting (ROUTINE lives 48 h)
    acts = n.handle(LinkChanged("radio", True, "verbonden"), t)
    back = [a for a in tx(acts) if a.link == "radio"]
    t2 = t
    while not back and t2 < t + 60:
        t2 = max(n.next_deadline() or t2, t2 + 0.01)
        back += [a for a in tx(n.handle_timer(t2)) if a.link == "radio"]
    assert back, "messages go out as soon as the radio is back"


def test_one_neighbour_cannot_fill_the_custody_store() -> None:
    cp = node(CP)
    cp.handle_timer(0.0)
    c2 = codec(NSP2)
    taken = 0
    for i in range(600):
        raw = c2.encode(MessageFrame(NSP2, GCT, MsgId(NSP2, i + 1), Precedence.ROUTINE, 7200, b"v" * 120),
                        1000 + i, custody_to=CP, ttl_s=7200)
        taken += sum(isinstance(a, StoreCustody) for a in cp.handle(FrameIn("radio", raw, NSP2), 1.0 + i * 0.01))
    assert 0 < taken < 600
    assert sum(1 for h in cp.held.values() if h.from_hop == NSP2) == taken
    # beyond its quota the neighbour gets no acknowledgement (so it keeps the frames and reports them)
    raw = c2.encode(MessageFrame(NSP2, GCT, MsgId(NSP2, 5000), Precedence.ROUTINE, 7200, b"v"), 9000,
                    custody_to=CP, ttl_s=7200)
    acts = cp.handle(FrameIn("radio", raw, NSP2), 100.0)
    t, acks = 100.0, []
    for _ in range(20):
        t = max(cp.next_deadline() or t, t + 0.01)
        acts += cp.handle_timer(t)
    for a in tx(acts):
        if a.hop_dst == NSP2:
            f = codec(NSP2).decode(a.data).frame
            if isinstance(f, CustodyAckFrame):
                acks += [r.counter for r in f.refs]
    assert 9000 not in acks
    # another neighbour still gets custody
    raw = codec(NSP).encode(MessageFrame(NSP, GCT, MsgId(NSP, 1), Precedence.FLASH, 3600, b"brand"), 50,
                            custody_to=CP, ttl_s=3600)
    assert any(isinstance(a, StoreCustody) for a in cp.handle(FrameIn("radio", raw, NSP), 200.0))
