"""`nspgw init`: write the box configuration, generate its identity, print the enrolment request.

Nothing is written until every input is valid. Existing keys are never replaced silently: without `--force`
init refuses; with `--force` the old key files move to `keys/retired-N/` and the old fingerprint is printed
(the box must then be enrolled again: `nspgw roster revoke` + `add` at the authority).
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from nspgw.cli.context import ConfigOpt, LangOpt, lang_of

SYSTEM_STATE_DIR = Path("/var/lib/nspgw")
RADIO_TIMEOUT_S = 10.0  # reading the node id is a convenience; a missing radio must not hold init up long


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(
        role: str = typer.Option(..., "--role", help="Rol van deze box: nsp, cp of gct."),
        name: str = typer.Option(..., "--name", help="Naam van deze box (1-32 tekens: letters, cijfers, -_.)."),
        parent: str = typer.Option("", "--parent", help="Coördinatiepunt van een NSP (naam van de CP-box)."),
        network: str = typer.Option("nspgw", "--network", help="Naam van het netwerk (gemeente)."),
        config: Path | None = ConfigOpt,
        state_dir: Path | None = typer.Option(None, "--state-dir", help="Map voor database en sleutels "
                                              "(standaard /var/lib/nspgw, of naast --config)."),
        radio_port: str = typer.Option("auto", "--radio-port", help="Seriële poort van de radio (auto = zoeken)."),
        radio_host: str = typer.Option("", "--radio-host", help="Radio via TCP: host:poort."),
        node_id: str | None = typer.Option(None, "--node-id", help="Node-id van de radio (!xxxxxxxx), als bekend."),
        no_radio: bool = typer.Option(False, "--no-radio", help="Box zonder radio (alleen IP)."),
        preset: str = typer.Option("LONG_FAST", "--preset", help="LoRa-preset van het netwerk (alle boxen gelijk), "
                                   "bijv. LONG_FAST, MEDIUM_FAST, SHORT_FAST."),
        force: bool = typer.Option(False, "--force", help="Bestaande configuratie en sleutels vervangen "
                                   "(oude sleutels worden bewaard in keys/retired-N)."),
        qr: bool = typer.Option(True, "--qr/--no-qr", help="Aanmeldverzoek als QR-code tonen."),
        lang: str | None = LangOpt,
    ) -> None:
        """Richt deze box in: configuratie, eigen sleutels en het aanmeldverzoek voor de netwerkautoriteit."""
        from nspgw.cli.texts import t
        from nspgw.config import (
            DEFAULT_CONFIG_PATH,
            PRESETS,
            ROLES,
            Config,
            RadioConfig,
            config_path_from_env,
            render_config,
        )
        from nspgw.crypto.bundle import EnrolRequest
        from nspgw.errors import ConfigError, UsageError
        from nspgw.store.enrolment_files import (
            existing_key_files,
            load_own_identity,
            parse_node_num,
            retire_keys,
            save_pending_identity,
        )
        from nspgw.store.keyfiles import generate_identity, write_atomic

        lg = lang_of(lang)
        role = role.strip().lower()
        if role not in ROLES:
            raise UsageError(t("tech.bad_role", lg, role=role))
        if role == "nsp" and not parent:
            raise UsageError(t("tech.nsp_needs_parent", lg))
        if role != "nsp" and parent:
            raise UsageError(t("tech.parent_only_nsp", lg))
        preset = preset.strip().upper()
        if preset not in PRESETS:
            raise UsageError(f"--preset: {'onbekend preset' if lg == 'nl' else 'unknown preset'} {preset!r} "
                             f"({', '.join(PRESETS)})")
        node_num = parse_node_num(node_id)
        path = config_path_from_env(config).absolute()
        if state_dir is None:
            state_dir = SYSTEM_STATE_DIR if path == DEFAULT_CONFIG_PATH else path.parent / "state"
        cfg = Config(path=path, name=name, role=role, network=network, state_dir=state_dir.absolute(),
                     parent=parent, radio=RadioConfig(enabled=not no_radio, port=radio_port, host=radio_host,
                                                      profile=role, preset=preset))
        text = render_config(cfg)
        _validate(text, path)  # the same name/network rules as loading the file later

        keys_dir = cfg.keys_dir
        old_keys = existing_key_files(keys_dir)
        if not force and path.exists():
            raise UsageError(t("tech.config_exists", lg, path=path))
        if not force and old_keys:
            raise UsageError(t("tech.keys_exist", lg, dir=keys_dir))
        old_fp = None
        if old_keys:
            try:
                ident = load_own_identity(keys_dir)
                from nspgw.crypto.bundle import fingerprint

                old_fp = fingerprint(ident.sign_public, ident.dh_public)
            except ConfigError:
                old_fp = "?"

        node_from_radio = False
        if node_num is None and not no_radio:
            node_num = _node_from_radio(radio_port, radio_host)
            node_from_radio = node_num is not None
        identity = generate_identity()
        request = EnrolRequest.create(identity, network=network, name=name, role=role, parent=parent,
                                      node_num=node_num)
        request_path = cfg.state_dir / f"enrol-request-{name}.json"
        # Writing starts here; every check above could refuse without leaving a trace. Directories first and
        # checked for write access, so a missing `sudo` fails before any key or config file exists.
        for directory, mode in ((path.parent, 0o755), (cfg.state_dir, 0o700), (keys_dir, 0o700)):
            try:
                directory.mkdir(parents=True, exist_ok=True, mode=mode)
            except OSError as exc:
                raise ConfigError(t("tech.cannot_write", lg, path=directory, why=exc.strerror)) from None
            if not os.access(directory, os.W_OK):
                raise ConfigError(t("tech.cannot_write", lg, path=directory, why="geen schrijfrechten"))
        retired = retire_keys(keys_dir) if old_keys else None
        save_pending_identity(keys_dir / "identity.key", identity)
        if path.exists():
            write_atomic(path.with_name(path.name + ".bak"), path.read_bytes(), mode=0o644)
        write_atomic(path, text.encode("utf-8"), mode=0o644)
        write_atomic(request_path, request.to_json().encode("utf-8"), mode=0o644)

        if retired is not None:
            typer.secho(t("tech.keys_retired", lg, dir=retired, fp=old_fp), err=True, fg="yellow")
        typer.echo(t("tech.init_done", lg, path=path, name=name, role=role))
        typer.echo(t("tech.fingerprint", lg, fp=request.fingerprint))
        typer.echo(t("tech.request_written", lg, path=request_path))
        if node_from_radio:
            from nspgw.ids import node_id_str

            typer.echo(t("tech.node_from_radio", lg, node=node_id_str(node_num or 0)))
        elif node_num is None and not no_radio:
            typer.echo(t("tech.node_id_hint", lg))
        if qr:
            _print_qr(request.to_json())


def _node_from_radio(port: str, host: str) -> int | None:
    """The radio's node number, read from the radio if it answers within a few seconds; else None (the
    technician gives it later). Reading changes nothing on the radio."""
    from nspgw.errors import NspgwError

    try:
        from nspgw.adapters.radio_admin import connected, read_info
        from nspgw.adapters.radio_connect import RadioTarget
        from nspgw.cli.radio import _quiet_library
        from nspgw.ids import parse_node_id

        _quiet_library()
        target = RadioTarget.parse(port=port, host=host)
        with connected(target, RADIO_TIMEOUT_S) as iface:
            return int(parse_node_id(read_info(iface, target).node_id))
    except (NspgwError, ValueError):
        return None


def _validate(text: str, path: Path) -> None:
    import tomllib

    from nspgw.config import parse_config
    from nspgw.errors import ConfigError, UsageError

    try:
        parse_config(tomllib.loads(text), path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _print_qr(payload: str) -> None:
    """The request as a terminal QR code (segno): a phone photo of the screen is a second way to carry it."""
    import json
    import sys

    import segno

    compact = json.dumps(json.loads(payload), separators=(",", ":"))
    segno.make(compact, error="l").terminal(out=sys.stdout, compact=True)
