"""The work behind `nspgw journaal`: periods, building an export, the shift handover, the merged timeline.

Kept apart from the typer commands (nspgw/cli/journaal.py) so the console can call the same functions.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from nspgw.cli.journaal_texts import describe, fmt_time, jt, when
from nspgw.journal.chain import Report
from nspgw.journal.entry import Entry, corrections, redate

_REL = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")


def parse_moment(value: str | None, lang: str, *, now: float | None = None) -> float | None:
    """A period bound: '2026-12-06', '2026-12-06 14:00[:ss]', or a span back from now ('30m', '6h', '2d')."""
    from nspgw.errors import UsageError

    if value is None:
        return None
    m = _REL.match(value)
    if m:
        return (now if now is not None else time.time()) - int(m.group(1)) * {"m": 60, "h": 3600, "d": 86400}[m[2]]
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(value.strip(), fmt).timestamp()
        except ValueError:
            continue
    raise UsageError(jt("bad_period", lang, value=value))


def namer(roster: Any) -> Callable[[int], str]:
    from nspgw.cli.context import box_name

    return lambda addr: box_name(roster, addr)


def row_of(e: Entry, lang: str, name: Callable[[int], str], me: int) -> dict[str, Any]:
    tm, clock = when(e, lang)
    return {"n": e.n, "time": tm, "clock": clock, "clock_source": e.clock, "redated": e.redated,
            "wall_as_written": e.wall, "kind": e.kind, "actor": e.actor, "text": describe(e, lang, name, me),
            "data": e.data, "hash": e.hash}


def line_of(d: dict[str, Any], lang: str) -> str:
    kind = jt("kind." + d["kind"], lang)
    return f"{d['n']:>6}  {d['time']}  {d['clock']:<10} {kind:<11} {d['actor']:<12} {d['text']}"


# -------------------------------------------------------------------------------------------------- export
def load_identity_or_reason(cfg: Any) -> tuple[Any, str]:
    """The box's identity for signing, or None and why not (an operator account may not read box.key)."""
    from nspgw.errors import NspgwError
    from nspgw.store.keyfiles import BOX_KEY, load_identity

    try:
        return load_identity(cfg.keys_dir / BOX_KEY)[1], ""
    except (NspgwError, OSError) as exc:
        return None, str(exc)


def build_export(store: Any, cfg: Any, me: Any, entries: Sequence[Entry], since: float | None, until: float | None,
                 fmt: str) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """(header, signatures, reason-not-signed) for an export of `entries`, signing its last entry if we can."""
    from nspgw.adapters.clock import time_source
    from nspgw.journal.export import FORMAT, header_message

    identity, why = load_identity_or_reason(cfg)
    first = entries[0].n if entries else None
    last = entries[-1].n if entries else None
    if identity is not None and last is not None:
        store.journal_sign(int(me.addr), identity.sign, last)
    sigs = [s for s in store.journal_heads(up_to=last) if first is not None and s["n"] >= first]
    header: dict[str, Any] = {
        "format": FORMAT, "box": me.name, "addr": int(me.addr), "role": str(me.role.value),
        "sign_public": me.sign_public.hex(), "exported_wall": round(time.time(), 3), "clock": time_source(),
        "since": since, "until": until, "first_n": first, "last_n": last,
        "start_prev": entries[0].prev if entries else None, "output": fmt}
    if identity is not None:
        header["export_signature"] = identity.sign(header_message(header)).hex()
    return header, sigs, why


def export_bytes(store: Any, cfg: Any, me: Any, since: float | None, until: float | None, fmt: str, lang: str,
                 name: Callable[[int], str],
                 actor: str | None = None) -> tuple[bytes, dict[str, Any], list[Entry], str]:
    """One export of the period as csv, json or pdf: (bytes, header, entries, reason-not-signed). The export is
    itself journalled as the operator's action (`actor`: a console operator; None: the box's own user)."""
    from nspgw.journal.export import to_csv, to_json

    entries = store.journal_entries(since=since, until=until)
    header, sigs, why = build_export(store, cfg, me, entries, since, until, fmt)
    if fmt == "json":
        data = to_json(header, entries, sigs).encode("utf-8")
    elif fmt == "csv":
        data = to_csv(entries, lambda e: describe(e, lang, name, int(me.addr)), lambda e: when(e, lang),
                      lambda k: jt("kind." + k, lang)).encode("utf-8")
    else:
        data = pdf_bytes(header, sigs, why, entries, lang, name)
    store.journal_record("operator", {"action": "export", "format": fmt, "first": header["first_n"],
                                      "last": header["last_n"]}, actor=actor)
    return data, header, entries, why


def pdf_bytes(header: dict[str, Any], sigs: Sequence[dict[str, Any]], why: str, entries: Sequence[Entry],
              lang: str, name: Callable[[int], str]) -> bytes:
    from nspgw.journal.pdf import Layout, render

    last = entries[-1] if entries else None
    head_sig = next((s for s in sigs if last is not None and s["n"] == last.n), None)
    sig_line = (jt("pdf_sig", lang, box=header["box"], pub=header["sign_public"][:16], sig=head_sig["signature"][:48])
                if head_sig else jt("pdf_nosig", lang, why=why or "?"))
    span = (fmt_time(entries[0].shown_wall), fmt_time(entries[-1].shown_wall)) if entries else ("-", "-")
    layout = Layout(
        title=jt("title", lang),
        box_line=jt("pdf_box", lang, box=header["box"], addr=header["addr"], role=header["role"].upper()),
        period_line=jt("pdf_period", lang, since=span[0], until=span[1], now=fmt_time(header["exported_wall"]),
                       clock=jt("clock." + header["clock"], lang)),
        head_line=jt("pdf_head", lang, n=last.n if last else 0, hash=last.hash if last else "-"),
        sig_line=sig_line, page_text=jt("page", lang, page="{page}", pages="{pages}"),
        columns=tuple(jt("col." + c, lang) for c in ("n", "time", "clock", "kind", "actor", "what")),
        total_line=jt("pdf_total", lang, count=len(entries)))
    me = int(header["addr"])

    def row(e: Entry) -> tuple[str, ...]:
        tm, clock = when(e, lang)
        return (str(e.n), tm, clock, jt("kind." + e.kind, lang), e.actor, describe(e, lang, name, me))

    return render(layout, entries, row)


def report_lines(report: Report, box: str, lang: str) -> tuple[bool, list[str]]:
    if report.ok:
        lines = [jt("verify_ok", lang, box=box, count=report.entries, first=report.first_n or 0,
                    last=report.last_n or 0, signed=report.signed_n or 0)]
        if any(p.code == "unsigned" for p in report.problems):
            lines.append(jt("verify_ok_unsigned", lang, signed=report.signed_n or 0))
        return True, lines
    bad = [p for p in report.problems if p.code != "unsigned"]
    lines = [jt("verify_bad", lang, box=box, count=len(bad))]
    for p in bad:
        pos = jt("verify_pos", lang, pos=p.position) if p.position is not None else ""
        lines.append(jt("verify_where", lang, n=p.n if p.n is not None else "?", pos=pos, detail=p.detail))
    return False, lines


# ------------------------------------------------------------------------------------------------ handover
OPEN_TYPES = ("noodmelding", "aanvraag")


def handover(store: Any, roster: Any, lang: str, since: float) -> dict[str, Any]:
    """A shift summary: open emergencies and requests, unread, undelivered, and what this shift did.

    "Open" is what nspgw can know: a received emergency or request not yet read, or received this shift;
    one of ours not yet delivered. Whether it has been dealt with is the crisis organisation's call (a note)."""
    from nspgw.adapters.clock import time_source
    from nspgw.cli.inbox import _render, row_dict

    inbox = [row_dict(r, roster, lang) for r in store.inbox()]
    unread = [d for d in inbox if not d["read"]]
    recent = [r.id for r in store.inbox() if r.received_wall >= since]
    name = namer(roster)
    undelivered = []
    for r in store.outbox():
        if r.state.value in ("delivered", "expired"):
            continue
        kind, text = _render(r.body, lang)
        undelivered.append({"seq": r.seq, "to": name(int(r.dst)), "precedence": r.precedence.name.lower(),
                            "state": r.state.value, "type": kind, "text": text.splitlines()[0] if text else ""})
    open_in = [d for d in inbox if d["type"] in OPEN_TYPES and (not d["read"] or d["id"] in recent)]
    open_out = [d for d in undelivered if d["type"] in OPEN_TYPES]
    shift = store.journal_entries(since=since)
    count = {k: sum(1 for e in shift if e.kind == k) for k in ("msg_out", "msg_in")}
    return {"time": fmt_time(time.time()), "clock": time_source(), "since": fmt_time(since),
            "open": open_in + open_out, "unread": unread, "undelivered": undelivered,
            "shift": {"sent": count["msg_out"], "received": count["msg_in"],
                      "notes": sum(1 for e in shift if e.kind == "operator" and e.data.get("action") == "note"),
                      "expired": sum(1 for e in shift if e.kind == "state" and e.data.get("state") == "expired")}}


# --------------------------------------------------------------------------------------------------- merge
def merge(files: Sequence[Path], lang: str, key_of: Callable[[int], bytes | None]) -> dict[str, Any]:
    """One timeline of several boxes' exports; each message's send and receive entries matched by id.

    Each file is verified first (against the roster key when `key_of` knows the box): a broken file is
    reported and its entries are still shown, marked, so the crisis team sees what it has."""
    from nspgw.errors import UsageError
    from nspgw.journal.export import entry_from, read_json, verify_export

    boxes: list[dict[str, Any]] = []
    timeline: list[tuple[float, str, int, Entry, str]] = []
    names: dict[int, str] = {}
    for f in files:
        try:
            text = Path(f).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise UsageError(jt("no_file", lang, path=f)) from None
        header, raw, sigs = read_json(text)
        addr = int(header["addr"])
        names[addr] = str(header["box"])
        key = key_of(addr) or bytes.fromhex(str(header.get("sign_public", "")))
        report = verify_export(header, raw, sigs, key)
        ents = [entry_from(d) for d in raw if d]
        fixes = corrections(ents)
        boxes.append({"box": header["box"], "addr": addr, "file": str(f), "entries": len(ents), "ok": report.ok,
                      "roster_key": key_of(addr) is not None})
        for e in ents:
            e = redate(e, fixes)
            timeline.append((e.shown_wall, str(header["box"]), e.n, e, str(addr)))
    timeline.sort(key=lambda x: (x[0], x[1], x[2]))

    def name(a: int) -> str:
        return names.get(a, f"#{a}")

    messages: dict[str, dict[str, Any]] = {}
    rows = []
    for _, box, _, e, addr in timeline:
        d = e.data
        mid = None
        if e.kind in ("msg_out", "msg_in") or (e.kind == "operator" and d.get("action") == "read"):
            mid = f"{d.get('origin', addr)}/{d['seq']}"
        elif e.kind in ("state", "receipt"):
            mid = f"{addr}/{d['seq']}"
        tm, clock = when(e, lang)
        row = {"time": tm, "clock": clock, "box": box, "n": e.n, "kind": e.kind, "msg": mid,
               "text": describe(e, lang, name, int(addr))}
        rows.append(row)
        if mid is None:
            continue
        m = messages.setdefault(mid, {"msg": mid, "sent": None, "received": [], "states": []})
        if e.kind == "msg_out":
            m["sent"] = {"box": box, "time": tm, "clock": clock, "to": name(int(d["to"]))}
        elif e.kind == "msg_in":
            m["received"].append({"box": box, "time": tm, "clock": clock, "link": d.get("link")})
        elif e.kind == "state":
            m["states"].append({"state": d["state"], "time": tm})
    return {"boxes": boxes, "timeline": rows, "messages": list(messages.values())}
