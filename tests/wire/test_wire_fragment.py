"""Fragmentation up to 8 KiB and beyond, bounded reassembly under floods, selective repeat."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nspgw.crypto.enrol import demo_boxes, make_network
from nspgw.errors import DecodeError
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.codec import FrameCodec
from nspgw.wire.fragment import Reassembler, fragment
from nspgw.wire.frames import MessageFrame, MsgId, Precedence

NET = make_network(demo_boxes(), b"nspgw fragment test seed 000000")
C = {a: FrameCodec(NET.keyring(a)) for a in NET.identities}
GCT, CP_N, NSP_A, NSP_B = BoxAddr(1), BoxAddr(10), BoxAddr(101), BoxAddr(102)


def whole(src: BoxAddr, dst: BoxAddr, body: bytes, seq: int = 1) -> MessageFrame:
    return MessageFrame(src, dst, MsgId(src, seq), Precedence.ROUTINE, 600, body)


@given(st.binary(min_size=0, max_size=9000), st.booleans(), st.randoms(use_true_random=False))
@settings(max_examples=60, deadline=None)
def test_fragments_travel_as_frames_and_reassemble_in_any_order(body: bytes, custody: bool,
                                                                rnd: random.Random) -> None:
    frame = whole(NSP_A, GCT, body)
    parts = fragment(frame, C[NSP_A].max_body(custody=custody))
    assert sum(len(p.body) for p in parts) == len(body)
    raws = [C[NSP_A].encode(p, 10 + i) for i, p in enumerate(parts)]
    rnd.shuffle(raws)
    r = Reassembler()
    results = [r.add(C[GCT].decode(raw).frame) for raw in raws]  # type: ignore[arg-type]
    # ttl_s is not carried end to end (only on a custody hop, in the hop extension)
    assert [replace(x, ttl_s=600) for x in results if x is not None] == [frame]
    assert r.bytes_held == 0 and r.pending() == ()


def test_8_kib_message_and_bulletin_signature_in_last_fragment() -> None:
    body = bytes(random.Random(1).randbytes(8192))
    parts = fragment(whole(NSP_A, GCT, body), C[NSP_A].max_body())
    assert len(parts) == -(-8192 // C[NSP_A].max_body())
    bulletin = C[GCT].sign_bulletin(whole(GCT, BROADCAST_ADDR, body, seq=4))
    bparts = fragment(bulletin, C[GCT].max_body(broadcast=True))
    assert [bool(p.signature) for p in bparts] == [False] * (len(bparts) - 1) + [True]
    r = Reassembler()
    out = None
    for i, p in enumerate(bparts):
        out = r.add(C[NSP_B].decode(C[GCT].encode(p, 100 + i)).frame)  # type: ignore[arg-type]
    assert out is not None and out.body == body
    C[NSP_B].verify_bulletin(out)


def test_selective_repeat_lists_only_what_was_lost() -> None:
    parts = fragment(whole(NSP_A, GCT, bytes(1000)), 100)
    r = Reassembler()
    for p in parts:
        if p.frag_index not in (2, 7):
            assert r.add(p) is None
    assert r.missing(parts[0].msg) == (2, 7)
    assert r.add(parts[7]) is None and r.add(parts[7]) is None  # duplicate ignored
    assert r.missing(parts[0].msg) == (2,)
    assert r.add(parts[2]) is not None
    assert r.missing(parts[0].msg) == ()


def test_flood_of_fragments_stays_within_the_caps() -> None:
    r = Reassembler(max_bytes_per_sender=4096, max_bytes_total=16384)
    rng = random.Random(7)
    for i in range(20_000):
        src = BoxAddr(rng.choice([101, 102, 201, 10]))
        count = rng.randrange(2, 257)
        frame = MessageFrame(src, GCT, MsgId(src, rng.randrange(1 << 20)), Precedence.ROUTINE, 0,
                             bytes(rng.randrange(1, 200)), rng.randrange(count), count)
        r.add(frame)
        assert r.bytes_held <= 16384, i
    # a genuine message still gets through after the flood
    parts = fragment(whole(NSP_B, GCT, bytes(900), seq=1 << 21), 200)
    assert [r.add(p) for p in parts][-1] is not None


def test_one_sender_cannot_evict_another_below_its_share() -> None:
    r = Reassembler(max_bytes_per_sender=1000, max_bytes_total=100_000)
    a = fragment(whole(NSP_A, GCT, bytes(600), seq=1), 200)
    r.add(a[0])
    for i in range(200):  # NSP B floods
        r.add(MessageFrame(NSP_B, GCT, MsgId(NSP_B, i), Precedence.ROUTINE, 0, bytes(150), 0, 3))
    assert r.missing(a[0].msg) == (1, 2)
    assert r.add(a[1]) is None and r.add(a[2]) is not None


def test_contradicting_fragment_is_a_decode_error() -> None:
    parts = fragment(whole(NSP_A, GCT, bytes(500)), 200)
    r = Reassembler()
    r.add(parts[0])
    bad = MessageFrame(NSP_A, GCT, parts[0].msg, Precedence.ROUTINE, 0, b"x", 1, 5)
    with pytest.raises(DecodeError):
        r.add(bad)


def test_too_many_fragments_refused() -> None:
    with pytest.raises(ValueError):
        fragment(whole(NSP_A, GCT, bytes(257 * 10)), 10)
