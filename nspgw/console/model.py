"""What the console shows, read from the box's store and roster: plain dicts for the pages and the API.

A thin reader like the CLI (nspgw.cli.inbox/outbox/status): no core logic. The handling state of a report
is not stored separately: it is the newest AFHANDELING message about it, in this box's outbox (we handled a
report we received) or in its inbox (the receiving meldkamer told us about one we sent).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from nspgw.errors import NspgwError
from nspgw.wire.content import decode_content, render
from nspgw.wire.frames import ContentType, Precedence
from nspgw.wire.handling import Handling, decode_handling, state_word

ALARM_TYPES = (ContentType.NOODMELDING,)
HANDLED_TYPES = (ContentType.NOODMELDING, ContentType.AANVRAAG)  # reports that get "in behandeling"


@dataclass(frozen=True)
class Decoded:
    content_type: ContentType | None
    title: str
    lines: tuple[tuple[str, str], ...]  # (label, value); label "" for a plain line
    text: str
    handling: Handling | None = None


def decode(body: bytes, lang: str) -> Decoded:
    try:
        ct, value = decode_content(body)
        text = render(ct, value, lang)
    except NspgwError as exc:
        msg = f"[onleesbaar: {exc}]" if lang == "nl" else f"[unreadable: {exc}]"
        return Decoded(None, msg, (), msg)
    handling = None
    if ct == ContentType.AFHANDELING and isinstance(value, str):
        try:
            handling = decode_handling(value)
        except NspgwError:
            handling = None
    rows = text.splitlines()
    if ct == ContentType.TEXT or not rows:
        return Decoded(ct, "", tuple(("", r) for r in rows), text, handling)
    lines = []
    for r in rows[1:]:
        label, sep, val = r.partition(": ")
        lines.append((label, val) if sep and len(label) < 40 and not r.startswith("- ") else ("", r))
    return Decoded(ct, rows[0], tuple(lines), text, handling)


def _when(wall: float) -> str:
    return time.strftime("%d-%m %H:%M", time.localtime(wall))


def _name(roster: Any, addr: int) -> str:
    from nspgw.cli.context import box_name

    return str(box_name(roster, addr))


def handled_by_us(store: Any, lang: str) -> dict[tuple[int, int], dict[str, Any]]:
    """(origin, seq) of a received report → newest handling status this box sent about it."""
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for o in store.outbox():
        if o.content_type != ContentType.AFHANDELING:
            continue
        d = decode(o.body, lang)
        if d.handling is not None:
            out[(int(o.dst), d.handling.report_seq)] = _handling_dict(d.handling, o.accepted_wall, lang,
                                                                   state=o.state.value)
    return out


def handled_by_them(inbox_rows: list[Any], lang: str) -> dict[tuple[int, int], dict[str, Any]]:
    """(recipient, our seq) → newest handling status the recipient sent us about a report of ours."""
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for r in sorted(inbox_rows, key=lambda r: r.id):
        d = decode(r.body, lang)
        if d.handling is not None:
            out[(int(r.origin), d.handling.report_seq)] = _handling_dict(d.handling, r.received_wall, lang)
    return out


def _handling_dict(h: Handling, wall: float, lang: str, state: str = "") -> dict[str, Any]:
    return {"state": h.state.name.lower(), "word": state_word(h.state, lang), "operator": h.operator,
            "note": h.note, "when": _when(wall), "delivery": state}


def inbox(store: Any, roster: Any, lang: str) -> list[dict[str, Any]]:
    rows = store.inbox()
    ours = handled_by_us(store, lang)
    items = []
    for r in rows:
        d = decode(r.body, lang)
        if d.content_type == ContentType.AFHANDELING:
            continue  # shown with the report it is about (outbox), not as a message of its own
        handling = ours.get((int(r.origin), r.seq))
        items.append({
            "id": r.id, "from": _name(roster, r.origin), "from_addr": int(r.origin), "seq": r.seq,
            "precedence": r.precedence.name.lower(), "type": d.content_type.name.lower() if d.content_type else "",
            "title": d.title, "lines": d.lines, "text": d.text, "link": r.link, "received": _when(r.received_wall),
            "read": r.read, "handling": handling,
            "can_handle": d.content_type in HANDLED_TYPES,
            "alarm": r.precedence == Precedence.FLASH and d.content_type in ALARM_TYPES and handling is None,
        })
    return items  # the store orders by precedence (FLASH first), then arrival


def outbox(store: Any, roster: Any, lang: str, sent_via: dict[str, str]) -> list[dict[str, Any]]:
    theirs = handled_by_them(store.inbox(), lang)
    items = []
    for o in reversed(store.outbox()):
        d = decode(o.body, lang)
        if d.content_type == ContentType.AFHANDELING:
            summary = d.text.splitlines()[0] if d.text else ""
        else:
            summary = d.title or (d.text.splitlines()[0] if d.text else "")
        items.append({
            "seq": o.seq, "to": _name(roster, o.dst), "precedence": o.precedence.name.lower(),
            "type": d.content_type.name.lower() if d.content_type else "", "summary": summary[:120],
            "state": o.state.value, "detail": o.detail, "accepted": _when(o.accepted_wall),
            "receipts": [_name(roster, b) for b in o.receipts], "link": sent_via.get(str(o.seq), ""),
            "handling": theirs.get((int(o.dst), o.seq)),
        })
    return items


def board(store: Any, roster: Any, me: Any, record: dict[str, Any] | None, lang: str) -> list[dict[str, Any]]:
    """One row per post beneath this box: a CP's NSPs; the crisis team's CPs and NSPs."""
    from nspgw.crypto.roster import Role
    from nspgw.daemon.status import age_s

    if me.role == Role.CP:
        posts = [e for e in roster.entries if e.parent == me.addr and not e.revoked]
    else:
        posts = [e for e in roster.entries if e.role in (Role.CP, Role.NSP) and not e.revoked]
    rows = store.inbox()
    ours = handled_by_us(store, lang)
    peers = (record or {}).get("peers", {})
    backlog: dict[int, int] = {}
    for o in store.outbox():
        if o.state.value not in ("delivered", "expired"):
            backlog[int(o.dst)] = backlog.get(int(o.dst), 0) + 1
    out = []
    for e in sorted(posts, key=lambda e: (e.role != Role.CP, e.name)):
        status = None
        open_items = []
        for r in rows:
            if int(r.origin) != int(e.addr):
                continue
            d = decode(r.body, lang)
            if d.content_type == ContentType.SITRAP:
                status = {"title": d.title, "lines": d.lines, "received": _when(r.received_wall)}
            elif d.content_type in HANDLED_TYPES:
                h = ours.get((int(r.origin), r.seq))
                if h is None or h["state"] != "afgehandeld":
                    open_items.append({"id": r.id, "title": d.title, "received": _when(r.received_wall),
                                       "precedence": r.precedence.name.lower(), "handling": h})
        peer = peers.get(str(int(e.addr))) or {}
        heard = age_s(record or {}, peer.get("wall"), peer.get("mono")) if peer else None
        out.append({"name": e.name, "addr": int(e.addr), "role": e.role.value,
                    "parent": _name(roster, e.parent) if e.parent is not None else "",
                    "open": _open_word(status), "status": status, "open_items": open_items,
                    "heard_age_s": heard, "link": peer.get("link", ""), "backlog": backlog.get(int(e.addr), 0)})
    return out


def _open_word(status: dict[str, Any] | None) -> str:
    if status is None:
        return "unknown"
    head = status["title"].casefold()
    return "closed" if "gesloten" in head or "closed" in head else "open"


def health(store: Any, record: dict[str, Any] | None, running: bool, why: str) -> dict[str, Any]:
    rec = record or {}
    limit = rec.get("airtime_limit_ms") or 0
    used = rec.get("airtime_used_ms") or 0
    return {
        "running": running, "why": why, "radio": rec.get("radio", {}), "mqtt": rec.get("mqtt", {}),
        "links": rec.get("links", {}), "queue": rec.get("queue", {}), "custody": rec.get("custody", 0),
        # radio work per precedence and its expected delay (core/backlog.py); a stopped daemon sends nothing
        "backlog": rec.get("backlog") if running else None,
        "airtime_used_ms": used, "airtime_limit_ms": limit,
        "airtime_pct": round(100 * used / limit) if limit else 0,
        "preset": rec.get("preset", ""), "region": rec.get("region", ""),
        "store_bytes": store.path.stat().st_size if store.path.exists() else 0,
        "inbox_unread": sum(1 for r in store.inbox(unread_only=True)),
        "clock": _clock_quality(),
    }


def _clock_quality() -> str:
    """'synced' when the kernel says NTP disciplines the clock (adjtimex), else 'unsynced'."""
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex (≈208 bytes on 64-bit)
        state = libc.adjtimex(buf)
        return "unsynced" if state == 5 else "synced"  # TIME_ERROR (5): clock not synchronised
    except (OSError, AttributeError):
        return "unknown"
