"""`nspgw sim demo` / `make demo`: a whole deployment fails over from telecom to radio and back.

One crisis team (GCT), two coordination points, four support points (`demo_net.py`), each a real
`nspgw run` daemon on its own virtual radio (`nspgw sim mesh`, SHORT_TURBO so a hop takes tens of
milliseconds instead of seconds), all connected to a throwaway Mosquitto on 127.0.0.1. Operator messages from
the corpus (emergencies as FLASH, sitreps, requests, GCT bulletins to all, chat) go in with `nspgw send`:

  1. telecom works       — the cores prefer IP (no airtime spent)
  2. telecom fails       — the broker is SIGKILLed; the links notice, traffic moves to the radio mesh
  3. telecom is back     — the broker restarts on the same port; the links reconnect, traffic returns to IP

then the demo waits until every message reached every recipient and every receipt came back, and prints the
account (`demo_summary.py`): sent, delivered, via IP / via radio, latency, lost, duplicates. What it reports
is read from the boxes' own stores (`demo_view.py`). Without Mosquitto it runs radio-only and says so.
Exit status 0 only when nothing was lost, duplicated or misdelivered.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from nspgw.sim.boxes import configure_radios
from nspgw.sim.demo_console import DEMO_OPERATOR, DEMO_PASSWORD, enable_consoles
from nspgw.sim.demo_net import DEMO_BOXES, provision, topology_toml
from nspgw.sim.demo_procs import DemoError, Processes
from nspgw.sim.demo_summary import Summary, by_phase, summarize, table
from nspgw.sim.demo_view import LiveView, Monitor
from nspgw.sim.mosquitto import Mosquitto, find_mosquitto

PRESET = "SHORT_TURBO"  # ≈0.1 s for a full frame (LONG_FAST ≈2.2 s, Semtech AN1200.13): a quick demo
PHASES = ("telecom", "storing", "hersteld")  # summary column headers; the banners say more
PHASES_RADIO_ONLY = ("deel 1", "deel 2", "deel 3")
CORPUS_PATHS = (
    Path(__file__).resolve().parents[2] / "tests" / "data" / "messages-sample.jsonl",
    Path("/work/shared/corpus/messages-sample.jsonl"),
)
POLL_S = 0.25
MAX_TEXT = 450  # corpus texts up to this length: one to three frames each, so the radio phase stays short
# Kinds per phase, in order; a shorter phase takes a prefix (rotated per phase so each sees other kinds).
KINDS = ("emergency", "sitrep", "bulletin", "request", "chat", "sitrep", "request", "emergency")


@dataclass(frozen=True)
class Timing:
    phase_s: tuple[float, float, float]  # length of each phase (traffic is spread over it)
    per_phase: int  # messages per phase
    drain_s: float  # how long to wait at the end for the last deliveries and receipts
    reconnect_s: float = 45.0  # MQTT backoff doubles to 30 s (docs/broker.md): allow a full step


FULL = Timing((18.0, 28.0, 14.0), 8, 45.0)
QUICK = Timing((8.0, 12.0, 6.0), 3, 40.0)


@dataclass(frozen=True)
class Step:
    at_s: float  # within its phase
    sender: str
    to: str  # what the operator types: a box name, cp, gct or alle
    text: str
    priority: str
    kind: str


@dataclass
class DemoResult:
    total: Summary
    parts: list[tuple[str, Summary]]
    with_broker: bool
    refused: list[str]
    workdir: Path

    @property
    def ok(self) -> bool:
        return self.total.ok and not self.refused

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "with_broker": self.with_broker, "refused": self.refused,
                "total": self.total.as_dict(), "phases": {n: s.as_dict() for n, s in self.parts}}


# ----------------------------------------------------------------------------------------------- traffic
def load_corpus(paths: tuple[Path, ...] = CORPUS_PATHS) -> list[dict[str, str]]:
    for path in paths:
        if path.exists():
            return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    raise DemoError("berichtencorpus niet gevonden / corpus not found: " + ", ".join(map(str, paths)))


def plan_traffic(corpus: list[dict[str, str]], timing: Timing) -> list[list[Step]]:
    """Deterministic steps per phase: who sends what to whom, as the corpus says (roles → demo boxes)."""
    by_kind: dict[str, list[dict[str, str]]] = {}
    for row in corpus:
        if len(row["text"]) <= MAX_TEXT:
            by_kind.setdefault(row["kind"], []).append(row)
    nsps = [b for b in DEMO_BOXES if b.role.value == "nsp"]
    cps = [b.name for b in DEMO_BOXES if b.role.value == "cp"]
    used = {k: 0 for k in by_kind}
    turn = [0]

    def rotate(options: list[Any]) -> Any:
        turn[0] += 1
        return options[turn[0] % len(options)]

    phases: list[list[Step]] = []
    for p, length in enumerate(timing.phase_s):
        kinds = [KINDS[(p * 3 + i) % len(KINDS)] for i in range(timing.per_phase)]
        steps = []
        for i, kind in enumerate(kinds):
            rows = by_kind.get(kind) or by_kind["chat"]
            row = rows[used.get(kind, 0) % len(rows)]
            used[kind] = used.get(kind, 0) + 1
            sender, to = _route(row, nsps, cps, rotate)
            prio = "flash" if kind == "emergency" else row["priority"]
            # Spread over the first 70 % of the phase so late messages still travel inside it.
            at = round(0.7 * length * i / max(1, len(kinds)), 2)
            steps.append(Step(at, sender, to, row["text"], prio, kind))
        phases.append(steps)
    return phases


def _route(row: dict[str, str], nsps: list[Any], cps: list[str], rotate: Callable[[list[Any]], Any]
           ) -> tuple[str, str]:
    frm, to = row["from_role"], row["to_role"]
    if frm == "gct":
        sender = "gct"
        target = "alle" if to == "all" else rotate(cps) if to == "cp" else rotate([n.name for n in nsps])
    elif frm == "cp":
        sender = rotate(cps)
        mine = [n.name for n in nsps if n.parent == sender]
        target = rotate(mine) if to == "nsp" else "gct"  # only the GCT may broadcast
    else:
        sender = rotate([n.name for n in nsps])
        target = "gct" if to == "gct" else "cp"
    return sender, target


# ------------------------------------------------------------------------------------------------- run
def run_demo(*, quick: bool = False, console: Console | None = None, keep: bool = False,
             use_broker: bool = True) -> DemoResult:
    """Run the whole demo; DemoError (after the summary) when anything was lost, duplicated or refused."""
    console = console or Console()
    timing = QUICK if quick else FULL
    steps = plan_traffic(load_corpus(), timing)
    workdir = Path(tempfile.mkdtemp(prefix="nspgw-demo-"))
    run_id = uuid.uuid4().hex
    broker: Mosquitto | None = None
    monitor: Monitor | None = None
    result: DemoResult | None = None
    interrupted = False
    try:
        with Processes(workdir, run_id) as procs:
            try:
                t0 = time.monotonic()
                console.rule("[bold]nspgw demo[/]: van telefoon/internet naar radio en terug")
                console.print(f"1 GCT, 2 coördinatiepunten, 4 NSP's; virtuele radio's met preset [bold]{PRESET}[/] "
                              "(snel, alleen voor de simulatie; in het veld LONG_FAST, ≈20× trager per frame).")
                if use_broker and find_mosquitto() is not None:
                    # Bound to `broker` before its process exists, so the `finally` below always stops it.
                    broker = Mosquitto.create(workdir / "broker", env=procs.env)
                    broker.start()
                monitor, view = _start(console, procs, workdir, broker, use_broker, t0)
                result = _scenario(console, procs, broker, monitor, view, steps, timing, workdir)
            finally:
                if monitor is not None:
                    monitor.close()
                console.print("[dim]posten, mesh en broker worden gestopt…[/]")
                # Leaving `with Processes` stops every daemon and the mesh (SIGTERM, SIGKILL at the deadline).
                if broker is not None:
                    broker.stop()
    except KeyboardInterrupt:
        interrupted = True  # Ctrl-C: everything is stopped by now; a deliberate stop needs no post-mortem
        raise
    finally:
        if ((result is not None and result.ok) or interrupted) and not keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            console.print(f"[dim]logboeken en toestand bewaard in {workdir}[/]")
    assert result is not None  # every other way out of the block above is an exception
    if not result.ok:
        raise DemoError(f"demo: {result.total.lost} verloren, {result.total.duplicates} dubbel, "
                        f"{result.total.unexpected} verkeerd bezorgd, {len(result.refused)} geweigerd")
    return result


def _start(console: Console, procs: Processes, workdir: Path, broker: Mosquitto | None, use_broker: bool,
           t0: float) -> tuple[Monitor, LiveView]:
    from nspgw.store.sqlite import Store

    names = [b.name for b in DEMO_BOXES]
    if broker is not None:
        console.print(f"MQTT-broker (Mosquitto) op 127.0.0.1:{broker.port}.")
    else:
        why = "uitgezet (--no-broker)" if not use_broker else "niet geïnstalleerd (apt-get install mosquitto)"
        console.print(f"[bold yellow]Mosquitto {why}: de demo draait ALLEEN OVER RADIO; "
                      "er is geen telecomstoring te tonen.[/]")
    topo = workdir / "topology.toml"
    topo.write_text(topology_toml(PRESET, seed=2026), encoding="utf-8")
    mesh = procs.start_mesh(topo)
    mesh.wait_radios(names, 30.0)
    boxes = provision(workdir / "boxes", mesh.radios, preset=PRESET,
                      mqtt=(broker.host, broker.port) if broker else None)
    # Role profile and channel key on each radio, as `nspgw radio provision`, read back and checked.
    redone = configure_radios(boxes)
    if redone:
        console.print(f"[dim]profiel opnieuw toegepast op {redone} radio('s) na controle[/]")
    consoles = enable_consoles(boxes)
    for b in boxes:
        Store.open(b.store_path, create=True).close()  # created here, so the monitor can read it at once
        procs.start_daemon(b.name, b.config_path)
    monitor = Monitor(boxes)
    view = LiveView(console, monitor)
    ready = _wait(procs, monitor, lambda: _all(monitor, "radio") and (broker is None or _all(monitor, "ip")),
                  40.0, None)
    if not ready:
        raise DemoError(f"niet alle posten kwamen op / not every box came up: {monitor.status}")
    console.print(f"{len(boxes)} posten draaien (nspgw run): radio verbonden"
                  + (", IP verbonden" if broker else "") + f" [dim](opstarten {time.monotonic() - t0:.1f} s)[/]")
    console.print("Webconsole van elke post (HTTPS, eigen certificaat: de browser waarschuwt; doorgaan), "
                  f"inloggen als [bold]{DEMO_OPERATOR}[/] / [bold]{DEMO_PASSWORD}[/]:")
    for name, url in consoles:
        console.print(f"  {name:<8} {url}")
    return monitor, view


def _all(monitor: Monitor, link: str) -> bool:
    st = monitor.link_status(link)
    return len(st) == len(monitor.boxes) and all(v == "connected" for v in st.values())


def _wait(procs: Processes, monitor: Monitor, done: Callable[[], bool], timeout_s: float,
          view: LiveView | None) -> bool:
    """Poll the stores (showing events) until `done()` or the deadline; DemoError if a daemon died."""
    deadline = time.monotonic() + timeout_s
    stop = threading.Event()
    while True:
        events = monitor.poll()
        if view is not None:
            view.show(events)
        dead = [c for c in procs.children if not c.alive()]
        if dead:
            raise DemoError(f"{dead[0].name} is gestopt (code {dead[0].proc.returncode}): {dead[0].tail()}")
        if done():
            return True
        if time.monotonic() >= deadline:
            return False
        stop.wait(POLL_S)  # the poll interval of a live view, bounded by the deadline above


def _until(t: float) -> Callable[[], bool]:
    return lambda: time.monotonic() >= t


def _scenario(console: Console, procs: Processes, broker: Mosquitto | None, monitor: Monitor, view: LiveView,
              steps: list[list[Step]], timing: Timing, workdir: Path) -> DemoResult:
    names = PHASES if broker else PHASES_RADIO_ONLY
    by_name = {b.name: b for b in monitor.boxes}
    refused: list[str] = []
    view.t0 = time.time()
    for p, (name, plan, length) in enumerate(zip(names, steps, timing.phase_s, strict=True)):
        if p == 1 and broker is not None:
            broker.kill()
            view.banner("2. storing: telecom uitgevallen, MQTT-broker gestopt (SIGKILL) — verkeer via radio",
                        "bold red")
        elif p == 2 and broker is not None:
            broker.start()
            view.banner("3. hersteld: telecom terug, broker herstart op dezelfde poort — terug naar IP",
                        "bold green")
            view.note("wachten tot de posten opnieuw verbonden zijn (MQTT wacht tussen pogingen 1 s tot 30 s)…")
            if not _wait(procs, monitor, lambda: _all(monitor, "ip"), timing.reconnect_s, view):
                view.note("[yellow]niet alle posten zijn binnen de tijd terug op IP[/]")
        else:
            view.banner("1. telecom werkt: berichten via IP (MQTT), geen zendtijd" if broker
                        else f"{p + 1}. {name}: alleen radio")
        monitor.mark_phase(name)
        start = time.monotonic()
        for step in plan:
            _wait(procs, monitor, _until(start + step.at_s), length + 5.0, view)
            box = by_name[step.sender]
            args = ["send", step.to, step.text, "--priority", step.priority]
            r = procs.cli(box.config_path, *args)
            if r.returncode != 0:
                refused.append(f"{step.sender} → {step.to}: {r.stderr.strip()}")
                view.note(f"[red]geweigerd[/] {step.sender} → {step.to}: {r.stderr.strip()}")
        _wait(procs, monitor, _until(start + length), length + 5.0, view)

    view.banner("afronden: wachten op de laatste afleveringen en ontvangstbevestigingen")
    boxes = [b.name for b in monitor.boxes]

    def settled() -> bool:
        s = summarize(monitor.sent, monitor.deliveries, boxes, monitor.confirmed)
        return s.lost == 0 and s.confirmed == s.sent

    if _wait(procs, monitor, settled, timing.drain_s, view):
        view.note("alles afgeleverd en bevestigd")
    else:
        view.note("[yellow]niet alles binnen de wachttijd bevestigd[/]")
    view.show(monitor.poll())
    parts = by_phase(monitor.sent, monitor.deliveries, boxes, monitor.confirmed, names)
    console.print(table(parts))
    total = parts[-1][1]
    verdict = ("[bold green]niets verloren, niets dubbel[/]" if total.ok
               else "[bold red]NIET IN ORDE: berichten verloren of dubbel[/]")
    console.print(f"{verdict}  ({total.delivered}/{total.expected} afgeleverd, {total.via_ip} via IP, "
                  f"{total.via_radio} via radio)")
    return DemoResult(total, parts, broker is not None, refused, workdir)
