"""Review items 1, 5, 7, 13: receipts, custody acks and expiry reports count only from the box that can give
them; a late receipt still ends in `delivered`; finished messages leave no per-frame bookkeeping behind."""

from __future__ import annotations

import pytest
from core_boxes import CP, GCT, NSP, NSP2, codec, node, tx

from nspgw.core.actions import Action, DropCustody, Notice, StoreOutboxState, StoreReceipt, Transmit
from nspgw.core.events import FrameIn, MessageAccepted
from nspgw.core.lifecycle import MsgState
from nspgw.core.node import Node
from nspgw.ids import BoxAddr
from nspgw.wire.frames import (
    CustodyAckFrame,
    ExpiredFrame,
    FrameRef,
    MessageFrame,
    MsgId,
    Precedence,
    ReceiptFrame,
    receipt_digest,
)


def counter_of(t: Transmit) -> int:
    return int.from_bytes(t.data[4:8], "big")


def test_receipt_from_a_box_that_is_not_the_destination_is_rejected() -> None:
    nsp = node(NSP)
    nsp.handle(MessageAccepted(MsgId(NSP, 5), GCT, Precedence.FLASH, b"brand"), 0.0)
    rejected = nsp.stats["rejected"]
    forged = codec(NSP2).encode(ReceiptFrame(NSP2, NSP, (5,), (receipt_digest(b"brand"),)), 77)
    acts = nsp.handle(FrameIn("radio", forged, NSP2), 1.0)
    assert not [a for a in acts if isinstance(a, StoreReceipt | StoreOutboxState)]
    assert 5 in nsp.out and nsp.stats["rejected"] > rejected
    genuine = codec(GCT).encode(ReceiptFrame(GCT, NSP, (5,), (receipt_digest(b"brand"),)), 78)
    acts = nsp.handle(FrameIn("radio", genuine, GCT), 2.0)
    assert StoreReceipt(5, GCT) in acts and 5 not in nsp.out
    assert [a.state for a in acts if isinstance(a, StoreOutboxState)] == [MsgState.DELIVERED]


def _expire(nsp: Node, seq: int) -> float:
    t = 0.0
    while seq in nsp.out:
        t = max(nsp.next_deadline() or t, t + 0.01)
        nsp.handle_timer(t)
    return t


def test_receipt_after_expiry_moves_the_message_to_delivered_with_a_notice() -> None:
    nsp = node(NSP)
    nsp.handle(MessageAccepted(MsgId(NSP, 1), GCT, Precedence.FLASH, b"brand", ttl_s=120), 0.0)
    t = _expire(nsp, 1)
    late = codec(GCT).encode(ReceiptFrame(GCT, NSP, (1,), (receipt_digest(b"brand"),)), 9)
    acts = nsp.handle(FrameIn("radio", late, GCT), t + 600)
    assert StoreReceipt(1, GCT) in acts
    assert [a.state for a in acts if isinstance(a, StoreOutboxState)] == [MsgState.DELIVERED]
    assert [a for a in acts if isinstance(a, Notice)], "the operator was told VERLOPEN and must hear otherwise"
    # and a late receipt from anyone else still changes nothing
    nsp2 = node(NSP)
    nsp2.handle(MessageAccepted(MsgId(NSP, 1), GCT, Precedence.FLASH, b"brand", ttl_s=120), 0.0)
    t2 = _expire(nsp2, 1)
    forged = codec(NSP2).encode(ReceiptFrame(NSP2, NSP, (1,), (receipt_digest(b"brand"),)), 9)
    assert not [a for a in nsp2.handle(FrameIn("radio", forged, NSP2), t2 + 600)
                if isinstance(a, StoreOutboxState | StoreReceipt | Notice)]


def _held_at_cp() -> Node:
    cp = node(CP)
    raw = codec(NSP).encode(MessageFrame(NSP, GCT, MsgId(NSP, 1), Precedence.FLASH, 3600, b"x"), 1000,
                            custody_to=CP, ttl_s=3600)
    cp.handle(FrameIn("radio", raw, NSP), 0.0)
    assert len(cp.held) == 1
    return cp


def test_custody_ack_from_a_box_we_did_not_hand_the_frame_to_is_ignored() -> None:
    cp = _held_at_cp()
    evil = codec(NSP2).encode(CustodyAckFrame(NSP2, CP, (FrameRef(NSP, 1000),)), 5)
    acts = cp.handle(FrameIn("radio", evil, NSP2), 1.0)
    assert not [a for a in acts if isinstance(a, DropCustody)] and len(cp.held) == 1
    # the destination's acknowledgement does release it
    ok = codec(GCT).encode(CustodyAckFrame(GCT, CP, (FrameRef(NSP, 1000),)), 6)
    acts = cp.handle(FrameIn("radio", ok, GCT), 2.0)
    assert [a for a in acts if isinstance(a, DropCustody)] and not cp.held


def test_expiry_report_counts_only_from_the_custodian_that_acknowledged_the_frame() -> None:
    nsp = node(NSP)
    acts = nsp.handle(MessageAccepted(MsgId(NSP, 1), GCT, Precedence.FLASH, b"brand"), 0.0)
    first = tx(acts)[0]
    assert first.hop_dst == CP  # GCT not heard: handed to the CP for custody
    ctr = counter_of(first)
    evil = codec(NSP2).encode(ExpiredFrame(NSP2, NSP, (ctr,)), 6)
    acts = nsp.handle(FrameIn("radio", evil, NSP2), 1.0)
    assert not [a for a in acts if isinstance(a, Notice)] and 1 in nsp.out
    # also the CP cannot give up on a frame it never acknowledged ...
    early = codec(CP).encode(ExpiredFrame(CP, NSP, (ctr,)), 7)
    acts = nsp.handle(FrameIn("radio", early, CP), 2.0)
    assert 1 in nsp.out
    # ... but once it took custody, its expiry report is the truth
    nsp.handle(FrameIn("radio", codec(CP).encode(CustodyAckFrame(CP, NSP, (FrameRef(NSP, ctr),)), 8), CP), 3.0)
    assert nsp.out[1].state == MsgState.HELD_BY_RELAY
    acts = nsp.handle(FrameIn("radio", codec(CP).encode(ExpiredFrame(CP, NSP, (ctr,)), 9), CP), 4.0)
    assert 1 not in nsp.out and any(isinstance(a, Notice) and a.kind == "expired" for a in acts)


def test_finished_messages_leave_no_frame_counters_in_memory() -> None:
    nsp = node(NSP)
    rc = codec(GCT)
    t = 0.0
    for seq in range(1, 201):
        acts = nsp.handle(MessageAccepted(MsgId(NSP, seq), GCT, Precedence.PRIORITY, b"x" * 30), t)
        assert tx(acts)
        receipt = ReceiptFrame(GCT, NSP, (seq,), (receipt_digest(b"x" * 30),))
        nsp.handle(FrameIn("radio", rc.encode(receipt, seq), GCT), t + 1)
        t += 5
    assert not nsp.out
    assert len(nsp.frames_sent) == 0


def _receipts_to_relay(acts: list[Action]) -> list[int]:
    """Counters of the frames for the NSP that the GCT hands to the CP with custody (here: only receipts)."""
    out = []
    for t in tx(acts):
        if t.hop_dst != CP:
            continue
        rec = codec(CP).decode(t.data, GCT)
        if rec.header.dst == NSP:  # not the GCT's custody ack to the CP
            assert rec.header.custody and rec.header.src == GCT
            out.append(rec.header.counter)
    return out


def test_receipt_handed_to_a_relay_is_sent_again_until_the_relay_takes_custody() -> None:
    """A receipt lost on its way to the relay (relay killed, frame lost on air) is repeated on the
    message timers, not left to the originator's slow re-check; the relay's custody ack ends the repeats."""
    gct = node(GCT)
    raw = codec(NSP).encode(MessageFrame(NSP, GCT, MsgId(NSP, 7), Precedence.PRIORITY, 0, b"nood"), 40,
                            custody_to=CP, ttl_s=3600)
    relayed = codec(CP).forward(codec(CP).decode(raw, NSP).raw, custody_to=GCT, ttl_s=3600)
    gct.handle(FrameIn("radio", relayed, CP), 0.0)
    sends: list[tuple[float, int]] = []
    t = 0.0
    while t < 400.0:
        t = max(gct.next_deadline() or t + 1.0, t + 0.01)
        sends += [(t, c) for c in _receipts_to_relay(gct.handle_timer(t))]
    assert len(sends) >= 3, f"the receipt went to the relay only {len(sends)}×; nothing acknowledged it"
    assert sends[1][0] - sends[0][0] >= gct.cfg.ack_timeout_s * 0.5  # paced like message retries, not a burst
    ack = codec(CP).encode(CustodyAckFrame(CP, GCT, (FrameRef(GCT, sends[-1][1]),)), 900)
    gct.handle(FrameIn("radio", ack, CP), t + 1.0)
    later = []
    t2 = t + 1.0
    while t2 < t + 4000.0:
        t2 = max(gct.next_deadline() or t2 + 1.0, t2 + 0.01)
        later += _receipts_to_relay(gct.handle_timer(t2))
    assert later == [], "the relay took custody: no further copies"


def _receipts_to(gct: Node, hop: BoxAddr, acts: list[Action], t: float = 0.0) -> tuple[float, list[Transmit]]:
    sent = [a for a in tx(acts) if a.hop_dst == hop]
    while not sent and t < 600.0:
        t = max(gct.next_deadline() or t + 1.0, t + 0.01)
        sent = [a for a in tx(gct.handle_timer(t)) if a.hop_dst == hop]
    return t, sent


@pytest.mark.parametrize(("src", "mesh_hops", "hop", "want_ack"), [
    (NSP, 0, NSP, False),  # heard straight: hop limit 0, no firmware ack (it would flood), repaired end to end
    (NSP, 1, CP, False),  # heard through a relay, has a CP: custody along the tree, the CP acknowledges
    (CP, 1, CP, True),  # heard through a relay, no CP above it: straight, the firmware's want_ack covers it
])
def test_receipt_goes_by_the_tree_or_asks_the_firmware_for_an_ack_and_is_resent_after_a_nak(
        src: BoxAddr, mesh_hops: int, hop: BoxAddr, want_ack: bool) -> None:
    """Straight to the originator over Meshtastic rebroadcasts nothing of ours acknowledges a receipt: through
    the originator's CP with custody when it has one, else with the firmware's want_ack (its MAX_RETRANSMIT
    makes the core send it again). To a radio heard straight no want_ack (the firmware would raise hop limit 0
    to its default and the neighbourhood would flood it); a NAK still makes the core send it again."""
    from nspgw.core.events import RadioSendResult

    gct = node(GCT)
    raw = codec(src).encode(MessageFrame(src, GCT, MsgId(src, 3), Precedence.PRIORITY, 0, b"water"), 12)
    acts = gct.handle(FrameIn("radio", raw, src, mesh_hops=mesh_hops), 0.0)
    assert not any(a.want_ack for a in tx(acts)), "beacons and other frames do not ask for firmware acks"
    t, sent = _receipts_to(gct, hop, acts)
    (receipt,) = sent
    assert receipt.want_ack == want_ack and receipt.link == "radio"
    gct.handle(RadioSendResult(receipt.tx_ref, False, "MAX_RETRANSMIT"), t + 30.0)
    _, again = _receipts_to(gct, hop, [], t)
    assert again and again[0].want_ack == want_ack
    got = codec(hop).decode(again[0].data, GCT)
    if hop != src:  # the custodian passes it on, with its own hop tag
        got = codec(src).decode(codec(hop).forward(got.raw, custody_to=src, ttl_s=60), hop)
    frame = got.frame
    assert isinstance(frame, ReceiptFrame) and frame.seqs == (3,)
