"""`nspgw send`: accept a message (one SQLite commit) and wake the daemon. Answers in well under a second.

Never imports the radio or MQTT libraries (tests/cli checks `sys.modules`): the message is accepted when its
row commits; transmitting is the daemon's job. Forms: `--form noodmelding|sitrap|aanvraag|bulletin` with
fields as `--veld sleutel=waarde` (repeatable; keys are the Dutch field keys of nspgw.wire.forms_schema), or,
when stdin is a terminal and no `--veld` is given, asked one by one with validation.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import typer

from nspgw.cli.context import ConfigOpt, LangOpt, lang_of, load_box

MAX_TEXT_CHARS = 1000
"""Free text limit: ~1000 characters compress to roughly 4-6 full frames, 10-15 s of LONG_FAST airtime; a
longer text belongs on paper or on the IP link's successor, not on a 10 % duty-cycle channel."""

MIN_TTL_S = 60
MAX_TTL_S = 7 * 24 * 3600
_TTL_RE = re.compile(r"^\s*(\d+)\s*([smhd]|min|u|uur|dag|dagen)?\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "u": 3600, "uur": 3600, "d": 86400, "dag": 86400,
           "dagen": 86400}
FORM_NAMES = {"noodmelding": "NOODMELDING", "sitrap": "SITRAP", "aanvraag": "AANVRAAG", "bulletin": "BULLETIN"}
# Default precedence per content: an emergency report is FLASH, a bulletin IMMEDIATE, reports and requests
# PRIORITY, free text ROUTINE; `--priority` overrides.
DEFAULT_PRECEDENCE = {"TEXT": "ROUTINE", "NOODMELDING": "FLASH", "SITRAP": "PRIORITY", "AANVRAAG": "PRIORITY",
                      "BULLETIN": "IMMEDIATE"}


def parse_ttl(value: str, lang: str) -> int:
    from nspgw.cli.texts import t
    from nspgw.errors import UsageError

    m = _TTL_RE.match(value)
    if not m:
        raise UsageError(t("bad_ttl", lang, value=value))
    seconds = int(m.group(1)) * _UNIT_S[(m.group(2) or "m").lower()]
    if not MIN_TTL_S <= seconds <= MAX_TTL_S:
        raise UsageError(t("bad_ttl", lang, value=value))
    return seconds


def parse_priority(value: str, lang: str) -> str:
    from nspgw.cli.context import PRECEDENCE_WORDS
    from nspgw.cli.texts import t
    from nspgw.errors import UsageError

    word = PRECEDENCE_WORDS.get(value.strip().casefold())
    if word is None:
        raise UsageError(t("bad_priority", lang, value=value))
    return word


def _ask_form(schema: object, lang: str) -> dict[str, object]:
    """Interactive prompts, one field at a time, re-asked until valid (empty = skip an optional field)."""
    from nspgw.errors import UsageError
    from nspgw.wire.forms_schema import parse_field

    values: dict[str, object] = {}
    title = schema.title_nl if lang == "nl" else schema.title_en  # type: ignore[attr-defined]
    typer.echo(title)
    for spec in schema.fields:  # type: ignore[attr-defined]
        label = spec.label_nl if lang == "nl" else spec.label_en
        hint = spec.help_nl if lang == "nl" else spec.help_en
        if spec.choices:
            hint = ", ".join(c.name for c in spec.choices)
        prompt = f"{label}{' *' if spec.required else ''}{f' ({hint})' if hint else ''}"
        while True:
            answer = typer.prompt(prompt, default="", show_default=False)
            if not answer.strip():
                if spec.required:
                    typer.echo("  verplicht veld" if lang == "nl" else "  required field")
                    continue
                break
            try:
                values[spec.name] = parse_field(spec, answer, schema.name)  # type: ignore[attr-defined]
                break
            except UsageError as exc:
                typer.echo(f"  {exc}")
    return values


def register(app: typer.Typer) -> None:
    @app.command("send")
    def send(
        to: str = typer.Argument(..., help="Ontvanger: naam uit de roster, cp (mijn coördinatiepunt), gct, "
                                 "of alle (bulletin, alleen vanaf het GCT)."),
        text: str | None = typer.Argument(None, help="Berichttekst (niet bij --form)."),
        priority: str | None = typer.Option(None, "--priority", "-p",
                                            help="flash, immediate (spoed), priority (voorrang) of routine."),
        ttl: str | None = typer.Option(None, "--ttl", help="Geldigheidsduur, bijv. 30m, 6h, 2d (1 min .. 7 d)."),
        form: str | None = typer.Option(None, "--form", "-f", help="noodmelding, sitrap, aanvraag of bulletin."),
        veld: list[str] | None = typer.Option(None, "--veld", help="Formulierveld sleutel=waarde (herhaalbaar)."),
        config: Path | None = ConfigOpt,
        lang: str | None = LangOpt,
    ) -> None:
        """Verstuur een bericht of formulier. Het is geaccepteerd zodra dit commando het meldt."""
        from nspgw.cli.context import daemon_record, load_roster, my_entry, open_store, resolve_box
        from nspgw.cli.texts import t
        from nspgw.errors import UsageError
        from nspgw.ids import BROADCAST_ADDR, BoxAddr
        from nspgw.store.wake import notify_daemon
        from nspgw.wire.content import encode_content
        from nspgw.wire.frames import ContentType, Precedence

        lg = lang_of(lang)
        # Validate everything before touching the store: nothing is written on bad input.
        prec_word = parse_priority(priority, lg) if priority is not None else None
        ttl_s = parse_ttl(ttl, lg) if ttl is not None else None
        cfg = load_box(config)
        roster = load_roster(cfg)
        me = my_entry(cfg, roster)
        if form is not None:
            kind = FORM_NAMES.get(form.strip().casefold())
            if kind is None:
                raise UsageError(t("bad_form", lg, value=form, known=", ".join(FORM_NAMES)))
            ct = ContentType[kind]
            if text is not None:
                raise UsageError(t("form_and_text", lg))
            from nspgw.wire.forms_schema import SCHEMAS, form_from_values

            if veld:
                values: dict[str, object] = {}
                for item in veld:
                    key, sep, value = item.partition("=")
                    if not sep or not key.strip():
                        raise UsageError(t("bad_field", lg, value=item))
                    values[key.strip()] = value.strip()
            elif sys.stdin.isatty():
                values = _ask_form(SCHEMAS[ct], lg)
            else:
                raise UsageError(t("form_needs_fields", lg))
            body = encode_content(ct, form_from_values(ct, values))
        else:
            if veld:
                raise UsageError(t("field_without_form", lg))
            if text is None or not text.strip():
                raise UsageError(t("empty_text", lg))
            if len(text) > MAX_TEXT_CHARS:
                raise UsageError(t("text_too_long", lg, n=len(text), max=MAX_TEXT_CHARS))
            ct = ContentType.TEXT
            body = encode_content(ct, text)
        entry = resolve_box(cfg, roster, to, lg, allow_broadcast=True)
        dst = BROADCAST_ADDR if entry is None else entry.addr
        prec = Precedence[prec_word or DEFAULT_PRECEDENCE[ct.name]]
        with open_store(cfg, create=True) as store:
            msg = store.accept_message(BoxAddr(me.addr), BoxAddr(dst), prec, body, ttl_s=ttl_s,
                                       content_type=int(ct))
            _, running, _ = daemon_record(store)
        woke = notify_daemon(cfg.store_path)
        typer.echo(t("accepted", lg, id=msg.seq, priority=t(f"prio.{prec.name.lower()}", lg),
                     to=entry.name if entry is not None else "alle posten"))
        if not (running and woke):
            typer.echo(t("daemon_down_hint", lg), err=True)
