"""`nspgw run`: the gateway daemon in the foreground (systemd starts it as a Type=notify service)."""

from __future__ import annotations

from pathlib import Path

import typer

from nspgw.cli.context import ConfigOpt, load_box


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        config: Path | None = ConfigOpt,
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Uitgebreide logregels (debug)."),
        trace: Path | None = typer.Option(None, "--trace", help="Schrijf elke gebeurtenis en actie als JSON-regel "
                                          "naar dit bestand (storingsonderzoek; geen sleutels of berichttekst)."),
    ) -> None:
        """Start de nspgw-dienst in de voorgrond (logt naar stderr; stoppen met Ctrl-C of SIGTERM)."""
        from nspgw.daemon.service import Daemon, setup_logging

        cfg = load_box(config)
        setup_logging(verbose)
        code = Daemon(cfg, trace_path=trace).run()
        raise typer.Exit(code)
