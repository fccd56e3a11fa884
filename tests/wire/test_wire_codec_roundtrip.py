"""Codec round-trips for every frame kind, unicast, custody hops and bulletins (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nspgw.crypto.enrol import demo_boxes, make_network
from nspgw.errors import AuthError, DecodeError
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.codec import (
    CUSTODY_OVERHEAD,
    FIXED_OVERHEAD,
    MAX_HELD_BOXES,
    MAX_SEQ,
    FrameCodec,
    ttl_from_byte,
    ttl_to_byte,
)
from nspgw.wire.frames import (
    MAX_BROADCAST_FRAME,
    MAX_UNICAST_FRAME,
    BeaconFrame,
    BulletinHeldFrame,
    CustodyAckFrame,
    ExpiredFrame,
    FragmentRequestFrame,
    FrameRef,
    MessageFrame,
    MsgId,
    Precedence,
    ProbeFrame,
    ReceiptFrame,
    SyncFrame,
)

NET = make_network(demo_boxes(), b"nspgw test network seed 0000000")
CODECS = {a: FrameCodec(NET.keyring(a)) for a in NET.identities}
GCT, CP_N, CP_Z, NSP_A, NSP_B = (BoxAddr(a) for a in (1, 10, 11, 101, 102))

u32 = st.integers(0, 0xFFFFFFFF)
addr = st.sampled_from([GCT, CP_N, CP_Z, NSP_A, NSP_B, BoxAddr(201)])
prec = st.sampled_from(list(Precedence))


def message(src: BoxAddr, dst: BoxAddr, body: bytes, seq: int = 1, p: Precedence = Precedence.ROUTINE) -> MessageFrame:
    return MessageFrame(src, dst, MsgId(src, seq), p, 0, body)


@given(
    st.tuples(addr, addr).filter(lambda t: t[0] != t[1]),
    st.integers(0, MAX_SEQ),
    prec,
    st.binary(max_size=197),
    u32,
    st.integers(0, 254).flatmap(lambda n: st.tuples(st.just(n + 2), st.integers(0, n + 1))) | st.just((1, 0)),
)
@settings(max_examples=300, deadline=None)
def test_message_roundtrip(pair: tuple[BoxAddr, BoxAddr], seq: int, p: Precedence, body: bytes, counter: int,
                           frag: tuple[int, int]) -> None:
    src, dst = pair
    count, index = frag
    frame = MessageFrame(src, dst, MsgId(src, seq), p, 0, body, index, count)
    raw = CODECS[src].encode(frame, counter)
    assert len(raw) <= (MAX_BROADCAST_FRAME if dst == BROADCAST_ADDR else MAX_UNICAST_FRAME)
    got = CODECS[dst].decode(raw)
    assert got.frame == frame
    assert got.header.counter == counter and got.header.precedence == p and got.hop_src == src
    assert got.raw == raw


control_frames = st.one_of(
    st.builds(lambda s: ReceiptFrame(NSP_A, GCT, tuple(x for x, _ in s), tuple(d for _, d in s)),
              st.lists(st.tuples(u32, st.binary(min_size=2, max_size=2)), max_size=30)),
    st.builds(lambda r: CustodyAckFrame(NSP_A, GCT, r),
              st.lists(st.builds(FrameRef, addr, u32), max_size=20).map(tuple)),
    st.builds(lambda o, s, m: FragmentRequestFrame(NSP_A, GCT, MsgId(o, s), m), addr, st.integers(0, MAX_SEQ),
              st.lists(st.integers(0, 255), max_size=100).map(tuple)),
    st.builds(lambda c: ExpiredFrame(NSP_A, GCT, c), st.lists(u32, max_size=30).map(tuple)),
    st.builds(lambda f: SyncFrame(NSP_A, GCT, f), u32),
    st.builds(lambda n, r: ProbeFrame(NSP_A, GCT, n, r), st.integers(0, 2**64 - 1), st.booleans()),
    st.builds(lambda o, s, d, b: BulletinHeldFrame(NSP_A, GCT, MsgId(o, s), d, tuple(sorted(b))),
              addr, st.integers(0, MAX_SEQ), st.binary(min_size=2, max_size=2),
              st.sets(st.integers(1, 4094).map(BoxAddr), min_size=1, max_size=MAX_HELD_BOXES)),
)


@given(control_frames, u32)
@settings(max_examples=300, deadline=None)
def test_control_frames_roundtrip(frame: object, counter: int) -> None:
    raw = CODECS[NSP_A].encode(frame, counter)  # type: ignore[arg-type]
    assert CODECS[GCT].decode(raw).frame == frame


@given(u32, st.integers(0, 2**32), st.integers(0, 255), u32)
@settings(max_examples=100, deadline=None)
def test_beacon_roundtrip_any_receiver(version: int, queued: int, flags: int, counter: int) -> None:
    frame = BeaconFrame(NSP_A, version, queued, flags)
    raw = CODECS[NSP_A].encode(frame, counter)
    for a in (GCT, CP_N, NSP_B):
        assert CODECS[a].decode(raw).frame == frame


@given(st.binary(max_size=140), st.integers(0, MAX_SEQ), prec)
@settings(max_examples=50, deadline=None)
def test_single_frame_bulletin_is_signed_and_opens_everywhere(body: bytes, seq: int, p: Precedence) -> None:
    frame = message(GCT, BROADCAST_ADDR, body, seq, p)
    raw = CODECS[GCT].encode(frame, 1)
    for a in (CP_N, NSP_A, NSP_B):
        got = CODECS[a].decode(raw).frame
        assert isinstance(got, MessageFrame)
        assert got.body == body and len(got.signature) == 64


@given(st.binary(max_size=200), u32, st.integers(0, 600_000))
@settings(max_examples=100, deadline=None)
def test_custody_chain_delivers_unchanged(body: bytes, counter: int, ttl: int) -> None:
    """NSP A → CP Noord (custody) → CP Zuid (custody) → GCT: the sealed frame is forwarded untouched."""
    frame = message(NSP_A, GCT, body)
    hop1 = CODECS[NSP_A].encode(frame, counter, custody_to=CP_N, ttl_s=ttl)
    assert len(hop1) == len(CODECS[NSP_A].encode(frame, counter)) + CUSTODY_OVERHEAD - FIXED_OVERHEAD
    at_cp = CODECS[CP_N].decode(hop1)
    assert at_cp.frame is None and at_cp.header.custody and at_cp.header.ttl_s == ttl_from_byte(ttl_to_byte(ttl))
    assert at_cp.raw == CODECS[NSP_A].encode(frame, counter)
    hop2 = CODECS[CP_N].forward(at_cp.raw, custody_to=CP_Z, ttl_s=ttl // 2)
    at_cp2 = CODECS[CP_Z].decode(hop2, hop_src=CP_N)
    assert at_cp2.frame is None and at_cp2.hop_src == CP_N and at_cp2.raw == at_cp.raw
    last = CODECS[CP_Z].forward(at_cp2.raw, custody_to=GCT, ttl_s=ttl // 4)
    got = CODECS[GCT].decode(last, hop_src=CP_Z)
    assert isinstance(got.frame, MessageFrame) and got.frame.body == frame.body and got.frame.msg == frame.msg
    assert got.hop_src == CP_Z and got.header.custody  # the last hop is tagged too
    bare = CODECS[CP_Z].forward(at_cp2.raw, custody_to=None, ttl_s=None)
    with pytest.raises(AuthError, match="without a hop tag"):  # under another box's name: a replay
        CODECS[GCT].decode(bare, hop_src=CP_Z)


@given(st.integers(0, 10**7))
def test_ttl_byte_never_extends_and_is_close(ttl: int) -> None:
    back = ttl_from_byte(ttl_to_byte(ttl))
    assert back <= ttl
    if ttl <= 31 << 14:
        assert back >= ttl * 15 / 16 - 1


def test_overhead_budget_in_bytes() -> None:
    body = b"x" * 50
    direct = CODECS[NSP_A].encode(message(NSP_A, GCT, body, seq=5), 1)
    custody = CODECS[NSP_A].encode(message(NSP_A, GCT, body, seq=5), 1, custody_to=CP_N, ttl_s=3600)
    # 1 byte of message fields (seq 5, not fragmented) + the fixed envelope
    assert len(direct) - len(body) - 1 == FIXED_OVERHEAD == 16
    assert len(custody) - len(body) - 1 == CUSTODY_OVERHEAD == 20
    beacon = CODECS[NSP_A].encode(BeaconFrame(NSP_A, 1, 0), 1)
    assert len(beacon) - 3 == FIXED_OVERHEAD


def test_max_body_fills_but_never_exceeds_a_packet() -> None:
    for custody in (False, True):
        n = CODECS[NSP_A].max_body(custody=custody)
        frame = MessageFrame(NSP_A, GCT, MsgId(NSP_A, MAX_SEQ), Precedence.ROUTINE, 0, bytes(n), 255, 256)
        raw = CODECS[NSP_A].encode(frame, 1, custody_to=CP_N if custody else None, ttl_s=60)
        assert len(raw) == MAX_UNICAST_FRAME == 219
        with pytest.raises(ValueError):
            CODECS[NSP_A].encode(
                MessageFrame(NSP_A, GCT, MsgId(NSP_A, MAX_SEQ), Precedence.ROUTINE, 0, bytes(n + 1), 255, 256),
                1, custody_to=CP_N if custody else None, ttl_s=60)
    n = CODECS[GCT].max_body(broadcast=True)
    frame = MessageFrame(GCT, BROADCAST_ADDR, MsgId(GCT, MAX_SEQ), Precedence.ROUTINE, 0, bytes(n), 254, 256)
    assert len(CODECS[GCT].encode(frame, 1)) == MAX_BROADCAST_FRAME == 231


def test_encode_refuses_frames_this_box_may_not_send() -> None:
    with pytest.raises(ValueError):
        CODECS[NSP_A].encode(message(NSP_B, GCT, b"x"), 1)  # not my frame
    with pytest.raises(ValueError):
        CODECS[NSP_A].encode(message(NSP_A, GCT, b"x"), 2**32)
    with pytest.raises(ValueError):
        CODECS[NSP_A].encode(ReceiptFrame(NSP_A, BROADCAST_ADDR, (1,)), 1)


def test_bulletin_held_refuses_what_has_no_single_encoding() -> None:
    """Boxes strictly ascending, 1..MAX_HELD_BOXES of them, a 2-byte digest: anything else is not encoded, and
    bytes that would decode to it (a zero gap, no box) are refused."""
    ok = BulletinHeldFrame(CP_N, GCT, MsgId(GCT, 7), b"ab", (NSP_A, NSP_B))
    for bad in (ok.__class__(CP_N, GCT, MsgId(GCT, 7), b"ab", (NSP_B, NSP_A)),
                ok.__class__(CP_N, GCT, MsgId(GCT, 7), b"ab", (NSP_A, NSP_A)),
                ok.__class__(CP_N, GCT, MsgId(GCT, 7), b"ab", ()),
                ok.__class__(CP_N, GCT, MsgId(GCT, 7), b"abc", (NSP_A,)),
                ok.__class__(CP_N, GCT, MsgId(GCT, 7), b"ab",
                             tuple(BoxAddr(a) for a in range(1, MAX_HELD_BOXES + 2)))):
        with pytest.raises(ValueError):
            CODECS[CP_N].encode(bad, 1)
    assert CODECS[GCT].decode(CODECS[CP_N].encode(ok, 1)).frame == ok
    from nspgw.wire import codec as wc

    for plaintext in (bytes([4]) + bytes([0, 1, 7]) + b"ab",  # no box
                      bytes([4]) + bytes([0, 1, 7]) + b"ab" + bytes([101, 0])):  # a zero gap: the same box twice
        raw = wc._header(wc.Kind.CONTROL, Precedence.ROUTINE, False, CP_N, GCT, 9)
        sealed = raw + wc.seal(NET.keyring(CP_N).pair_keys(CP_N, GCT), raw, plaintext)
        with pytest.raises(DecodeError):
            CODECS[GCT].decode(sealed)


def test_a_full_bulletin_report_fits_one_unicast_frame() -> None:
    # as many 2-byte gaps (≥ 128) as fit below the highest address, the rest 1-byte
    wide = [128 * k for k in range(1, 32)]
    boxes = tuple(BoxAddr(a) for a in [*wide, *range(wide[-1] + 1, wide[-1] + 1 + MAX_HELD_BOXES - len(wide))])
    assert len(boxes) == MAX_HELD_BOXES and boxes[-1] <= 4094
    frame = BulletinHeldFrame(CP_N, GCT, MsgId(GCT, MAX_SEQ), b"ab", boxes)
    assert len(CODECS[CP_N].encode(frame, 0xFFFFFFFF, custody_to=CP_Z, ttl_s=3600)) <= MAX_UNICAST_FRAME
