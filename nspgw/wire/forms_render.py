"""Forms as readable text for the inbox, a printer or the meldkamer: Dutch by default, English on request."""

from __future__ import annotations

from nspgw.wire.forms import (
    Aanvraag,
    Bulletin,
    ClockTime,
    Form,
    ItemKind,
    MinutesAgo,
    Noodmelding,
    Position,
    Sitrap,
    SupplyLevel,
    ValidHours,
    label,
)

_WORDS = {
    # key: (nl, en)
    "noodmelding": ("NOODMELDING", "EMERGENCY REPORT"),
    "sitrap": ("SITRAP", "SITUATION REPORT"),
    "aanvraag": ("AANVRAAG", "REQUEST"),
    "bulletin": ("BULLETIN", "BULLETIN"),
    "location": ("Locatie", "Location"),
    "casualties": ("Slachtoffers", "Casualties"),
    "none_known": ("geen bekend", "none known"),
    "time": ("Tijdstip", "Time"),
    "ago": ("{n} min geleden", "{n} min ago"),
    "at": ("om {t}", "at {t}"),
    "reporter": ("Melder", "Reporter"),
    "callback": ("Terugbellen", "Call back"),
    "remarks": ("Opmerkingen", "Remarks"),
    "status": ("Status", "Status"),
    "visitors": ("Bezoekers", "Visitors"),
    "staff": ("Medewerkers", "Staff"),
    "power": ("Stroom", "Power"),
    "fuel": ("brandstof voor {n} uur", "fuel for {n} h"),
    "supplies": ("Voorraad", "Supplies"),
    "water": ("water", "water"),
    "food": ("voedsel", "food"),
    "medical": ("medisch", "medical"),
    "needs": ("Behoefte", "Needs"),
    "next": ("Volgende rapport", "Next report"),
    "urgency": ("Urgentie", "Urgency"),
    "items": ("Gevraagd", "Requested"),
    "deliver": ("Afleveren bij", "Deliver to"),
    "nr": ("nr.", "no."),
    "valid_until": ("Geldig tot {t}", "Valid until {t}"),
    "valid_hours": ("Geldig {n} uur", "Valid for {n} h"),
}


def _w(key: str, lang: str) -> str:
    nl, en = _WORDS[key]
    return en if lang == "en" else nl


def _position(p: Position) -> str:
    return f"{p.lat:.5f}, {p.lon:.5f}"


def _noodmelding(f: Noodmelding, lang: str) -> list[str]:
    lines = [f"{_w('noodmelding', lang)} – {label(f.incident, lang)}"]
    loc = f.address
    if f.position is not None:
        loc = f"{loc} ({_position(f.position)})" if loc else _position(f.position)
    lines.append(f"{_w('location', lang)}: {loc}")
    if f.casualties:
        groups = ", ".join(f"{g.count} {label(g.condition, lang)}" for g in f.casualties)
    else:
        groups = _w("none_known", lang)
    lines.append(f"{_w('casualties', lang)}: {groups}")
    if isinstance(f.time, MinutesAgo):
        lines.append(f"{_w('time', lang)}: {_w('ago', lang).format(n=f.time.minutes)}")
    elif isinstance(f.time, ClockTime):
        lines.append(f"{_w('time', lang)}: {_w('at', lang).format(t=f.time)}")
    if f.reporter:
        lines.append(f"{_w('reporter', lang)}: {f.reporter}")
    if f.callback:
        lines.append(f"{_w('callback', lang)}: {f.callback}")
    if f.remarks:
        lines.append(f"{_w('remarks', lang)}: {f.remarks}")
    return lines


def _sitrap(f: Sitrap, lang: str) -> list[str]:
    lines = [f"{_w('sitrap', lang)} – {label(f.status, lang)}"]
    if f.visitors is not None:
        lines.append(f"{_w('visitors', lang)}: {f.visitors}")
    if f.staff is not None:
        lines.append(f"{_w('staff', lang)}: {f.staff}")
    if f.power is not None or f.fuel_hours is not None:
        parts = [label(f.power, lang)] if f.power is not None else []
        if f.fuel_hours is not None:
            parts.append(_w("fuel", lang).format(n=f.fuel_hours))
        lines.append(f"{_w('power', lang)}: {', '.join(parts)}")
    levels: list[tuple[str, SupplyLevel | None]] = [("water", f.water), ("food", f.food), ("medical", f.medical)]
    supplies = ", ".join(f"{_w(k, lang)} {label(v, lang)}" for k, v in levels if v is not None)
    if supplies:
        lines.append(f"{_w('supplies', lang)}: {supplies}")
    if f.needs:
        lines.append(f"{_w('needs', lang)}: {f.needs}")
    if f.next_report is not None:
        lines.append(f"{_w('next', lang)}: {f.next_report}")
    if f.remarks:
        lines.append(f"{_w('remarks', lang)}: {f.remarks}")
    return lines


def _aanvraag(f: Aanvraag, lang: str) -> list[str]:
    lines = [f"{_w('aanvraag', lang)} – {_w('urgency', lang)}: {label(f.urgency, lang)}", f"{_w('items', lang)}:"]
    for item in f.items:
        name = label(item.item, lang) if isinstance(item.item, ItemKind) else item.item
        lines.append(f"- {item.quantity} {label(item.unit, lang)} {name}")
    if f.deliver_to:
        lines.append(f"{_w('deliver', lang)}: {f.deliver_to}")
    if f.remarks:
        lines.append(f"{_w('remarks', lang)}: {f.remarks}")
    return lines


def _bulletin(f: Bulletin, lang: str) -> list[str]:
    head = f"{_w('bulletin', lang)} {_w('nr', lang)} {f.number}"
    if isinstance(f.valid, ValidHours):
        head += f" – {_w('valid_hours', lang).format(n=f.valid.hours)}"
    elif isinstance(f.valid, ClockTime):
        head += f" – {_w('valid_until', lang).format(t=f.valid)}"
    return [head, f.text]


def render_form(form: Form, lang: str = "nl") -> str:
    """Readable multi-line text of a form ("nl" or "en")."""
    if isinstance(form, Noodmelding):
        lines = _noodmelding(form, lang)
    elif isinstance(form, Sitrap):
        lines = _sitrap(form, lang)
    elif isinstance(form, Aanvraag):
        lines = _aanvraag(form, lang)
    else:
        lines = _bulletin(form, lang)
    return "\n".join(lines)
