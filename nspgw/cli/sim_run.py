"""`nspgw sim run SCENARIO.toml [--json]`: run a drill of real boxes over the simulated mesh on virtual time.

Registered by `nspgw/cli/sim.py` as `run(scenario, json_out)`. Exit status 0 when every `[[expect]]` holds,
1 when one does not (the report says which), 3 for a bad scenario file (ConfigError, via the CLI boundary).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

_STATE_NL = {"delivered": "afgeleverd", "expired": "verlopen", "held_by_relay": "bij CP in bewaring",
             "in_flight": "onderweg", "queued": "in wachtrij", "accepted": "geaccepteerd"}


def run(scenario: Path, json_out: bool) -> None:
    from nspgw.sim.scenario import load_scenario, run_scenario

    sc = load_scenario(scenario)
    result = run_scenario(sc)
    if json_out:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        typer.echo(f"Scenario: {result.name} ({result.duration_s / 3600:.1f} uur virtuele tijd)")
        for m in result.messages:
            to = "iedereen" if m.dst == 0xFFF else str(m.dst)
            took = f" na {m.done_at_s:.0f} s" if m.done_at_s is not None else ""
            typer.echo(f"  {m.id:>6}  {m.src} → {to:<8} {m.precedence:<9} {_STATE_NL.get(m.state, m.state)}{took}"
                       f" ({m.readers} ontvanger{'s' if m.readers != 1 else ''})")
        for box, kind, text in result.notices:
            if kind == "expired":
                typer.echo(f"  melding post {box}: {text}")
        typer.echo("  zendtijd (s): " + ", ".join(f"{k} {v}" for k, v in sorted(result.airtime_s.items())))
        for mid, ok, detail in result.expectations:
            typer.echo(f"  verwachting {mid}: {'OK' if ok else 'NIET GEHAALD'} ({detail})")
    if not result.ok:
        raise typer.Exit(1)
