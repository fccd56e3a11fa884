"""Issue 15, findings 2 and 6: bulletin fragments (network key only) forged by an enrolled box cannot block
the genuine bulletin, and partial messages pushed out of memory leave the store too (real codec, core and
SQLite store)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core_boxes import GCT, NET, NSP, NSP2, codec, node

from nspgw.core.actions import StoreInbox
from nspgw.core.events import FrameIn
from nspgw.crypto.seal import seal
from nspgw.ids import BROADCAST_ADDR
from nspgw.store.sqlite import Store
from nspgw.wire.codec import Kind, _header, _plaintext
from nspgw.wire.fragment import Reassembler, fragment
from nspgw.wire.frames import MessageFrame, MsgId, Precedence


def forged_fragment(seq: int, count: int, index: int, counter: int) -> bytes:
    """A bulletin fragment in the GCT's name, sealed by NSP2 with the network key it holds."""
    net = NET.keyring(NSP2).network_keys()[0]
    header = _header(Kind.MESSAGE, Precedence.FLASH, False, GCT, BROADCAST_ADDR, counter)
    frag = MessageFrame(GCT, BROADCAST_ADDR, MsgId(GCT, seq), Precedence.FLASH, 0, b"x" * 40, index, count)
    return header + seal(net, header, _plaintext(frag))


def genuine_bulletin(seq: int) -> list[bytes]:
    c = codec(GCT)
    whole = c.sign_bulletin(MessageFrame(GCT, BROADCAST_ADDR, MsgId(GCT, seq), Precedence.FLASH, 3600,
                                         b"EVACUEER wijk Noord via de Ringweg naar sporthal De Bron. " * 8))
    frags = fragment(whole, c.max_body(broadcast=True))
    assert len(frags) == 3
    return [c.encode(f, 1000 + i) for i, f in enumerate(frags)]


def test_forged_partials_in_the_gcts_name_do_not_block_a_genuine_bulletin() -> None:
    nsp = node(NSP)
    nsp.handle_timer(0.0)
    for seq in range(1, 201):  # one-fragment "partials" claiming the GCT's next message numbers
        nsp.handle(FrameIn("ip", forged_fragment(seq, 2, 0, 10 * seq), NSP2), 1.0)
    nsp.handle(FrameIn("ip", forged_fragment(5, 3, 1, 9999), NSP2), 1.5)  # same count, other bytes
    delivered = []
    for i, raw in enumerate(genuine_bulletin(5)):
        delivered += [a for a in nsp.handle(FrameIn("radio", raw, GCT), 2.0 + i) if isinstance(a, StoreInbox)]
    assert [a.frame.msg for a in delivered] == [MsgId(GCT, 5)]  # on the first pass, not "on no repeat"


def test_forged_last_fragment_costs_at_most_one_repeat() -> None:
    """A forgery that arrives in the middle of the genuine transmission spoils that pass (the signature over
    the whole fails); the GCT's repeat, not overtaken, is delivered."""
    nsp = node(NSP)
    nsp.handle_timer(0.0)
    raws = genuine_bulletin(6)
    got = []
    nsp.handle(FrameIn("radio", raws[0], GCT), 1.0)
    nsp.handle(FrameIn("ip", forged_fragment(6, 3, 1, 50), NSP2), 1.5)
    got += [a for a in nsp.handle(FrameIn("radio", raws[2], GCT), 2.0) if isinstance(a, StoreInbox)]
    assert not got
    c = codec(GCT)
    for i, raw in enumerate(genuine_bulletin(6)):  # the repeat: same fragments, new counters
        frame = codec(NSP).decode(raw).frame
        assert isinstance(frame, MessageFrame)
        raw = c.encode(frame, 2000 + i)
        got += [a for a in nsp.handle(FrameIn("radio", raw, GCT), 3.0 + i) if isinstance(a, StoreInbox)]
    assert [a.frame.msg for a in got] == [MsgId(GCT, 6)]


def test_partials_pushed_out_of_memory_leave_the_fragments_table(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "nsp.db")
    nsp = node(NSP, store.load_state(NSP))
    nsp.reasm = Reassembler(max_bytes_per_sender=2_000)
    store.apply(nsp.handle_timer(0.0))
    c = codec(NSP2)
    for seq in range(1, 101):  # 100 messages of which only the first fragment ever arrives
        whole = MessageFrame(NSP2, NSP, MsgId(NSP2, seq), Precedence.ROUTINE, 3600, b"y" * 500)
        first = fragment(whole, c.max_body())[0]
        store.apply(nsp.handle(FrameIn("radio", c.encode(first, seq), NSP2), 1.0 + seq))
    store.close()
    rows = sqlite3.connect(tmp_path / "nsp.db").execute("SELECT COUNT(*) FROM fragments").fetchone()[0]
    assert rows <= 2_000 // 190 + 1, rows  # what the reassembler still holds, not all 100


def test_forged_bulletin_partials_expire() -> None:
    nsp = node(NSP)
    nsp.handle_timer(0.0)
    for seq in range(1, 51):
        nsp.handle(FrameIn("ip", forged_fragment(seq, 2, 0, seq), NSP2), 1.0)
    assert len(nsp.reasm.pending()) == 50
    nsp.handle(FrameIn("ip", forged_fragment(99, 2, 0, 99), NSP2), 7 * 3600.0)  # hours later
    assert nsp.reasm.pending() == (MsgId(GCT, 99),)
