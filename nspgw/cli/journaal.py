"""`nspgw journaal`: show, export, verify, hand over and merge the box's communications log (docs/journal.md)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import typer

from nspgw.cli.context import ConfigOpt, JsonOpt, LangOpt, emit_json, lang_of, load_box

FOLLOW_INTERVAL_S = 1.0
SinceOpt = typer.Option(None, "--since", "--van", help="Vanaf: 2026-12-06, '2026-12-06 14:00', of 6h / 2d terug.")
UntilOpt = typer.Option(None, "--until", "--tot", help="Tot (niet tot en met), zelfde vorm als --since.")


def register(app: typer.Typer) -> None:
    j = typer.Typer(name="journaal", help="Het journaal: verbindingslogboek van deze post (tonen, exporteren, "
                    "controleren, overdragen, samenvoegen).", no_args_is_help=True)
    app.add_typer(j, name="journaal")

    @j.command("show")
    def show(
        since: str | None = SinceOpt,
        until: str | None = UntilOpt,
        post: str | None = typer.Option(None, "--post", help="Alleen regels over deze post (naam of adres)."),
        precedence: str | None = typer.Option(None, "--precedence", "--prioriteit", help="flash, spoed, ..."),
        kind: list[str] = typer.Option([], "--kind", "--soort", help="Soort regel (herhaalbaar): msg_out, msg_in, "
                                       "state, receipt, custody_in, custody_out, operator, service, notice, clock, "
                                       "correction."),
        follow: bool = typer.Option(False, "--follow", help="Blijf nieuwe regels tonen (stop met Ctrl-C)."),
        as_json: bool = JsonOpt,
        config: Path | None = ConfigOpt,
        lang: str | None = LangOpt,
    ) -> None:
        """Toon het journaal, met bij elke tijd hoe zeker de klok was."""
        from nspgw.cli.context import PRECEDENCE_WORDS, load_roster, open_store, resolve_box
        from nspgw.cli.journaal_ops import line_of, namer, parse_moment, row_of
        from nspgw.cli.journaal_texts import jt
        from nspgw.errors import UsageError
        from nspgw.journal.chain import KINDS

        lg = lang_of(lang)
        cfg = load_box(config)
        roster = load_roster(cfg)
        me = int(_me(cfg, roster).addr)
        for k in kind:
            if k not in KINDS:
                raise UsageError(jt("bad_kind", lg, value=k, known=", ".join(KINDS)))
        prec = None
        if precedence is not None:
            word = PRECEDENCE_WORDS.get(precedence.strip().lower())
            if word is None:
                raise UsageError(jt("bad_kind", lg, value=precedence, known=", ".join(PRECEDENCE_WORDS)))
            prec = word.lower()
        filters = {"since": parse_moment(since, lg), "until": parse_moment(until, lg), "precedence": prec,
                   "kinds": kind or None,
                   "post": int(resolve_box(cfg, roster, post, lg).addr) if post is not None else None}
        name = namer(roster)
        with open_store(cfg, create=True) as store:
            rows = [row_of(e, lg, name, me) for e in store.journal_entries(**filters)]
            if as_json and not follow:
                emit_json(rows)
                return
            if not rows and not follow:
                typer.echo(jt("none", lg))
            for d in rows:
                typer.echo(_json_line(d) if as_json else line_of(d, lg))
            if not follow:
                return
            last = max((d["n"] for d in rows), default=0)
            try:
                while True:
                    time.sleep(FOLLOW_INTERVAL_S)  # an operator's terminal refresh, not a test wait
                    for e in store.journal_entries(**dict(filters, since=None), after_n=last):
                        last = max(last, e.n)
                        d = row_of(e, lg, name, me)
                        typer.echo(_json_line(d) if as_json else line_of(d, lg))
            except KeyboardInterrupt:
                return

    @j.command("export")
    def export(
        fmt: str = typer.Option("pdf", "--format", help="csv, json of pdf."),
        output: Path | None = typer.Option(None, "--output", "-o", help="Bestand (standaard: journaal-POST-DATUM.*; "
                                           "'-' = scherm, niet voor pdf)."),
        since: str | None = SinceOpt,
        until: str | None = UntilOpt,
        config: Path | None = ConfigOpt,
        lang: str | None = LangOpt,
    ) -> None:
        """Exporteer het journaal (periode naar keuze) als csv, json (controleerbaar) of pdf (om te printen)."""
        from nspgw.cli.context import load_roster, open_store
        from nspgw.cli.journaal_ops import export_bytes, namer, parse_moment
        from nspgw.cli.journaal_texts import jt
        from nspgw.errors import UsageError

        lg = lang_of(lang)
        if fmt not in ("csv", "json", "pdf"):
            raise UsageError(jt("bad_format", lg, value=fmt))
        cfg = load_box(config)
        roster = load_roster(cfg)
        me = _me(cfg, roster)
        lo, hi = parse_moment(since, lg), parse_moment(until, lg)
        name = namer(roster)
        target = output or Path(f"journaal-{me.name}-{time.strftime('%Y%m%d-%H%M')}.{fmt}")
        if str(target) == "-" and fmt == "pdf":
            raise UsageError(jt("bad_format", lg, value="pdf → -"))
        with open_store(cfg, create=True) as store:
            data, header, entries, why = export_bytes(store, cfg, me, lo, hi, fmt, lg, name)
            if str(target) == "-":
                sys.stdout.write(data.decode("utf-8"))
            else:
                from nspgw.store.keyfiles import write_atomic

                write_atomic(target, data, mode=0o644)
        if str(target) != "-":
            signed = jt("export_signed", lg) if "export_signature" in header else jt("export_unsigned", lg, why=why)
            last = entries[-1] if entries else None
            typer.echo(jt("export_written", lg, path=target, count=len(entries), n=last.n if last else 0,
                          hash=last.hash[:16] if last else "-", signed=signed), err=str(target) == "-")

    @j.command("verify")
    def verify(
        file: Path | None = typer.Argument(None, help="Een geëxporteerd journaal (.json); zonder: dit kastje."),
        as_json: bool = JsonOpt,
        config: Path | None = ConfigOpt,
        lang: str | None = LangOpt,
    ) -> None:
        """Controleer keten en handtekeningen; zegt precies waar het journaal is veranderd (exit 9)."""
        from nspgw.cli.journaal_ops import report_lines
        from nspgw.cli.journaal_texts import jt
        from nspgw.errors import UsageError
        from nspgw.journal.chain import GENESIS, JournalError
        from nspgw.journal.chain import verify as verify_chain
        from nspgw.journal.export import read_json, verify_export

        lg = lang_of(lang)
        roster = _roster_or_none(config)
        if file is not None:
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                raise UsageError(jt("no_file", lg, path=file)) from None
            header, raw, sigs = read_json(text)
            entry = roster.get(int(header.get("addr", -1))) if roster is not None else None
            key = entry.sign_public if entry is not None else bytes.fromhex(str(header.get("sign_public", "")))
            key_note = jt("key_no_roster", lg) if entry is None else (
                jt("key_yes", lg) if entry.sign_public.hex() == header.get("sign_public") else jt("key_differs", lg))
            report = verify_export(header, raw, sigs, key)
            box = str(header.get("box", "?"))
        else:
            from nspgw.cli.context import open_store

            cfg = load_box(config)
            if roster is None:
                raise UsageError("roster ontbreekt / roster missing")
            me = _me(cfg, roster)
            with open_store(cfg) as store:
                ents = [e.fields() for e in store.journal_entries()]
                report = verify_chain(int(me.addr), ents, store.journal_heads(), me.sign_public, start_prev=GENESIS)
            box, key_note = me.name, jt("key_yes", lg)
        ok, lines = report_lines(report, box, lg)
        if as_json:
            emit_json({"ok": ok, "box": box, "entries": report.entries, "first": report.first_n,
                       "last": report.last_n, "signed": report.signed_n, "key_in_roster": key_note,
                       "problems": [{"n": p.n, "position": p.position, "code": p.code, "detail": p.detail}
                                    for p in report.problems]})
        else:
            for line in lines:
                typer.echo(line)
            typer.echo(jt("verify_key", lg, ok=key_note))
        if not ok:
            raise typer.Exit(JournalError.exit_code)

    @j.command("handover")
    def handover(
        since: str = typer.Option("12h", "--since", "--van", help="Begin van de dienst (standaard 12h terug)."),
        as_json: bool = JsonOpt,
        config: Path | None = ConfigOpt,
        lang: str | None = LangOpt,
    ) -> None:
        """Overdracht bij dienstwissel: open noodmeldingen en aanvragen, ongelezen, nog niet afgeleverd."""
        from nspgw.cli.context import load_roster, open_store
        from nspgw.cli.journaal_ops import handover as build
        from nspgw.cli.journaal_ops import parse_moment
        from nspgw.cli.journaal_texts import PRIO, jt

        lg = lang_of(lang)
        cfg = load_box(config)
        roster = load_roster(cfg)
        with open_store(cfg, create=True) as store:
            h = build(store, roster, lg, parse_moment(since, lg) or 0.0)
        if as_json:
            emit_json(h)
            return
        prio = PRIO["en" if lg == "en" else "nl"]
        typer.echo(jt("handover_title", lg, box=cfg.name, time=h["time"], clock=jt("clock." + h["clock"], lg)))
        typer.echo(jt("handover_shift", lg, since=h["since"], sent=h["shift"]["sent"], recv=h["shift"]["received"],
                      notes=h["shift"]["notes"], expired=h["shift"]["expired"]))
        for key, items in (("handover_open", h["open"]), ("handover_unread", h["unread"]),
                           ("handover_undelivered", h["undelivered"])):
            typer.echo("")
            typer.echo(jt(key, lg, n=len(items)))
            for d in items:
                who = d.get("from") or ("→ " + d["to"])
                text = (d.get("text") or "").splitlines()[0][:70] if d.get("text") else ""
                ref = d.get("id", d.get("seq"))
                typer.echo(f"  {ref:>5}  {prio.get(d['precedence'], d['precedence']):<9} {who:<18} {d['type']:<11} "
                           f"{text}")
            if not items:
                typer.echo(jt("handover_nothing", lg))

    @j.command("merge")
    def merge(
        files: list[Path] = typer.Argument(..., help="Geëxporteerde journalen (.json) van verschillende posten."),
        as_json: bool = JsonOpt,
        config: Path | None = ConfigOpt,
        lang: str | None = LangOpt,
    ) -> None:
        """Voeg journalen van meerdere posten samen tot één tijdlijn (GCT); berichten gekoppeld op nummer."""
        from nspgw.cli.journaal_ops import merge as build
        from nspgw.cli.journaal_texts import jt
        from nspgw.journal.chain import JournalError

        lg = lang_of(lang)
        roster = _roster_or_none(config)

        def key_of(addr: int) -> bytes | None:
            e = roster.get(addr) if roster is not None else None
            return e.sign_public if e is not None else None

        m = build(files, lg, key_of)
        if as_json:
            emit_json(m)
        else:
            boxes = ", ".join(f"{b['box']} ({b['entries']}{'' if b['ok'] else ', NIET IN ORDE/BROKEN'})"
                              for b in m["boxes"])
            typer.echo(jt("merge_header", lg, boxes=boxes, count=len(m["timeline"])))
            for r in m["timeline"]:
                typer.echo(f"{r['time']}  {r['clock']:<10} {r['box']:<14} {r['n']:>6}  {r['text']}")
            typer.echo("")
            for msg in m["messages"]:
                if msg["sent"] is None:
                    continue
                recv = "; ".join(f"{x['box']} {x['time']}" for x in msg["received"]) or jt("merge_not_received", lg)
                typer.echo(jt("merge_msg", lg, msg=msg["msg"], sent=msg["sent"]["time"], src=msg["sent"]["box"],
                              recv=recv))
        if not all(b["ok"] for b in m["boxes"]):
            raise typer.Exit(JournalError.exit_code)

    @j.command("note")
    def note(
        text: str = typer.Argument(..., help="De notitie (besluit, reden, afspraak)."),
        config: Path | None = ConfigOpt,
        lang: str | None = LangOpt,
    ) -> None:
        """Leg een notitie vast in het journaal (wie: NSPGW_OPERATOR of het account)."""
        from nspgw.cli.context import open_store
        from nspgw.cli.journaal_texts import jt
        from nspgw.cli.texts import t
        from nspgw.errors import UsageError

        lg = lang_of(lang)
        if not text.strip():
            raise UsageError(t("empty_text", lg))
        cfg = load_box(config)
        with open_store(cfg, create=True) as store:
            store.journal_record("operator", {"action": "note", "text": text.strip()[:2000]})
        typer.echo(jt("note_written", lg))

    @j.command("clock")
    def clock(
        confirm: bool = typer.Option(False, "--confirm", help="Bevestig dat de klok nu goed staat (deze opstart)."),
        config: Path | None = ConfigOpt,
        lang: str | None = LangOpt,
    ) -> None:
        """Toon de klok en haar bron; --confirm legt vast dat een operator haar heeft gecontroleerd."""
        from nspgw.adapters.clock import boot_id, time_source
        from nspgw.cli.context import open_store
        from nspgw.cli.journaal_texts import fmt_time, jt
        from nspgw.store.journal import CLOCK_CONFIRMED

        lg = lang_of(lang)
        cfg = load_box(config)
        with open_store(cfg, create=True) as store:
            if confirm:
                store.set_status(CLOCK_CONFIRMED, boot_id())
                store.journal_record("operator", {"action": "clock_confirm", "wall": round(time.time(), 3)})
                typer.echo(jt("clock_confirmed", lg))
            src = time_source(store.status().get(CLOCK_CONFIRMED))  # type: ignore[arg-type]
        typer.echo(jt("clock_now", lg, time=fmt_time(time.time()), src=jt("clock." + src, lg)))


def _me(cfg: Any, roster: Any) -> Any:
    from nspgw.cli.context import my_entry

    return my_entry(cfg, roster)


def _roster_or_none(config: Path | None) -> Any:
    from nspgw.cli.context import load_roster
    from nspgw.errors import NspgwError

    try:
        return load_roster(load_box(config))
    except NspgwError:
        return None


def _json_line(d: dict[str, object]) -> str:
    import json

    return json.dumps(d, ensure_ascii=False)
