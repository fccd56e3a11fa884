"""Review items 2, 4, 12: bulletins loaded at start, bulletin repeats sized for direct messages, forged
bulletin fragments neither fill the disk nor block the genuine bulletin."""

from __future__ import annotations

from pathlib import Path

from core_boxes import CP, GCT, NET, NSP, NSP2, codec, node, tx

from nspgw.core.actions import StoreFragment, StoreInbox, StoreOutboxState
from nspgw.core.events import FrameIn, MessageAccepted
from nspgw.core.lifecycle import MsgState
from nspgw.crypto.seal import seal
from nspgw.ids import BROADCAST_ADDR
from nspgw.store.sqlite import Store
from nspgw.wire.codec import Kind, _header, _plaintext
from nspgw.wire.fragment import fragment
from nspgw.wire.frames import MAX_UNICAST_FRAME, MessageFrame, MsgId, Precedence, ReceiptFrame, receipt_digest

OTHERS = {e.addr for e in NET.roster.entries if e.addr != GCT and not e.revoked}


def test_bulletin_accepted_while_the_daemon_was_down_waits_for_every_box(tmp_path: Path) -> None:
    st = Store.open(tmp_path / "gct.db")
    mid = st.accept_message(GCT, BROADCAST_ADDR, Precedence.IMMEDIATE, b"Evacuatie wijk Noord")
    gct = node(GCT, st.load_state(GCT))
    st.apply(gct.handle_timer(0.0))
    assert gct.out[mid.seq].pending == OTHERS
    # one receipt is one box, not all of them
    receipt = ReceiptFrame(CP, GCT, (mid.seq,), (receipt_digest(b"Evacuatie wijk Noord"),))
    acts = gct.handle(FrameIn("radio", codec(CP).encode(receipt, 5), CP), 1.0)
    st.apply(acts)
    assert MsgState.DELIVERED not in [a.state for a in acts if isinstance(a, StoreOutboxState)]
    assert gct.out[mid.seq].pending == OTHERS - {CP}
    # repeat rounds run (no assertion escapes) until the bulletin expires with a report
    t, repeats = 1.0, 0
    while mid.seq in gct.out:
        t = max(gct.next_deadline() or t, t + 0.01)
        acts = gct.handle_timer(t)
        st.apply(acts)
        repeats += sum(1 for a in tx(acts) if a.hop_dst is not None)
    assert repeats > 0
    assert [r.state for r in st.outbox() if r.seq == mid.seq] == [MsgState.EXPIRED]
    st.close()


def test_bulletin_repeats_to_single_boxes_fit_a_direct_message() -> None:
    gct = node(GCT)
    gct.handle(MessageAccepted(MsgId(GCT, 1), BROADCAST_ADDR, Precedence.IMMEDIATE, "Élk woord telt. ".encode()
                               * 40), 0.0)
    t, repeats = 0.0, []
    for _ in range(400):
        t = max(gct.next_deadline() or t, t + 0.01)
        repeats += [a for a in tx(gct.handle_timer(t)) if a.hop_dst is not None]
        if len({a.hop_dst for a in repeats}) == len(OTHERS) and repeats[-1].hop_dst != NSP:
            break  # one full repeat round, NSP's part complete
    assert repeats
    assert max(len(a.data) for a in repeats) <= MAX_UNICAST_FRAME
    # and the repeats still make the whole bulletin for a box that missed the broadcast
    nsp = node(NSP)
    stored = []
    for a in repeats:
        if a.hop_dst == NSP:
            stored += [x for x in nsp.handle(FrameIn(a.link, a.data, GCT), t) if isinstance(x, StoreInbox)]
    assert stored and stored[0].frame.body.startswith("Élk woord".encode())


def _forged_fragment(seq: int, index: int = 0, count: int = 256, body: bytes = b"J" * 150) -> bytes:
    """What a stolen NSP (network key, no GCT signing key) can make: a fragment claiming src = GCT."""
    nk = NET.keyring(NSP2).network_keys()[0]
    f = MessageFrame(GCT, BROADCAST_ADDR, MsgId(GCT, seq), Precedence.FLASH, 0, body, index, count)
    hdr = _header(Kind.MESSAGE, Precedence.FLASH, False, GCT, BROADCAST_ADDR, seq + 10_000 * index)
    return hdr + seal(nk, hdr, _plaintext(f))


def test_forged_bulletin_fragments_do_not_fill_the_disk() -> None:
    cp = node(CP)
    cp.handle_timer(0.0)
    persisted = 0
    for seq in range(1, 2001):
        acts = cp.handle(FrameIn("radio", _forged_fragment(seq), NSP2), float(seq))
        persisted += sum(len(a.frame.body) for a in acts if isinstance(a, StoreFragment))
    assert persisted <= 64 * 1024


def test_a_forged_fragment_does_not_block_the_genuine_bulletin() -> None:
    gcodec = codec(GCT)
    whole = gcodec.sign_bulletin(MessageFrame(GCT, BROADCAST_ADDR, MsgId(GCT, 7), Precedence.FLASH, 0,
                                              b"Drinkwater bij het gemeentehuis " * 12))
    frags = fragment(whole, gcodec.max_body())
    assert len(frags) > 1
    cp = node(CP)
    cp.handle(FrameIn("radio", _forged_fragment(7, 0, len(frags), b"vals"), NSP2), 0.0)
    stored = []
    for attempt in range(2):  # the broadcast, then the GCT's repeat to this box
        for i, f in enumerate(frags):
            data = gcodec.encode(f, 100 + attempt * 50 + i)
            stored += [a for a in cp.handle(FrameIn("radio", data, GCT), 1.0 + attempt * 100 + i)
                       if isinstance(a, StoreInbox)]
    assert [a.frame.body for a in stored] == [whole.body]
