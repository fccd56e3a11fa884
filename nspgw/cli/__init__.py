"""The `nspgw` command line. One error boundary: every NspgwError becomes a clear message and its exit code.

Command modules are imported here, so each must keep heavy imports (meshtastic, paho, sqlite work) inside
its functions: `nspgw send` has to answer in well under a second and never import the radio library.
"""

from __future__ import annotations

import sys

import typer

from nspgw.cli import bench, sim
from nspgw.errors import NspgwError

app = typer.Typer(
    name="nspgw",
    help="nspgw: beveiligde berichten tussen noodsteunpunten via LoRa-mesh en IP.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # never show locals (keys) in a traceback
    add_completion=False,
)
app.add_typer(sim.app, name="sim")
app.add_typer(bench.app, name="bench")


def main() -> None:
    """Console-script entry point: the single place where domain errors become exit codes."""
    try:
        app()
    except NspgwError as exc:
        typer.secho(f"fout: {exc}", err=True, fg="red")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
