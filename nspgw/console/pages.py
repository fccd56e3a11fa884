"""HTML of the console pages: server-rendered, escaped, no template engine (a page is a function).

Every page is a `Page` in `PAGES`: its path, the nav label, which roles see it and a function from a
`View` (what the request may read) to the HTML of its `<main>`. A new page (say a journal) is one function
and one line in `PAGES`; the app routes, guards and live-refreshes it like the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any

from nspgw.console import model
from nspgw.console.texts import t


def e(value: object) -> str:
    return escape(str(value), quote=True)


@dataclass
class View:
    """What one request sees: the box, the operator, the language, and readers of the store."""

    lang: str
    operator: str
    csrf: str
    box: str
    role: str
    store: Any
    roster: Any
    me: Any
    record: dict[str, Any] | None
    running: bool
    why: str
    sent_via: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    notice: str = ""
    error: str = ""

    def t(self, key: str, **fields: object) -> str:
        return t(key, self.lang, **fields)


@dataclass(frozen=True)
class Page:
    path: str
    nav: str
    roles: tuple[str, ...]
    render: Callable[[View], str]
    live: bool = True  # re-rendered on every change (not for pages with a form being typed in)


def csrf_field(v: View) -> str:
    return f'<input type="hidden" name="csrf" value="{e(v.csrf)}">'


def _prio(v: View, p: str) -> str:
    return f'<span class="prio prio-{e(p)}">{e(v.t("prio." + p))}</span>'


def _lines(lines: tuple[tuple[str, str], ...]) -> str:
    out = []
    for label, value in lines:
        if label:
            out.append(f"<dt>{e(label)}</dt><dd>{e(value)}</dd>")
        else:
            out.append(f'<dd class="wide">{e(value)}</dd>')
    return f'<dl class="form">{"".join(out)}</dl>' if out else ""


def _handling(v: View, h: dict[str, Any] | None) -> str:
    if h is None:
        key = "handle.at_cp" if v.role == "gct" else "handle.none"
        return f'<p class="handling handling-{"copy" if v.role == "gct" else "none"}">{e(v.t(key))}</p>'
    text = v.t("handle.by", state=h["word"].capitalize(), operator=h["operator"])
    note = f' — {e(h["note"])}' if h["note"] else ""
    return (f'<p class="handling handling-{e(h["state"])}"><strong>{e(text)}</strong>{note} '
            f'<small>{e(h["when"])}</small></p>')


def handle_form(v: View, item: dict[str, Any], big: bool = False) -> str:
    cls = "handle big" if big else "handle"
    return (f'<form class="{cls}" method="post" action="/inbox/{item["id"]}/handle">{csrf_field(v)}'
            f'<label>{e(v.t("handle.note"))}<input name="note" maxlength="200" autocomplete="off"></label>'
            f'<div class="buttons"><button name="state" value="in_behandeling" class="btn warn">'
            f'{e(v.t("handle.in_behandeling"))}</button>'
            f'<button name="state" value="afgehandeld" class="btn ok">{e(v.t("handle.afgehandeld"))}</button></div>'
            f'</form>')


def alarm_overlay(v: View, items: list[dict[str, Any]]) -> str:
    """Full-screen banner for the first FLASH report nobody has taken yet (rendered on every page)."""
    pending = [i for i in items if i["alarm"]]
    if not pending:
        return ""
    item = pending[0]
    more = f'<p class="more">+{len(pending) - 1}</p>' if len(pending) > 1 else ""
    return (f'<div id="alarm-banner" class="alarm" role="alertdialog" aria-live="assertive">'
            f'<div class="alarm-box"><h1>{e(v.t("alarm.title"))}</h1>'
            f'<p class="alarm-from">{e(v.t("alarm.from", name=item["from"], received=item["received"]))}</p>'
            f'<h2>{e(item["title"])}</h2>{_lines(item["lines"])}<p class="hint">{e(v.t("alarm.hint"))}</p>'
            f'{handle_form(v, item, big=True)}{more}</div></div>')


def inbox_page(v: View) -> str:
    items = model.inbox(v.store, v.roster, v.lang)
    if not items:
        return f'<h1>{e(v.t("inbox.title"))}</h1><p class="empty">{e(v.t("inbox.empty"))}</p>'
    cards = []
    for i in items:
        unread = "" if i["read"] else f'<span class="badge">{e(v.t("inbox.unread"))}</span>'
        read_btn = "" if i["read"] else (
            f'<form method="post" action="/inbox/{i["id"]}/read" class="inline">{csrf_field(v)}'
            f'<button class="btn small">{e(v.t("inbox.mark_read"))}</button></form>')
        # the crisis team gets copies of emergency reports for its picture; the CP handles them
        can_handle = i["can_handle"] and not (v.role == "gct" and i["type"] == "noodmelding")
        handling = (_handling(v, i["handling"]) + handle_form(v, i)) if can_handle else ""
        title = f'<h2>{e(i["title"])}</h2>' if i["title"] else ""
        cards.append(
            f'<article class="msg {"unread" if not i["read"] else ""} msg-{e(i["precedence"])}" id="m{i["id"]}">'
            f'<header>{unread}{_prio(v, i["precedence"])} <strong>{e(v.t("inbox.from", name=i["from"]))}</strong>'
            f' <small>{e(i["received"])} · {e(v.t("inbox.via", link=v.t("link." + i["link"])))}</small></header>'
            f'{title}{_lines(i["lines"])}{handling}{read_btn}</article>')
    return f'<h1>{e(v.t("inbox.title"))}</h1>' + "".join(cards)


def outbox_page(v: View) -> str:
    items = model.outbox(v.store, v.roster, v.lang, v.sent_via)
    if not items:
        return f'<h1>{e(v.t("outbox.title"))}</h1><p class="empty">{e(v.t("outbox.empty"))}</p>'
    rows = []
    for o in items:
        receipts = f'<br><small>{e(v.t("outbox.receipt", names=", ".join(o["receipts"])))}</small>' \
            if o["receipts"] else ""
        link = f' · {e(v.t("link." + o["link"]))}' if o["link"] else ""
        show = o["handling"] is not None or (o["type"] == "noodmelding" and o["precedence"] == "flash")
        handling = _handling(v, o["handling"]) if show else ""
        rows.append(
            f'<article class="msg out msg-{e(o["precedence"])}" id="s{o["seq"]}"><header>{_prio(v, o["precedence"])}'
            f' <strong>#{o["seq"]} → {e(o["to"])}</strong> <small>{e(o["accepted"])}</small></header>'
            f'<p>{e(o["summary"])}</p><p class="state state-{e(o["state"])}">{e(v.t("state." + o["state"]))}'
            f'{link}{receipts}</p>{handling}</article>')
    return f'<h1>{e(v.t("outbox.title"))}</h1>' + "".join(rows)


def _ago(v: View, s: float | None) -> str:
    if s is None:
        return v.t("board.never")
    if s < 120:
        return v.t("ago.s", n=int(s))
    if s < 7200:
        return v.t("ago.m", n=int(s // 60))
    return v.t("ago.h", n=int(s // 3600))


def board_page(v: View) -> str:
    posts = model.board(v.store, v.roster, v.me, v.record, v.lang)
    if not posts:
        return f'<h1>{e(v.t("board.title"))}</h1><p class="empty">{e(v.t("board.empty"))}</p>'
    rows = []
    for p in posts:
        status = p["status"]
        report = (f'{e(status["title"])} <small>{e(status["received"])}</small>{_lines(status["lines"])}'
                  if status else e(v.t("board.unknown")))
        items = "".join(
            f'<li>{_prio(v, i["precedence"])} {e(i["title"])} <small>{e(i["received"])}</small>'
            f'{_handling(v, i["handling"])}</li>' for i in p["open_items"])
        open_items = f"<ul class=\"open-items\">{items}</ul>" if items else e(v.t("board.none"))
        link = v.t("link." + p["link"]) if p["link"] else "—"
        rows.append(
            f'<article class="post post-{e(p["open"])}" id="post-{e(p["name"])}"><header>'
            f'<span class="dot"></span><strong>{e(p["name"])}</strong> <small>{e(p["role"].upper())}'
            f'{" · " + e(p["parent"]) if p["parent"] and p["role"] == "nsp" else ""}</small>'
            f'<span class="openword">{e(v.t("board." + p["open"]))}</span></header>'
            f'<dl class="form"><dt>{e(v.t("board.status"))}</dt><dd>{report}</dd>'
            f'<dt>{e(v.t("board.open_items"))}</dt><dd>{open_items}</dd>'
            f'<dt>{e(v.t("board.heard"))}</dt><dd>{e(_ago(v, p["heard_age_s"]))} · {e(link)}</dd>'
            f'<dt>{e(v.t("board.backlog"))}</dt><dd>{p["backlog"]}</dd></dl></article>')
    return (f'<h1>{e(v.t("board.title"))}</h1>{_schematic(v, posts)}<div class="posts">{"".join(rows)}</div>')


def _schematic(v: View, posts: list[dict[str, Any]]) -> str:
    """A plain tree of the posts (no map tiles ship with the box): this box, its CPs, their NSPs."""
    by_parent: dict[str, list[dict[str, Any]]] = {}
    for p in posts:
        by_parent.setdefault(p["parent"] if p["role"] == "nsp" else v.box, []).append(p)

    def node(p: dict[str, Any]) -> str:
        kids = "".join(node(k) for k in by_parent.get(p["name"], []))
        return (f'<li><a href="#post-{e(p["name"])}" class="node node-{e(p["open"])}">{e(p["name"])}</a>'
                f'{"<ul>" + kids + "</ul>" if kids else ""}</li>')

    top = "".join(node(p) for p in by_parent.get(v.box, []))
    return (f'<section class="schematic" aria-label="{e(v.t("board.map"))}"><ul><li><span class="node node-me">'
            f'{e(v.box)}</span><ul>{top}</ul></li></ul></section>')


def health_page(v: View) -> str:
    h = model.health(v.store, v.record, v.running, v.why)
    radio = h["radio"]
    mqtt = h["mqtt"]
    queue = ", ".join(f"{v.t('prio.' + k)} {n}" for k, n in h["queue"].items()) or "—"
    air = v.t("health.airtime_fmt", pct=h["airtime_pct"],
              left=round(max(0, h["airtime_limit_ms"] - h["airtime_used_ms"]) / 1000),
              limit=round(h["airtime_limit_ms"] / 1000))
    backlog, backlog_cls = _backlog(v, h["backlog"])
    rows = [
        ("health.daemon", v.t("health.running") if h["running"] else f'{v.t("health.stopped")} ({h["why"]})',
         "ok" if h["running"] else "bad"),
        ("health.radio", f'{_link_word(v, radio)} · {h["preset"]} {h["region"]}', _link_class(radio)),
        ("health.ip", _link_word(v, mqtt), _link_class(mqtt)),
        ("health.airtime", air, "ok" if h["airtime_pct"] < 80 else "warn"),
        ("health.queue", queue, "ok"),
        ("health.backlog", backlog, backlog_cls),
        ("health.custody", str(h["custody"]), "ok"),
        ("health.store", f'{h["store_bytes"] // 1024} KiB', "ok"),
        ("health.clock", v.t("clock." + h["clock"]), "ok" if h["clock"] == "synced" else "warn"),
    ]
    pct = min(100, h["airtime_pct"])
    body = "".join(
        f'<div class="hrow h-{cls}"><dt>{e(v.t(k))}</dt><dd>{e(val)}'
        f'{f"<progress max=100 value={pct}></progress>" if k == "health.airtime" else ""}</dd></div>'
        for k, val, cls in rows)
    return f'<h1>{e(v.t("health.title"))} {e(v.box)}</h1><dl class="health">{body}</dl>'


def _backlog(v: View, backlog: dict[str, dict[str, Any]] | None) -> tuple[str, str]:
    """The health row for the radio backlog: per precedence with work, how much and when it is expected to
    have gone; 'warn' while the duty cycle holds traffic back (as `nspgw status`). Only precedences with
    operators' messages waiting are shown: a receipt or beacon in the queue is not a backlog to act on."""
    busy = {k: b for k, b in (backlog or {}).items() if b.get("messages")}
    if not busy:  # "—": no estimate (a stopped daemon); "geen": nothing of the operators' waits for the radio
        return ("—" if backlog is None else v.t("backlog.none")), "ok"
    parts = []
    for k, b in busy.items():
        delay = b.get("expected_delay_s")
        when = v.t("backlog.unknown") if delay is None else v.t("backlog.within", delay=_span(v, float(delay)))
        duty = f' {v.t("backlog.duty")}' if b.get("duty_bound") and delay is not None else ""
        parts.append(f'{v.t("prio." + k)} {b.get("messages", 0)} ({float(b.get("airtime_s", 0.0)):.0f} s) '
                     f"{when}{duty}")
    held = any(b.get("duty_bound") for b in busy.values())
    return " · ".join(parts) + (f' — {v.t("backlog.hint")}' if held else ""), "warn" if held else "ok"


def _span(v: View, s: float) -> str:
    if s < 120:
        return v.t("span.s", n=int(s))
    if s < 7200:
        return v.t("span.m", n=int(s // 60))
    return v.t("span.h", n=int(s // 3600))


def _link_word(v: View, state: dict[str, Any]) -> str:
    status = str(state.get("status", ""))
    word = v.t("linkstate." + status) if status else "—"
    word = status if word == "linkstate." + status else word  # a state this version has no word for
    from nspgw.cli.status import detail_in

    detail = detail_in(str(state.get("detail", "")), v.lang)
    if not detail or status == "disabled":
        return word
    if detail.casefold().startswith(word.casefold()):
        return detail  # "verbonden met tcp:…" says the state already
    return f"{word} — {detail}"


def _link_class(state: dict[str, Any]) -> str:
    return {"connected": "ok", "disabled": "off"}.get(str(state.get("status", "")), "warn")


def login_main(v: View) -> str:
    box = v.t("login.box", box=v.box, role=v.role.upper())
    return (f'<h1>{e(v.t("login.title"))}</h1><p>{e(box)}</p><form method="post" action="/login" class="login">'
            f'<label class="field">{e(v.t("login.name"))}<input name="name" autocomplete="username" '
            f'autocapitalize="none" required autofocus></label>'
            f'<label class="field">{e(v.t("login.password"))}<input name="password" type="password" '
            f'autocomplete="current-password" required></label>'
            f'<button class="btn primary big" type="submit">{e(v.t("login.submit"))}</button></form>')


PAGES: tuple[Page, ...] = (
    Page("/inbox", "nav.inbox", ("nsp", "cp", "gct"), inbox_page),
    Page("/send", "nav.send", ("nsp", "cp", "gct"), lambda v: "", live=False),  # see nspgw.console.send_page
    Page("/outbox", "nav.outbox", ("nsp", "cp", "gct"), outbox_page),
    Page("/board", "nav.board", ("cp", "gct"), board_page),
    Page("/health", "nav.health", ("nsp", "cp", "gct"), health_page),
    Page("/journal", "nav.journal", ("nsp", "cp", "gct"), lambda v: _journal(v), live=False),
)


def _journal(v: View) -> str:
    from nspgw.console.journal_page import journal_page  # imports pages: loaded on first use

    return journal_page(v)


def layout(v: View, page: Page | None, main: str, alarm: str) -> str:
    nav = ""
    if page is not None:
        links = "".join(
            f'<a href="{p.path}" class="{"active" if p is page else ""}">{e(v.t(p.nav))}</a>'
            for p in PAGES if v.role in p.roles)
        nav = (f'<nav>{links}<form method="post" action="/logout" class="inline">{csrf_field(v)}'
               f'<button class="link">{e(v.t("nav.logout"))}</button></form></nav>')
    other = "en" if v.lang == "nl" else "nl"
    who = f'<span class="who">{e(v.t("operator", name=v.operator))}</span>' if v.operator else ""
    notice = f'<p class="notice" role="status">{e(v.notice)}</p>' if v.notice else ""
    error = f'<p class="error" role="alert">{e(v.error)}</p>' if v.error else ""
    live = "1" if page is not None and page.live else "0"
    return (
        f'<!doctype html><html lang="{v.lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{e(v.box)} · {e(v.t("app"))}</title><link rel="stylesheet" href="/static/console.css">'
        f'<script src="/static/console.js" defer></script></head>'
        f'<body data-live="{live}" data-csrf="{e(v.csrf)}" data-sound="{e(v.t("alarm.sound"))}">'
        f'<header class="top"><span class="box">{e(v.box)} <small>{e(v.role.upper())}</small></span>{who}'
        f'<a class="lang" href="?lang={other}">{e(v.t("lang.other"))}</a></header>{nav}'
        f'<div id="alarm">{alarm}</div><main id="live">{notice}{error}{main}</main></body></html>')
