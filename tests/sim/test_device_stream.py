"""Stream framing as firmware's StreamAPI: frames survive any chunking; garbage and bad headers resync."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from meshtastic.protobuf import mesh_pb2

from nspgw.sim.device import MAX_TO_FROM_RADIO_SIZE, FrameDecoder, encode_frame

bodies = st.lists(st.binary(min_size=0, max_size=MAX_TO_FROM_RADIO_SIZE), min_size=1, max_size=5)


def _frame(body: bytes) -> bytes:
    return bytes([0x94, 0xC3, len(body) >> 8, len(body) & 0xFF]) + body


@given(bodies, st.data())
def test_frames_survive_any_chunking(frames: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(_frame(b) for b in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    dec = FrameDecoder()
    out: list[bytes] = []
    prev = 0
    for c in [*cuts, len(stream)]:
        out += dec.feed(stream[prev:c])
        prev = c
    assert out == frames
    assert dec.pending == 0


@given(st.binary(max_size=300), bodies)
def test_garbage_before_frames_is_skipped(garbage: bytes, frames: list[bytes]) -> None:
    # Garbage without the magic pair, like the library's 32 wake bytes 0xC3 and debug text.
    garbage = garbage.replace(b"\x94", b"")
    dec = FrameDecoder()
    out = dec.feed(b"\xc3" * 32 + garbage + b"".join(_frame(b) for b in frames))
    assert out == frames
    assert dec.skipped_bytes == 32 + len(garbage)


def test_oversized_header_resyncs_to_next_frame() -> None:
    dec = FrameDecoder()
    good = _frame(b"hello")
    assert dec.feed(bytes([0x94, 0xC3, 0x02, 0x01]) + b"junk" + good) == [b"hello"]
    assert dec.oversized_headers == 1


def test_cut_frame_waits_then_reset_drops_it() -> None:
    dec = FrameDecoder()
    assert dec.feed(_frame(b"abcdef")[:6]) == []
    assert dec.pending == 6
    dec.reset()
    assert dec.feed(_frame(b"x")) == [b"x"]


def test_encode_frame_round_trips() -> None:
    msg = mesh_pb2.ToRadio(want_config_id=42)
    [body] = FrameDecoder().feed(encode_frame(msg))
    assert mesh_pb2.ToRadio.FromString(body).want_config_id == 42
