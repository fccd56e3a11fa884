"""Golden vectors: the exact bytes of content encoding v1.

Boxes in the field decode these bytes for ever. If a test here fails after a change, the change breaks
compatibility: restore the old behaviour and add a new method/layout number instead
(docs/content-encoding.md, "Versioning"). DEFLATE output is only checked for decoding: zlib builds
(zlib, zlib-ng) may emit different yet equally valid streams.
"""

from __future__ import annotations

import hashlib

import pytest

from nspgw.wire.compress import training_text
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
    (ContentType.TEXT, "Test test, hoort iemand mij?", "021cb3cc649cdece99c0"),
    (ContentType.TEXT, "Graag 40 dekens en drinkwater naar NSP Zuid, z.s.m. 🔥", "023592aaaa8f49ea60cbeab70207bc"),
    (ContentType.SITRAP, "Sitrap 14:00: open, 35 bezoekers, water krap.", "422d431b4c6f81de0177f8"),
]
GOLDEN_DEFLATE = [
    (ContentType.TEXT, "Test test, hoort iemand mij?", "010b01ad402d01df4d93013ec901d6b3caccb20700"),
    (ContentType.TEXT, "Stroom is uitgevallen. " * 6, "010b862f0844ba9418be01919ec200"),
]
GOLDEN_FORMS: list[tuple[Form, str]] = [
    (
        Noodmelding(
            IncidentType.BRAND, "Dorpsstraat 12, Elsterwijk", Position(5212345, 512345),
            (Casualties(2, Condition.LEVENSBEDREIGEND), Casualties(1, Condition.LICHTGEWOND)),
            "Jan", "NSP Zuid", MinutesAgo(10), "rook uit dak",
        ),
        "30fe030019ebcb3d7902110b151a03083155ea8ee518a08d1ad289eb380ef7c30d74ed5580",
    ),
    (
        Sitrap(NspStatus.OPEN, 42, 5, PowerState.AGGREGAAT, 6, SupplyLevel.VOLDOENDE, SupplyLevel.KRAP, None,
               "dekens", ClockTime(20, 0)),
        "507e060b2a0506b00906ee7340",
    ),
    (
        Aanvraag((RequestItem(ItemKind.DRINKWATER, 200, Unit.LITER), RequestItem("zaklampen", 20)), Urgency.SPOED,
                 "NSP Bieb"),
        "70060421c80100140911f42391fb5da0",
    ),
    (Bulletin(7, "Drinkwater vanaf 12:00 op het marktplein.", ClockTime(18, 0)), "900607b8082956f1d2ed0ce69425"),
]
DICTIONARY_SHA256 = {"nl_v1.txt": "2fd17a651b1f6298b079842ae0d648c17fc388b2524ca094fb6da30993102ab3"}


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
    data = training_text(name).encode("utf-8")
    assert hashlib.sha256(data).hexdigest() == DICTIONARY_SHA256[name]
