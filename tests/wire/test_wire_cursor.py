"""Varints and the bounded reader: one encoding per value, DecodeError (never IndexError) on short input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nspgw.errors import DecodeError
from nspgw.wire.cursor import Reader, unzigzag, varint, zigzag


@given(st.integers(0, 2**64 - 1))
def test_varint_round_trip(v: int) -> None:
    data = varint(v)
    r = Reader(data + b"\x99")
    assert r.varint() == v and r.remaining == 1
    assert len(data) == max(1, -(-v.bit_length() // 7))


@given(st.integers(-(2**40), 2**40))
def test_zigzag_round_trip(v: int) -> None:
    assert unzigzag(zigzag(v)) == v and zigzag(v) >= 0


@pytest.mark.parametrize("data", [b"\x80\x00", b"\xff\x00", b"\x80\x80\x00", b"\xff" * 11, b"\x80",
                                  b"\xff" * 9 + b"\x7f"])
def test_non_minimal_overlong_or_truncated_varints_are_rejected(data: bytes) -> None:
    with pytest.raises(DecodeError):
        Reader(data).varint()


@given(st.binary(max_size=20), st.integers(0, 30))
def test_reads_past_the_end_are_decode_errors(data: bytes, n: int) -> None:
    r = Reader(data)
    if n > len(data):
        with pytest.raises(DecodeError):
            r.take(n)
    else:
        assert r.take(n) == data[:n]
    with pytest.raises(DecodeError):
        Reader(b"").u8()
    with pytest.raises(DecodeError):
        Reader(b"ab").end()
