"""Form schemas for the CLI: what to ask, in which words, with which choices and limits, and how to parse
an operator's answer into a form value.

`SCHEMAS[content_type].fields` lists the fields in prompt order. `parse_field(spec, text)` turns what an
operator typed into the typed value (UsageError in Dutch naming the field otherwise) and
`form_from_values(content_type, {...})` builds and validates a whole form from typed values or strings.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from nspgw.errors import UsageError
from nspgw.wire.forms import (
    FORM_CLASSES,
    LABELS,
    MAX_BULLETIN_NUMBER,
    MAX_CASUALTIES,
    MAX_FUEL_HOURS,
    MAX_ITEMS,
    MAX_LONG_TEXT,
    MAX_MINUTES_AGO,
    MAX_PEOPLE,
    MAX_QUANTITY,
    MAX_SHORT_TEXT,
    MAX_VALID_HOURS,
    Casualties,
    ClockTime,
    Condition,
    Form,
    IncidentType,
    ItemKind,
    MinutesAgo,
    NspStatus,
    Position,
    PowerState,
    RequestItem,
    SupplyLevel,
    Unit,
    Urgency,
    ValidHours,
    validate,
)
from nspgw.wire.frames import ContentType


class FieldKind(enum.StrEnum):
    TEXT = "text"  # free text, max_len characters
    INT = "int"  # whole number in [min, max]
    ENUM = "enum"  # one of `choices`
    CLOCK = "clock"  # hh:mm
    WHEN = "when"  # hh:mm, or minutes ago ("10", "10 min")
    POSITION = "position"  # "52.12345, 5.12345" (WGS84 degrees)
    CASUALTIES = "casualties"  # "2 zwaargewond, 1 lichtgewond"
    ITEMS = "items"  # "200 liter drinkwater; 20 zaklampen" (one per line or separated by ';')
    VALIDITY = "validity"  # hh:mm (until) or hours ("12 uur")


@dataclass(frozen=True, slots=True)
class Choice:
    value: enum.IntEnum
    name: str  # stable lower-case key (also accepted as input)
    label_nl: str
    label_en: str


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str  # attribute of the form dataclass
    key_nl: str  # short Dutch key (used in error messages and as input key)
    label_nl: str
    label_en: str
    kind: FieldKind
    required: bool = False
    choices: tuple[Choice, ...] = ()
    min: int | None = None
    max: int | None = None
    max_len: int | None = None
    help_nl: str = ""
    help_en: str = ""


@dataclass(frozen=True, slots=True)
class FormSchema:
    content_type: ContentType
    name: str
    title_nl: str
    title_en: str
    fields: tuple[FieldSpec, ...]

    def field(self, key: str) -> FieldSpec:
        for f in self.fields:
            if key in (f.name, f.key_nl):
                return f
        raise UsageError(f"{self.name}: onbekend veld '{key}'")


def choices(cls: type[enum.IntEnum]) -> tuple[Choice, ...]:
    return tuple(Choice(m, m.name.lower(), *LABELS[cls][m]) for m in cls)


def _text(name: str, key: str, nl: str, en: str, limit: int, required: bool = False) -> FieldSpec:
    return FieldSpec(name, key, nl, en, FieldKind.TEXT, required, max_len=limit)


def _int(name: str, key: str, nl: str, en: str, lo: int, hi: int) -> FieldSpec:
    return FieldSpec(name, key, nl, en, FieldKind.INT, min=lo, max=hi)


def _enum(name: str, key: str, nl: str, en: str, cls: type[enum.IntEnum], required: bool = False) -> FieldSpec:
    return FieldSpec(name, key, nl, en, FieldKind.ENUM, required, choices=choices(cls))


SCHEMAS: dict[ContentType, FormSchema] = {
    ContentType.NOODMELDING: FormSchema(
        ContentType.NOODMELDING, "noodmelding", "Noodmelding", "Emergency report",
        (
            _enum("incident", "incident", "Soort incident", "Incident type", IncidentType, required=True),
            _text("address", "adres", "Adres / locatie", "Address / location", MAX_SHORT_TEXT),
            FieldSpec("position", "positie", "Coördinaten (breedte, lengte)", "Coordinates (lat, lon)",
                      FieldKind.POSITION, help_nl="bijv. 52.12345, 5.12345", help_en="e.g. 52.12345, 5.12345"),
            FieldSpec("casualties", "slachtoffers", "Slachtoffers (aantal + toestand)",
                      "Casualties (count + condition)",
                      FieldKind.CASUALTIES, choices=choices(Condition), min=1, max=MAX_CASUALTIES,
                      help_nl="bijv. 2 zwaargewond, 1 lichtgewond", help_en="e.g. 2 seriously injured, 1 injured"),
            _text("reporter", "melder", "Naam melder", "Reporter's name", MAX_SHORT_TEXT),
            _text("callback", "terugbellen", "Terugbellen via (NSP of telefoon)", "Call back via (NSP or phone)",
                  MAX_SHORT_TEXT),
            FieldSpec("time", "tijdstip", "Tijdstip (uu:mm of minuten geleden)", "Time (hh:mm or minutes ago)",
                      FieldKind.WHEN, max=MAX_MINUTES_AGO, help_nl="bijv. 13:20 of 10 min",
                      help_en="e.g. 13:20 or 10 min"),
            _text("remarks", "opmerkingen", "Opmerkingen", "Remarks", MAX_LONG_TEXT),
        ),
    ),
    ContentType.SITRAP: FormSchema(
        ContentType.SITRAP, "sitrap", "Situatierapport", "Situation report",
        (
            _enum("status", "status", "Status NSP", "NSP status", NspStatus, required=True),
            _int("visitors", "bezoekers", "Aantal bezoekers", "Visitors", 0, MAX_PEOPLE),
            _int("staff", "medewerkers", "Aantal medewerkers", "Staff", 0, MAX_PEOPLE),
            _enum("power", "stroom", "Stroomvoorziening", "Power supply", PowerState),
            _int("fuel_hours", "brandstof_uren", "Brandstof voor (uren)", "Fuel left (hours)", 0, MAX_FUEL_HOURS),
            _enum("water", "water", "Voorraad water", "Water supply", SupplyLevel),
            _enum("food", "voedsel", "Voorraad voedsel", "Food supply", SupplyLevel),
            _enum("medical", "medisch", "Medische voorraad", "Medical supplies", SupplyLevel),
            _text("needs", "behoefte", "Behoefte", "Needs", MAX_LONG_TEXT),
            FieldSpec("next_report", "volgende_rapport", "Volgende rapport (uu:mm)", "Next report (hh:mm)",
                      FieldKind.CLOCK),
            _text("remarks", "opmerkingen", "Opmerkingen", "Remarks", MAX_LONG_TEXT),
        ),
    ),
    ContentType.AANVRAAG: FormSchema(
        ContentType.AANVRAAG, "aanvraag", "Aanvraag", "Resource request",
        (
            FieldSpec("items", "artikelen", "Artikelen (aantal, eenheid, artikel)", "Items (quantity, unit, item)",
                      FieldKind.ITEMS, required=True, choices=choices(ItemKind), min=1, max=MAX_QUANTITY,
                      max_len=MAX_ITEMS, help_nl="bijv. 200 liter drinkwater; 20 zaklampen",
                      help_en="e.g. 200 liter drinkwater; 20 zaklampen"),
            _enum("urgency", "urgentie", "Urgentie", "Urgency", Urgency),
            _text("deliver_to", "afleveren_bij", "Afleveren bij", "Deliver to", MAX_SHORT_TEXT),
            _text("remarks", "opmerkingen", "Opmerkingen", "Remarks", MAX_LONG_TEXT),
        ),
    ),
    ContentType.BULLETIN: FormSchema(
        ContentType.BULLETIN, "bulletin", "Bulletin", "Bulletin",
        (
            FieldSpec("number", "nummer", "Bulletinnummer", "Bulletin number", FieldKind.INT, True, min=0,
                      max=MAX_BULLETIN_NUMBER),
            _text("text", "tekst", "Tekst", "Text", MAX_LONG_TEXT, required=True),
            FieldSpec("valid", "geldig", "Geldig tot (uu:mm) of aantal uren", "Valid until (hh:mm) or hours",
                      FieldKind.VALIDITY, max=MAX_VALID_HOURS, help_nl="bijv. 18:00 of 12 uur",
                      help_en="e.g. 18:00 or 12 h"),
        ),
    ),
}

# Extra words operators use for a choice (lower case).
_ALIASES: dict[tuple[type[enum.IntEnum], int], tuple[str, ...]] = {
    # keyed by (enum class, value): IntEnum members of different classes compare equal as ints
    (Condition, Condition.LEVENSBEDREIGEND): ("zwaargewond", "levensbedreigend", "zwaar gewond", "ernstig"),
    (Condition, Condition.OVERLEDEN): ("dood", "dode", "doden"),
    (Condition, Condition.GEWOND): ("gewonden",),
    (Condition, Condition.LICHTGEWOND): ("licht gewond", "lichtgewonden"),
    (Condition, Condition.ONBEKEND): ("onbekend",),
    (IncidentType, IncidentType.GEWELD_MISDRIJF): ("geweld", "misdrijf", "politie"),
    (IncidentType, IncidentType.MEDISCH): ("ambulance",),
    (NspStatus, NspStatus.BEPERKT): ("beperkt",),
    (NspStatus, NspStatus.GESLOTEN): ("dicht",),
    (PowerState, PowerState.NET): ("net", "ja"),
    (PowerState, PowerState.GEEN): ("geen", "nee"),
    (PowerState, PowerState.ACCU): ("accu", "batterij"),
    (Unit, Unit.STUKS): ("stuk", "st", "st."),
    (Unit, Unit.LITER): ("l", "ltr", "litres", "liters"),
    (Unit, Unit.KILO): ("kilo", "kilogram"),
    (Unit, Unit.PERSONEN): ("persoon", "pers", "pers."),
    (Unit, Unit.DOZEN): ("doos",),
    (Unit, Unit.PAKKEN): ("pak",),
    (Unit, Unit.PALLETS): ("pallet",),
    (Unit, Unit.PORTIES): ("portie",),
    (ItemKind, ItemKind.DRINKWATER): ("water",),
    (ItemKind, ItemKind.HYGIENE): ("hygiene", "hygiëne"),
    (ItemKind, ItemKind.ZAKLAMPEN_BATTERIJEN): ("zaklampen", "batterijen"),
    (ItemKind, ItemKind.ARTS_VERPLEEGKUNDIGE): ("arts", "verpleegkundige", "dokter"),
}


def _match_choice(cs: tuple[Choice, ...], word: str) -> enum.IntEnum | None:
    w = word.strip().lower()
    for c in cs:
        if w in (c.name, c.label_nl.lower(), c.label_en.lower()) or w in _ALIASES.get((type(c.value), c.value), ()):
            return c.value
    return None


def _clock(text: str) -> ClockTime | None:
    m = re.fullmatch(r"\s*(\d{1,2})[:.](\d{2})\s*(uur|u)?\s*", text)
    if not m:
        return None
    h, mi = int(m.group(1)), int(m.group(2))
    return ClockTime(h, mi) if h <= 23 and mi <= 59 else None


def _err(spec: FieldSpec, schema_name: str, what: str) -> UsageError:
    return UsageError(f"{schema_name}: veld '{spec.key_nl}' ({spec.label_nl}): {what}")


def parse_field(spec: FieldSpec, text: str, schema_name: str = "formulier") -> object:
    """Parse what an operator typed for `spec`. Empty input gives the field's 'absent' value."""
    t = text.strip()
    if spec.kind == FieldKind.TEXT:
        return t
    if spec.kind == FieldKind.CASUALTIES:
        return _parse_casualties(spec, t, schema_name) if t else ()
    if not t:
        return None
    if spec.kind == FieldKind.INT:
        if not re.fullmatch(r"\d+", t):
            raise _err(spec, schema_name, f"'{t}' is geen geheel getal")
        return int(t)
    if spec.kind == FieldKind.ENUM:
        value = _match_choice(spec.choices, t)
        if value is None:
            raise _err(spec, schema_name, f"kies uit {', '.join(c.name for c in spec.choices)}")
        return value
    if spec.kind == FieldKind.CLOCK:
        clock = _clock(t)
        if clock is None:
            raise _err(spec, schema_name, f"'{t}' is geen tijd uu:mm")
        return clock
    if spec.kind == FieldKind.WHEN:
        clock = _clock(t)
        if clock is not None:
            return clock
        m = re.fullmatch(r"-?(\d+)\s*(min|minuten|m)?(\s+geleden)?", t.lower())
        if not m:
            raise _err(spec, schema_name, f"'{t}' is geen tijd uu:mm of aantal minuten geleden")
        return MinutesAgo(int(m.group(1)))
    if spec.kind == FieldKind.VALIDITY:
        clock = _clock(t)
        if clock is not None:
            return clock
        m = re.fullmatch(r"(\d+)\s*(uur|u|h|hours|hour)?", t.lower())
        if not m:
            raise _err(spec, schema_name, f"'{t}' is geen tijd uu:mm of aantal uren")
        return ValidHours(int(m.group(1)))
    if spec.kind == FieldKind.POSITION:
        m = re.fullmatch(r"(-?\d{1,2}(?:\.\d+)?)\s*[,; ]\s*(-?\d{1,3}(?:\.\d+)?)", t)
        if not m:
            raise _err(spec, schema_name, f"'{t}' is geen positie 'breedte, lengte' in graden")
        return Position.from_degrees(float(m.group(1)), float(m.group(2)))
    if spec.kind == FieldKind.ITEMS:
        return _parse_items(spec, t, schema_name)
    raise _err(spec, schema_name, "onbekend veldtype")  # pragma: no cover


def _parse_casualties(spec: FieldSpec, t: str, schema_name: str) -> tuple[Casualties, ...]:
    groups: list[Casualties] = []
    for part in re.split(r"[,;\n]", t):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\d+)\s*x?\s+(.+)", part)
        cond = _match_choice(spec.choices, m.group(2)) if m else None
        if not m or not isinstance(cond, Condition):
            raise _err(spec, schema_name, f"'{part}' is geen 'aantal toestand' (bijv. 2 zwaargewond)")
        groups.append(Casualties(int(m.group(1)), cond))
    return tuple(groups)


def _parse_items(spec: FieldSpec, t: str, schema_name: str) -> tuple[RequestItem, ...]:
    units = choices(Unit)
    items: list[RequestItem] = []
    for part in re.split(r"[;\n]", t):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\d+)\s*x?\s+(.+)", part)
        if not m:
            raise _err(spec, schema_name, f"'{part}' begint niet met een aantal (bijv. 20 dekens)")
        qty, rest = int(m.group(1)), m.group(2).strip()
        unit = Unit.STUKS
        first, _, remainder = rest.partition(" ")
        u = _match_choice(units, first)
        if isinstance(u, Unit) and remainder.strip():
            unit, rest = u, remainder.strip()
        kind = _match_choice(spec.choices, rest)
        items.append(RequestItem(kind if isinstance(kind, ItemKind) else rest, qty, unit))
    return tuple(items)


def form_from_values(content_type: ContentType, values: Mapping[str, object]) -> Form:
    """Build and validate a form from field values keyed by field name or Dutch key; strings are parsed."""
    schema = SCHEMAS.get(ContentType(content_type))
    if schema is None:
        raise UsageError(f"berichttype {ContentType(content_type).name.lower()} heeft geen formulier")
    kwargs: dict[str, object] = {}
    for key, raw in values.items():
        spec = schema.field(key)
        value = parse_field(spec, raw, schema.name) if isinstance(raw, str) else raw
        if value is not None and value != () and not (spec.kind == FieldKind.TEXT and value == ""):
            kwargs[spec.name] = value
    for spec in schema.fields:
        if spec.required and spec.name not in kwargs:
            raise UsageError(f"{schema.name}: veld '{spec.key_nl}' ({spec.label_nl}) is verplicht")
    try:
        form = FORM_CLASSES[schema.content_type](**kwargs)  # type: ignore[arg-type]
    except TypeError as exc:
        raise UsageError(f"{schema.name}: ongeldige velden ({exc})") from None
    validate(form)
    return form
