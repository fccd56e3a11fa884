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
            record, running, _ = daemon_record(store)
        via: dict[str, str] = (record or {}).get("sent_via", {}) or {}
        # When each message waiting for the radio is expected on air (seconds from the daemon's last heartbeat);
        # a stopped daemon sends nothing, so then there is no expectation to show.
        eta: dict[str, dict[str, Any]] = ((record or {}).get("outbox_eta") or {}) if running else {}
        beat = float((record or {}).get("heartbeat_wall") or time.time())
        out: list[dict[str, Any]] = []
        for r in rows:
            _, text = _render(r.body, lg)
            e = eta.get(str(r.seq)) if r.state.value not in ("delivered", "expired") else None
            delay = None if e is None else e.get("expected_delay_s")
            out.append({
                "seq": r.seq, "to": box_name(roster, r.dst), "to_addr": int(r.dst),
                "precedence": r.precedence.name.lower(), "state": r.state.value, "via": via.get(str(r.seq)),
                "detail": r.detail, "receipts": [box_name(roster, b) for b in r.receipts],
                "accepted": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.accepted_wall)), "text": text,
                # waiting for the radio: when it is expected on air, and whether the duty cycle holds it back
                "waiting_for_radio": e is not None,
                "expected_send": None if delay is None else
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(beat + float(delay))),
                "waits_for_airtime": bool(e and e.get("duty_bound")),
                "expires_first": bool(e and e.get("expires_first")),  # likely reported expired before it goes
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
            if d["waiting_for_radio"]:
                at = (d["expected_send"] or "")[11:16]
                key = ("outbox_eta_unknown" if not at else "outbox_eta_expires" if d["expires_first"]
                       else "outbox_eta_duty" if d["waits_for_airtime"] else "outbox_eta")
                extra += f" [{t(key, lg, at=at)}]"
            typer.echo(f"{d['seq']:>5}  {d['accepted'][5:16]}  {t('prio.' + d['precedence'], lg):<9} "
                       f"{d['to']:<18} {state}{extra}  {first}")
