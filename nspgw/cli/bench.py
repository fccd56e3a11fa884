"""`nspgw bench …`: benchmarks that print figures (kept in docs/benchmarks.md)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks: luchttijd, simulatie, daemon.", no_args_is_help=True)
