"""What every command shares: the common options, loading the box's configuration and store, JSON output.

Commands stay thin: parse options, call one function of the store/daemon/crypto layers, print the result in
the operator's language (`nspgw.cli.texts`), or as JSON with `--json` on read commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from nspgw.cli.texts import default_lang
from nspgw.config import Config, config_path_from_env, load_config

if TYPE_CHECKING:
    from nspgw.store.sqlite import Store

ConfigOpt = typer.Option(None, "--config", "-c", help="Configuratiebestand (standaard /etc/nspgw/nspgw.toml "
                         "of $NSPGW_CONFIG).")
LangOpt = typer.Option(None, "--lang", help="Taal van de uitvoer: nl (standaard) of en.")
JsonOpt = typer.Option(False, "--json", help="Uitvoer als JSON (voor scripts).")


def lang_of(lang: str | None) -> str:
    if lang is None:
        return default_lang()
    if lang not in ("nl", "en"):
        from nspgw.errors import UsageError

        raise UsageError(f"onbekende taal {lang!r}; kies nl of en / unknown language")
    return lang


def load_box(config: Path | None) -> Config:
    """The box configuration; ConfigError (exit 3) with the field named when it is missing or wrong."""
    return load_config(config_path_from_env(config))


def open_store(cfg: Config, *, create: bool = False) -> Store:
    """Open the box's store. Read commands pass create=False: a missing store is an error, not a new file."""
    from nspgw.store.sqlite import Store

    return Store.open(cfg.store_path, create=create)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()
