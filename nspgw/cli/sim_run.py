"""`nspgw sim run SCENARIO.toml [--json]`: run a drill of real boxes over the simulated mesh on virtual time.

Registered by `nspgw/cli/sim.py` as `run(scenario, json_out)`; `duration` ("2h", seconds) shortens or stretches
the run (generated traffic and faults scale with it). Exit status 0 when every `[[expect]]` holds,
1 when one does not (the report says which), 3 for a bad scenario file (ConfigError, via the CLI boundary),
9 for an internal error of the drill (`SimulationError`: one line with the scenario time, the box and its
state, never a traceback).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

_STATE_NL = {"delivered": "afgeleverd", "expired": "verlopen", "held_by_relay": "bij CP in bewaring",
             "in_flight": "onderweg", "queued": "in wachtrij", "accepted": "geaccepteerd",
             "lost": "VERLOREN"}


def run(scenario: Path, json_out: bool, duration: str | None = None, trace: Path | None = None) -> None:
    from nspgw.cli.texts import default_lang, t
    from nspgw.errors import SimulationError
    from nspgw.sim.scenario import load_scenario, parse_duration, run_scenario

    sc = load_scenario(scenario)
    for key in sc.ignored:
        typer.echo(t("sim.ignored_key", default_lang(), name=key), err=True)
    if duration is not None:
        sc = sc.with_duration(parse_duration(duration, "--duration"))
    try:
        result = run_scenario(sc, trace=trace)
    except SimulationError as exc:  # one line, never a traceback (the CLI boundary prints it, exit status 10)
        line = t("sim.internal_error", default_lang(), t=exc.t_s, box=exc.box if exc.box is not None else "-",
                 cause=exc.cause, state=exc.state)
        typer.secho(f"fout: {line}", err=True, fg="red")
        raise typer.Exit(exc.exit_code) from None
    if json_out:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        f = result.figures
        typer.echo(f"Scenario: {result.name} ({result.duration_s / 3600:.1f} uur virtuele tijd, "
                   f"{f['wall_s']} s rekentijd)")
        typer.echo(f"  verzonden {f['sent']}, afgeleverd {f['delivered']}, verlopen {f['expired']}, "
                   f"verloren {f['lost']}, dubbel afgeleverd {f['duplicates_delivered']}")
        for prec, lat in f["latency_s"].items():
            typer.echo(f"  looptijd {prec:<9} p50 {lat['p50']} s, p95 {lat['p95']} s, max {lat['max']} s")
        typer.echo(f"  nspgw-frames per afgeleverd bericht {f['transmissions_per_delivered']} "
                   f"(afzender {f['origin_transmissions_per_delivered']}), frames in de lucht "
                   f"{f['on_air_frames_per_delivered']}")
        for line in channel_lines(f):
            typer.echo(f"  {line}")
        shown = result.messages if len(result.messages) <= 40 else \
            [m for m in result.messages if m.state != "delivered"]
        for m in shown:
            to = "iedereen" if m.dst == 0xFFF else str(m.dst)
            took = f" na {m.done_at_s:.0f} s" if m.done_at_s is not None else ""
            state = _STATE_NL.get(m.state.split(" ")[0], m.state)
            typer.echo(f"  {m.id:>6}  {m.src} → {to:<8} {m.precedence:<9} {state}{took}"
                       f" ({m.readers} ontvanger{'s' if m.readers != 1 else ''})")
        for box, kind, text in result.notices:
            if kind == "expired":
                typer.echo(f"  melding post {box}: {text}")
        typer.echo("  zendtijd (s): " + ", ".join(f"{k} {v}" for k, v in sorted(result.airtime_s.items())))
        for mid, ok, detail in result.expectations:
            typer.echo(f"  verwachting {mid}: {'OK' if ok else 'NIET GEHAALD'} ({detail})")
    if not result.ok:
        raise typer.Exit(1)


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def channel_lines(f: dict[str, Any]) -> list[str]:
    """Channel utilisation, airtime efficiency and frames on air by kind, in words (also `nspgw bench
    scenarios`); definitions in nspgw/sim/scenario_report.py."""
    u = f.get("channel_utilisation")
    if u is None:
        return []
    eff = f["airtime_efficiency"]
    lines = [f"kanaalbezetting {_pct(u['used'])} ({u['airtime_s']} s), aangeboden {_pct(u['offered'])} "
             f"({u['offered_airtime_s']} s); zendtijd-efficiëntie {'-' if eff is None else _pct(eff)}",
             f"drukste post {u['busiest_box'] or '-'}: {_pct(u['busiest_box_worst_hour'])} zendtijd in het "
             f"drukste uur (grens {_pct(u['duty_cycle_limit'])})"]
    kinds = [f"{k} {v['frames']}" for k, v in f["on_air_by_kind"].items()]
    for i in range(0, len(kinds), 6):
        lines.append(("frames in de lucht per soort: " if i == 0 else "    ") + ", ".join(kinds[i:i + 6]))
    return lines
