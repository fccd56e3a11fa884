"""Structured forms: noodmelding, sitrap, aanvraag, bulletin — values, choices and validation.

A form travels as a compact binary layout (`forms_codec`) and is shown as readable Dutch or English
(`forms_render`). The schema objects in `forms_schema` describe every field for the CLI (labels, kinds,
limits). Enum values are wire codes: a value, once shipped, keeps its number for ever; new choices get new
numbers (docs/content-encoding.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from nspgw.errors import UsageError
from nspgw.wire.forms_enums import (
    LABELS,
    Condition,
    IncidentType,
    ItemKind,
    NspStatus,
    PowerState,
    SupplyLevel,
    Unit,
    Urgency,
    label,
)
from nspgw.wire.frames import ContentType

__all__ = [
    "FORM_CLASSES",
    "LABELS",
    "Aanvraag",
    "Bulletin",
    "Casualties",
    "ClockTime",
    "Condition",
    "Form",
    "IncidentType",
    "ItemKind",
    "MinutesAgo",
    "Noodmelding",
    "NspStatus",
    "Position",
    "PowerState",
    "RequestItem",
    "Sitrap",
    "SupplyLevel",
    "Unit",
    "Urgency",
    "ValidHours",
    "label",
    "validate",
]


# --- values -------------------------------------------------------------------------------------------

E5 = 100_000  # fixed point: 1e-5 degree is ~1.1 m of latitude, finer than a phone's GPS fix


@dataclass(frozen=True, slots=True)
class Position:
    """WGS84 position in units of 1e-5 degree (exact integers, so a decoded form equals the sent one)."""

    lat_e5: int
    lon_e5: int

    @classmethod
    def from_degrees(cls, lat: float, lon: float) -> Position:
        return cls(round(lat * E5), round(lon * E5))

    @property
    def lat(self) -> float:
        return self.lat_e5 / E5

    @property
    def lon(self) -> float:
        return self.lon_e5 / E5


@dataclass(frozen=True, slots=True)
class ClockTime:
    """A local time of day as people report it (hh:mm); no date and no wall-clock reading involved."""

    hour: int
    minute: int

    @property
    def minutes(self) -> int:
        return self.hour * 60 + self.minute

    def __str__(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"


@dataclass(frozen=True, slots=True)
class MinutesAgo:
    """"About n minutes ago" as the reporter said it (relative to when the form was filled in)."""

    minutes: int


@dataclass(frozen=True, slots=True)
class ValidHours:
    """A bulletin is valid for this many hours after it is read."""

    hours: int


@dataclass(frozen=True, slots=True)
class Casualties:
    count: int
    condition: Condition


@dataclass(frozen=True, slots=True)
class RequestItem:
    item: ItemKind | str  # a known resource, or a free-text name
    quantity: int
    unit: Unit = Unit.STUKS


# --- the forms ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Noodmelding:
    """Emergency report for the meldkamer. Needs an address or a position (or both)."""

    incident: IncidentType
    address: str = ""
    position: Position | None = None
    casualties: tuple[Casualties, ...] = ()
    reporter: str = ""
    callback: str = ""  # NSP name or phone number to call back
    time: ClockTime | MinutesAgo | None = None
    remarks: str = ""

    content_type = ContentType.NOODMELDING


@dataclass(frozen=True, slots=True)
class Sitrap:
    """Situation report of an NSP."""

    status: NspStatus
    visitors: int | None = None
    staff: int | None = None
    power: PowerState | None = None
    fuel_hours: int | None = None
    water: SupplyLevel | None = None
    food: SupplyLevel | None = None
    medical: SupplyLevel | None = None
    needs: str = ""
    next_report: ClockTime | None = None
    remarks: str = ""

    content_type = ContentType.SITRAP


@dataclass(frozen=True, slots=True)
class Aanvraag:
    """Resource request."""

    items: tuple[RequestItem, ...]
    urgency: Urgency = Urgency.NORMAAL
    deliver_to: str = ""
    remarks: str = ""

    content_type = ContentType.AANVRAAG


@dataclass(frozen=True, slots=True)
class Bulletin:
    """Crisis team bulletin to all boxes."""

    number: int
    text: str
    valid: ClockTime | ValidHours | None = None

    content_type = ContentType.BULLETIN


Form = Noodmelding | Sitrap | Aanvraag | Bulletin

FORM_CLASSES: dict[ContentType, type[Noodmelding] | type[Sitrap] | type[Aanvraag] | type[Bulletin]] = {
    ContentType.NOODMELDING: Noodmelding,
    ContentType.SITRAP: Sitrap,
    ContentType.AANVRAAG: Aanvraag,
    ContentType.BULLETIN: Bulletin,
}

# --- limits (also the schema's limits; the decoder enforces them too) --------------------------------

MAX_SHORT_TEXT = 200  # address, names, callback, deliver-to, free item name (characters)
MAX_LONG_TEXT = 2000  # remarks, needs, bulletin text
MAX_CASUALTY_GROUPS = 8
MAX_CASUALTIES = 9999
MAX_ITEMS = 32
MAX_QUANTITY = 1_000_000
MAX_PEOPLE = 100_000
MAX_FUEL_HOURS = 1000
MAX_MINUTES_AGO = 7 * 24 * 60
MAX_BULLETIN_NUMBER = 1_000_000
MAX_VALID_HOURS = 30 * 24


def _text(form: str, name: str, value: object, limit: int, required: bool = False) -> None:
    if not isinstance(value, str):
        raise UsageError(f"{form}: veld '{name}' moet tekst zijn")
    if required and not value.strip():
        raise UsageError(f"{form}: veld '{name}' is verplicht")
    if len(value) > limit:
        raise UsageError(f"{form}: veld '{name}' is te lang ({len(value)} tekens, maximaal {limit})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{form}: veld '{name}' bevat een ongeldig teken") from None


def _int(form: str, name: str, value: object, lo: int, hi: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise UsageError(f"{form}: veld '{name}' moet een geheel getal van {lo} t/m {hi} zijn")


def _enum(form: str, name: str, value: object, cls: type[enum.IntEnum]) -> None:
    if not isinstance(value, cls):
        choices = ", ".join(m.name.lower() for m in cls)
        raise UsageError(f"{form}: veld '{name}' moet een van deze keuzes zijn: {choices}")


def _clock(form: str, name: str, value: object) -> None:
    if not isinstance(value, ClockTime) or not (0 <= value.hour <= 23 and 0 <= value.minute <= 59):
        raise UsageError(f"{form}: veld '{name}' moet een tijd uu:mm zijn (00:00 t/m 23:59)")


def _position(form: str, name: str, value: object) -> None:
    if (
        not isinstance(value, Position)
        or not -90 * E5 <= value.lat_e5 <= 90 * E5
        or not -180 * E5 <= value.lon_e5 <= 180 * E5
    ):
        raise UsageError(f"{form}: veld '{name}' moet breedte -90..90 en lengte -180..180 graden zijn")


def validate(form: object) -> None:
    """Check a form against its schema; UsageError with a Dutch message naming the field."""
    if isinstance(form, Noodmelding):
        f = "noodmelding"
        _enum(f, "incident", form.incident, IncidentType)
        _text(f, "adres", form.address, MAX_SHORT_TEXT)
        if form.position is not None:
            _position(f, "positie", form.position)
        if not form.address.strip() and form.position is None:
            raise UsageError(f"{f}: vul een locatie in (veld 'adres' en/of 'positie')")
        if not isinstance(form.casualties, tuple) or len(form.casualties) > MAX_CASUALTY_GROUPS:
            raise UsageError(f"{f}: veld 'slachtoffers' heeft maximaal {MAX_CASUALTY_GROUPS} groepen")
        seen: set[Condition] = set()
        for group in form.casualties:
            if not isinstance(group, Casualties):
                raise UsageError(f"{f}: veld 'slachtoffers' moet aantal + toestand per groep zijn")
            _int(f, "slachtoffers", group.count, 1, MAX_CASUALTIES)
            _enum(f, "slachtoffers", group.condition, Condition)
            if group.condition in seen:
                raise UsageError(f"{f}: veld 'slachtoffers' noemt '{label(group.condition)}' twee keer")
            seen.add(group.condition)
        _text(f, "melder", form.reporter, MAX_SHORT_TEXT)
        _text(f, "terugbellen", form.callback, MAX_SHORT_TEXT)
        if isinstance(form.time, MinutesAgo):
            _int(f, "tijdstip", form.time.minutes, 0, MAX_MINUTES_AGO)
        elif form.time is not None:
            _clock(f, "tijdstip", form.time)
        _text(f, "opmerkingen", form.remarks, MAX_LONG_TEXT)
    elif isinstance(form, Sitrap):
        f = "sitrap"
        _enum(f, "status", form.status, NspStatus)
        if form.visitors is not None:
            _int(f, "bezoekers", form.visitors, 0, MAX_PEOPLE)
        if form.staff is not None:
            _int(f, "medewerkers", form.staff, 0, MAX_PEOPLE)
        if form.power is not None:
            _enum(f, "stroom", form.power, PowerState)
        if form.fuel_hours is not None:
            _int(f, "brandstof_uren", form.fuel_hours, 0, MAX_FUEL_HOURS)
        for name, level in (("water", form.water), ("voedsel", form.food), ("medisch", form.medical)):
            if level is not None:
                _enum(f, name, level, SupplyLevel)
        _text(f, "behoefte", form.needs, MAX_LONG_TEXT)
        if form.next_report is not None:
            _clock(f, "volgende_rapport", form.next_report)
        _text(f, "opmerkingen", form.remarks, MAX_LONG_TEXT)
    elif isinstance(form, Aanvraag):
        f = "aanvraag"
        if not isinstance(form.items, tuple) or not 1 <= len(form.items) <= MAX_ITEMS:
            raise UsageError(f"{f}: veld 'artikelen' moet 1 t/m {MAX_ITEMS} regels hebben")
        for item in form.items:
            if not isinstance(item, RequestItem):
                raise UsageError(f"{f}: veld 'artikelen' moet artikel + aantal + eenheid per regel zijn")
            if not isinstance(item.item, ItemKind):
                _text(f, "artikel", item.item, MAX_SHORT_TEXT, required=True)
            _int(f, "aantal", item.quantity, 1, MAX_QUANTITY)
            _enum(f, "eenheid", item.unit, Unit)
        _enum(f, "urgentie", form.urgency, Urgency)
        _text(f, "afleveren_bij", form.deliver_to, MAX_SHORT_TEXT)
        _text(f, "opmerkingen", form.remarks, MAX_LONG_TEXT)
    elif isinstance(form, Bulletin):
        f = "bulletin"
        _int(f, "nummer", form.number, 0, MAX_BULLETIN_NUMBER)
        _text(f, "tekst", form.text, MAX_LONG_TEXT, required=True)
        if isinstance(form.valid, ValidHours):
            _int(f, "geldig_uren", form.valid.hours, 1, MAX_VALID_HOURS)
        elif form.valid is not None:
            _clock(f, "geldig_tot", form.valid)
    else:
        raise UsageError(f"onbekend formulier: {type(form).__name__}")
