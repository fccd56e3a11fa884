"""Golden vectors: the exact bytes of content encoding v1.

Boxes in the field decode these bytes for ever. If a test here fails after a change, the change breaks
compatibility: restore the old behaviour and add a new method/layout number instead
(docs/content-encoding.md, "Versioning"). DEFLATE output is only checked for decoding: zlib builds
(zlib, zlib-ng) may emit different yet equally valid streams.
"""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest

from nspgw.wire.content import decode_content, encode_content
from nspgw.wire.forms import (
    Aanvraag,
    Bulletin,
    Casualties,
    ClockTime,
    Condition,
    Form,
    IncidentType,
    ItemKind,
    MinutesAgo,
    Noodmelding,
    NspStatus,
    Position,
    PowerState,
    RequestItem,
    Sitrap,
    SupplyLevel,
    Unit,
    Urgency,
)
from nspgw.wire.frames import ContentType

GOLDEN_TEXT = [
    (ContentType.TEXT, "ok", "006f6b"),
    (ContentType.TEXT, "Test test, hoort iemand mij?", "021ca9d084348ab9ea80"),
    (ContentType.TEXT, "Graag 40 dekens en drinkwater naar NSP Zuid, z.s.m. 🔥", "0235859387e81103d3dd285ca59bc0"),
    (ContentType.SITRAP, "Sitrap 14:00: open, 35 bezoekers, water krap.", "422d50bbbf0e9a7b0838f8"),
]
GOLDEN_DEFLATE = [
    (ContentType.TEXT, "Test test, hoort iemand mij?", "010b014d7e978017f26580933d3449e76666d90300"),
    (ContentType.TEXT, "Stroom is uitgevallen. " * 6, "010b861f1484b483137eb2233d8501"),
]
GOLDEN_FORMS: list[tuple[Form, str]] = [
    (
        Noodmelding(
            IncidentType.BRAND, "Dorpsstraat 12, Elsterwijk", Position(5212345, 512345),
            (Casualties(2, Condition.LEVENSBEDREIGEND), Casualties(1, Condition.LICHTGEWOND)),
            "Jan", "NSP Zuid", MinutesAgo(10), "rook uit dak",
        ),
        "30fe030019ebcb3d7902110b151a03083136fdca51507a28da7529d9c835a26d89114fbf08",
    ),
    (
        Sitrap(NspStatus.OPEN, 42, 5, PowerState.AGGREGAAT, 6, SupplyLevel.VOLDOENDE, SupplyLevel.KRAP, None,
               "dekens", ClockTime(20, 0)),
        "507e060b2a0506b00906e8dd",
    ),
    (
        Aanvraag((RequestItem(ItemKind.DRINKWATER, 200, Unit.LITER), RequestItem("zaklampen", 20)), Urgency.SPOED,
                 "NSP Bieb"),
        "70060421c80100140911f0f5f27863f7b8",
    ),
    (Bulletin(7, "Drinkwater vanaf 12:00 op het marktplein.", ClockTime(18, 0)), "900607b80829390d7747edb9b06280"),
]
DICTIONARY_SHA256 = {"nl_v1.txt": "2c4b7fe7423288ac8107c40a2070ebf6c2817356eee3f3de91b303e6c23ce4ae"}


@pytest.mark.parametrize(("ct", "text", "hexbytes"), GOLDEN_TEXT)
def test_golden_text(ct: ContentType, text: str, hexbytes: str) -> None:
    assert encode_content(ct, text).hex() == hexbytes
    assert decode_content(bytes.fromhex(hexbytes)) == (ct, text)


@pytest.mark.parametrize(("ct", "text", "hexbytes"), GOLDEN_DEFLATE)
def test_golden_deflate_decodes(ct: ContentType, text: str, hexbytes: str) -> None:
    assert decode_content(bytes.fromhex(hexbytes)) == (ct, text)


@pytest.mark.parametrize(("form", "hexbytes"), GOLDEN_FORMS)
def test_golden_forms(form: Form, hexbytes: str) -> None:
    assert encode_content(form.content_type, form).hex() == hexbytes
    assert decode_content(bytes.fromhex(hexbytes)) == (form.content_type, form)


@pytest.mark.parametrize("name", sorted(DICTIONARY_SHA256))
def test_shipped_dictionaries_never_change(name: str) -> None:
    data = resources.files("nspgw.wire.dictionary").joinpath(name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == DICTIONARY_SHA256[name]
