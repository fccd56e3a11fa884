"""Helpers of the console tests: enable a box's console, add an operator, and an HTTPS client that keeps its
own cookies (each client is one browser)."""

from __future__ import annotations

import http.client
import re
import ssl
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from nspgw.config import ConsoleConfig, load_config, render_config
from nspgw.sim.boxes import SimBox

FAKE_RADIOS = [{"name": f"node{i}", "node_id": f"!2000{i:04x}", "tcp": "127.0.0.1:9"} for i in range(3)]
PASSWORD = "correct horse battery"


def enable_console(box: SimBox, port: int, *, tls: bool = True) -> None:
    cfg = load_config(box.config_path)
    cfg = replace(cfg, console=ConsoleConfig(enabled=True, host="127.0.0.1", port=port, tls=tls))
    box.config_path.write_text(render_config(cfg), encoding="utf-8")


def add_operator(box: SimBox, name: str, password: str = PASSWORD) -> None:
    from nspgw.console.accounts import Accounts

    accounts = Accounts(box.state_dir)
    try:
        accounts.add(name, password)
    finally:
        accounts.close()


@dataclass
class Client:
    """One browser: its own cookie jar, no redirect following (tests look at each answer)."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the box's own certificate; its fingerprint is checked in another test
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=10)
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            text = r.read().decode("utf-8", errors="replace") if path != "/events" else ""
            for k, v in r.getheaders():
                if k.lower() == "set-cookie":
                    name, _, rest = v.partition("=")
                    value = rest.split(";", 1)[0]
                    if value in ('""', "") or "Max-Age=0" in v or "expires=Thu, 01 Jan 1970" in v:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = value
            return r.status, {k.lower(): v for k, v in r.getheaders()}, text
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> tuple[int, dict[str, str], str]:
        return self.request("GET", path, **kw)

    def post(self, path: str, form: dict[str, str], **kw: Any) -> tuple[int, dict[str, str], str]:
        return self.request("POST", path, form=form, **kw)

    def login(self, name: str, password: str = PASSWORD) -> int:
        return self.post("/login", {"name": name, "password": password})[0]

    def csrf(self) -> str:
        _, _, html = self.get("/inbox")
        m = re.search(r'name="csrf" value="([^"]+)"', html)
        assert m, html[:500]
        return m.group(1)


