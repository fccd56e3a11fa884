"""Free-text content: round trips, smallest choice, size caps, golden bytes, compression floors."""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nspgw.errors import DecodeError, UsageError
from nspgw.wire.compress import (
    MAX_TEXT_BYTES,
    TextMethod,
    compress_text,
    decompress_text,
    deflate_dictionary_v1,
    ppm_model_v1,
)
from nspgw.wire.compress_deflate import deflate
from nspgw.wire.content import decode_content, encode_content, render
from nspgw.wire.frames import ContentType

CORPUS = Path("/work/shared/corpus/messages-sample.jsonl")
unicode_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=600)
dutchish = st.text(alphabet=st.sampled_from("aeiounstrdlgkmhvbwjpzcf ,.:-0123456789ABDEGHKLMNPRSTVWZé\n!?()/"))


def heldout() -> list[str]:
    text = resources.files("nspgw.wire.dictionary").joinpath("heldout_v1.txt").read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line]


def ratio(texts: list[str]) -> float:
    raw = sum(len(t.encode("utf-8")) for t in texts)
    return sum(len(encode_content(ContentType.TEXT, t)) for t in texts) / raw


@given(st.sampled_from(list(ContentType)), unicode_text)
@settings(max_examples=300, deadline=None)
def test_any_unicode_round_trips_and_is_never_larger_than_raw_plus_one(ct: ContentType, text: str) -> None:
    data = encode_content(ct, text)
    assert decode_content(data) == (ct, text)
    assert len(data) <= len(text.encode("utf-8")) + 1


@given(unicode_text)
@settings(max_examples=200, deadline=None)
def test_every_method_round_trips_any_unicode(text: str) -> None:
    # compress_text picks the smallest, so random Unicode rarely reaches the model: force each method.
    assert ppm_model_v1().decode(ppm_model_v1().encode(text), len(text)) == text
    assert decompress_text(TextMethod.DEFLATE_V1, deflate(text.encode(), deflate_dictionary_v1())) == text


@given(dutchish)
@settings(max_examples=200, deadline=None)
def test_dutch_like_text_round_trips(text: str) -> None:
    assert decode_content(encode_content(ContentType.TEXT, text)) == (ContentType.TEXT, text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a",
        "\x00",
        "🔥🔥🔥 brand! 🚒",
        "Ünïcödé ĳ Œ ß ﬁ 中文 العربية ‮rtl‬",
        "tab\there\r\nwindows line",
        "\U0010ffff\U00010000",
        "x" * 3000,
    ],
)
def test_edge_texts_round_trip_with_every_method(text: str) -> None:
    for method, payload in [compress_text(text), (TextMethod.RAW, text.encode())]:
        assert decompress_text(method, payload) == text
    assert decode_content(encode_content(ContentType.TEXT, text))[1] == text


def test_cap_is_enforced_in_utf8_bytes() -> None:
    at_cap = "é" * (MAX_TEXT_BYTES // 2)
    assert decode_content(encode_content(ContentType.TEXT, at_cap))[1] == at_cap
    with pytest.raises(UsageError, match="te lang"):
        encode_content(ContentType.TEXT, at_cap + "x")


def test_lone_surrogate_is_a_usage_error_not_a_traceback() -> None:
    with pytest.raises(UsageError, match="geen geldige tekst"):
        encode_content(ContentType.TEXT, "ab\ud800")


def test_typical_message_picks_the_model_and_beats_half() -> None:
    text = "Graag 40 dekens en 200 liter drinkwater naar NSP Zuid, vandaag voor 18:00. Aggregaat draait nog."
    data = encode_content(ContentType.TEXT, text)
    assert data[0] == TextMethod.PPM_V1
    assert len(data) < 0.5 * len(text.encode())


def test_render_of_text_is_the_text() -> None:
    assert render(ContentType.TEXT, "Hallo\nwereld") == "Hallo\nwereld"


def test_compression_floor_on_heldout_set() -> None:
    texts = heldout()
    assert len(texts) >= 40
    r = ratio(texts)
    assert r <= 0.40, f"held-out ratio regressed to {r:.3f}"


@pytest.mark.skipif(not CORPUS.exists(), reason="shared sample corpus not present on this machine")
def test_compression_floor_on_sample_corpus() -> None:
    texts = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    r = ratio(texts)
    assert r <= 0.40, f"corpus ratio regressed to {r:.3f}"


def test_speed_of_a_1000_char_message() -> None:
    text = " ".join(heldout())[:1000]
    encode_content(ContentType.TEXT, "warm-up")  # builds the model once per process
    best = 1.0
    for _ in range(3):
        t0 = time.perf_counter()
        decode_content(encode_content(ContentType.TEXT, text))
        best = min(best, time.perf_counter() - t0)
    assert best < 0.05, f"encode+decode of 1000 chars took {best * 1000:.1f} ms"


def test_decoder_accepts_raw_and_deflate_written_by_hand() -> None:
    assert decode_content(bytes([0x00]) + "hé".encode()) == (ContentType.TEXT, "hé")
    assert decode_content(bytes([0x40]) + b"prose sitrap") == (ContentType.SITRAP, "prose sitrap")
    with pytest.raises(DecodeError):
        decode_content(bytes([0x00, 0xFF]))
