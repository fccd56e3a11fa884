"""Structured forms: validation messages, hypothesis round trips, rendering in Dutch and English."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nspgw.errors import UsageError
from nspgw.wire.content import decode_content, encode_content, render
from nspgw.wire.forms import (
    MAX_CASUALTIES,
    MAX_FUEL_HOURS,
    MAX_MINUTES_AGO,
    MAX_PEOPLE,
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
    validate,
)
from nspgw.wire.frames import ContentType

field_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
nonblank = field_text.filter(lambda s: s.strip() != "")
clock = st.builds(ClockTime, st.integers(0, 23), st.integers(0, 59))
position = st.builds(Position, st.integers(-90 * 10**5, 90 * 10**5), st.integers(-180 * 10**5, 180 * 10**5))
nl_position = st.builds(Position, st.integers(50 * 10**5, 54 * 10**5), st.integers(3 * 10**5, 8 * 10**5))


@st.composite
def noodmeldingen(draw: st.DrawFn) -> Noodmelding:
    address = draw(field_text)
    pos = draw(st.none() | position | nl_position)
    if not address.strip() and pos is None:
        pos = draw(nl_position)
    conditions = draw(st.lists(st.sampled_from(Condition), unique=True, max_size=5))
    return Noodmelding(
        incident=draw(st.sampled_from(IncidentType)),
        address=address,
        position=pos,
        casualties=tuple(Casualties(draw(st.integers(1, MAX_CASUALTIES)), c) for c in conditions),
        reporter=draw(field_text),
        callback=draw(field_text),
        time=draw(st.none() | clock | st.builds(MinutesAgo, st.integers(0, MAX_MINUTES_AGO))),
        remarks=draw(field_text),
    )


levels = st.none() | st.sampled_from(SupplyLevel)
people = st.none() | st.integers(0, MAX_PEOPLE)
sitraps = st.builds(
    Sitrap,
    status=st.sampled_from(NspStatus),
    visitors=people,
    staff=people,
    power=st.none() | st.sampled_from(PowerState),
    fuel_hours=st.none() | st.integers(0, MAX_FUEL_HOURS),
    water=levels,
    food=levels,
    medical=levels,
    needs=field_text,
    next_report=st.none() | clock,
    remarks=field_text,
)
items = st.builds(
    RequestItem, st.sampled_from(ItemKind) | nonblank, st.integers(1, 1_000_000), st.sampled_from(Unit)
)
aanvragen = st.builds(
    Aanvraag,
    items=st.lists(items, min_size=1, max_size=32).map(tuple),
    urgency=st.sampled_from(Urgency),
    deliver_to=field_text,
    remarks=field_text,
)
bulletins = st.builds(
    Bulletin,
    number=st.integers(0, 1_000_000),
    text=nonblank,
    valid=st.none() | clock | st.builds(ValidHours, st.integers(1, 720)),
)
any_form = noodmeldingen() | sitraps | aanvragen | bulletins


@given(any_form)
@settings(max_examples=400, deadline=None)
def test_any_valid_form_round_trips(form: Noodmelding | Sitrap | Aanvraag | Bulletin) -> None:
    data = encode_content(form.content_type, form)
    assert decode_content(data) == (form.content_type, form)
    for lang in ("nl", "en"):
        assert render(form.content_type, form, lang)


EXAMPLE = Noodmelding(
    incident=IncidentType.BRAND,
    address="Dorpsstraat 12, Elsterwijk",
    position=Position.from_degrees(52.12345, 5.12345),
    casualties=(Casualties(2, Condition.LEVENSBEDREIGEND), Casualties(1, Condition.LICHTGEWOND)),
    reporter="Piet de Boer",
    callback="06-12345678",
    time=MinutesAgo(10),
    remarks="Rook uit het dak, buren zijn buiten.",
)


def test_noodmelding_renders_in_dutch_and_english() -> None:
    assert render(ContentType.NOODMELDING, EXAMPLE) == (
        "NOODMELDING – Brand\n"
        "Locatie: Dorpsstraat 12, Elsterwijk (52.12345, 5.12345)\n"
        "Slachtoffers: 2 zwaargewond/levensbedreigend, 1 lichtgewond\n"
        "Tijdstip: 10 min geleden\n"
        "Melder: Piet de Boer\n"
        "Terugbellen: 06-12345678\n"
        "Opmerkingen: Rook uit het dak, buren zijn buiten."
    )
    en = render(ContentType.NOODMELDING, EXAMPLE, lang="en")
    assert en.startswith("EMERGENCY REPORT – Fire\nLocation: Dorpsstraat 12")
    assert "Casualties: 2 seriously injured/life-threatening, 1 slightly injured" in en


def test_sitrap_aanvraag_bulletin_render() -> None:
    s = Sitrap(NspStatus.BEPERKT, visitors=42, power=PowerState.AGGREGAAT, fuel_hours=6, water=SupplyLevel.KRAP,
               next_report=ClockTime(20, 0))
    assert render(ContentType.SITRAP, s) == (
        "SITRAP – beperkt open\nBezoekers: 42\nStroom: aggregaat, brandstof voor 6 uur\nVoorraad: water krap\n"
        "Volgende rapport: 20:00"
    )
    a = Aanvraag((RequestItem(ItemKind.DEKENS, 50), RequestItem("veldbedden met kussen", 10)), Urgency.SPOED,
                 deliver_to="NSP Bibliotheek")
    assert render(ContentType.AANVRAAG, a, "en") == (
        "REQUEST – Urgency: immediate\nRequested:\n- 50 pcs blankets\n- 10 pcs veldbedden met kussen\n"
        "Deliver to: NSP Bibliotheek"
    )
    b = Bulletin(7, "Kook kraanwater.", ValidHours(12))
    assert render(ContentType.BULLETIN, b) == "BULLETIN nr. 7 – Geldig 12 uur\nKook kraanwater."


def test_form_is_much_smaller_than_its_rendering() -> None:
    data = encode_content(ContentType.NOODMELDING, EXAMPLE)
    assert len(data) <= 0.35 * len(render(ContentType.NOODMELDING, EXAMPLE).encode())


def test_worldwide_position_costs_two_bytes_more_than_dutch() -> None:
    nl = encode_content(ContentType.NOODMELDING, Noodmelding(IncidentType.OVERIG, position=Position(5212345, 512345)))
    world = encode_content(ContentType.NOODMELDING, Noodmelding(IncidentType.OVERIG, position=Position(-3386000,
                                                                                                       15120000)))
    assert len(world) == len(nl) + 2
    assert decode_content(world)[1] == Noodmelding(IncidentType.OVERIG, position=Position(-3386000, 15120000))


@pytest.mark.parametrize(
    ("form", "field"),
    [
        (Noodmelding(IncidentType.BRAND), "locatie"),
        (Noodmelding(IncidentType.BRAND, "x", casualties=(Casualties(0, Condition.GEWOND),)), "slachtoffers"),
        (Noodmelding(IncidentType.BRAND, "x", casualties=(Casualties(1, Condition.GEWOND),) * 2), "slachtoffers"),
        (Noodmelding(IncidentType.BRAND, "x", time=ClockTime(24, 0)), "tijdstip"),
        (Noodmelding(IncidentType.BRAND, position=Position(9_100_000, 0)), "positie"),
        (Noodmelding(IncidentType.BRAND, "a\ud800b"), "adres"),
        (Noodmelding(IncidentType.BRAND, "x" * 201), "adres"),
        (Sitrap(NspStatus.OPEN, visitors=-1), "bezoekers"),
        (Sitrap(NspStatus.OPEN, fuel_hours=MAX_FUEL_HOURS + 1), "brandstof_uren"),
        (Sitrap(NspStatus.OPEN, next_report=ClockTime(7, 60)), "volgende_rapport"),
        (Aanvraag(()), "artikelen"),
        (Aanvraag((RequestItem(ItemKind.DIESEL, 0),)), "aantal"),
        (Aanvraag((RequestItem("  ", 1),)), "artikel"),
        (Bulletin(1, ""), "tekst"),
        (Bulletin(1, "x", ValidHours(0)), "geldig_uren"),
    ],
)
def test_validation_names_the_field_in_dutch(form: object, field: str) -> None:
    with pytest.raises(UsageError, match=field):
        validate(form)
    with pytest.raises(UsageError):
        encode_content(getattr(form, "content_type"), form)  # noqa: B009


def test_content_type_and_form_must_match() -> None:
    with pytest.raises(UsageError, match="verwacht"):
        encode_content(ContentType.SITRAP, EXAMPLE)
    with pytest.raises(UsageError, match="verwacht"):
        encode_content(ContentType.TEXT, EXAMPLE)
