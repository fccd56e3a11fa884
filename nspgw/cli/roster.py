"""`nspgw roster …`: the network authority's commands, and `roster import` on a box.

Authority (offline laptop, directory `--authority-dir`, default `$NSPGW_AUTHORITY_DIR` or ./nspgw-authority):
    roster init --network NAME        authority key, network key, radio channel key, empty roster v0
    roster add REQUEST.json           a box into the draft (address assigned, parent CP resolved)
    roster revoke NAME|ADDR [--sign]  a box out (in the draft; the network key is renewed at signing)
    roster sign                       the draft becomes the next signed version, plus the signed delta
                                      (roster-delta-vN.hex) that `roster broadcast` sends over the air
    roster bundle NAME                the box's enrolment bundle (its secrets sealed to its own key)
    roster show [--json]              signed roster + unsigned changes
Box:
    roster import FILE                a bundle or a newer roster; verified before anything is written
    roster show [--json]              the roster this box uses (without --authority-dir)
    roster broadcast DELTA            adopt a signed delta and broadcast it (through the running daemon)
    roster rotate-key                 GCT box: a new network key to every unrevoked box, sealed to each
The flow logic lives in `nspgw.store.enrolment_files` (files) and `nspgw.crypto.bundle` (documents); this
module parses options and prints.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from nspgw.cli.context import ConfigOpt, JsonOpt, LangOpt, emit_json, lang_of, load_box

app = typer.Typer(help="Roster van het netwerk: boxen aanmelden, intrekken, tekenen en importeren.",
                  no_args_is_help=True)

AuthorityOpt = typer.Option(None, "--authority-dir", "-A", help="Map van de netwerkautoriteit (standaard "
                            "$NSPGW_AUTHORITY_DIR of ./nspgw-authority).")


def _authority_dir(opt: Path | None) -> Path:
    if opt is not None:
        return opt
    env = os.environ.get("NSPGW_AUTHORITY_DIR")
    return Path(env) if env else Path("nspgw-authority")


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="roster")


@app.command("init")
def init_cmd(network: str = typer.Option(..., "--network", help="Naam van het netwerk (gemeente)."),
             authority_dir: Path | None = AuthorityOpt, lang: str | None = LangOpt) -> None:
    """Maak de netwerkautoriteit: tekensleutel, netwerksleutel, radiokanaalsleutel en een lege roster."""
    from nspgw.cli.texts import t
    from nspgw.store.enrolment_files import Authority

    d = _authority_dir(authority_dir)
    auth = Authority.create(d, network)
    typer.echo(t("tech.authority_created", lang_of(lang), network=network, dir=d, fp=auth.fingerprint))


@app.command("add")
def add(request: Path = typer.Argument(..., help="Aanmeldverzoek van de box (enrol-request-NAAM.json)."),
        addr: int | None = typer.Option(None, "--addr", help="Adres 1..4094 (standaard: eerste vrije)."),
        node_id: str | None = typer.Option(None, "--node-id", help="Node-id van de radio van de box."),
        authority_dir: Path | None = AuthorityOpt, lang: str | None = LangOpt) -> None:
    """Neem een box op in het concept van de volgende roster."""
    from nspgw.cli.texts import t
    from nspgw.crypto.bundle import fingerprint
    from nspgw.ids import node_id_str
    from nspgw.store.enrolment_files import Authority, load_request, parse_node_num

    auth = Authority(_authority_dir(authority_dir))
    req = load_request(request)
    e = auth.add(req, addr=addr, node_num=parse_node_num(node_id))
    typer.echo(t("tech.added", lang_of(lang), name=e.name, role=e.role.value, addr=e.addr,
                 node=node_id_str(e.node_num), fp=fingerprint(e.sign_public, e.dh_public)))


@app.command("revoke")
def revoke(box: str = typer.Argument(..., help="Naam of adres van de box."),
           sign_now: bool = typer.Option(False, "--sign", help="Meteen tekenen: nieuwe versie en een "
                                         "ondertekende wijziging om uit te zenden (nspgw roster broadcast)."),
           authority_dir: Path | None = AuthorityOpt, lang: str | None = LangOpt) -> None:
    """Trek een box in (gestolen, kapot, vervangen). Daarna `nspgw roster sign`, of meteen met --sign."""
    from nspgw.cli.texts import t
    from nspgw.store.enrolment_files import Authority

    auth = Authority(_authority_dir(authority_dir))
    e = auth.revoke(box)
    lg = lang_of(lang)
    typer.echo(t("tech.revoked", lg, name=e.name, addr=e.addr))
    if sign_now:
        _sign(auth, lg)


def _sign(auth: Any, lg: str) -> None:
    from nspgw.cli.texts import t

    roster, new_key = auth.sign()
    typer.echo(t("tech.signed", lg, version=roster.version, n=sum(not e.revoked for e in roster.entries)))
    typer.echo(t("tech.delta_written", lg, path=auth.delta_path(roster.version)))
    if new_key is not None:
        typer.echo(t("tech.rotated", lg, epoch=new_key.epoch))


@app.command("broadcast")
def broadcast(file: Path = typer.Argument(..., help="Ondertekende rosterwijziging (roster-delta-vN.hex)."),
              config: Path | None = ConfigOpt, lang: str | None = LangOpt) -> None:
    """Neem een ondertekende rosterwijziging over en zend haar uit naar alle boxen (via de draaiende dienst)."""
    from nspgw.cli.texts import t
    from nspgw.errors import ConfigError

    try:
        blob = file.read_text(encoding="ascii").strip()
        bytes.fromhex(blob)
    except (OSError, UnicodeDecodeError, ValueError):
        raise ConfigError(f"{file}: geen rosterwijziging (hex) / not a roster change (hex)") from None
    answer = _ask_daemon(config, {"cmd": "roster_update", "delta": blob}, lang)
    typer.echo(t("tech.broadcast", lang_of(lang), version=answer["version"]))


@app.command("rotate-key")
def rotate_key(config: Path | None = ConfigOpt, lang: str | None = LangOpt) -> None:
    """GCT-box: stuur een nieuwe netwerksleutel naar elke niet-ingetrokken box (via de draaiende dienst)."""
    from nspgw.cli.texts import t

    answer = _ask_daemon(config, {"cmd": "rotate_key"}, lang)
    typer.echo(t("tech.key_rotated", lang_of(lang), epoch=answer["epoch"], n=len(answer["boxes"])))


def _ask_daemon(config: Path | None, body: dict[str, Any], lang: str | None) -> dict[str, Any]:
    from nspgw.cli.texts import t
    from nspgw.daemon.io import control_request
    from nspgw.errors import NspgwError

    answer = control_request(load_box(config).state_dir, body, 30.0)
    if not answer.get("ok"):
        class Refused(NspgwError):
            exit_code = 1

        raise Refused(t("tech.daemon_refused", lang_of(lang), why=answer.get("error", "?")))
    return answer


@app.command("sign")
def sign(authority_dir: Path | None = AuthorityOpt, lang: str | None = LangOpt) -> None:
    """Teken het concept als nieuwe rosterversie (na een intrekking ook een nieuwe netwerksleutel)."""
    from nspgw.store.enrolment_files import Authority

    _sign(Authority(_authority_dir(authority_dir)), lang_of(lang))


@app.command("bundle")
def bundle(box: str = typer.Argument(..., help="Naam of adres van de box."),
           out: Path | None = typer.Option(None, "--out", help="Bestand (standaard bundle-NAAM.json hier)."),
           authority_dir: Path | None = AuthorityOpt, lang: str | None = LangOpt) -> None:
    """Maak de aanmeldbundel van een box (roster + sleutels, versleuteld voor alleen die box)."""
    from nspgw.cli.texts import t
    from nspgw.store.enrolment_files import Authority

    e, path = Authority(_authority_dir(authority_dir)).bundle(box, out)
    typer.echo(t("tech.bundled", lang_of(lang), name=e.name, addr=e.addr, path=path))


@app.command("import")
def import_cmd(file: Path = typer.Argument(..., help="Bundel (bundle-NAAM.json) of roster (roster.json)."),
               authority_fingerprint: str | None = typer.Option(
                   None, "--authority-fingerprint", help="Verwachte vingerafdruk van de netwerkautoriteit."),
               config: Path | None = ConfigOpt, lang: str | None = LangOpt) -> None:
    """Importeer op deze box een aanmeldbundel of een nieuwere roster (eerst gecontroleerd, dan geschreven)."""
    from nspgw.cli.texts import t
    from nspgw.store.enrolment_files import import_file

    lg = lang_of(lang)
    r = import_file(load_box(config), file, expect_authority=authority_fingerprint)
    if r.kind == "bundle":
        typer.echo(t("tech.imported_bundle", lg, addr=r.addr, version=r.roster_version, epoch=r.network_epoch,
                     afp=r.authority_fingerprint))
    elif r.kind == "roster":
        typer.echo(t("tech.imported_roster", lg, version=r.roster_version))
    else:
        typer.echo(t("tech.roster_unchanged", lg, version=r.roster_version))


@app.command("show")
def show(authority_dir: Path | None = AuthorityOpt, config: Path | None = ConfigOpt, as_json: bool = JsonOpt,
         lang: str | None = LangOpt) -> None:
    """Toon de roster: die van de netwerkautoriteit (met -A) of die van deze box."""
    lg = lang_of(lang)
    pending: list[str] = []
    if authority_dir is not None or (config is None and os.environ.get("NSPGW_AUTHORITY_DIR")):
        from nspgw.store.enrolment_files import Authority

        auth = Authority(_authority_dir(authority_dir))
        roster, pending = auth.roster, auth.pending()
    else:
        from nspgw.store.keyfiles import load_keyring

        roster = load_keyring(load_box(config).keys_dir).roster
    if as_json:
        emit_json({"version": roster.version, "entries": [_public(e) for e in roster.entries],
                   "pending": pending})
        return
    _print(roster, pending, lg)


def _public(e: Any) -> dict[str, Any]:
    from nspgw.crypto.bundle import fingerprint
    from nspgw.ids import node_id_str

    return {"addr": e.addr, "name": e.name, "role": e.role.value, "node_id": node_id_str(e.node_num),
            "parent": e.parent, "revoked": e.revoked, "fingerprint": fingerprint(e.sign_public, e.dh_public)}


def _print(roster: Any, pending: list[str], lg: str) -> None:
    from rich.console import Console
    from rich.table import Table

    nl = lg == "nl"
    table = Table(title=f"Roster {'versie' if nl else 'version'} {roster.version}")
    for col in (("Adres", "Address"), ("Naam", "Name"), ("Rol", "Role"), ("Radio", "Radio"),
                ("CP", "CP"), ("Status", "Status")):
        table.add_column(col[0] if nl else col[1])
    for e in sorted(roster.entries, key=lambda e: e.addr):
        d = _public(e)
        state = ("INGETROKKEN" if nl else "REVOKED") if e.revoked else ("actief" if nl else "active")
        table.add_row(str(e.addr), e.name, e.role.value, d["node_id"], str(e.parent or ""), state)
    Console().print(table)
    if pending:
        typer.echo("Niet getekende wijzigingen (nspgw roster sign):" if nl else
                    "Unsigned changes (nspgw roster sign):")
        for line in pending:
            typer.echo(f"  {line}")
