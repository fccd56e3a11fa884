"""Access to the console: sessions, CSRF, lock-out, accounts per box, no secret on any page."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from console_client import PASSWORD, Client, add_operator

from nspgw.console.accounts import MAX_FAILURES, Accounts, check_password, hash_password
from nspgw.sim.boxes import SimBox

PAGES = ("/inbox", "/send", "/outbox", "/board", "/health", "/journal")
APIS = (("GET", "/api/state"), ("GET", "/events"), ("POST", "/api/preview"), ("POST", "/send"),
        ("POST", "/inbox/1/read"), ("POST", "/inbox/1/handle"), ("POST", "/journal/export"))


def test_no_page_or_api_without_a_session(boxes: dict[str, SimBox], console: Callable[..., Client]) -> None:
    c = console("cp1")
    for path in PAGES:
        status, headers, _ = c.get(path)
        assert status == 303 and headers["location"] == "/login", path
    for method, path in APIS:
        status, _, body = c.request(method, path, form={} if method == "POST" else None)
        assert status in (401, 303), (path, status)
        assert "nsp1" not in body
    status, _, html = c.get("/login")
    assert status == 200 and 'name="password"' in html and "Content-Security-Policy" not in html


def test_csrf_token_is_required_for_every_action(boxes: dict[str, SimBox], console: Callable[..., Client]) -> None:
    add_operator(boxes["nsp1"], "anna")
    c = console("nsp1")
    assert c.login("anna") == 303
    token = c.csrf()
    form = {"to": "cp1", "priority": "routine", "text": "Graag 20 veldbedden"}
    for bad in ({}, {"csrf": "x" * len(token)}, {"csrf": token[:-1] + ("A" if token[-1] != "A" else "B")}):
        status, _, _ = c.post("/send?kind=text", dict(form, **bad))
        assert status == 403
    assert c.get("/outbox")[2].count('class="msg out') == 0  # nothing was accepted
    for bad in ({}, {"csrf": "x" * len(token)}):  # the journal's export signs the head and is journalled
        assert c.post("/journal/export", dict(bad, format="csv"))[0] == 403
    # a token from another session does not work either
    other = Client(c.port)
    assert other.login("anna") == 303
    assert c.post("/send?kind=text", dict(form, csrf=other.csrf()))[0] == 403
    # another site's page: refused even with the right token, and its log-in form too
    evil = {"Origin": "https://evil.example"}
    assert c.post("/send?kind=text", dict(form, csrf=token), headers=evil)[0] == 403
    assert Client(c.port).post("/login", {"name": "anna", "password": PASSWORD}, headers=evil)[0] == 403
    status, headers, _ = c.post("/send?kind=text", dict(form, csrf=token),
                                headers={"Origin": f"https://127.0.0.1:{c.port}"})
    assert status == 303 and headers["location"].startswith("/outbox?ok=")
    _, _, html = c.get("/outbox")
    assert "Graag 20 veldbedden" in html and "cp1" in html
    # attributed to the operator, in the console's log and in the box's journal (the same transaction as the send)
    accounts = Accounts(boxes["nsp1"].state_dir)
    try:
        assert any(op == "anna" and action == "send" for op, action, _, _ in accounts.log())
    finally:
        accounts.close()
    from nspgw.store.sqlite import Store

    with Store.open(boxes["nsp1"].store_path) as store:
        sent = [e for e in store.journal_entries() if e.kind == "msg_out"]
    assert [e.actor for e in sent] == ["anna"], sent


def test_wrong_passwords_lock_the_account(boxes: dict[str, SimBox], console: Callable[..., Client]) -> None:
    add_operator(boxes["cp1"], "jan")
    c = console("cp1")
    for _ in range(MAX_FAILURES):
        assert c.login("jan", "wrong password") == 401
    assert c.login("jan", PASSWORD) == 401  # locked: even the right password is refused now
    assert c.get("/inbox")[0] == 303
    accounts = Accounts(boxes["cp1"].state_dir)
    try:
        assert accounts.locked("jan")
        assert accounts.login("jan", PASSWORD, now_wall=time.time() + 301) == "jan"  # the lock ends
    finally:
        accounts.close()


def test_another_boxs_operator_cannot_log_in(boxes: dict[str, SimBox], console: Callable[..., Client]) -> None:
    add_operator(boxes["nsp1"], "anna")
    cp = console("cp1")
    assert cp.login("anna") == 401
    assert cp.get("/inbox")[0] == 303
    nsp = console("nsp1")
    assert nsp.login("anna") == 303 and nsp.get("/inbox")[0] == 200
    # the NSP's session cookie means nothing to the CP's console
    cp.cookies = dict(nsp.cookies)
    assert cp.get("/inbox")[0] == 303


def test_no_secret_in_any_page(boxes: dict[str, SimBox], console: Callable[..., Client]) -> None:
    add_operator(boxes["cp1"], "jan")
    c = console("cp1")
    assert c.login("jan") == 303
    secrets: list[str] = [PASSWORD]
    keys = boxes["cp1"].state_dir / "keys"
    for f in keys.iterdir():
        if f.is_file() and not f.name.endswith((".pub", ".json")):
            raw = f.read_bytes().strip()
            secrets += [raw.decode("latin-1")[:40], raw.hex()[:40]]
    with sqlite3.connect(boxes["cp1"].state_dir / "console.db") as db:
        hashes = [h for (h,) in db.execute("SELECT pw_hash FROM operators")]
    assert hashes and all(h.startswith("scrypt$") for h in hashes)
    secrets += [h.rsplit("$", 1)[1] for h in hashes] + [h.rsplit("$", 2)[1] for h in hashes]
    session = next(iter(c.cookies.values()))
    secrets.append(session)
    for path in (*PAGES, "/api/state", "/login"):
        status, headers, body = c.get(path)
        assert status == 200, path
        assert headers["content-security-policy"].startswith("default-src 'self'")
        for s in secrets:
            if len(s) >= 16:
                assert s not in body, (path, s[:8])
    assert "httponly" in c.get("/login")[1].get("set-cookie", "").lower()


def test_password_hash_is_scrypt_and_removal_ends_sessions(boxes: dict[str, SimBox],
                                                           console: Callable[..., Client]) -> None:
    stored = hash_password("geheim-wachtwoord")
    assert stored.startswith("scrypt$16384$8$1$") and check_password("geheim-wachtwoord", stored)
    assert not check_password("geheim-wachtwoorD", stored)
    add_operator(boxes["cp1"], "jan")
    c = console("cp1")
    assert c.login("jan") == 303 and c.get("/inbox")[0] == 200
    accounts = Accounts(boxes["cp1"].state_dir)
    try:
        assert accounts.remove("jan")
    finally:
        accounts.close()
    assert c.get("/inbox")[0] == 303


def test_handling_goes_back_to_the_sender_for_reports_only(boxes: dict[str, SimBox],
                                                          console: Callable[..., Client]) -> None:
    from nspgw.core.actions import StoreInbox
    from nspgw.ids import BoxAddr
    from nspgw.store.sqlite import Store
    from nspgw.wire.content import decode_content, encode_content
    from nspgw.wire.forms_schema import form_from_values
    from nspgw.wire.frames import ContentType, MessageFrame, MsgId, Precedence
    from nspgw.wire.handling import HandlingState, decode_handling

    cp = boxes["cp1"]
    nood = encode_content(ContentType.NOODMELDING, form_from_values(ContentType.NOODMELDING,
                                                                    {"incident": "brand", "adres": "Kerkpad 3"}))
    with Store.open(cp.store_path) as s:
        s.apply([StoreInbox(MessageFrame(BoxAddr(101), cp.addr, MsgId(BoxAddr(101), 7), Precedence.FLASH, 3600,
                                         nood), "radio"),
                 StoreInbox(MessageFrame(BoxAddr(101), cp.addr, MsgId(BoxAddr(101), 8), Precedence.ROUTINE, 3600,
                                         encode_content(ContentType.TEXT, "hallo")), "radio")])
        ids = {r.seq: r.id for r in s.inbox()}
    add_operator(cp, "jan")
    c = console("cp1")
    assert c.login("jan") == 303
    _, _, html = c.get("/inbox")
    assert 'id="alarm-banner"' in html and "Kerkpad 3" in html
    token = c.csrf()
    assert c.post(f"/inbox/{ids[7]}/handle", {"state": "afgehandeld", "note": "x"})[0] == 403  # no CSRF token
    assert c.post(f"/inbox/{ids[8]}/handle", {"state": "afgehandeld", "csrf": token})[0] == 400  # not a report
    status, _, _ = c.post(f"/inbox/{ids[7]}/handle", {"state": "afgehandeld", "note": "brand meester",
                                                      "csrf": token})
    assert status == 303
    _, _, html = c.get("/inbox")
    assert 'id="alarm-banner"' not in html and "Afgehandeld door jan" in html
    with Store.open(cp.store_path) as s:
        [out] = s.outbox()
    ct, text = decode_content(out.body)
    assert out.dst == 101 and ct == ContentType.AFHANDELING and isinstance(text, str)
    h = decode_handling(text)
    assert (h.report_seq, h.state, h.operator, h.note) == (7, HandlingState.AFGEHANDELD, "jan", "brand meester")


def test_a_busy_port_is_one_clear_error(boxes: dict[str, SimBox], console: Callable[..., Client]) -> None:
    import pytest

    from nspgw.config import load_config
    from nspgw.console.server import ConsoleServer
    from nspgw.errors import ConfigError

    c = console("cp1")  # holds the port
    with pytest.raises(ConfigError, match="niet beschikbaar"):
        ConsoleServer(load_config(boxes["cp1"].config_path)).start()
    assert c.get("/login")[0] == 200
