"""`nspgw outbox`: our own messages and what became of them (queued, sent via IP/radio, delivered, expired)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from nspgw.cli.context import ConfigOpt, JsonOpt, LangOpt, emit_json, lang_of, load_box


def register(app: typer.Typer) -> None:
    @app.command("outbox")
    def outbox(
        as_json: bool = JsonOpt,
        config: Path | None = ConfigOpt,
        lang: str | None = LangOpt,
    ) -> None:
        """Verzonden berichten met hun toestand: in wachtrij, onderweg (via IP/radio), afgeleverd, verlopen."""
        from nspgw.cli.context import box_name, daemon_record, load_roster, open_store
        from nspgw.cli.inbox import _render
        from nspgw.cli.texts import t

        lg = lang_of(lang)
        cfg = load_box(config)
        roster = load_roster(cfg)
        with open_store(cfg, create=True) as store:
            rows = store.outbox()
            record, _, _ = daemon_record(store)
        via: dict[str, str] = (record or {}).get("sent_via", {}) or {}
        out: list[dict[str, Any]] = []
        for r in rows:
            _, text = _render(r.body, lg)
            out.append({
                "seq": r.seq, "to": box_name(roster, r.dst), "to_addr": int(r.dst),
                "precedence": r.precedence.name.lower(), "state": r.state.value, "via": via.get(str(r.seq)),
                "detail": r.detail, "receipts": [box_name(roster, b) for b in r.receipts],
                "accepted": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.accepted_wall)), "text": text,
            })
        if as_json:
            emit_json(out)
            return
        if not out:
            typer.echo(t("no_messages", lg))
            return
        for d in out:
            state = t("state." + d["state"], lg)
            if d["via"] and d["state"] in ("in_flight", "queued", "held_by_relay"):
                state += " " + t("via." + d["via"], lg)
            first = d["text"].splitlines()[0] if d["text"] else ""
            first = first if len(first) <= 50 else first[:49] + "…"
            extra = f" ({d['detail']})" if d["detail"] else ""
            typer.echo(f"{d['seq']:>5}  {d['accepted'][5:16]}  {t('prio.' + d['precedence'], lg):<9} "
                       f"{d['to']:<18} {state}{extra}  {first}")
