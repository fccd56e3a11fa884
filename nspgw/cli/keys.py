"""`nspgw keys show|fingerprint|export-request`: this box's public key information. Never a secret.

The secret files are opened through `store.keyfiles.read_secret`, so a key file others can read is refused
here too (exit 7) rather than shown as fine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from nspgw.cli.context import ConfigOpt, JsonOpt, LangOpt, emit_json, lang_of, load_box

app = typer.Typer(help="Sleutels van deze box tonen (alleen openbare gegevens).", no_args_is_help=True)


def key_info(cfg: Any) -> dict[str, Any]:
    """Public facts about this box's keys and enrolment (used by `keys show` and `selftest`)."""
    from nspgw.crypto.bundle import fingerprint
    from nspgw.store.enrolment_files import PSK_FILE, load_own_identity
    from nspgw.store.keyfiles import AUTHORITY_PUB, BOX_KEY, ROSTER, load_identity

    keys_dir: Path = cfg.keys_dir
    identity = load_own_identity(keys_dir)
    info: dict[str, Any] = {
        "name": cfg.name, "role": cfg.role, "network": cfg.network,
        "fingerprint": fingerprint(identity.sign_public, identity.dh_public),
        "sign_public": identity.sign_public.hex(), "dh_public": identity.dh_public.hex(),
        "enrolled": (keys_dir / BOX_KEY).exists(), "addr": None, "roster_version": None,
        "radio_key": (keys_dir / PSK_FILE).exists(),
    }
    if info["enrolled"]:
        info["addr"] = int(load_identity(keys_dir / BOX_KEY)[0])
        if (keys_dir / ROSTER).exists() and (keys_dir / AUTHORITY_PUB).exists():
            from nspgw.crypto.bundle import authority_fingerprint
            from nspgw.crypto.roster import Roster

            apub = bytes.fromhex((keys_dir / AUTHORITY_PUB).read_text(encoding="ascii").strip())
            info["roster_version"] = Roster.from_json((keys_dir / ROSTER).read_text(encoding="utf-8"), apub).version
            info["authority_fingerprint"] = authority_fingerprint(apub)
    return info


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="keys")


@app.command("show")
def show(config: Path | None = ConfigOpt, as_json: bool = JsonOpt, lang: str | None = LangOpt) -> None:
    """Toon naam, rol, vingerafdruk en aanmeldstatus van deze box."""
    lg = lang_of(lang)
    info = key_info(load_box(config))
    if as_json:
        emit_json(info)
        return
    nl = lg == "nl"
    typer.echo(f"Box: {info['name']} ({info['role']}, {'netwerk' if nl else 'network'} "
               f"{info['network']})")
    typer.echo(f"{'Vingerafdruk' if nl else 'Fingerprint'}: {info['fingerprint']}")
    if info["enrolled"]:
        typer.echo(f"{'Aangemeld: adres' if nl else 'Enrolled: address'} {info['addr']}, roster "
                   f"{'versie' if nl else 'version'} {info['roster_version']}")
        if info.get("authority_fingerprint"):
            typer.echo(f"{'Netwerkautoriteit' if nl else 'Network authority'}: {info['authority_fingerprint']}")
    else:
        typer.echo("Nog niet aangemeld (nspgw roster import BUNDEL)" if nl else
                   "Not enrolled yet (nspgw roster import BUNDLE)")


@app.command("fingerprint")
def fingerprint_cmd(config: Path | None = ConfigOpt) -> None:
    """Alleen de vingerafdruk (om voor te lezen aan de netwerkautoriteit)."""
    typer.echo(key_info(load_box(config))["fingerprint"])


@app.command("export-request")
def export_request(
    config: Path | None = ConfigOpt,
    node_id: str | None = typer.Option(None, "--node-id", help="Node-id van de radio (!xxxxxxxx)."),
    out: Path | None = typer.Option(None, "--out", help="Bestand (standaard: statusmap/enrol-request-NAAM.json)."),
    lang: str | None = LangOpt,
) -> None:
    """Schrijf het aanmeldverzoek opnieuw, bijvoorbeeld met het node-id van de radio erin."""
    from nspgw.cli.texts import t
    from nspgw.crypto.bundle import EnrolRequest
    from nspgw.store.enrolment_files import load_own_identity, parse_node_num
    from nspgw.store.keyfiles import write_atomic

    lg = lang_of(lang)
    cfg = load_box(config)
    node_num = parse_node_num(node_id)
    identity = load_own_identity(cfg.keys_dir)
    req = EnrolRequest.create(identity, network=cfg.network, name=cfg.name, role=cfg.role, parent=cfg.parent,
                              node_num=node_num)
    path = out or cfg.state_dir / f"enrol-request-{cfg.name}.json"
    write_atomic(path, req.to_json().encode("utf-8"), mode=0o644)
    typer.echo(t("tech.fingerprint", lg, fp=req.fingerprint))
    typer.echo(t("tech.request_written", lg, path=path))
