"""Operator-facing texts: one catalogue, Dutch first, English available.

`t(key, lang, **fields)` looks a text up; a missing English text falls back to Dutch so that an operator never
sees a key instead of a sentence.
"""

from __future__ import annotations

import os

NL: dict[str, str] = {
    "accepted": "Bericht {id} geaccepteerd ({priority}) voor {to}. Het blijft bewaard tot het is afgeleverd.",
    "daemon_down_hint": "Let op: de nspgw-dienst draait niet; het bericht wacht tot de dienst start.",
    "unknown_recipient": "onbekende ontvanger {to!r}; bekend zijn: {known}",
    "empty_text": "het bericht is leeg",
    "text_too_long": "het bericht is te lang ({n} tekens; maximaal {max})",
    "bad_priority": "ongeldige prioriteit {value!r}; kies uit flash, immediate, priority, routine",
    "bad_ttl": "ongeldige geldigheidsduur {value!r}; gebruik bijvoorbeeld 30m, 6h of 2d",
    "no_messages": "Geen berichten.",
    "not_found": "bericht {id} niet gevonden",
    "state.accepted": "geaccepteerd",
    "state.queued": "in wachtrij",
    "state.in_flight": "onderweg",
    "state.held_by_relay": "bij coördinatiepunt in bewaring",
    "state.delivered": "afgeleverd",
    "state.expired": "verlopen",
    "via.ip": "via IP",
    "via.radio": "via radio",
    "prio.flash": "FLASH",
    "prio.immediate": "SPOED",
    "prio.priority": "VOORRANG",
    "prio.routine": "ROUTINE",
}

EN: dict[str, str] = {
    "accepted": "Message {id} accepted ({priority}) for {to}. It is kept until delivered.",
    "daemon_down_hint": "Note: the nspgw service is not running; the message waits until it starts.",
    "unknown_recipient": "unknown recipient {to!r}; known are: {known}",
    "empty_text": "the message is empty",
    "text_too_long": "the message is too long ({n} characters; at most {max})",
    "bad_priority": "invalid priority {value!r}; choose flash, immediate, priority or routine",
    "bad_ttl": "invalid time to live {value!r}; use e.g. 30m, 6h or 2d",
    "no_messages": "No messages.",
    "not_found": "message {id} not found",
    "state.accepted": "accepted",
    "state.queued": "queued",
    "state.in_flight": "in flight",
    "state.held_by_relay": "held by coordination point",
    "state.delivered": "delivered",
    "state.expired": "expired",
    "via.ip": "via IP",
    "via.radio": "via radio",
    "prio.flash": "FLASH",
    "prio.immediate": "IMMEDIATE",
    "prio.priority": "PRIORITY",
    "prio.routine": "ROUTINE",
}

CATALOGUES = {"nl": NL, "en": EN}


def default_lang() -> str:
    """Dutch unless `NSPGW_LANG` or the locale says English."""
    for var in ("NSPGW_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "en" if value.lower().startswith("en") else "nl"
    return "nl"


def t(key: str, lang: str = "nl", **fields: object) -> str:
    text = CATALOGUES.get(lang, NL).get(key) or NL[key]
    return text.format(**fields) if fields else text
