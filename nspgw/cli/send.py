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


def read_text_source(text: str | None, file: Path | None, lang: str) -> str | None:
    """The message text from the argument, `--file PATH` or stdin (`-`); undecodable bytes are a clear error."""
    from nspgw.cli.texts import t
    from nspgw.errors import UsageError

    if file is not None and text is not None:
        raise UsageError(t("file_and_text", lang))
    if file is None and text != "-":
        return text
    try:
        cap = MAX_TEXT_CHARS * 4 + 1  # enough for the limit in any UTF-8; the length check below reports
        raw = sys.stdin.buffer.read(cap) if file is None else file.read_bytes()[:cap]
    except OSError as exc:
        raise UsageError(t("file_unreadable", lang, path=file, reason=exc.strerror or exc)) from None
    try:
        return raw.decode("utf-8").removeprefix("\ufeff").rstrip("\n")
    except UnicodeDecodeError as exc:
        raise UsageError(t("file_not_utf8", lang, pos=exc.start)) from None


def compose(form: str | None, text: str | None, values: dict[str, object] | None, lang: str) -> tuple[object, bytes]:
    """(ContentType, encoded body) of a form with `values` or a free text, validated as `nspgw send` does.

    Shared by the CLI and the web console, so both accept and refuse exactly the same input."""
    from nspgw.cli.texts import t
    from nspgw.errors import UsageError
    from nspgw.wire.content import encode_content
    from nspgw.wire.frames import ContentType

    if form is not None:
        kind = FORM_NAMES.get(form.strip().casefold())
        if kind is None:
            raise UsageError(t("bad_form", lang, value=form, known=", ".join(FORM_NAMES)))
        if text is not None:
            raise UsageError(t("form_and_text", lang))
        from nspgw.wire.forms_schema import form_from_values

        ct = ContentType[kind]
        return ct, encode_content(ct, form_from_values(ct, values or {}))
    if values:
        raise UsageError(t("field_without_form", lang))
    if text is None or not text.strip():
        raise UsageError(t("empty_text", lang))
    if len(text) > MAX_TEXT_CHARS:
        raise UsageError(t("text_too_long", lang, n=len(text), max=MAX_TEXT_CHARS))
    return ContentType.TEXT, encode_content(ContentType.TEXT, text)


def accept(cfg: object, roster: object, to: str, ct: object, body: bytes, prec_word: str | None,
           ttl_s: int | None, lang: str, actor: str | None = None) -> tuple[int, str, str, bool]:
    """Commit the message to the outbox and wake the daemon: (seq, precedence, recipient name, daemon woke).
    `actor` is the console operator who sent it (the journal's 'who'); None for the CLI's own account."""
    from nspgw.cli.context import daemon_record, my_entry, open_store, resolve_box
    from nspgw.ids import BROADCAST_ADDR, BoxAddr
    from nspgw.store.wake import notify_daemon
    from nspgw.wire.frames import Precedence

    me = my_entry(cfg, roster)  # type: ignore[arg-type]
    entry = resolve_box(cfg, roster, to, lang, allow_broadcast=True)  # type: ignore[arg-type]
    dst = BROADCAST_ADDR if entry is None else entry.addr
    prec = Precedence[prec_word or DEFAULT_PRECEDENCE[ct.name]]  # type: ignore[attr-defined]
    with open_store(cfg, create=True) as store:  # type: ignore[arg-type]
        msg = store.accept_message(BoxAddr(me.addr), BoxAddr(dst), prec, body, ttl_s=ttl_s,
                                   content_type=int(ct), actor=actor)  # type: ignore[call-overload]
        _, running, _ = daemon_record(store)
    woke = notify_daemon(cfg.store_path)  # type: ignore[attr-defined]
    return msg.seq, prec.name, entry.name if entry is not None else "alle posten", running and woke


def register(app: typer.Typer) -> None:
    @app.command("send")
    def send(
        to: str = typer.Argument(..., help="Ontvanger: naam uit de roster, cp (mijn coördinatiepunt), gct, "
                                 "of alle (bulletin, alleen vanaf het GCT)."),
        text: str | None = typer.Argument(None, help="Berichttekst (niet bij --form); - leest van stdin."),
        priority: str | None = typer.Option(None, "--priority", "-p",
                                            help="flash, immediate (spoed), priority (voorrang) of routine."),
        ttl: str | None = typer.Option(None, "--ttl", help="Geldigheidsduur, bijv. 30m, 6h, 2d (1 min .. 7 d)."),
        form: str | None = typer.Option(None, "--form", "-f", help="noodmelding, sitrap, aanvraag of bulletin."),
        veld: list[str] | None = typer.Option(None, "--veld", help="Formulierveld sleutel=waarde (herhaalbaar)."),
        file: Path | None = typer.Option(None, "--file", help="Berichttekst uit dit bestand (UTF-8); "
                                         "tekst - leest van stdin."),
        config: Path | None = ConfigOpt,
        lang: str | None = LangOpt,
    ) -> None:
        """Verstuur een bericht of formulier. Het is geaccepteerd zodra dit commando het meldt."""
        from nspgw.cli.context import load_roster, my_entry
        from nspgw.cli.texts import t
        from nspgw.errors import UsageError

        lg = lang_of(lang)
        # Validate everything before touching the store: nothing is written on bad input.
        prec_word = parse_priority(priority, lg) if priority is not None else None
        ttl_s = parse_ttl(ttl, lg) if ttl is not None else None
        text = read_text_source(text, file, lg)
        cfg = load_box(config)
        roster = load_roster(cfg)
        my_entry(cfg, roster)
        values: dict[str, object] | None = None
        if form is not None and veld:
            values = {}
            for item in veld:
                key, sep, value = item.partition("=")
                if not sep or not key.strip():
                    raise UsageError(t("bad_field", lg, value=item))
                values[key.strip()] = value.strip()
        elif form is not None and text is None:
            from nspgw.wire.forms_schema import SCHEMAS
            from nspgw.wire.frames import ContentType

            kind = FORM_NAMES.get(form.strip().casefold())
            if kind is None:
                raise UsageError(t("bad_form", lg, value=form, known=", ".join(FORM_NAMES)))
            if not sys.stdin.isatty():
                raise UsageError(t("form_needs_fields", lg))
            values = _ask_form(SCHEMAS[ContentType[kind]], lg)
        elif veld:
            raise UsageError(t("field_without_form", lg))
        ct, body = compose(form, text, values, lg)
        seq, prec_name, to_name, woke = accept(cfg, roster, to, ct, body, prec_word, ttl_s, lg)
        typer.echo(t("accepted", lg, id=seq, priority=t(f"prio.{prec_name.lower()}", lg), to=to_name))
        if not woke:
            typer.echo(t("daemon_down_hint", lg), err=True)
