"""Operator texts of `nspgw journaal` (Dutch first, English with NSPGW_LANG=en), and the one-line description
of a journal entry that every view (terminal, CSV, PDF, merged timeline) shares."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from nspgw.journal.entry import Entry

NL: dict[str, str] = {
    "title": "Journaal (verbindingslogboek)",
    "col.n": "Nr", "col.time": "Tijd", "col.clock": "Klok", "col.kind": "Soort", "col.actor": "Wie",
    "col.what": "Omschrijving", "col.box": "Post",
    "clock.ntp": "NTP", "clock.gps": "GPS", "clock.mesh": "MESH", "clock.operator": "OPERATOR",
    "clock.unsync": "ONZEKER", "clock.sim": "SIM",
    "redated": "hersteld",
    "since_boot": "opstart+{s:.0f}s",
    "kind.msg_out": "verzonden", "kind.msg_in": "ontvangen", "kind.state": "status", "kind.receipt": "bevestiging",
    "kind.custody_in": "bewaring", "kind.custody_out": "bewaring", "kind.operator": "actie",
    "kind.service": "dienst", "kind.notice": "melding", "kind.clock": "klok", "kind.correction": "correctie",
    "d.msg_out": "Bericht {msg} aan {to} ({prio}, {type}): {text}",
    "d.msg_in": "Bericht {msg} van {origin} {via} ({prio}, {type}): {text}",
    "d.state": "Bericht {msg}: {state}{via}{detail}",
    "d.receipt": "Bericht {msg}: ontvangst bevestigd door {by}",
    "d.custody_in": "In bewaring: bericht van {origin} voor {dst} ({prio}), via {frm}",
    "d.custody_out": "Uit bewaring: bericht van {origin} voor {dst} ({reason})",
    "d.read": "Gelezen: bericht {msg}",
    "d.note": "Notitie: {text}",
    "d.ping": "Ping naar {to}: {result}",
    "d.export": "Journaal geëxporteerd ({format}, regels {first}–{last})",
    "d.clock_confirm": "Klok door operator bevestigd",
    "d.start": "Dienst gestart (versie {version})",
    "d.stop": "Dienst gestopt",
    "d.link_up": "Verbinding {link} is er (weer): {detail}",
    "d.link_down": "Verbinding {link} verloren: {detail}",
    "d.notice": "Melding: {text}",
    "d.clock_source": "Klokbron: {frm} → {to}",
    "d.clock_step": "Klok verzet met {s:+.0f} s (bron {src})",
    "d.correction": "Regels {lo}–{hi} (vóór de klok bekend was) hersteld: tijd = opstart + {base}",
    "via.ip": "via IP", "via.radio": "via radio",
    "state.queued": "in wachtrij", "state.in_flight": "uitgezonden", "state.held_by_relay": "bij CP in bewaring",
    "state.delivered": "afgeleverd", "state.expired": "verlopen", "state.accepted": "geaccepteerd",
    "none": "Geen regels.",
    "verify_ok": "Journaal van {box} klopt: {count} regels ({first}–{last}), ondertekend tot en met regel {signed}.",
    "verify_ok_unsigned": "Let op: regels na {signed} zijn nog niet ondertekend (de dienst tekent elke 5 minuten).",
    "verify_bad": "Journaal van {box} is NIET in orde: {count} probleem/problemen.",
    "verify_where": "  regel {n}{pos}: {detail}",
    "verify_pos": " (positie {pos} in het bestand)",
    "verify_key": "Sleutel gecontroleerd tegen de roster: {ok}",
    "key_yes": "ja", "key_no_roster": "nee (geen roster beschikbaar; sleutel uit het bestand gebruikt)",
    "key_differs": "NEE: de sleutel in het bestand is niet die van deze post in de roster",
    "export_written": "Geëxporteerd: {path} ({count} regels, kop {n} {hash}…{signed})",
    "export_signed": ", ondertekend",
    "export_unsigned": ", NIET ondertekend: {why}",
    "note_written": "Notitie vastgelegd in het journaal.",
    "clock_confirmed": "Klok bevestigd voor deze opstart; nieuwe regels krijgen klokbron OPERATOR.",
    "clock_now": "Klok nu: {time}, bron {src}",
    "merge_header": "Samengevoegde tijdlijn: {boxes} ({count} regels)",
    "merge_msg": "Bericht {msg}: verzonden {sent} door {src}; ontvangen {recv}",
    "merge_not_received": "nog niet ontvangen in deze exports",
    "handover_title": "Overdracht {box} — {time} (klok {clock})",
    "handover_open": "Open noodmeldingen en aanvragen ({n}):",
    "handover_unread": "Ongelezen berichten ({n}):",
    "handover_undelivered": "Nog niet afgeleverd ({n}):",
    "handover_shift": "Deze dienst (sinds {since}): {sent} verzonden, {recv} ontvangen, {notes} notities, "
                      "{expired} verlopen",
    "handover_nothing": "  (geen)",
    "bad_period": "ongeldige tijd {value!r}; gebruik bijvoorbeeld 2026-12-06, '2026-12-06 14:00', 6h of 2d",
    "bad_kind": "onbekende soort {value!r}; kies uit {known}",
    "bad_format": "onbekend formaat {value!r}; kies csv, json of pdf",
    "no_file": "bestand {path} niet gevonden of onleesbaar",
    "page": "Pagina {page} van {pages}",
    "pdf_head": "Kop: regel {n}, SHA-256 {hash}",
    "pdf_sig": "Ondertekend door {box} (Ed25519 {pub}…): {sig}…",
    "pdf_nosig": "Niet ondertekend: {why}",
    "pdf_total": "Totaal {count} regels. Controleer met: nspgw journaal verify BESTAND.json",
    "pdf_box": "Post {box} (adres {addr}, {role})",
    "pdf_period": "Periode {since} – {until}; geëxporteerd {now} (klok {clock})",
}

EN: dict[str, str] = {
    "title": "Journal (communications log)",
    "col.n": "No", "col.time": "Time", "col.clock": "Clock", "col.kind": "Kind", "col.actor": "Who",
    "col.what": "Description", "col.box": "Post",
    "clock.unsync": "UNSURE",
    "redated": "re-dated",
    "since_boot": "boot+{s:.0f}s",
    "kind.msg_out": "sent", "kind.msg_in": "received", "kind.state": "state", "kind.receipt": "receipt",
    "kind.custody_in": "custody", "kind.custody_out": "custody", "kind.operator": "action",
    "kind.service": "service", "kind.notice": "notice", "kind.clock": "clock", "kind.correction": "correction",
    "d.msg_out": "Message {msg} to {to} ({prio}, {type}): {text}",
    "d.msg_in": "Message {msg} from {origin} {via} ({prio}, {type}): {text}",
    "d.state": "Message {msg}: {state}{via}{detail}",
    "d.receipt": "Message {msg}: receipt from {by}",
    "d.custody_in": "Custody taken: message from {origin} for {dst} ({prio}), via {frm}",
    "d.custody_out": "Custody ended: message from {origin} for {dst} ({reason})",
    "d.read": "Read: message {msg}",
    "d.note": "Note: {text}",
    "d.ping": "Ping to {to}: {result}",
    "d.export": "Journal exported ({format}, entries {first}–{last})",
    "d.clock_confirm": "Clock confirmed by the operator",
    "d.start": "Service started (version {version})",
    "d.stop": "Service stopped",
    "d.link_up": "Link {link} up: {detail}",
    "d.link_down": "Link {link} lost: {detail}",
    "d.notice": "Notice: {text}",
    "d.clock_source": "Clock source: {frm} → {to}",
    "d.clock_step": "Clock set by {s:+.0f} s (source {src})",
    "d.correction": "Entries {lo}–{hi} (made before the clock was known) re-dated: time = boot + {base}",
    "via.ip": "via IP", "via.radio": "via radio",
    "state.queued": "queued", "state.in_flight": "on air", "state.held_by_relay": "held by the CP",
    "state.delivered": "delivered", "state.expired": "expired", "state.accepted": "accepted",
    "none": "No entries.",
    "verify_ok": "Journal of {box} is intact: {count} entries ({first}–{last}), signed up to entry {signed}.",
    "verify_ok_unsigned": "Note: entries after {signed} are not signed yet (the service signs every 5 minutes).",
    "verify_bad": "Journal of {box} is NOT intact: {count} problem(s).",
    "verify_where": "  entry {n}{pos}: {detail}",
    "verify_pos": " (position {pos} in the file)",
    "verify_key": "Key checked against the roster: {ok}",
    "key_yes": "yes", "key_no_roster": "no (no roster available; the file's own key was used)",
    "key_differs": "NO: the key in the file is not this post's key in the roster",
    "export_written": "Exported: {path} ({count} entries, head {n} {hash}…{signed})",
    "export_signed": ", signed",
    "export_unsigned": ", NOT signed: {why}",
    "note_written": "Note written to the journal.",
    "clock_confirmed": "Clock confirmed for this boot; new entries get clock source OPERATOR.",
    "clock_now": "Clock now: {time}, source {src}",
    "merge_header": "Merged timeline: {boxes} ({count} entries)",
    "merge_msg": "Message {msg}: sent {sent} by {src}; received {recv}",
    "merge_not_received": "not received in these exports",
    "handover_title": "Handover {box} — {time} (clock {clock})",
    "handover_open": "Open emergencies and requests ({n}):",
    "handover_unread": "Unread messages ({n}):",
    "handover_undelivered": "Not yet delivered ({n}):",
    "handover_shift": "This shift (since {since}): {sent} sent, {recv} received, {notes} notes, {expired} expired",
    "handover_nothing": "  (none)",
    "bad_period": "invalid time {value!r}; use e.g. 2026-12-06, '2026-12-06 14:00', 6h or 2d",
    "bad_kind": "unknown kind {value!r}; choose from {known}",
    "bad_format": "unknown format {value!r}; choose csv, json or pdf",
    "no_file": "file {path} not found or unreadable",
    "page": "Page {page} of {pages}",
    "pdf_head": "Head: entry {n}, SHA-256 {hash}",
    "pdf_sig": "Signed by {box} (Ed25519 {pub}…): {sig}…",
    "pdf_nosig": "Not signed: {why}",
    "pdf_total": "{count} entries in total. Check with: nspgw journaal verify FILE.json",
    "pdf_box": "Post {box} (address {addr}, {role})",
    "pdf_period": "Period {since} – {until}; exported {now} (clock {clock})",
}

PRIO = {"nl": {"flash": "FLASH", "immediate": "SPOED", "priority": "VOORRANG", "routine": "ROUTINE"},
        "en": {"flash": "FLASH", "immediate": "IMMEDIATE", "priority": "PRIORITY", "routine": "ROUTINE"}}


def jt(key: str, lang: str = "nl", **fields: object) -> str:
    text = (EN if lang == "en" else NL).get(key) or NL[key]
    return text.format(**fields) if fields else text


def fmt_time(wall: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall))


def when(e: Entry, lang: str) -> tuple[str, str]:
    """(time, clock) columns: the best known time and how sure it is; an unknown clock shows boot time too."""
    clock = jt("clock." + e.clock, lang)
    if e.redated:
        return fmt_time(e.shown_wall), f"{clock}→{jt('redated', lang)}"
    if e.clock == "unsync":
        return fmt_time(e.wall), f"{clock} {jt('since_boot', lang, s=e.mono)}"
    return fmt_time(e.wall), clock


def describe(e: Entry, lang: str, name: Callable[[int], str], me: int | None = None) -> str:
    """The entry in one sentence, in the operator's language."""
    d: dict[str, Any] = e.data
    prio = PRIO["en" if lang == "en" else "nl"].get(str(d.get("precedence")), str(d.get("precedence", "")))
    via = jt("via." + d["link"], lang) if d.get("link") in ("ip", "radio") else ""

    def msg(origin: Any, seq: Any) -> str:
        return f"{name(int(origin))}/{seq}" if origin is not None else f"{name(me) if me else '#'}/{seq}"

    k = e.kind
    kind_word = {"text": "tekst" if lang != "en" else "text", "ruw": "ruw" if lang != "en" else "raw"}
    if "type" in d:
        d = dict(d, type=kind_word.get(str(d["type"]), d["type"]))
    if k == "msg_out":
        return jt("d.msg_out", lang, msg=msg(d.get("origin"), d["seq"]), to=name(d["to"]), prio=prio,
                  type=d.get("type", ""), text=_first(d.get("text", "")))
    if k == "msg_in":
        return jt("d.msg_in", lang, msg=msg(d["origin"], d["seq"]), origin=name(d["origin"]), via=via, prio=prio,
                  type=d.get("type", ""), text=_first(d.get("text", "")))
    if k == "state":
        return jt("d.state", lang, msg=msg(None, d["seq"]), state=jt("state." + d["state"], lang),
                  via=f" ({via})" if via else "", detail=f" — {d['detail']}" if d.get("detail") else "")
    if k == "receipt":
        return jt("d.receipt", lang, msg=msg(None, d["seq"]), by=name(d["by"]))
    if k == "custody_in":
        return jt("d.custody_in", lang, origin=name(d["origin"]), dst=name(d["dst"]), prio=prio, frm=name(d["from"]))
    if k == "custody_out":
        return jt("d.custody_out", lang, origin=name(d["origin"]), dst=name(d["dst"]), reason=d.get("reason", ""))
    if k == "operator":
        act = d.get("action")
        if act == "read":
            return jt("d.read", lang, msg=msg(d["origin"], d["seq"]))
        if act == "note":
            return jt("d.note", lang, text=d.get("text", ""))
        if act == "ping":
            return jt("d.ping", lang, to=name(d["to"]), result=d.get("result", ""))
        if act == "export":
            return jt("d.export", lang, format=d.get("format"), first=d.get("first"), last=d.get("last"))
        if act == "clock_confirm":
            return jt("d.clock_confirm", lang)
        return str(act)
    if k == "service":
        ev = d.get("event")
        if ev in ("start", "stop"):
            return jt("d." + ev, lang, version=d.get("version", ""))
        if ev in ("link_up", "link_down"):
            return jt("d." + ev, lang, link=d.get("link"), detail=d.get("detail", ""))
        return str(ev)
    if k == "notice":
        return jt("d.notice", lang, text=d.get("text", ""))
    if k == "clock":
        if "stepped_s" in d:
            return jt("d.clock_step", lang, s=float(d["stepped_s"]), src=jt("clock." + d["source"], lang))
        return jt("d.clock_source", lang, frm=jt("clock." + d["from"], lang), to=jt("clock." + d["to"], lang))
    if k == "correction":
        return jt("d.correction", lang, lo=d["from_n"], hi=d["to_n"], base=fmt_time(float(d["base"])))
    return k


def _first(text: str, width: int = 160) -> str:
    """A rendered text or form on one line: lines joined by " / ", list items ("- x") by commas."""
    line = ""
    for raw in text.splitlines():
        x = raw.strip()
        if not x:
            continue
        if x.startswith("- ") and line:
            line += (" " if line.endswith(":") else ", ") + x[2:]
        else:
            line += (" / " if line else "") + x
    return line if len(line) <= width else line[: width - 1] + "…"
