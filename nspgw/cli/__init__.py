"""The `nspgw` command line. One error boundary: every NspgwError becomes a clear message and its exit code.

Each command module has `register(app)`. Modules are imported here, so each must keep heavy imports
(meshtastic, paho, the core) inside its functions: `nspgw send` has to answer in well under a second and
never imports the radio library (tests/cli checks that).
"""

from __future__ import annotations

import importlib
import sys

import typer

from nspgw.errors import NspgwError

app = typer.Typer(
    name="nspgw",
    help="nspgw: beveiligde berichten tussen noodsteunpunten via LoRa-mesh en IP.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # never show locals (keys) in a traceback
    add_completion=False,
    rich_markup_mode=None,
)

# Operator commands first (the order `nspgw --help` shows), then technician commands, then tools.
COMMAND_MODULES = (
    "send", "inbox", "outbox", "status", "ping", "journaal",
    "init", "keys", "roster", "radio", "operator", "selftest", "run", "service",
    "sim", "bench",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"nspgw.cli.{_name}").register(app)


def _error_word() -> str:
    """'fout', or 'error' when English was asked (`--lang en` on the line, or NSPGW_LANG/the locale)."""
    from nspgw.cli.texts import default_lang

    args = sys.argv[1:]
    asked = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "--lang"), None)
    asked = asked or next((a.split("=", 1)[1] for a in args if a.startswith("--lang=")), None)
    return "error" if (asked or default_lang()) == "en" else "fout"


def main() -> None:
    """Console-script entry point: the single place where domain errors become exit codes."""
    try:
        app()
    except NspgwError as exc:
        typer.secho(f"{_error_word()}: {exc}", err=True, fg="red")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
