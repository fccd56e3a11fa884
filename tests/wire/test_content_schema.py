"""Form schemas as the CLI uses them: every field described, operator input parsed, errors in Dutch."""

from __future__ import annotations

import dataclasses

import pytest

from nspgw.errors import UsageError
from nspgw.wire.content import decode_content, encode_content
from nspgw.wire.forms import (
    FORM_CLASSES,
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
    PowerState,
    RequestItem,
    Sitrap,
    SupplyLevel,
    Unit,
    Urgency,
    ValidHours,
)
from nspgw.wire.forms_schema import SCHEMAS, FieldKind, form_from_values, parse_field
from nspgw.wire.frames import ContentType


@pytest.mark.parametrize("ct", sorted(SCHEMAS))
def test_schema_covers_every_dataclass_field_with_both_languages(ct: ContentType) -> None:
    schema = SCHEMAS[ct]
    names = [f.name for f in dataclasses.fields(FORM_CLASSES[ct])]
    assert [f.name for f in schema.fields] == names
    for spec in schema.fields:
        assert spec.label_nl and spec.label_en and spec.key_nl
        if spec.kind == FieldKind.ENUM:
            assert spec.choices and all(c.label_nl and c.label_en for c in spec.choices)


def test_noodmelding_from_operator_strings() -> None:
    form = form_from_values(
        ContentType.NOODMELDING,
        {
            "incident": "brand",
            "adres": "Kerkstraat 3",
            "positie": "52.12345, 5.12345",
            "slachtoffers": "2 zwaargewond, 1 lichtgewond",
            "melder": "Jan",
            "terugbellen": "06-12345678",
            "tijdstip": "10 min",
            "opmerkingen": "",
        },
    )
    assert form == Noodmelding(
        IncidentType.BRAND, "Kerkstraat 3", Position(5212345, 512345),
        (Casualties(2, Condition.LEVENSBEDREIGEND), Casualties(1, Condition.LICHTGEWOND)),
        "Jan", "06-12345678", MinutesAgo(10),
    )
    assert decode_content(encode_content(ContentType.NOODMELDING, form))[1] == form


def test_sitrap_aanvraag_bulletin_from_operator_strings() -> None:
    s = form_from_values(ContentType.SITRAP, {"status": "Beperkt open", "bezoekers": "42", "stroom": "aggregaat",
                                              "brandstof_uren": "6", "water": "krap", "volgende_rapport": "20:00"})
    assert s == Sitrap(NspStatus.BEPERKT, 42, power=PowerState.AGGREGAAT, fuel_hours=6, water=SupplyLevel.KRAP,
                       next_report=ClockTime(20, 0))
    a = form_from_values(ContentType.AANVRAAG, {"artikelen": "200 liter drinkwater; 20 dekens\n3 gaskachels",
                                                "urgentie": "spoed"})
    assert a == Aanvraag((RequestItem(ItemKind.DRINKWATER, 200, Unit.LITER), RequestItem(ItemKind.DEKENS, 20),
                          RequestItem("gaskachels", 3)), Urgency.SPOED)
    b = form_from_values(ContentType.BULLETIN, {"nummer": "7", "tekst": "Kook water.", "geldig": "12 uur"})
    assert b == Bulletin(7, "Kook water.", ValidHours(12))


@pytest.mark.parametrize(
    ("ct", "values", "field"),
    [
        (ContentType.NOODMELDING, {"adres": "x"}, "incident"),
        (ContentType.NOODMELDING, {"incident": "vuurwerk", "adres": "x"}, "incident"),
        (ContentType.NOODMELDING, {"incident": "brand", "adres": "x", "tijdstip": "gisteren"}, "tijdstip"),
        (ContentType.NOODMELDING, {"incident": "brand", "positie": "hier"}, "positie"),
        (ContentType.NOODMELDING, {"incident": "brand", "adres": "x", "slachtoffers": "veel"}, "slachtoffers"),
        (ContentType.SITRAP, {"status": "open", "bezoekers": "veertig"}, "bezoekers"),
        (ContentType.SITRAP, {"status": "open", "volgende_rapport": "25:00"}, "volgende_rapport"),
        (ContentType.AANVRAAG, {"artikelen": "dekens"}, "artikelen"),
        (ContentType.BULLETIN, {"tekst": "x"}, "nummer"),
        (ContentType.BULLETIN, {"nummer": "1", "tekst": "x", "kleur": "rood"}, "kleur"),
    ],
)
def test_bad_operator_input_names_the_field(ct: ContentType, values: dict[str, str], field: str) -> None:
    with pytest.raises(UsageError, match=field):
        form_from_values(ct, values)


def test_parse_field_empty_means_absent() -> None:
    spec = SCHEMAS[ContentType.SITRAP].field("bezoekers")
    assert parse_field(spec, "  ") is None
    assert parse_field(SCHEMAS[ContentType.NOODMELDING].field("tijdstip"), "13:20") == ClockTime(13, 20)
