"""Time on air against values worked by hand from Semtech AN1200.13 (docs/simulation-model.md shows the sums)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from meshtastic.protobuf import mesh_pb2

from nspgw.core.airtime import (
    PRESETS,
    meshtastic_frame_len,
    preset,
    slot_time_ms,
    time_on_air_ms,
)
from nspgw.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "payload_len", "expected_ms"),
    [
        ("LONG_FAST", 255, 2156.544),  # 20.25*8.192 + (8 + 47*5)*8.192
        ("LONG_FAST", 50, 641.024),  # 165.888 + 58*8.192
        ("LONG_FAST", 16, 354.304),  # 165.888 + 23*8.192
        ("SHORT_TURBO", 255, 101.952),  # 20.25*0.256 + (8 + 74*5)*0.256
        ("SHORT_TURBO", 50, 26.432),  # 5.184 + 83*0.256
        ("LONG_SLOW", 255, 14295.04),  # LDRO: 20.25*32.768 + (8 + 51*8)*32.768
        ("LONG_SLOW", 50, 3547.136),  # 663.552 + 88*32.768
        ("LONG_MODERATE", 50, 2035.712),  # LDRO (16.384 ms symbols): 331.776 + 104*16.384
        ("MEDIUM_FAST", 100, 293.376),  # 41.472 + 123*2.048
    ],
)
def test_time_on_air_matches_hand_computation(name: str, payload_len: int, expected_ms: float) -> None:
    assert time_on_air_ms(payload_len, name) == pytest.approx(expected_ms, abs=1e-6)


def test_full_long_fast_frame_is_about_2_2_seconds() -> None:
    assert 2100 < time_on_air_ms(255, "LONG_FAST") < 2200


def test_preset_table_and_ldro() -> None:
    lf = preset("LONG_FAST")
    assert (lf.bandwidth_khz, lf.spreading_factor, lf.coding_rate) == (250.0, 11, 5)
    assert not lf.low_data_rate_optimize
    assert preset("LONG_SLOW").low_data_rate_optimize
    assert preset("LONG_MODERATE").low_data_rate_optimize  # 16.384 ms > 16 ms
    assert PRESETS["VERY_LONG_SLOW"].deprecated
    assert slot_time_ms("LONG_FAST") == pytest.approx(2.5 * 8.192 + 7.6)


def test_unknown_preset_and_bad_length_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="LONG_FASTER"):
        time_on_air_ms(10, "LONG_FASTER")
    with pytest.raises(ValueError):
        time_on_air_ms(256, "LONG_FAST")


@given(st.sampled_from(sorted(PRESETS)), st.integers(0, 254))
def test_time_on_air_never_decreases_with_length(name: str, n: int) -> None:
    assert time_on_air_ms(n + 1, name) >= time_on_air_ms(n, name)


@given(
    payload=st.binary(max_size=233),
    portnum=st.integers(0, 511),
    want_response=st.booleans(),
    request_id=st.integers(0, 2**32 - 1),
    reply_id=st.integers(0, 2**32 - 1),
    emoji=st.integers(0, 2**32 - 1),
    bitfield=st.none() | st.integers(0, 2**32 - 1),
)
def test_frame_len_equals_protobuf_size_plus_header(payload: bytes, portnum: int, want_response: bool,
                                                    request_id: int, reply_id: int, emoji: int,
                                                    bitfield: int | None) -> None:
    data = mesh_pb2.Data(portnum=portnum, payload=payload, want_response=want_response, request_id=request_id,
                         reply_id=reply_id, emoji=emoji)
    if bitfield is not None:
        data.bitfield = bitfield
    got = meshtastic_frame_len(len(payload), portnum, want_response=want_response, request_id=request_id,
                               reply_id=reply_id, emoji=emoji, bitfield=bitfield)
    assert got == 16 + data.ByteSize()


def test_port_311_fits_231_payload_bytes_in_one_lora_frame() -> None:
    # header 16 + portnum 3 + payload (1 + 2 + n) + bitfield 2 <= 255  ->  n <= 231
    assert meshtastic_frame_len(231, 311) == 255
    assert meshtastic_frame_len(233, 311) == 257
