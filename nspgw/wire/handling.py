"""The handling status of a received report ("in behandeling", "afgehandeld"), sent back to its originator.

A meldkamer that takes an emergency report tells the post that sent it, so that the volunteers there know
somebody acts on it. This rides the ordinary message path (sealed, receipted, custody through the CP) as
content type AFHANDELING whose text is four fields separated by U+001F (unit separator):

    <seq of the report at its originator> US <state: 1 in behandeling, 2 afgehandeld> US <operator> US <note>

The report's origin is the status message's destination, so the sequence number alone names it. The text is
compressed like any free text: a typical status ("812␟1␟Jansen␟ambulance onderweg") costs one small frame.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from nspgw.errors import DecodeError, UsageError

SEP = "\x1f"
MAX_OPERATOR = 32
MAX_NOTE = 200
MAX_REPORT_SEQ = (1 << 27) - 1  # wire.codec.MAX_SEQ (not imported: the codec pulls in the crypto layer)


class HandlingState(enum.IntEnum):
    IN_BEHANDELING = 1
    AFGEHANDELD = 2


_WORDS = {
    "nl": {HandlingState.IN_BEHANDELING: "in behandeling", HandlingState.AFGEHANDELD: "afgehandeld",
           "by": "door", "report": "melding"},
    "en": {HandlingState.IN_BEHANDELING: "being handled", HandlingState.AFGEHANDELD: "dealt with",
           "by": "by", "report": "report"},
}


@dataclass(frozen=True, slots=True)
class Handling:
    report_seq: int
    state: HandlingState
    operator: str
    note: str = ""


def _clean(text: str, limit: int, what: str, required: bool) -> str:
    text = " ".join(text.split())  # one line: the separator and newlines never reach the wire
    if required and not text:
        raise UsageError(f"{what}: verplicht / required")
    if len(text) > limit:
        raise UsageError(f"{what}: te lang ({len(text)} tekens, max {limit}) / too long")
    return text


def make_handling(report_seq: int, state: HandlingState, operator: str, note: str = "") -> Handling:
    """A validated status; UsageError (Dutch first) for bad input."""
    if not 1 <= report_seq <= MAX_REPORT_SEQ:
        raise UsageError(f"meldingnummer {report_seq} buiten bereik / report number out of range")
    return Handling(report_seq, HandlingState(state), _clean(operator, MAX_OPERATOR, "operator", True),
                    _clean(note, MAX_NOTE, "notitie/note", False))


def encode_handling(h: Handling) -> str:
    return SEP.join((str(h.report_seq), str(int(h.state)), h.operator, h.note))


def decode_handling(text: str) -> Handling:
    """Inverse of `encode_handling`; DecodeError for anything else."""
    parts = text.split(SEP)
    if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
        raise DecodeError("afhandelingsbericht onleesbaar / unreadable handling status")
    try:
        return make_handling(int(parts[0]), HandlingState(int(parts[1])), parts[2], parts[3])
    except (ValueError, UsageError) as exc:
        raise DecodeError(f"afhandelingsbericht onleesbaar: {exc}") from None


def state_word(state: HandlingState, lang: str = "nl") -> str:
    return str(_WORDS.get(lang, _WORDS["nl"])[state])


def render_handling(h: Handling, lang: str = "nl") -> str:
    w = _WORDS.get(lang, _WORDS["nl"])
    line = f"{w['report'].capitalize()} {h.report_seq}: {w[h.state]} ({w['by']} {h.operator})"
    return f"{line}\n{h.note}" if h.note else line
