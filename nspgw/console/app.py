"""The console's web application (Starlette): log-in, sessions with CSRF tokens, the pages, their actions
and a server-sent-event stream that tells open pages to refresh.

Starlette + uvicorn (h11): a small, maintained ASGI pair with no compiled parts, ≈10 MB resident on a Pi;
every request is parsed by them, never by nspgw. All handlers are `async` and run on the server's one event
loop thread, which owns this box's console `Store` and `Accounts` connections (SQLite connections are not
shared between threads). Sessions live in memory: a restart of the daemon logs everybody out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from nspgw.config import Config
from nspgw.console import pages
from nspgw.console.pages import PAGES, Page, View, e
from nspgw.console.texts import t
from nspgw.errors import NspgwError

COOKIE = "nspgw_session"
MAX_FORM_BYTES = 64 * 1024
EVENT_POLL_S = 1.0  # how often the event stream looks at the store for news (one cheap read)
HEARTBEAT_S = 15.0  # an SSE comment line keeps proxies and phones from closing an idle stream
STATIC_DIR = __file__.rsplit("/", 1)[0] + "/static"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass
class Session:
    operator: str
    csrf: str
    expires_mono: float
    lang: str


class Console:
    """State of one box's console: its configuration, sessions and (loop-thread) store connections."""

    def __init__(self, cfg: Config, lang: str = "nl") -> None:
        self.cfg = cfg
        self.lang = lang
        self.sessions: dict[str, Session] = {}
        self.cookie = f"{COOKIE}_{cfg.console.port}"  # cookies ignore ports: two boxes' consoles on one laptop
        self.stopping = False
        self._store: Any = None
        self._accounts: Any = None
        self._roster: tuple[float, Any] | None = None
        self._sent_via: dict[str, str] = {}  # the link each of our messages last went by (kept after delivery)

    # ----------------------------------------------------------------------------- resources (loop thread)
    def store(self) -> Any:
        if self._store is None:
            from nspgw.store.sqlite import Store

            self._store = Store.open(self.cfg.store_path, create=True)
        return self._store

    def accounts(self) -> Any:
        if self._accounts is None:
            from nspgw.console.accounts import Accounts

            self._accounts = Accounts(self.cfg.state_dir)
        return self._accounts

    def roster(self) -> Any:
        from nspgw.cli.context import load_roster

        mtime = self.cfg.roster_path.stat().st_mtime
        if self._roster is None or self._roster[0] != mtime:
            self._roster = (mtime, load_roster(self.cfg))
        return self._roster[1]

    def close(self) -> None:
        for r in (self._store, self._accounts):
            if r is not None:
                r.close()
        self._store = self._accounts = None

    # ------------------------------------------------------------------------------------------ sessions
    def session(self, request: Request) -> Session | None:
        token = request.cookies.get(self.cookie, "")
        s = self.sessions.get(token)
        if s is None:
            return None
        if time.monotonic() > s.expires_mono or not self.accounts().exists(s.operator):
            del self.sessions[token]  # expired, or the account was removed: out at once
            return None
        return s

    def new_session(self, operator: str, lang: str) -> str:
        token = secrets.token_urlsafe(32)
        self.sessions[token] = Session(operator, secrets.token_urlsafe(32),
                                       time.monotonic() + self.cfg.console.session_hours * 3600, lang)
        return token

    def view(self, s: Session | None, request: Request) -> View:
        from nspgw.cli.context import daemon_record, my_entry

        store = self.store()
        roster = self.roster()
        record, running, why = daemon_record(store)
        sent_via = (record or {}).get("sent_via", {})
        self._sent_via.update(sent_via)
        return View(lang=s.lang if s else self.lang, operator=s.operator if s else "", csrf=s.csrf if s else "",
                    box=self.cfg.name, role=self.cfg.role, store=store, roster=roster, me=my_entry(self.cfg, roster),
                    record=record, running=running, why=why, sent_via=dict(self._sent_via),
                    query=dict(request.query_params))

    def version(self) -> str:
        """A digest of everything a page shows; it changes when anything on any page changes."""
        from nspgw.cli.context import daemon_record

        store = self.store()
        record, running, _ = daemon_record(store)
        rec = record or {}
        parts = ([(r.id, r.read) for r in store.inbox()], [(o.seq, o.state.value, o.receipts) for o in store.outbox()],
                 running, rec.get("radio", {}).get("status"), rec.get("mqtt", {}).get("status"), rec.get("queue"),
                 rec.get("custody"), rec.get("airtime_used_ms", 0) // 5000, sorted(rec.get("peers", {})))
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]

    def alarm_count(self, lang: str) -> int:
        from nspgw.console import model

        return sum(1 for i in model.inbox(self.store(), self.roster(), lang) if i["alarm"])


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


async def _form(request: Request) -> dict[str, str] | None:
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return None
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        return None
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=100))
    except (UnicodeDecodeError, ValueError):
        return None


def _same_origin(request: Request) -> bool:
    """A browser names the page a POST comes from; another site's page is refused even before the token
    check (and the log-in form, which has no session yet, is covered this way)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":  # no page named (an older browser, a privacy setting): the token decides
        return True
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


def _csrf_ok(s: Session, request: Request, form: dict[str, str] | None) -> bool:
    given = (form or {}).get("csrf") or request.headers.get("x-csrf-token", "")
    return bool(given) and hmac.compare_digest(given.encode(), s.csrf.encode())


def build_app(console: Console) -> Starlette:
    c = console

    def login_page(lang: str, error: str = "", status: int = 200) -> HTMLResponse:
        v = View(lang=lang, operator="", csrf="", box=c.cfg.name, role=c.cfg.role, store=None, roster=None,
                 me=None, record=None, running=False, why="", sent_via={}, error=error)
        return _html(pages.layout(v, None, pages.login_main(v), ""), status)

    def to_login() -> RedirectResponse:
        return RedirectResponse("/login", status_code=303, headers=SECURITY_HEADERS)

    def lang_of(request: Request, s: Session | None) -> str:
        q = request.query_params.get("lang")
        if q in ("nl", "en") and s is not None:
            s.lang = q
        if q in ("nl", "en"):
            return q
        return s.lang if s is not None else request.cookies.get("nspgw_lang", c.lang)

    async def login_get(request: Request) -> Response:
        lang = lang_of(request, None)
        resp = login_page(lang)
        resp.set_cookie("nspgw_lang", lang, samesite="strict", secure=c.cfg.console.tls, httponly=True)
        return resp

    async def login_post(request: Request) -> Response:
        form = await _form(request) or {}
        lang = request.cookies.get("nspgw_lang", c.lang)
        if not _same_origin(request):
            return _html(f'<h1>403</h1><p>{e(t("error.csrf", lang))}</p>', 403)
        name = c.accounts().login(form.get("name", ""), form.get("password", ""))
        if name is None:
            c.accounts().record(form.get("name", "")[:32] or "-", "login_failed", request.client.host
                                if request.client else "")
            return login_page(lang, t("login.failed", lang), status=401)
        c.accounts().record(name, "login", request.client.host if request.client else "")
        token = c.new_session(name, lang if lang in ("nl", "en") else "nl")
        resp = RedirectResponse("/inbox", status_code=303, headers=SECURITY_HEADERS)
        resp.set_cookie(c.cookie, token, httponly=True, samesite="strict", secure=c.cfg.console.tls,
                        max_age=c.cfg.console.session_hours * 3600)
        return resp

    async def logout(request: Request) -> Response:
        s = c.session(request)
        form = await _form(request)
        if s is not None and _csrf_ok(s, request, form):
            c.accounts().record(s.operator, "logout", "")
            c.sessions.pop(request.cookies.get(c.cookie, ""), None)
        resp = to_login()
        resp.delete_cookie(c.cookie)
        return resp

    def render_page(page: Page, v: View, request: Request, main: str | None = None) -> Response:
        from nspgw.console import model

        if main is None:
            main = page.render(v)
        alarm = pages.alarm_overlay(v, model.inbox(v.store, v.roster, v.lang))
        if request.headers.get("x-partial") == "1":
            return JSONResponse({"main": main if page.live else None, "alarm": alarm}, headers=SECURITY_HEADERS)
        return _html(pages.layout(v, page, main, alarm))

    def page_route(page: Page) -> Route:
        async def handler(request: Request) -> Response:
            s = c.session(request)
            if s is None:
                return to_login()
            lang_of(request, s)
            if c.cfg.role not in page.roles:
                return _html("<h1>403</h1>", 403)
            v = c.view(s, request)
            v.notice = request.query_params.get("ok", "") and t("send.accepted", v.lang,
                                                                   seq=request.query_params.get("ok"))
            if page.path == "/send":
                from nspgw.console.send_page import KINDS, send_page

                kind = request.query_params.get("kind", "noodmelding" if c.cfg.role == "nsp" else "text")
                kind = kind if kind in KINDS else "text"
                return render_page(page, v, request, send_page(v, kind))
            return render_page(page, v, request)
        return Route(page.path, handler, methods=["GET"])

    async def guarded_post(request: Request) -> tuple[Session, dict[str, str]] | Response:
        s = c.session(request)
        if s is None:
            return JSONResponse({"error": "login"}, status_code=401, headers=SECURITY_HEADERS)
        form = await _form(request)
        if form is None:
            return JSONResponse({"error": "form"}, status_code=400, headers=SECURITY_HEADERS)
        if not (_same_origin(request) and _csrf_ok(s, request, form)):
            return _html(f'<h1>403</h1><p>{e(t("error.csrf", s.lang))}</p>', 403)
        return s, form

    async def send_post(request: Request) -> Response:
        from nspgw.cli.send import accept, parse_priority
        from nspgw.console.send_page import KINDS, compose_values, send_page

        got = await guarded_post(request)
        if isinstance(got, Response):
            return got
        s, form = got
        kind = request.query_params.get("kind", "text")
        kind = kind if kind in KINDS else "text"
        v = c.view(s, request)
        try:
            prio = parse_priority(form.get("priority", ""), v.lang) if form.get("priority") else None
            ct, body = compose_values(kind, form, v.lang)
            seq, _, to_name, _ = accept(c.cfg, v.roster, form.get("to", ""), ct, body, prio, None, v.lang,
                                         actor=s.operator)
            target = next((x for x in v.roster.entries if x.name == to_name), None)
            to_gct = target is None or target.role.value == "gct"
            if kind == "noodmelding" and form.get("cc_gct") and c.cfg.role != "gct" and not to_gct:
                # the crisis team's picture of the posts, not a second alarm: IMMEDIATE, below FLASH
                cc, _, _, _ = accept(c.cfg, v.roster, "gct", ct, body, "IMMEDIATE", None, v.lang,
                                       actor=s.operator)
                c.accounts().record(s.operator, "send", f"#{cc} {kind} → gct (kopie van #{seq})")
        except NspgwError as exc:
            v.error = str(exc)
            page = next(p for p in PAGES if p.path == "/send")
            return render_page(page, v, request, send_page(v, kind, form))
        c.accounts().record(s.operator, "send", f"#{seq} {kind} → {to_name}")
        return RedirectResponse(f"/outbox?ok={seq}", status_code=303, headers=SECURITY_HEADERS)

    async def journal_export(request: Request) -> Response:
        """The journal of the chosen period as a file download (nspgw/console/journal_page.py)."""
        from nspgw.cli.journaal_ops import export_bytes, namer
        from nspgw.console.journal_page import FORMATS, filters

        got = await guarded_post(request)
        if isinstance(got, Response):
            return got
        s, form = got
        fmt = form.get("format", "")
        if fmt not in FORMATS:
            return JSONResponse({"error": "format"}, status_code=400, headers=SECURITY_HEADERS)
        v = c.view(s, request)
        f, chosen = filters(form, v.roster)
        data, _, _, _ = export_bytes(v.store, c.cfg, v.me, f["since"], None, fmt, s.lang, namer(v.roster),
                                     actor=s.operator)
        c.accounts().record(s.operator, "journal_export", f"{fmt} {chosen['period']}")
        stamp = time.strftime("%Y%m%d-%H%M")
        kind = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8", "json": "application/json"}[fmt]
        return Response(data, media_type=kind, headers={
            **SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="journaal-{c.cfg.name}-{stamp}.{fmt}"'})

    async def preview(request: Request) -> Response:
        from nspgw.console.send_page import KINDS, compose_values, frames_for

        got = await guarded_post(request)
        if isinstance(got, Response):
            return got
        s, form = got
        kind = request.query_params.get("kind", "text")
        kind = kind if kind in KINDS else "text"
        try:
            _, body = compose_values(kind, form, s.lang)
        except NspgwError as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, headers=SECURITY_HEADERS)
        frames = frames_for(len(body), form.get("to") == "alle")
        return JSONResponse({"ok": True, "bytes": len(body), "frames": frames,
                             "text": t("send.preview", s.lang, frames=frames, bytes=len(body))},
                            headers=SECURITY_HEADERS)

    async def mark_read(request: Request) -> Response:
        got = await guarded_post(request)
        if isinstance(got, Response):
            return got
        s, _ = got
        msg_id = int(request.path_params["msg_id"])
        if c.store().mark_read(msg_id, actor=s.operator):
            c.accounts().record(s.operator, "read", f"inbox {msg_id}")
        return RedirectResponse(f"/inbox#m{msg_id}", status_code=303, headers=SECURITY_HEADERS)

    async def handle(request: Request) -> Response:
        from nspgw.cli.send import accept
        from nspgw.wire.content import encode_content
        from nspgw.wire.frames import ContentType
        from nspgw.wire.handling import HandlingState, encode_handling, make_handling

        got = await guarded_post(request)
        if isinstance(got, Response):
            return got
        s, form = got
        msg_id = int(request.path_params["msg_id"])
        row = next((r for r in c.store().inbox() if r.id == msg_id), None)
        state = {"in_behandeling": HandlingState.IN_BEHANDELING,
                 "afgehandeld": HandlingState.AFGEHANDELD}.get(form.get("state", ""))
        if row is None or state is None:
            return _html("<h1>404</h1>", 404)
        from nspgw.console.model import HANDLED_TYPES, decode

        if decode(row.body, s.lang).content_type not in HANDLED_TYPES:
            return _html("<h1>400</h1>", 400)  # only reports and requests get a handling status
        roster = c.roster()
        origin = roster.get(int(row.origin))
        try:
            h = make_handling(row.seq, state, s.operator, form.get("note", ""))
            body = encode_content(ContentType.AFHANDELING, encode_handling(h))
            if origin is None:
                raise NspgwError(f"afzender {int(row.origin)} niet in de roster")
            seq, _, _, _ = accept(c.cfg, roster, origin.name, ContentType.AFHANDELING, body, "IMMEDIATE", None,
                                  s.lang, actor=s.operator)
        except NspgwError as exc:
            v = c.view(s, request)
            v.error = str(exc)
            page = next(p for p in PAGES if p.path == "/inbox")
            return render_page(page, v, request)
        c.store().mark_read(msg_id, actor=s.operator)
        c.accounts().record(s.operator, "handle", f"inbox {msg_id} ({origin.name} #{row.seq}) {state.name.lower()}"
                            f" → #{seq}")
        return RedirectResponse(f"/inbox#m{msg_id}", status_code=303, headers=SECURITY_HEADERS)

    async def events(request: Request) -> Response:
        s = c.session(request)
        if s is None:
            return JSONResponse({"error": "login"}, status_code=401, headers=SECURITY_HEADERS)
        import anyio

        async def stream() -> Any:
            last = ""
            quiet = 0.0
            while not c.stopping and c.session(request) is not None:
                ver = c.version()
                if ver != last:
                    last, quiet = ver, 0.0
                    yield f"data: {json.dumps({'v': ver, 'alarm': c.alarm_count(s.lang)})}\n\n"
                elif quiet >= HEARTBEAT_S:
                    quiet = 0.0
                    yield ": ping\n\n"
                await anyio.sleep(EVENT_POLL_S)
                quiet += EVENT_POLL_S

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers=dict(SECURITY_HEADERS, **{"X-Accel-Buffering": "no"}))

    async def state_api(request: Request) -> Response:
        from nspgw.console import model

        s = c.session(request)
        if s is None:
            return JSONResponse({"error": "login"}, status_code=401, headers=SECURITY_HEADERS)
        v = c.view(s, request)
        inbox = [dict(i, lines=[list(x) for x in i["lines"]]) for i in model.inbox(v.store, v.roster, v.lang)]
        return JSONResponse({"box": c.cfg.name, "operator": s.operator, "inbox": inbox,
                             "outbox": model.outbox(v.store, v.roster, v.lang, v.sent_via),
                             "health": model.health(v.store, v.record, v.running, v.why)}, headers=SECURITY_HEADERS)

    async def root(request: Request) -> Response:
        return RedirectResponse("/inbox" if c.session(request) else "/login", status_code=303,
                                headers=SECURITY_HEADERS)

    routes = [Route("/", root), Route("/login", login_get, methods=["GET"]),
              Route("/login", login_post, methods=["POST"]), Route("/logout", logout, methods=["POST"]),
              Route("/send", send_post, methods=["POST"]), Route("/api/preview", preview, methods=["POST"]),
              Route("/journal/export", journal_export, methods=["POST"]),
              Route("/inbox/{msg_id:int}/read", mark_read, methods=["POST"]),
              Route("/inbox/{msg_id:int}/handle", handle, methods=["POST"]),
              Route("/events", events), Route("/api/state", state_api),
              *[page_route(p) for p in PAGES], Mount("/static", StaticFiles(directory=STATIC_DIR), name="static")]
    return Starlette(routes=routes)
