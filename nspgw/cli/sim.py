"""`nspgw sim …`: virtual radios, simulated meshes, scenarios and the demo.

Heavy imports (meshtastic protobufs, the mesh model) stay inside the commands so `nspgw send` stays fast.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(help="Gesimuleerde radio's en mesh (oefenen zonder hardware).", no_args_is_help=True)
link_app = typer.Typer(help="Verbinding tussen twee virtuele radio's verbreken of herstellen.", no_args_is_help=True)
node_app = typer.Typer(help="Virtuele radio uit- of aanzetten (stroom eraf/erop).", no_args_is_help=True)
radio_app = typer.Typer(help="USB/TCP-verbinding van een virtuele radio lostrekken of terugsteken.",
                        no_args_is_help=True)
app.add_typer(link_app, name="link")
app.add_typer(node_app, name="node")
app.add_typer(radio_app, name="radio")

ControlOpt = typer.Option(None, "--control", envvar="NSPGW_SIM_CONTROL",
                          help="Besturingssocket van de draaiende simulatie (of NSPGW_SIM_CONTROL).")


def _print_json(line: dict[str, Any]) -> None:
    print(json.dumps(line), flush=True)


@app.command("mesh")
def mesh_cmd(
    nodes: int = typer.Option(3, "--nodes", min=1, max=64, help="Aantal virtuele radio's."),
    chain: bool = typer.Option(False, "--chain", help="Keten: elke radio hoort alleen zijn buren (standaard)."),
    full: bool = typer.Option(False, "--full", help="Iedereen hoort iedereen."),
    base_port: int | None = typer.Option(None, "--base-port", help="TCP-poort van radio 0; radio k krijgt P+k."),
    preset: str | None = typer.Option(None, "--preset", help="Meshtastic modem-preset (standaard LONG_FAST)."),
    seed: int | None = typer.Option(None, "--seed", help="Zaadwaarde voor verlies en node-nummers."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="Map voor blijvende radiotoestand."),
    topology: Path | None = typer.Option(None, "--topology", help="TOML-bestand met nodes, links en gebeurtenissen."),
    control: Path | None = typer.Option(None, "--control", help="Pad van de besturingssocket."),
    no_pty: bool = typer.Option(False, "--no-pty", help="Geen pseudo-terminals, alleen TCP."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Meer logging op stderr."),
    frame_limit: str = typer.Option(
        "firmware", "--frame-limit",
        help="firmware: 255-byte LoRa-frame zoals de firmware telt (231 bytes op poort 311); "
             "library: alleen de 233-byte DATA_PAYLOAD_LEN van de bibliotheek."),
) -> None:
    """Start een gesimuleerde mesh; elke radio luistert op TCP 127.0.0.1 en een pty (meshtastic --host/--port)."""
    import logging

    from nspgw.errors import UsageError
    from nspgw.sim import topology as topo
    from nspgw.sim.control import MeshControlServer
    from nspgw.sim.server import MeshServer, check_ports

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if chain and full:
        raise UsageError("kies --chain of --full, niet allebei / choose --chain or --full, not both")
    if frame_limit not in ("firmware", "library"):
        raise UsageError(f"--frame-limit: kies firmware of library, niet {frame_limit!r}")
    if topology is not None:
        spec = topo.load(topology)
    else:
        spec = topo.chain(nodes, preset=(preset or "LONG_FAST").upper(), seed=seed or 0, full=full)
    check_ports(base_port, len(spec.nodes))
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
    tmp = None
    if control is None:
        if state_dir is not None:
            control = state_dir / "control.sock"
        else:
            tmp = tempfile.mkdtemp(prefix="nspgw-sim-")
            control = Path(tmp) / "control.sock"
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server = MeshServer(spec, base_port=base_port, state_dir=state_dir, use_pty=not no_pty, emit=_print_json)
    server.mesh.strict_frame_limit = frame_limit == "firmware"
    ctl = MeshControlServer(server, control)
    try:
        _print_json({"control": str(control)})
        server.start()
        for ep in server.endpoints.values():
            _print_json(ep.info())
        while not stop.wait(0.2):  # a timed wait: signal handlers run promptly in the main thread
            pass
    finally:
        server.stop()
        ctl.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _control(control: Path | None) -> Path:
    from nspgw.errors import UsageError

    if control is None:
        raise UsageError("geef --control PAD of zet NSPGW_SIM_CONTROL / give --control PATH or set NSPGW_SIM_CONTROL")
    return control


def _say(nl: str, en: str) -> None:
    """One line in the operator's language (NSPGW_LANG or the locale; Dutch first)."""
    from nspgw.cli.texts import default_lang

    typer.echo(en if default_lang() == "en" else nl)


def _send(control: Path | None, command: dict[str, Any]) -> dict[str, Any]:
    from nspgw.sim.control import send_command

    return send_command(_control(control), command)


@link_app.command("down")
def link_down(a: str, b: str, control: Path | None = ControlOpt) -> None:
    """Verbreek de radioverbinding tussen A en B."""
    _send(control, {"cmd": "link", "a": a, "b": b, "up": False})
    _say(f"verbinding {a} - {b} verbroken", f"link {a} - {b} cut")


@link_app.command("up")
def link_up(a: str, b: str, control: Path | None = ControlOpt) -> None:
    """Herstel de radioverbinding tussen A en B."""
    _send(control, {"cmd": "link", "a": a, "b": b, "up": True})
    _say(f"verbinding {a} - {b} hersteld", f"link {a} - {b} restored")


@node_app.command("down")
def node_down(name: str, control: Path | None = ControlOpt) -> None:
    """Zet radio NAME uit: uit de lucht, TCP en pty weg."""
    _send(control, {"cmd": "node", "node": name, "up": False})
    _say(f"radio {name} uit", f"radio {name} off")


@node_app.command("up")
def node_up(name: str, control: Path | None = ControlOpt) -> None:
    """Zet radio NAME weer aan (zelfde TCP-poort; het pty-pad kan veranderen)."""
    _send(control, {"cmd": "node", "node": name, "up": True})
    _say(f"radio {name} aan", f"radio {name} on")


@radio_app.command("unplug")
def radio_unplug(name: str, for_s: float | None = typer.Option(None, "--for", help="Na zoveel seconden terug."),
                 control: Path | None = ControlOpt) -> None:
    """Trek de kabel van radio NAME los; de radio blijft in de lucht."""
    cmd: dict[str, Any] = {"cmd": "radio", "node": name, "plugged": False}
    if for_s is not None:
        cmd["for_s"] = for_s
    _send(control, cmd)
    extra = f" {{}} {for_s:g} s" if for_s is not None else ""
    _say(f"radio {name} losgekoppeld" + extra.format("voor"), f"radio {name} unplugged" + extra.format("for"))


@radio_app.command("replug")
def radio_replug(name: str, control: Path | None = ControlOpt) -> None:
    """Steek de kabel van radio NAME terug."""
    _send(control, {"cmd": "radio", "node": name, "plugged": True})
    _say(f"radio {name} weer aangesloten", f"radio {name} plugged in again")


@app.command("status")
def status(control: Path | None = ControlOpt) -> None:
    """Toon de radio's van de draaiende simulatie (JSON)."""
    reply = _send(control, {"cmd": "status"})
    reply.pop("ok", None)
    typer.echo(json.dumps(reply, indent=2))


@app.command("demo")
def demo(
    quick: bool = typer.Option(False, "--quick", help="Korte versie (minder berichten, kortere storing)."),
    keep: bool = typer.Option(False, "--keep", help="Tijdelijke map met logboeken en toestand bewaren."),
    no_broker: bool = typer.Option(False, "--no-broker", help="Zonder MQTT-broker: alleen radio."),
    as_json: bool = typer.Option(False, "--json", help="Samenvatting ook als JSON-regel (laatste regel)."),
) -> None:
    """Demo: 7 posten vallen terug van telecom (MQTT) op radio en weer terug; samenvatting aan het eind."""
    from nspgw.sim.demo import run_demo

    result = run_demo(quick=quick, keep=keep, use_broker=not no_broker)
    if as_json:
        print(json.dumps(result.as_dict()), flush=True)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="sim")


@app.command("run")
def run_cmd(
    scenario: Path = typer.Argument(..., help="Scenario (TOML): posten, verbindingen, verkeer, storingen."),
    as_json: bool = typer.Option(False, "--json", help="Rapport als JSON."),
    duration: str | None = typer.Option(None, "--duration",
                                        help="Andere looptijd (bv. 30m, 2h); verkeer en storingen schalen mee."),
    trace: Path | None = typer.Option(None, "--trace", help="Schrijf elke gebeurtenis en actie van elke post als "
                                      "JSON-regel naar dit bestand (zoals nspgw run --trace)."),
) -> None:
    """Draai een oefenscenario met echte posten op gesimuleerde tijd en mesh (zie docs/simulation.md)."""
    from nspgw.cli.sim_run import run

    run(scenario, as_json, duration, trace)
