"""`nspgw inbox` (list received messages) and `nspgw read ID` (show one in full, mark it read)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from nspgw.cli.context import ConfigOpt, JsonOpt, LangOpt, emit_json, lang_of, load_box

FOLLOW_INTERVAL_S = 1.0
BELL = "\a"  # the terminal bell: a FLASH report is heard, not only seen


def new_lines(store: Any, roster: Any, seen: set[int], *, unread: bool, as_json: bool, lang: str) -> list[str]:
    """Lines for the inbox rows not in `seen` (added to it); a FLASH report is followed by the bell.

    Handling statuses (answers to our own reports) never ring, whatever their precedence."""
    out = []
    for r in store.inbox(unread_only=unread):
        if r.id in seen:
            continue
        seen.add(r.id)
        d = row_dict(r, roster, lang)
        out.append(json_line(d) if as_json else _line(d, lang))
        if d["precedence"] == "flash" and d["type"] != "afhandeling" and not as_json:
            out.append(BELL)
    return out


def _render(body: bytes, lang: str) -> tuple[str, str]:
    """(content type name, readable text); a body this version cannot read says so instead of failing."""
    from nspgw.errors import NspgwError
    from nspgw.wire.content import decode_content, render

    try:
        ct, value = decode_content(body)
        return ct.name.lower(), render(ct, value, lang)
    except NspgwError as exc:
        return "onbekend", f"[onleesbaar: {exc}]"


def row_dict(row: Any, roster: Any, lang: str) -> dict[str, Any]:
    from nspgw.cli.context import box_name

    kind, text = _render(row.body, lang)
    return {"id": row.id, "from": box_name(roster, row.origin), "from_addr": int(row.origin), "seq": row.seq,
            "to": box_name(roster, row.dst), "precedence": row.precedence.name.lower(), "type": kind,
            "link": row.link, "received": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.received_wall)),
            "read": row.read, "text": text}


def _line(d: dict[str, Any], lang: str) -> str:
    from nspgw.cli.texts import t

    first = d["text"].splitlines()[0] if d["text"] else ""
    if len(first) > 70:
        first = first[:69] + "…"
    mark = " " if d["read"] else "*"
    return (f"{mark}{d['id']:>5}  {d['received'][5:16]}  {t('prio.' + d['precedence'], lang):<9} "
            f"{d['from']:<18} {t('via.' + d['link'], lang):<10} {first}")


def register(app: typer.Typer) -> None:
    @app.command("inbox")
    def inbox(
        unread: bool = typer.Option(False, "--unread", help="Alleen ongelezen berichten."),
        follow: bool = typer.Option(False, "--follow", help="Blijf nieuwe berichten tonen (stop met Ctrl-C)."),
        as_json: bool = JsonOpt,
        config: Path | None = ConfigOpt,
        lang: str | None = LangOpt,
    ) -> None:
        """Ontvangen berichten, hoogste prioriteit eerst (* = ongelezen)."""
        from nspgw.cli.context import load_roster, open_store
        from nspgw.cli.texts import t

        lg = lang_of(lang)
        cfg = load_box(config)
        roster = load_roster(cfg)
        with open_store(cfg, create=True) as store:
            rows = [row_dict(r, roster, lg) for r in store.inbox(unread_only=unread)]
            if as_json and not follow:
                emit_json(rows)
                return
            if not rows and not follow:
                typer.echo(t("no_messages", lg))
                return
            for d in rows:
                typer.echo(json_line(d) if as_json else _line(d, lg))
            if not follow:
                return
            seen = {d["id"] for d in rows}
            try:
                while True:
                    time.sleep(FOLLOW_INTERVAL_S)  # an operator's terminal refresh, not a test wait
                    for line in new_lines(store, roster, seen, unread=unread, as_json=as_json, lang=lg):
                        typer.echo(line, nl=not line.endswith(BELL))
            except KeyboardInterrupt:
                return

    @app.command("read")
    def read(
        msg_id: int = typer.Argument(..., metavar="ID", help="Nummer uit `nspgw inbox`."),
        as_json: bool = JsonOpt,
        config: Path | None = ConfigOpt,
        lang: str | None = LangOpt,
    ) -> None:
        """Toon een ontvangen bericht volledig en markeer het als gelezen."""
        from nspgw.cli.context import load_roster, open_store
        from nspgw.cli.texts import t
        from nspgw.errors import UsageError

        lg = lang_of(lang)
        cfg = load_box(config)
        roster = load_roster(cfg)
        with open_store(cfg, create=True) as store:
            row = next((r for r in store.inbox() if r.id == msg_id), None)
            if row is None:
                raise UsageError(t("not_found", lg, id=msg_id))
            store.mark_read(msg_id)
        d = row_dict(row, roster, lg)
        if as_json:
            emit_json(d)
            return
        typer.echo(t("read_header", lg, id=d["id"], sender=d["from"], received=d["received"],
                     priority=t("prio." + d["precedence"], lg), via=t("via." + d["link"], lg)))
        typer.echo("")
        typer.echo(d["text"])


def json_line(d: dict[str, Any]) -> str:
    import json

    return json.dumps(d, ensure_ascii=False)
