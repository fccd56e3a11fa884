"""Decoder invariant (h11-style): any bytes, whole, truncated or mutated, give a value or DecodeError."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nspgw.errors import DecodeError
from nspgw.wire.compress import MAX_TEXT_BYTES
from nspgw.wire.content import decode_content, encode_content
from nspgw.wire.forms import (
    Aanvraag,
    Bulletin,
    Casualties,
    ClockTime,
    Condition,
    IncidentType,
    ItemKind,
    MinutesAgo,
    Noodmelding,
    NspStatus,
    Position,
    RequestItem,
    Sitrap,
    SupplyLevel,
    validate,
)
from nspgw.wire.frames import ContentType

SAMPLES = [
    encode_content(ContentType.TEXT, "Graag 40 dekens naar NSP Zuid. Aggregaat draait, diesel voor 6 uur."),
    encode_content(ContentType.TEXT, "x" * 400),  # DEFLATE wins on long repetition
    encode_content(ContentType.TEXT, "🔥 héél"),
    encode_content(
        ContentType.NOODMELDING,
        Noodmelding(IncidentType.BRAND, "Kerkstraat 1", Position(5212345, 512345),
                    (Casualties(2, Condition.GEWOND),), "Jan", "NSP Zuid", MinutesAgo(5), "rook"),
    ),
    encode_content(ContentType.SITRAP, Sitrap(NspStatus.OPEN, 40, 3, water=SupplyLevel.KRAP, needs="dekens",
                                               next_report=ClockTime(20, 0))),
    encode_content(ContentType.AANVRAAG, Aanvraag((RequestItem(ItemKind.DIESEL, 40), RequestItem("kachels", 2)))),
    encode_content(ContentType.BULLETIN, Bulletin(3, "Kook kraanwater.", ClockTime(18, 0))),
]


def check(data: bytes) -> None:
    try:
        ct, value = decode_content(data)
    except DecodeError:
        return
    assert isinstance(ct, ContentType)
    if isinstance(value, str):
        assert len(value.encode("utf-8")) <= MAX_TEXT_BYTES
    else:
        validate(value)  # a decoded form is always a valid form
        assert decode_content(encode_content(ct, value)) == (ct, value)


@given(st.binary(max_size=300))
@settings(max_examples=1500, deadline=None)
def test_random_bytes(data: bytes) -> None:
    check(data)


@given(st.sampled_from(SAMPLES), st.data())
@settings(max_examples=1500, deadline=None)
def test_mutated_samples(sample: bytes, data: st.DataObject) -> None:
    buf = bytearray(sample)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    check(bytes(buf))


def test_every_truncation_and_extension_of_samples() -> None:
    for sample in SAMPLES:
        for n in range(len(sample) + 1):
            check(sample[:n])
        check(sample + b"\x00")
        check(sample + b"\xff\xff")


def test_largest_claimed_ppm_length_is_bounded_in_time() -> None:
    # Header: TEXT + PPM v1, then a character count at the cap and a few garbage bytes.
    data = bytes([0x02, 0x80, 0x80, 0x01]) + b"\x5a" * 8
    t0 = time.perf_counter()
    check(data)
    assert time.perf_counter() - t0 < 2.0
    check(bytes([0x02, 0x81, 0x80, 0x01]) + b"\x5a")  # one more than the cap: DecodeError


def test_every_decoded_form_is_canonical() -> None:
    # Re-encoding what was decoded gives the same bytes: no two encodings of one form (reserved bits).
    for sample in SAMPLES[3:]:
        ct, form = decode_content(sample)
        assert encode_content(ct, form) == sample
    nood = bytearray(SAMPLES[3])
    nood[4] |= 0x40  # header, 2-byte presence varint, incident, then the position: bit 38 is reserved
    try:
        decode_content(bytes(nood))
    except DecodeError as exc:
        assert "positie" in str(exc)
    else:
        raise AssertionError("reserved position bit accepted")


def test_unknown_versions_say_update_this_box() -> None:
    for head in (0x03, 0x0F, 0x11, 0x1F, 0xC0, 0xE2, 0x10):  # unknown methods, content types, form on TEXT
        try:
            decode_content(bytes([head]) + b"abc")
        except DecodeError as exc:
            assert "nieuwere" in str(exc) or "onbekend" in str(exc)
        else:
            raise AssertionError(f"header {head:#x} decoded")


@pytest.mark.slow
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1000, max_size=MAX_TEXT_BYTES // 4))
@settings(max_examples=30, deadline=None)
def test_any_unicode_up_to_the_cap_round_trips(text: str) -> None:
    # 4 bytes per character at most: every text here is within the 16 KiB cap.
    data = encode_content(ContentType.TEXT, text)
    assert decode_content(data) == (ContentType.TEXT, text)
    assert len(data) <= len(text.encode("utf-8")) + 1


@pytest.mark.slow
@given(st.sampled_from(SAMPLES), st.data())
@settings(max_examples=5000, deadline=None)
def test_mutated_samples_long_run(sample: bytes, data: st.DataObject) -> None:
    test_mutated_samples.hypothesis.inner_test(sample, data)  # type: ignore[attr-defined]
