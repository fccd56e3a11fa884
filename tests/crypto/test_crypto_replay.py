"""ReplayWindow: exact semantics against a reference model, and serialisation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nspgw.crypto.replay import ReplayWindow
from nspgw.errors import DecodeError


@given(st.lists(st.integers(0, 2000), max_size=300), st.sampled_from([8, 64, 256]))
@settings(max_examples=300, deadline=None)
def test_window_matches_reference_model(counters: list[int], size: int) -> None:
    w = ReplayWindow(size)
    seen: set[int] = set()
    highest = -1
    for c in counters:
        expect = c not in seen and c > highest - size
        assert w.accept(c) == expect, (c, highest)
        if expect:
            seen.add(c)
            highest = max(highest, c)
        w = ReplayWindow.from_bytes(w.to_bytes())  # restart after every frame: nothing is lost


def test_out_of_order_within_window_and_too_old() -> None:
    w = ReplayWindow(64)
    assert w.accept(100) and w.accept(98) and w.accept(99)
    assert not w.accept(98)
    assert w.accept(37) and not w.accept(36)  # 100 - 64 = 36 is outside
    assert w.accept(0xFFFFFFFF) and not w.accept(2**32)


@pytest.mark.parametrize("data", [b"", b"\x57", b"\x00" * 16, b"\x57\x00\x00" + bytes(5),
                                  b"\x57\x00\x08" + bytes(5) + bytes(7)])
def test_corrupt_serialisation_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        ReplayWindow.from_bytes(data)
