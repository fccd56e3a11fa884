"""`nspgw service install`: write the hardened systemd unit and say how to enable it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import typer

from nspgw.cli.context import LangOpt, lang_of
from nspgw.cli.texts import t
from nspgw.config import DEFAULT_CONFIG_PATH

service_app = typer.Typer(help="De nspgw-dienst (systemd) installeren.", no_args_is_help=True)
UNIT_NAME = "nspgw.service"


@service_app.command("install")
def install(
    user: str = typer.Option("nspgw", "--user", help="Systeemgebruiker waaronder de dienst draait."),
    config: Path = typer.Option(DEFAULT_CONFIG_PATH, "--config", "-c", help="Configuratiebestand van de dienst."),
    unit_dir: Path = typer.Option(Path("/etc/systemd/system"), "--unit-dir", help="Map voor het unit-bestand."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Toon het unit-bestand; schrijf niets."),
    lang: str | None = LangOpt,
) -> None:
    """Schrijf het systemd-unitbestand (Type=notify, watchdog, afgeschermd) en toon de volgende stappen."""
    from nspgw.adapters.systemd import unit_text
    from nspgw.errors import ConfigError, UsageError

    lg = lang_of(lang)
    if not user or not all(c.isalnum() or c in "-_" for c in user):
        raise UsageError(t("service_bad_user", lg, user=user))
    exe = shutil.which("nspgw") or str(Path(sys.executable).parent / "nspgw")
    text = unit_text(exe, str(config.absolute()), user)
    if dry_run:
        typer.echo(text, nl=False)
        return
    if not unit_dir.is_dir():
        raise ConfigError(t("service_no_unit_dir", lg, dir=unit_dir))
    target = unit_dir / UNIT_NAME
    try:
        tmp = target.with_name(f".{UNIT_NAME}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o644)
        tmp.replace(target)
    except OSError as exc:
        raise ConfigError(t("service_write_failed", lg, path=target, why=exc.strerror)) from None
    typer.echo(t("service_installed", lg, path=target, user=user))


def register(app: typer.Typer) -> None:
    app.add_typer(service_app, name="service")
