"""`nspgw operator add/remove/list`: the accounts that may use this box's web console.

Accounts belong to one box (state_dir/console.db); the password is asked twice on a terminal or read from
stdin (`--password-stdin`, for scripts), never taken from the command line where `ps` would show it."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from nspgw.cli.context import ConfigOpt, JsonOpt, LangOpt, emit_json, lang_of, load_box

operator_app = typer.Typer(help="Operators van de webconsole van dit kastje.", no_args_is_help=True,
                           rich_markup_mode=None)


def register(parent: typer.Typer) -> None:
    parent.add_typer(operator_app, name="operator")


def _password(stdin: bool, lang: str) -> str:
    from nspgw.errors import UsageError

    if stdin or not sys.stdin.isatty():
        pw = sys.stdin.readline().rstrip("\n")
    else:
        pw = typer.prompt("Wachtwoord" if lang == "nl" else "Password", hide_input=True,
                          confirmation_prompt=True)
    if not pw:
        raise UsageError("geen wachtwoord gegeven / no password given")
    return pw


@operator_app.command("add")
def add(name: str = typer.Argument(..., help="Naam van de operator (kleine letters, cijfers, -_.)."),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="Lees het wachtwoord van stdin."),
        config: Path | None = ConfigOpt, lang: str | None = LangOpt) -> None:
    """Maak een operator-account aan (wachtwoord minstens 8 tekens)."""
    from nspgw.console.accounts import Accounts

    lg = lang_of(lang)
    cfg = load_box(config)
    pw = _password(password_stdin, lg)
    accounts = Accounts(cfg.state_dir)
    try:
        added = accounts.add(name, pw)
        accounts.record("-", "operator_add", added)
    finally:
        accounts.close()
    typer.echo(f"Operator {added} toegevoegd." if lg == "nl" else f"Operator {added} added.")


@operator_app.command("remove")
def remove(name: str = typer.Argument(...), config: Path | None = ConfigOpt, lang: str | None = LangOpt) -> None:
    """Verwijder een operator; een open sessie van die operator vervalt meteen."""
    from nspgw.console.accounts import Accounts
    from nspgw.errors import UsageError

    lg = lang_of(lang)
    cfg = load_box(config)
    accounts = Accounts(cfg.state_dir)
    try:
        if not accounts.remove(name):
            raise UsageError(f"operator {name} bestaat niet" if lg == "nl" else f"no operator {name}")
        accounts.record("-", "operator_remove", name)
    finally:
        accounts.close()
    typer.echo(f"Operator {name} verwijderd." if lg == "nl" else f"Operator {name} removed.")


@operator_app.command("list")
def list_cmd(as_json: bool = JsonOpt, log: bool = typer.Option(False, "--log", help="Toon ook wat operators deden."),
             config: Path | None = ConfigOpt, lang: str | None = LangOpt) -> None:
    """Operators, de console-URL en de vingerafdruk van het HTTPS-certificaat."""
    from nspgw.console.accounts import Accounts
    from nspgw.console.tls import cert_paths, fingerprint

    lg = lang_of(lang)
    cfg = load_box(config)
    accounts = Accounts(cfg.state_dir)
    try:
        ops = accounts.list()
        entries = accounts.log() if log else []
    finally:
        accounts.close()
    cert, _ = cert_paths(cfg.state_dir)
    fp = fingerprint(cert) if cert.exists() else ""
    cc = cfg.console
    url = f"{'https' if cc.tls else 'http'}://{cc.host}:{cc.port}/"
    now = time.time()
    if as_json:
        emit_json({"console": {"enabled": cc.enabled, "url": url, "fingerprint_sha256": fp},
                   "operators": [{"name": o.name, "locked": o.locked_until_wall > now} for o in ops],
                   "log": [{"operator": o, "action": a, "detail": d, "wall": w} for o, a, d, w in entries]})
        return
    nl = lg == "nl"
    typer.echo(f"Console: {url} ({'aan' if nl else 'on'})" if cc.enabled else
               f"Console: {'uit' if nl else 'off'} ([console] enabled = false)")
    typer.echo(f"{'Vingerafdruk certificaat' if nl else 'Certificate fingerprint'} (SHA-256): "
               f"{fp or ('nog niet gemaakt (start de dienst)' if nl else 'not made yet (start the service)')}")
    if not ops:
        typer.echo("Geen operators (nspgw operator add NAAM)." if nl else "No operators (nspgw operator add NAME).")
    for o in ops:
        lock = (" (geblokkeerd)" if nl else " (locked)") if o.locked_until_wall > now else ""
        typer.echo(f"  {o.name}{lock}")
    for op, action, detail, wall in entries:
        typer.echo(f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(wall))}  {op:<16} {action:<14} {detail}")
