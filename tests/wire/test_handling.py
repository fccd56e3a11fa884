"""The handling status a meldkamer sends back for a report: codec, limits, rendering."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nspgw.errors import DecodeError, UsageError
from nspgw.wire.content import decode_content, encode_content, render
from nspgw.wire.frames import ContentType
from nspgw.wire.handling import (
    MAX_NOTE,
    HandlingState,
    decode_handling,
    encode_handling,
    make_handling,
)


def test_status_round_trips_through_content_and_reads_in_both_languages() -> None:
    h = make_handling(812, HandlingState.IN_BEHANDELING, "Jansen", "ambulance\nonderweg")
    body = encode_content(ContentType.AFHANDELING, encode_handling(h))
    assert len(body) < 40  # one small frame
    ct, value = decode_content(body)
    assert ct == ContentType.AFHANDELING and isinstance(value, str)
    assert decode_handling(value) == h and h.note == "ambulance onderweg"
    assert render(ct, value, "nl") == "Melding 812: in behandeling (door Jansen)\nambulance onderweg"
    assert render(ct, value, "en").startswith("Report 812: being handled (by Jansen)")


def test_bad_input_is_refused_before_the_wire() -> None:
    with pytest.raises(UsageError):
        make_handling(0, HandlingState.AFGEHANDELD, "Jansen")
    with pytest.raises(UsageError):
        make_handling(5, HandlingState.AFGEHANDELD, "  ")
    with pytest.raises(UsageError):
        make_handling(5, HandlingState.AFGEHANDELD, "Jansen", "x" * (MAX_NOTE + 1))


@given(st.text(max_size=300))
def test_any_text_decodes_or_raises_decode_error(text: str) -> None:
    try:
        h = decode_handling(text)
    except DecodeError:
        return
    assert decode_handling(encode_handling(h)) == h
