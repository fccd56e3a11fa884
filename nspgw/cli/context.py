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


# --------------------------------------------------------------------------------------- the operator's view
# Shared by the operator commands (send, inbox, outbox, status, peers, ping). Only the public roster is read
# here, never a secret key file: an operator account may run these commands.

PRECEDENCE_WORDS = {
    "flash": "FLASH", "immediate": "IMMEDIATE", "spoed": "IMMEDIATE", "priority": "PRIORITY",
    "voorrang": "PRIORITY", "routine": "ROUTINE",
}
BROADCAST_WORDS = ("alle", "all")


def load_roster(cfg: Config) -> Any:
    """The signed roster of the box's enrolment bundle (public files only)."""
    from nspgw.crypto.roster import Roster
    from nspgw.errors import ConfigError

    keys = cfg.keys_dir
    try:
        authority = bytes.fromhex((keys / "authority.pub").read_text(encoding="ascii").strip())
        text = (keys / "roster.json").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{exc.filename}: ontbreekt (kastje nog niet ingeschreven? `nspgw init`)") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{keys}: roster of autoriteitssleutel onleesbaar ({exc})") from None
    return Roster.from_json(text, authority)


def my_entry(cfg: Config, roster: Any) -> Any:
    """This box's roster entry, found by the configured box name."""
    from nspgw.errors import ConfigError

    for e in roster.entries:
        if _norm(e.name) == _norm(cfg.name):
            return e
    raise ConfigError(f"box.name {cfg.name!r} staat niet in de roster (versie {roster.version})")


def _norm(name: str) -> str:
    return "".join(c for c in name.casefold() if c.isalnum())


def resolve_box(cfg: Config, roster: Any, to: str, lang: str, *, allow_broadcast: bool = False) -> Any:
    """A recipient as the operator types it: box name, address, `cp` (my coördinatiepunt), `gct`, or `alle`.

    Returns the roster entry, or None for a broadcast (`alle`/`all`). UsageError (exit 2) otherwise."""
    from nspgw.cli.texts import t
    from nspgw.crypto.roster import Role
    from nspgw.errors import UsageError

    me = my_entry(cfg, roster)
    live = [e for e in roster.entries if not e.revoked and e.addr != me.addr]
    word = to.strip().casefold()
    names = sorted({e.name for e in live} | {"cp", "gct"} | ({"alle"} if allow_broadcast else set()))
    known = ", ".join(names)
    if word in BROADCAST_WORDS:
        if not allow_broadcast:
            raise UsageError(t("unknown_recipient", lang, to=to, known=known))
        if me.role != Role.GCT:
            raise UsageError(t("broadcast_gct_only", lang))
        return None
    if word == "cp" and me.parent is not None:
        parent = roster.get(me.parent)
        if parent is not None and not parent.revoked:
            return parent
    if word in ("cp", "gct"):
        role = Role.CP if word == "cp" else Role.GCT
        hits = [e for e in live if e.role == role]
        if len(hits) == 1:
            return hits[0]
    matches = [e for e in live if _norm(e.name) == _norm(to) or (to.strip().isdigit() and e.addr == int(to))]
    if len(matches) == 1:
        return matches[0]
    raise UsageError(t("unknown_recipient", lang, to=to, known=known))


def box_name(roster: Any, addr: int) -> str:
    from nspgw.ids import BROADCAST_ADDR

    if addr == BROADCAST_ADDR:
        return "alle"
    e = roster.get(addr) if roster is not None else None
    return e.name if e is not None else f"#{addr}"


def daemon_record(store: Store) -> tuple[dict[str, Any] | None, bool, str]:
    """(status record, running, reason) of the daemon, as the store has it."""
    from nspgw.daemon.status import STATUS_KEY, daemon_running

    record = store.status().get(STATUS_KEY)
    rec = record if isinstance(record, dict) else None
    running, why = daemon_running(rec)
    return rec, running, why
