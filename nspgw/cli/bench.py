"""`nspgw bench …`: benchmarks that print figures (kept in docs/benchmarks.md)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Benchmarks: luchttijd, simulatie, daemon.", no_args_is_help=True)


@app.command("airtime")
def airtime(
    corpus: Path = typer.Option(..., "--corpus", help="JSON-lines corpus met een veld 'text' per regel."),
    preset: str = typer.Option("LONG_FAST", "--preset", help="Meshtastic modem-preset."),
    receipt_batch: int = typer.Option(4, "--receipt-batch", min=1,
                                      help="Berichten per ontvangstbevestiging (batching-aanname)."),
    tag_bytes: int = typer.Option(8, "--tag-bytes", min=8, max=32,
                                  help="Lengte van de authenticatietag (8 = v1; 16 = AES-SIV/AES-GCM-SIV)."),
    as_json: bool = typer.Option(False, "--json", help="Uitvoer als JSON."),
) -> None:
    """Luchttijd van nspgw (draadformaat v1) tegenover gewone Meshtastic-tekst, per bericht en totaal."""
    from nspgw.bench.airtime import load_corpus, measure
    from nspgw.core.airtime import preset as lookup_preset

    lookup_preset(preset)  # ConfigError for an unknown preset before any work
    report = measure(load_corpus(corpus), preset, receipt_batch, tag_bytes)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Luchttijd per bericht — {preset}, ontvangstbevestiging per {receipt_batch} berichten")
    for col in ("id", "soort", "tekens", "UTF-8 B", "inhoud B", "frames", "nspgw B", "nspgw ms", "bevest. ms",
                "MT frames", "MT B", "MT ms"):
        table.add_column(col, justify="left" if col in ("id", "soort") else "right")
    for r in report.rows:
        table.add_row(r.id, r.kind, str(r.chars), str(r.utf8_bytes), str(r.content_bytes), str(r.frames),
                      str(r.nspgw_bytes_on_air), f"{r.nspgw_airtime_ms:.0f}", f"{r.receipt_share_ms:.0f}",
                      str(r.meshtastic_frames), str(r.meshtastic_bytes_on_air), f"{r.meshtastic_text_airtime_ms:.0f}")
    console = Console(width=max(Console().width, 132))  # the table needs ~130 columns, also when piped
    console.print(table)
    t = report.totals()
    console.print(
        f"Totaal: nspgw {t['nspgw_airtime_ms'] / 1000:.1f} s (waarvan bevestigingen "
        f"{t['receipt_airtime_ms'] / 1000:.1f} s), Meshtastic-tekst {t['meshtastic_text_airtime_ms'] / 1000:.1f} s "
        f"(met ACK's {t['meshtastic_text_with_acks_airtime_ms'] / 1000:.1f} s); verhouding {t['ratio']:.3f}. "
        f"Vaste overhead per frame {t['frame_overhead_bytes']} B ({t['custody_frame_overhead_bytes']} B bij "
        f"bewaring door een relais); berichten ≤ 200 tekens in één frame: {t['short_messages_single_frame_pct']} %."
    )


@app.command("daemon")
def daemon(
    seconds: float = typer.Option(60.0, "--seconds", min=1.0, help="Lengte van het rustvenster (CPU-meting)."),
    preset: str = typer.Option("LONG_FAST", "--preset", help="Meshtastic modem-preset van de virtuele radio."),
    console: bool = typer.Option(False, "--console", help="Met de webconsole aan (na één keer inloggen)."),
    as_json: bool = typer.Option(False, "--json", help="Uitvoer als JSON."),
    saturated_seconds: float = typer.Option(
        600.0, "--saturated-seconds", min=0.0,
        help="Lengte van het venster met verzadigde radio en IP aan (0: overslaan)."),
) -> None:
    """Tijd tot READY, geheugen, CPU en wake-ups van een echte `nspgw run`: in rust, en met de radio verzadigd
    terwijl IP werkt (tegen een virtuele radio en een eigen Mosquitto)."""
    from nspgw.bench.daemon import measure, report
    from nspgw.bench.daemon_radio import measure_saturated, report_saturated

    figures = measure(seconds, preset, console)
    saturated = measure_saturated(saturated_seconds, preset) if saturated_seconds > 0 else None
    if as_json:
        typer.echo(json.dumps({**figures.to_dict(), "saturated": saturated.to_dict() if saturated else None},
                              indent=2))
    else:
        typer.echo(report(figures))
        if saturated is not None:
            typer.echo(report_saturated(saturated))


@app.command("scenarios")
def scenarios(
    quick: bool = typer.Option(False, "--quick", help="Korte runs (een kwart van de duur; gemeente 3 uur)."),
    as_json: bool = typer.Option(False, "--json", help="Uitvoer als JSON."),
) -> None:
    """Doelen van store-and-forward: verlies, dubbele aflevering, FLASH-voorrang, uitzendingen, snelheid."""
    from nspgw.bench.scenarios import measure, report

    figures = measure(quick)
    typer.echo(json.dumps(figures, indent=2, ensure_ascii=False) if as_json else report(figures))


@app.command("seeds")
def seeds(
    scenario: Path = typer.Argument(..., help="Scenariobestand (TOML)."),
    seed_list: str = typer.Option("15-20", "--seeds", help="Seeds, bv. 15-20 of 3,7,11."),
    jobs: int = typer.Option(1, "--jobs", min=1, help="Runs tegelijk (processen)."),
    duration: str | None = typer.Option(None, "--duration", help="Andere duur per run, bv. 2h (zoals sim run)."),
    as_json: bool = typer.Option(False, "--json", help="Uitvoer als JSON."),
) -> None:
    """Eén scenario over meerdere seeds (andere dagen, andere kaarten), elk getoetst aan de doelen van issue 12.
    Exitcode 1 als een run een doel mist."""
    from nspgw.bench.seeds import measure, parse_seeds, report
    from nspgw.errors import UsageError
    from nspgw.sim.scenario import parse_duration

    try:
        chosen = parse_seeds(seed_list)
    except ValueError:
        raise UsageError(f"--seeds: verwacht bv. 15-20 of 3,7,11, niet {seed_list!r}") from None
    duration_s = parse_duration(duration, "--duration") if duration is not None else None
    figures = measure(scenario, chosen, jobs, duration_s)
    typer.echo(json.dumps(figures, indent=2, ensure_ascii=False) if as_json else report(figures))
    if not figures["all_met"]:
        raise typer.Exit(1)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="bench")
