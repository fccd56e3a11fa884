"""`nspgw sim …`: virtual radios, simulated meshes, scenarios and the demo."""

from __future__ import annotations

import typer

app = typer.Typer(help="Gesimuleerde radio's en mesh (oefenen zonder hardware).", no_args_is_help=True)
