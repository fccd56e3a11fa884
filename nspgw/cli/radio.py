"""`nspgw radio …`: technician commands to find, provision and check the Meshtastic radio.

Dutch output first (`--lang en` for English), `--json` on the read commands. Errors are `NspgwError`s; the
one error boundary in `nspgw.cli.main` prints them (radio absent: RadioError, exit 6). The meshtastic library
is imported inside the commands only, so other `nspgw` commands stay fast.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from nspgw.errors import ConfigError, RadioError

app = typer.Typer(help="Radio zoeken, inrichten volgens profiel en controleren (technicus).", no_args_is_help=True)

PortOpt = typer.Option(None, "--port", help="Seriële poort (standaard: automatisch zoeken)")
HostOpt = typer.Option(None, "--host", help="Radio via TCP: host:poort")
LangOpt = typer.Option(None, "--lang", help="Taal van de uitvoer: nl of en (standaard: NSPGW_LANG)")
JsonOpt = typer.Option(False, "--json", help="Uitvoer als JSON")
ConfigOpt = typer.Option(None, "--config", help="nspgw-configuratie (voor profiel, radio en sleutel)")
PskOpt = typer.Option(None, "--psk-file", help="Sleutel van het nspgw-kanaal (base64, rechten 0600)")
TimeoutOpt = typer.Option(30.0, "--timeout", help="Seconden wachten op de radio")


def _quiet_library() -> None:
    """The library logs (with tracebacks) from its reader thread when a connection closes; a technician's
    terminal gets our one-sentence errors instead. Python's last-resort handler would print them to stderr."""
    import logging

    lib = logging.getLogger("meshtastic")
    if not lib.handlers:
        lib.addHandler(logging.NullHandler())
    lib.propagate = False


def _t(lang: str, key: str, **kw: object) -> str:
    from nspgw.cli.texts import t

    return t(f"radio.{key}", lang, **kw)


def _lang(lang: str | None) -> str:
    from nspgw.cli.context import lang_of

    return lang_of(lang)


def _box_config(config: Path | None, required: bool = False):  # type: ignore[no-untyped-def]
    from nspgw.config import config_path_from_env, load_config

    path = config_path_from_env(config)
    if config is None and not path.exists() and not required:
        return None
    return load_config(path)


def _target(port: str | None, host: str | None, cfg):  # type: ignore[no-untyped-def]
    from nspgw.adapters.radio_connect import RadioTarget

    if port or host or cfg is None:
        return RadioTarget.parse(port=port, host=host)
    return RadioTarget.parse(port=cfg.radio.port, host=cfg.radio.host)


def _psk(psk_file: Path | None, cfg, required: bool, lang: str) -> bytes | None:  # type: ignore[no-untyped-def]
    from nspgw.store.keyfiles import CHANNEL_KEY, read_channel_key

    if psk_file is not None:
        return read_channel_key(psk_file)
    if cfg is not None and (cfg.keys_dir / CHANNEL_KEY).exists():
        return read_channel_key(cfg.keys_dir / CHANNEL_KEY)
    if required:
        raise ConfigError(_t(lang, "no_psk"))
    return None


def _profile(name: str | None, cfg, lang: str):  # type: ignore[no-untyped-def]
    from nspgw.adapters.radio_profile import load_profile

    if name:
        prof = load_profile(name)
    elif cfg is not None:
        prof = load_profile(cfg.radio.profile or cfg.role)
    else:
        raise ConfigError(_t(lang, "no_profile"))
    # The preset configured for the box (nspgw.toml radio.preset) wins over the profile's default.
    return prof.with_preset(cfg.radio.preset) if cfg is not None else prof


@app.command()
def detect(port: str | None = PortOpt, host: str | None = HostOpt, as_json: bool = JsonOpt,
           lang: str | None = LangOpt, timeout: float = TimeoutOpt, config: Path | None = ConfigOpt) -> None:
    """Zoek Meshtastic-radio's (USB of --host) en lees node-id, firmware en regio uit."""
    _quiet_library()
    lang = _lang(lang)
    try:
        cfg = _box_config(config)
    except ConfigError:
        cfg = None  # detect also serves a box that has no (valid) configuration yet
    from nspgw.adapters.radio_admin import connected, read_info
    from nspgw.adapters.radio_connect import RadioTarget, serial_candidates

    if host or port:
        targets = [RadioTarget.parse(port=port, host=host)]
    else:
        targets = [RadioTarget(kind="serial", path=c.device) for c in serial_candidates() if c.likely]
    rows: list[dict[str, str]] = []
    for target in targets:
        try:
            with connected(target, timeout) as iface:
                row = asdict(read_info(iface, target))
                if cfg is not None:
                    row["configured_preset"] = cfg.radio.preset
                rows.append(row)
        except RadioError as exc:
            rows.append({"target": target.describe(), "error": str(exc)})
    if (host or port) and "error" in rows[0]:
        raise RadioError(rows[0]["error"])  # the one radio asked for is absent: exit 6, no table
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
    elif not rows:
        typer.echo(_t(lang, "no_ports"))
    else:
        _print_detect(rows, lang)


def _print_detect(rows: list[dict[str, str]], lang: str) -> None:
    from rich.console import Console
    from rich.table import Table

    cols = ["target", "node_id", "long_name", "hw_model", "firmware", "region", "modem_preset", "nspgw_channel"]
    keys = ["col_target", "col_node", "col_name", "col_hw", "col_fw", "col_region", "col_preset", "col_channel"]
    if any("configured_preset" in r for r in rows):
        cols.append("configured_preset")
        keys.append("col_configured_preset")
    table = Table()
    for k in keys:
        table.add_column(_t(lang, k))
    for r in rows:
        if "error" in r:
            table.add_row(r["target"], f"[red]{_t(lang, 'unreachable')}[/red]: {r['error']}", *[""] * (len(cols) - 2))
        else:
            table.add_row(*[r.get(c, "") for c in cols])
    Console().print(table)


@app.command()
def provision(profile: str = typer.Option(None, "--profile", help="Rol: nsp, nsp-leaf, cp, gct of repeater"),
              port: str | None = PortOpt, host: str | None = HostOpt, config: Path | None = ConfigOpt,
              psk_file: Path | None = PskOpt,
              owner: str | None = typer.Option(None, "--owner", help="Naam van de radio (standaard: boxnaam)"),
              lang: str | None = LangOpt, timeout: float = TimeoutOpt) -> None:
    """Richt de radio in volgens het profiel van de rol, met de echte sleutel van het nspgw-kanaal."""
    _quiet_library()
    lang = _lang(lang)
    from nspgw.adapters.radio_admin import connected, provision_checked, read_info

    cfg = _box_config(config)
    prof = _profile(profile, cfg, lang)
    psk = _psk(psk_file, cfg, True, lang)
    assert psk is not None
    target = _target(port, host, cfg)
    with connected(target, timeout) as iface:
        info = read_info(iface, target)
    # applied, read back and applied again while it differs (a radio may reboot mid-way): radio_admin
    provision_checked(target, prof, psk, owner=owner or (cfg.name if cfg is not None else None), timeout_s=timeout)
    typer.echo(_t(lang, "provisioned", profile=prof.name, node=info.node_id, target=target.describe(),
                  preset=prof.modem_preset))


@app.command()
def verify(profile: str = typer.Option(None, "--profile", help="Rol: nsp, nsp-leaf, cp, gct of repeater"),
           port: str | None = PortOpt, host: str | None = HostOpt, config: Path | None = ConfigOpt,
           psk_file: Path | None = PskOpt, as_json: bool = JsonOpt, lang: str | None = LangOpt,
           timeout: float = TimeoutOpt) -> None:
    """Vergelijk de radio veld voor veld met het profiel; exitcode 6 en de afwijkende velden bij verschil."""
    _quiet_library()
    lang = _lang(lang)
    from nspgw.adapters.radio_admin import connected, radio_rows, read_info
    from nspgw.adapters.radio_profile import Difference

    cfg = _box_config(config)
    prof = _profile(profile, cfg, lang)
    psk = _psk(psk_file, cfg, False, lang)
    target = _target(port, host, cfg)
    with connected(target, timeout) as iface:
        info = read_info(iface, target)
        rows = radio_rows(iface, prof, psk)
    diffs = [Difference(f, e, a) for f, e, a, ok in rows if not ok]
    checked = [f for f, _, _, _ in rows]
    if as_json:
        typer.echo(json.dumps({"node_id": info.node_id, "profile": prof.name, "ok": not diffs,
                               "checked": len(checked), "differences": [asdict(d) for d in diffs]},
                              ensure_ascii=False))
    else:
        _print_verify(rows, lang)
    if diffs:
        fields = ", ".join(d.message(lang) for d in diffs)
        raise RadioError(_t(lang, "verify_bad", profile=prof.name, fields=fields))
    if not as_json:
        typer.echo(_t(lang, "verify_ok", node=info.node_id, profile=prof.name, n=len(checked)))


def _print_verify(rows: list[tuple[str, str, str, bool]], lang: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table()
    for k in ("col_field", "col_expected", "col_actual", "col_result"):
        table.add_column(_t(lang, k))
    for f, expected, actual, ok in rows:
        result = f"[green]{_t(lang, 'ok')}[/green]" if ok else f"[red]{_t(lang, 'bad')}[/red]"
        table.add_row(escape(f), escape(expected), escape(actual), result)
    Console().print(table)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="radio")
