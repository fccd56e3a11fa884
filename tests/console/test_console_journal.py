"""The console's Journaal page: the box's log with filters, and the export (CSV, JSON, PDF) that the CLI makes,
attributed to the operator who asked for it."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from console_client import Client, add_operator

from nspgw.journal.export import read_json, verify_export
from nspgw.sim.boxes import SimBox
from nspgw.store.sqlite import Store


def test_journal_page_filters_and_exports(boxes: dict[str, SimBox], console: Callable[..., Client]) -> None:
    add_operator(boxes["nsp1"], "anna")
    c = console("nsp1")
    assert c.login("anna") == 303
    token = c.csrf()
    form = {"to": "cp1", "priority": "routine", "text": "Graag 20 veldbedden", "csrf": token}
    assert c.post("/send?kind=text", form)[0] == 303
    status, _, html = c.get("/journal")
    assert status == 200 and "Journaal" in html and 'href="/journal" class="active"' in html
    assert "Graag 20 veldbedden" in html and "anna" in html  # the message, by its operator
    # filters: kind (an operator action only), post (a box the message does not concern), period
    _, _, only_ops = c.get("/journal?kind=operator&period=8h")
    assert "Graag 20 veldbedden" not in only_ops and 'value="operator" selected' in only_ops
    _, _, other_post = c.get("/journal?post=gct")
    assert "Graag 20 veldbedden" not in other_post
    _, _, cp_post = c.get("/journal?post=cp1&period=all")
    assert "Graag 20 veldbedden" in cp_post
    _, _, bad = c.get("/journal?kind=<script>&period=x&post=nobody")  # unknown values: the defaults, escaped
    assert "<script>" not in bad and 'value="24h" selected' in bad
    # English
    _, _, en = c.get("/journal?lang=en")
    assert "Journal (communications log)" in en and "Message" in en and "sent" in en
    c.get("/journal?lang=nl")

    # exports: the CLI's files, signed with the box key, journalled under the operator's name
    status, headers, body = c.post("/journal/export", {"csrf": token, "format": "json", "period": "all"})
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert headers["content-disposition"].startswith('attachment; filename="journaal-nsp1-')
    header, entries, sigs = read_json(body)
    assert any(e["kind"] == "msg_out" and e["actor"] == "anna" for e in entries)
    report = verify_export(header, entries, sigs, bytes.fromhex(header["sign_public"]))
    assert not report.problems, report.problems
    status, headers, body = c.post("/journal/export", {"csrf": token, "format": "csv", "period": "24h"})
    assert status == 200 and headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert any("Graag 20 veldbedden" in r["description"] for r in rows)
    status, headers, body = c.post("/journal/export", {"csrf": token, "format": "pdf"})
    assert status == 200 and headers["content-type"] == "application/pdf" and body.startswith("%PDF-")
    assert c.post("/journal/export", {"csrf": token, "format": "exe"})[0] == 400
    with Store.open(boxes["nsp1"].store_path) as store:
        exports = [e for e in store.journal_entries(kinds=["operator"]) if e.data.get("action") == "export"]
    assert [(e.actor, e.data["format"]) for e in exports] == [("anna", "json"), ("anna", "csv"), ("anna", "pdf")]
    _, _, html = c.get("/journal?kind=operator")
    assert html.count("Journaal geëxporteerd") == 3
