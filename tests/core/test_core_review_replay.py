"""Review items 3, 8, 9, 10: old or replayed frames have no effect; a restored sender's reused numbers are
never confirmed; sync hints are bounded and only believed when they can be true."""

from __future__ import annotations

from pathlib import Path

from core_boxes import CP, GCT, NSP, NSP2, codec, node, tx

from nspgw.core.actions import Notice, StoreCounter, StoreCustody, StoreInbox, StoreSeqJump, Transmit
from nspgw.core.config import NodeState
from nspgw.core.events import FrameIn, MessageAccepted
from nspgw.core.node import Node
from nspgw.ids import BoxAddr
from nspgw.store.sqlite import Store
from nspgw.wire.fragment import fragment
from nspgw.wire.frames import (
    BeaconFrame,
    CustodyAckFrame,
    FragmentRequestFrame,
    FrameRef,
    MessageFrame,
    MsgId,
    Precedence,
    ReceiptFrame,
    SyncFrame,
)


def run(n: Node, t: float, until: float, store: Store | None = None) -> tuple[list[Transmit], float]:
    out: list[Transmit] = []
    while t < until:
        t = max(n.next_deadline() or t, t + 0.01)
        acts = n.handle_timer(t)
        if store is not None:
            store.apply(acts)
        out += tx(acts)
    return out, t


def frames_for(dst: BoxAddr, sent: list[Transmit]) -> list[object]:
    return [codec(dst).decode(a.data).frame for a in sent]


# ---------------------------------------------------------------------------------------------- item 3
def test_restored_sender_reusing_a_number_for_a_longer_message_is_not_confirmed() -> None:
    gct = node(GCT)
    gct.handle_timer(0.0)
    c = codec(NSP)
    old = c.encode(MessageFrame(NSP, GCT, MsgId(NSP, 5), Precedence.FLASH, 0, b"oud bericht"), 100)
    assert any(isinstance(a, StoreInbox) for a in gct.handle(FrameIn("radio", old, NSP), 1.0))
    first, _ = run(gct, 1.0, 9.0)  # the genuine receipt for the old message goes out
    assert any(isinstance(f, ReceiptFrame) and 5 in f.seqs for f in frames_for(NSP, first))
    whole = MessageFrame(NSP, GCT, MsgId(NSP, 5), Precedence.FLASH, 0, b"NIEUW: " + b"n" * 400)
    t, notices, sent = 10.0, [], []
    for i, f in enumerate(fragment(whole, c.max_body())):
        acts = gct.handle(FrameIn("radio", c.encode(f, 200 + i), NSP), t)
        notices += [a.kind for a in acts if isinstance(a, Notice)]
        sent += tx(acts)
        t += 1
    sent += run(gct, t, t + 60)[0]
    receipts = [f for f in frames_for(NSP, sent) if isinstance(f, ReceiptFrame)]
    assert not [r for r in receipts if 5 in r.seqs]  # would confirm a message the GCT never stored
    assert "seq_conflict" in notices


def test_a_genuine_repeat_of_a_fragmented_message_is_confirmed_again() -> None:
    gct = node(GCT)
    gct.handle_timer(0.0)
    c = codec(NSP)
    whole = MessageFrame(NSP, GCT, MsgId(NSP, 5), Precedence.FLASH, 0, b"lang bericht " * 40)
    frags = fragment(whole, c.max_body())
    t, ctr = 1.0, 100
    for attempt in range(2):  # the receipt of the first copy was lost: the sender sends it again
        sent = []
        for f in frags:
            sent += tx(gct.handle(FrameIn("radio", c.encode(f, ctr), NSP), t))
            ctr, t = ctr + 1, t + 1
        more, t = run(gct, t, t + 30)
        sent += more
        assert any(isinstance(f, ReceiptFrame) and 5 in f.seqs for f in frames_for(NSP, sent)), attempt
    assert gct.stats.get("seq_conflicts", 0) == 0


# ---------------------------------------------------------------------------------------------- item 8
def test_relay_does_not_take_custody_of_a_replayed_frame_again(tmp_path: Path) -> None:
    st = Store.open(tmp_path / "cp.db")
    cp = node(CP, st.load_state(CP))
    raw = codec(NSP).encode(MessageFrame(NSP, GCT, MsgId(NSP, 1), Precedence.ROUTINE, 7200, b"x" * 50),
                            1000, custody_to=CP, ttl_s=7200)
    st.apply(cp.handle(FrameIn("radio", raw, NSP), 0.0))
    assert len(cp.held) == 1
    ack = codec(GCT).encode(CustodyAckFrame(GCT, CP, (FrameRef(NSP, 1000),)), 50)
    st.apply(cp.handle(FrameIn("radio", ack, GCT), 100.0))
    assert not cp.held
    acts = cp.handle(FrameIn("radio", raw, NSP), 200.0)  # an attacker replays the recorded bytes
    st.apply(acts)
    assert not [a for a in acts if isinstance(a, StoreCustody)] and not cp.held
    # also after a restart of the relay
    cp2 = node(CP, st.load_state(CP))
    acts = cp2.handle(FrameIn("radio", raw, NSP), 0.0)
    assert not [a for a in acts if isinstance(a, StoreCustody)] and not cp2.held
    sent, _ = run(cp2, 0.0, 600.0)
    assert raw not in [a.data for a in sent] and not [a for a in sent if a.hop_dst == GCT]
    st.close()


# ---------------------------------------------------------------------------------------------- item 9
def test_a_replayed_beacon_does_not_make_a_dead_box_look_alive() -> None:
    cp = node(CP)
    beacon = codec(NSP).encode(BeaconFrame(NSP, 1, 0, 0), 500)
    cp.handle(FrameIn("radio", beacon, NSP), 0.0)
    later = cp.cfg.heard_fresh_s + 1.0
    assert not cp.is_fresh(NSP, later)
    cp.handle(FrameIn("radio", beacon, NSP), later)  # NSP went dark; its recorded beacon is replayed
    assert not cp.is_fresh(NSP, later)


def test_a_replayed_old_frame_gets_no_sync_hint_and_no_receipt_even_after_a_restart(tmp_path: Path) -> None:
    st = Store.open(tmp_path / "gct.db")
    gct = node(GCT, st.load_state(GCT))
    old = codec(NSP).encode(MessageFrame(NSP, GCT, MsgId(NSP, 1), Precedence.ROUTINE, 0, b"a"), 100)
    st.apply(gct.handle(FrameIn("radio", old, NSP), 0.1))
    st.apply(gct.handle(FrameIn("radio", codec(NSP).encode(ReceiptFrame(NSP, GCT, (9,), (bytes(2),)), 300), NSP), 1.0))
    _, t = run(gct, 1.0, 60.0, st)
    gct2 = node(GCT, st.load_state(GCT))  # the GCT restarts: nothing in memory knows the frame any more
    st.apply(gct2.handle_timer(t))
    sent: list[Transmit] = []
    for k in range(2):
        st.apply(acts := gct2.handle(FrameIn("radio", old, NSP), t + 400 * k))
        more, t = run(gct2, t + 400 * k, t + 400 * k + 60, st)
        sent += tx(acts) + more
    kinds = [type(f).__name__ for f in frames_for(NSP, [a for a in sent if a.hop_dst == NSP])]
    assert "SyncFrame" not in kinds and "ReceiptFrame" not in kinds, kinds
    st.close()


def test_a_replayed_fragment_request_does_not_trigger_retransmissions() -> None:
    req = codec(GCT).encode(FragmentRequestFrame(GCT, NSP, MsgId(NSP, 1), (0, 1, 2)), 40)  # recorded once

    def sent_with(replays: int) -> list[int]:
        nsp = node(NSP)
        nsp.peer_heard(GCT, "radio", None, None, 0.0, [])
        nsp.handle(MessageAccepted(MsgId(NSP, 1), GCT, Precedence.ROUTINE, b"z" * 600), 0.0)
        t, counts = 100.0, []
        for k in range(3):
            n = len(tx(nsp.handle(FrameIn("radio", req, GCT), t))) if k <= replays else 0
            sent, t = run(nsp, t, t + 600)
            counts.append(n + len(sent))
        return counts

    honest = sent_with(0)  # the request once; then only the sender's own retries
    assert sent_with(2) == honest, "each replay of the request made the sender retransmit"

# --------------------------------------------------------------------------------------------- item 10
def test_a_sync_hint_cannot_exhaust_the_frame_counter() -> None:
    nsp = node(NSP)
    nsp.handle_timer(0.0)
    evil = codec(NSP2).encode(SyncFrame(NSP2, NSP, 0xFFFFFFFF), 5)
    acts = nsp.handle(FrameIn("radio", evil, NSP2), 1.0)
    assert all(a.reserved < 1 << 31 for a in acts if isinstance(a, StoreCounter))
    assert nsp.counter < 1 << 31
    acts = nsp.handle(MessageAccepted(MsgId(NSP, 1), GCT, Precedence.FLASH, b"brand"), 2.0)
    assert tx(acts) and not [a for a in acts if isinstance(a, Notice)]


def test_insider_sync_hints_do_not_burn_message_numbers() -> None:
    nsp = node(NSP)
    nsp.handle_timer(0.0)
    jumps = 0
    for i in range(5):
        f = codec(NSP2).encode(SyncFrame(NSP2, NSP, nsp.counter), 100 + i)
        jumps += sum(isinstance(a, StoreSeqJump) for a in nsp.handle(FrameIn("radio", f, NSP2), 10.0 + i))
    assert jumps <= 1


def test_a_genuine_hint_after_a_restore_still_moves_counter_and_numbers_once() -> None:
    nsp = node(NSP, NodeState(counter_reserved=100))
    acts = nsp.handle(MessageAccepted(MsgId(NSP, 1), GCT, Precedence.FLASH, b"na herstel"), 0.0)
    assert tx(acts)
    hint = codec(GCT).encode(SyncFrame(GCT, NSP, 5000), 7)
    acts = nsp.handle(FrameIn("radio", hint, GCT), 1.0)
    assert nsp.counter > 5000 and sum(isinstance(a, StoreSeqJump) for a in acts) == 1
    assert [a.kind for a in acts if isinstance(a, Notice)] == ["counter_resync"]
