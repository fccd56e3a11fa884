"""Binary layout v1 of the forms (docs/content-encoding.md has the byte-by-byte tables).

Every form body starts with one uvarint `(presence << 2) | text_method`: which optional fields follow, and
how the form's text fields are coded. Then the fixed fields in schema order, then all non-empty text fields
concatenated and compressed as *one* stream (one model warm-up and one length instead of one per field),
taking the rest of the bytes. The character length of each present text but the last precedes that stream
(uvarints), so the texts need no separator character the model would have to learn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from nspgw.errors import DecodeError, UsageError
from nspgw.wire.compress import (
    KNOWN_TEXT_METHODS,
    MAX_TEXT_BYTES,
    compress_text,
    decompress_text,
    get_uvarint,
    put_uvarint,
)
from nspgw.wire.forms import (
    E5,
    MAX_BULLETIN_NUMBER,
    MAX_CASUALTIES,
    MAX_CASUALTY_GROUPS,
    MAX_FUEL_HOURS,
    MAX_ITEMS,
    MAX_MINUTES_AGO,
    MAX_PEOPLE,
    MAX_QUANTITY,
    MAX_VALID_HOURS,
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
    ValidHours,
    validate,
)
from nspgw.wire.frames import ContentType

E = TypeVar("E", IncidentType, Condition, NspStatus, PowerState, SupplyLevel, Urgency, ItemKind, Unit)

# Compact position: the Netherlands and its borders fit a 2**19 x 2**19 box of 1e-5 degree from (50 N, 3 E),
# 38 bits + 1 flag = 5 bytes instead of 7 for a worldwide position.
_NL_LAT0 = 50 * E5
_NL_LON0 = 3 * E5
_NL_SPAN = 1 << 19


def _put_position(p: Position, out: bytearray) -> None:
    dlat = p.lat_e5 - _NL_LAT0
    dlon = p.lon_e5 - _NL_LON0
    if 0 <= dlat < _NL_SPAN and 0 <= dlon < _NL_SPAN:
        out += ((dlat << 19) | dlon).to_bytes(5, "big")  # top bit 0: regional
    else:
        v = (1 << 55) | ((p.lat_e5 + 90 * E5) << 26) | (p.lon_e5 + 180 * E5)
        out += v.to_bytes(7, "big")


def _get_position(data: bytes, pos: int) -> tuple[Position, int]:
    if pos >= len(data):
        raise DecodeError("formulier afgekapt (positie)")
    if data[pos] & 0x80:
        if pos + 7 > len(data):
            raise DecodeError("formulier afgekapt (positie)")
        v = int.from_bytes(data[pos : pos + 7], "big")
        if v >> 52 != 0x8:
            raise DecodeError("positie: ongeldige reservebits")
        lat = ((v >> 26) & ((1 << 26) - 1)) - 90 * E5
        lon = (v & ((1 << 26) - 1)) - 180 * E5
        if not (-90 * E5 <= lat <= 90 * E5 and -180 * E5 <= lon <= 180 * E5):
            raise DecodeError("positie buiten bereik")
        return Position(lat, lon), pos + 7
    if pos + 5 > len(data):
        raise DecodeError("formulier afgekapt (positie)")
    v = int.from_bytes(data[pos : pos + 5], "big")
    if v >> 38:
        raise DecodeError("positie: ongeldige reservebits")
    return Position(_NL_LAT0 + (v >> 19), _NL_LON0 + (v & (_NL_SPAN - 1))), pos + 5


def _enum_of(cls: type[E], code: int, what: str) -> E:
    try:
        return cls(code)
    except ValueError:
        raise DecodeError(f"{what}: onbekende code {code} (nieuwere nspgw-versie?)") from None


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    def uvarint(self, limit: int) -> int:
        value, self.pos = get_uvarint(self.data, self.pos, limit)
        return value

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise DecodeError("formulier is afgekapt")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def clock(self) -> ClockTime:
        m = self.uvarint(24 * 60 - 1)
        return ClockTime(m // 60, m % 60)


# --- encoders: (presence bits, fixed-field bytes, text fields in blob order) -----------------------------


def _enc_noodmelding(f: Noodmelding, out: bytearray) -> tuple[int, list[str]]:
    presence = 0
    out.append(f.incident)
    if f.position is not None:
        presence |= 1
        _put_position(f.position, out)
    if f.casualties:
        presence |= 2
        put_uvarint(len(f.casualties), out)
        for group in f.casualties:
            put_uvarint((group.count << 3) | group.condition, out)
    if f.time is not None:
        presence |= 4
        if isinstance(f.time, MinutesAgo):
            put_uvarint((f.time.minutes << 1) | 1, out)
        else:
            put_uvarint(f.time.minutes << 1, out)
    texts = [f.address, f.reporter, f.callback, f.remarks]
    for i, t in enumerate(texts):
        if t:
            presence |= 8 << i
    return presence, texts


def _dec_noodmelding(presence: int, r: _Reader) -> tuple[Callable[[list[str]], Form], int]:
    incident = _enum_of(IncidentType, r.byte(), "incident")
    position = None
    casualties: list[Casualties] = []
    time: ClockTime | MinutesAgo | None = None
    if presence & 1:
        position, r.pos = _get_position(r.data, r.pos)
    if presence & 2:
        for _ in range(r.uvarint(MAX_CASUALTY_GROUPS)):
            v = r.uvarint((MAX_CASUALTIES << 3) | 7)
            casualties.append(Casualties(v >> 3, _enum_of(Condition, v & 7, "slachtoffers")))
    if presence & 4:
        v = r.uvarint((MAX_MINUTES_AGO << 1) | 1)
        if v & 1:
            time = MinutesAgo(v >> 1)
        elif v >> 1 < 24 * 60:
            time = ClockTime((v >> 1) // 60, (v >> 1) % 60)
        else:
            raise DecodeError("tijdstip buiten bereik")

    def build(t: list[str]) -> Form:
        return Noodmelding(incident, t[0], position, tuple(casualties), t[1], t[2], time, t[3])

    return build, 4


def _enc_sitrap(f: Sitrap, out: bytearray) -> tuple[int, list[str]]:
    presence = 0
    # status (3 values) and power (absent or 4 values) share a byte: status + 3 * (power + 1).
    out.append(f.status + 3 * (0 if f.power is None else f.power + 1))
    # three supply levels, each absent or 4 values: base-5 digits in one byte (5**3 = 125 < 256).
    levels = [0 if v is None else v + 1 for v in (f.water, f.food, f.medical)]
    out.append(levels[0] + 5 * levels[1] + 25 * levels[2])
    for bit, value in ((1, f.visitors), (2, f.staff), (4, f.fuel_hours)):
        if value is not None:
            presence |= bit
            put_uvarint(value, out)
    if f.next_report is not None:
        presence |= 8
        put_uvarint(f.next_report.minutes, out)
    texts = [f.needs, f.remarks]
    for i, t in enumerate(texts):
        if t:
            presence |= 16 << i
    return presence, texts


def _dec_sitrap(presence: int, r: _Reader) -> tuple[Callable[[list[str]], Form], int]:
    b = r.byte()
    if b >= 3 * 5:
        raise DecodeError("sitrap: ongeldige status/stroom-code")
    status = _enum_of(NspStatus, b % 3, "status")
    power = None if b // 3 == 0 else _enum_of(PowerState, b // 3 - 1, "stroom")
    b = r.byte()
    if b >= 125:
        raise DecodeError("sitrap: ongeldige voorraad-code")
    lv = [None if d == 0 else _enum_of(SupplyLevel, d - 1, "voorraad") for d in (b % 5, b // 5 % 5, b // 25)]
    visitors = r.uvarint(MAX_PEOPLE) if presence & 1 else None
    staff = r.uvarint(MAX_PEOPLE) if presence & 2 else None
    fuel = r.uvarint(MAX_FUEL_HOURS) if presence & 4 else None
    next_report = r.clock() if presence & 8 else None

    def build(t: list[str]) -> Form:
        return Sitrap(status, visitors, staff, power, fuel, lv[0], lv[1], lv[2], t[0], next_report, t[1])

    return build, 16


def _enc_aanvraag(f: Aanvraag, out: bytearray) -> tuple[int, list[str]]:
    out.append(f.urgency | ((len(f.items) - 1) << 2))
    names: list[str] = []
    for item in f.items:
        if isinstance(item.item, ItemKind):
            code = int(item.item)
        else:
            code = 0
            names.append(item.item)
        out.append(code | (item.unit << 5))  # item code 5 bits, unit 3 bits
        put_uvarint(item.quantity, out)
    presence = (1 if f.deliver_to else 0) | (2 if f.remarks else 0)
    # Free-text item names are always present (non-empty), so they need no presence bits.
    return presence, [*names, f.deliver_to, f.remarks]


def _dec_aanvraag(presence: int, r: _Reader) -> tuple[Callable[[list[str]], Form], int]:
    b = r.byte()
    urgency = _enum_of(Urgency, b & 3, "urgentie")
    n = (b >> 2) + 1
    if n > MAX_ITEMS:
        raise DecodeError("aanvraag: te veel artikelen")
    codes: list[tuple[int, Unit, int]] = []
    for _ in range(n):
        c = r.byte()
        unit = _enum_of(Unit, c >> 5, "eenheid")
        qty = r.uvarint(MAX_QUANTITY)
        codes.append((c & 31, unit, qty))
    n_names = sum(1 for c, _, _ in codes if c == 0)

    def build(t: list[str]) -> Form:
        names = iter(t[:n_names])
        items = tuple(
            RequestItem(next(names) if c == 0 else _enum_of(ItemKind, c, "artikel"), q, u) for c, u, q in codes
        )
        return Aanvraag(items, urgency, t[n_names], t[n_names + 1])

    return build, n_names  # the first n_names text slots are always present


def _enc_bulletin(f: Bulletin, out: bytearray) -> tuple[int, list[str]]:
    put_uvarint(f.number, out)
    presence = 0
    if isinstance(f.valid, ValidHours):
        presence = 2
        put_uvarint(f.valid.hours, out)
    elif f.valid is not None:
        presence = 1
        put_uvarint(f.valid.minutes, out)
    return presence, [f.text]


def _dec_bulletin(presence: int, r: _Reader) -> tuple[Callable[[list[str]], Form], int]:
    number = r.uvarint(MAX_BULLETIN_NUMBER)
    valid: ClockTime | ValidHours | None = None
    if presence & 3 == 3:
        raise DecodeError("bulletin: geldigheid dubbel opgegeven")
    if presence & 1:
        valid = r.clock()
    elif presence & 2:
        valid = ValidHours(r.uvarint(MAX_VALID_HOURS))

    def build(t: list[str]) -> Form:
        return Bulletin(number, t[0], valid)

    return build, 1  # the text is always present


_ENCODERS: dict[type, Callable[..., tuple[int, list[str]]]] = {
    Noodmelding: _enc_noodmelding,
    Sitrap: _enc_sitrap,
    Aanvraag: _enc_aanvraag,
    Bulletin: _enc_bulletin,
}
_DECODERS: dict[ContentType, tuple[Callable[[int, _Reader], tuple[Callable[[list[str]], Form], int]], int, int]] = {
    # content type: (decoder, number of presence bits used, bit index where text-field presence starts)
    ContentType.NOODMELDING: (_dec_noodmelding, 7, 3),
    ContentType.SITRAP: (_dec_sitrap, 6, 4),
    ContentType.AANVRAAG: (_dec_aanvraag, 2, 0),
    ContentType.BULLETIN: (_dec_bulletin, 2, 2),
}


def encode_form(form: Form) -> bytes:
    """The v1 layout of a validated form (without the content header byte)."""
    validate(form)
    fixed = bytearray()
    presence, texts = _ENCODERS[type(form)](form, fixed)
    present = [t for t in texts if t]
    out = bytearray()
    method, payload = compress_text("".join(present)) if present else (0, b"")
    put_uvarint((presence << 2) | method, out)
    out += fixed
    for t in present[:-1]:
        put_uvarint(len(t), out)
    return bytes(out + payload)


def decode_form(content_type: ContentType, data: bytes, pos: int) -> Form:
    """Parse a v1 form body from `data[pos:]`; DecodeError for anything malformed or out of range."""
    decoder, n_bits, text_bit = _DECODERS[content_type]
    r = _Reader(data, pos)
    head = r.uvarint((1 << (n_bits + 2)) - 1)
    presence, method = head >> 2, head & 3
    if method not in KNOWN_TEXT_METHODS:
        raise DecodeError(f"onbekende tekstcodering {method} in formulier")
    build, n_text = decoder(presence, r)
    # Which text slots are present: for forms with optional texts, the presence bits from `text_bit` on;
    # `n_text` of them (noodmelding 4, sitrap 2) or, for aanvraag/bulletin, `n_text` always-present slots
    # followed by the optional ones of the presence bits.
    if content_type in (ContentType.NOODMELDING, ContentType.SITRAP):
        slots = [bool(presence >> (text_bit + i) & 1) for i in range(n_text)]
    elif content_type == ContentType.AANVRAAG:
        slots = [True] * n_text + [bool(presence & 1), bool(presence & 2)]
    else:
        slots = [True]
    n_present = sum(slots)
    if not n_present:
        if r.pos != len(data) or method:
            raise DecodeError("formulier: onverwachte bytes na de velden")
        texts = [""] * len(slots)
    else:
        lengths = [r.uvarint(MAX_TEXT_BYTES) for _ in range(n_present - 1)]
        joined = decompress_text(method, data[r.pos :])
        if any(n == 0 for n in lengths) or sum(lengths) >= len(joined):
            raise DecodeError("formulier: tekstlengtes kloppen niet met de tekst")
        parts: list[str] = []
        start = 0
        for n in lengths:
            parts.append(joined[start : start + n])
            start += n
        parts.append(joined[start:])
        it = iter(parts)
        texts = [next(it) if present else "" for present in slots]
    try:
        form = build(texts)
        validate(form)
    except UsageError as exc:
        raise DecodeError(f"formulier ongeldig: {exc}") from None
    return form
