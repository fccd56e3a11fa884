"""`nspgw bench daemon`, second part: the daemon's loop while the radio is saturated and IP is up.

Set-up (differs from a deployment in one way: the NSP's daemon does not run, so nothing it is sent is ever
confirmed and the CP keeps its radio busy): a real `nspgw run` for a CP with MQTT up (a throwaway Mosquitto)
and a virtual radio, 200 messages for its radio-only NSP accepted before it starts. The CP sends them by
radio, retries, spends its duty-cycle budget and then waits on it: the case in which a deadline that
ignored the radio gate made the loop spin. Figures: CPU of the daemon process (kernel accounting), the loop's
wake-ups per minute (its status record), airtime spent in the window.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nspgw.bench.daemon import BenchError, _cpu_s, _nspgw, _stop

SATURATED_CPU_TARGET_PCT = 2.0
MESSAGES = 200


@dataclass(frozen=True)
class SaturatedFigures:
    cpu_pct: float
    wakeups_per_min: float
    empty_timer_runs_per_min: float
    airtime_s: float  # spent in the measured window
    airtime_left_s: float  # at the end of the window
    queued_end: int
    window_s: float
    preset: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def read_status(store_path: Path) -> dict[str, Any]:
    """The daemon's status record, read-only (WAL: the daemon keeps writing)."""
    db = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True, timeout=5.0)
    try:
        row = db.execute("SELECT value FROM status WHERE key = 'daemon'").fetchone()
    finally:
        db.close()
    if row is None:
        raise BenchError("geen statusrecord van de dienst")
    return dict(json.loads(row[0]))


def loop_rates(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float]:
    """Wake-ups and empty timer runs per minute between two status records of one daemon."""
    dt = float(b["heartbeat_mono"]) - float(a["heartbeat_mono"])
    if dt <= 0:
        raise BenchError("statusrecord niet vernieuwd")
    la, lb = a["loop"], b["loop"]
    return (60.0 * (lb["wakeups"] - la["wakeups"]) / dt,
            60.0 * (lb["empty_timer_runs"] - la["empty_timer_runs"]) / dt)


def _fresh_status(store_path: Path, after_mono: float, timeout_s: float = 15.0) -> dict[str, Any]:
    """The first status record written after `after_mono` (heartbeats come every 5 s)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        with contextlib.suppress(sqlite3.Error, BenchError):
            rec = read_status(store_path)
            if float(rec.get("heartbeat_mono", 0.0)) >= after_mono:
                return rec
        time.sleep(0.2)  # polling a file the daemon writes every few seconds, on a deadline
    raise BenchError("de dienst schrijft geen status meer")


def measure_saturated(seconds: float = 600.0, preset: str = "LONG_FAST") -> SaturatedFigures:
    from nspgw.crypto.roster import Role
    from nspgw.ids import BoxAddr
    from nspgw.sim.boxes import configure_radios, provision_chain
    from nspgw.sim.mosquitto import Mosquitto
    from nspgw.store.sqlite import Store
    from nspgw.wire.frames import Precedence

    work = Path(tempfile.mkdtemp(prefix="nspgw-bench-sat-"))
    broker = Mosquitto.create(work / "broker")
    sim = subprocess.Popen([*_nspgw(), "sim", "mesh", "--nodes", "2", "--no-pty", "--preset", preset,
                            "--control", str(work / "sim.sock")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
    daemon: subprocess.Popen[bytes] | None = None
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        broker.start()
        assert sim.stdout is not None
        radios: list[dict[str, Any]] = []
        while len(radios) < 2:
            line = sim.stdout.readline()
            if not line:
                raise BenchError("nspgw sim mesh startte niet")
            obj = json.loads(line)
            if "tcp" in obj:
                radios.append(obj)
        cp, nsp = provision_chain(work / "boxes", radios, preset=preset, mqtt=(broker.host, broker.port),
                                  layout=(("cp1", Role.CP, 10), ("nsp1", Role.NSP, 101)))
        configure_radios([cp])
        store = Store.open(cp.store_path)
        try:
            for i in range(MESSAGES):
                prec = Precedence.PRIORITY if i % 4 == 0 else Precedence.ROUTINE
                store.accept_message(BoxAddr(cp.addr), BoxAddr(nsp.addr), prec,
                                     f"bench {i:03d}: situatie rustig, verzoek om water en dekens".encode())
        finally:
            store.close()
        notify.bind(str(work / "notify.sock"))
        notify.settimeout(30.0)
        env = dict(__import__("os").environ, NOTIFY_SOCKET=str(work / "notify.sock"))
        daemon = subprocess.Popen([*_nspgw(), "run", "--config", str(cp.config_path)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                if notify.recv(4096).decode().startswith("READY=1"):
                    break
            except TimeoutError:
                raise BenchError("de dienst meldde geen READY binnen 30 s") from None
        notify.setblocking(False)
        time.sleep(min(10.0, seconds))  # radio and broker connect; the first frames go out
        first = _fresh_status(cp.store_path, time.monotonic())
        cpu0, w0 = _cpu_s(daemon.pid), time.monotonic()
        while time.monotonic() < w0 + seconds:
            time.sleep(1.0)  # the bench idles; only the daemon's own CPU time is counted
            with contextlib.suppress(BlockingIOError):
                while notify.recv(4096):
                    pass
        cpu1, w1 = _cpu_s(daemon.pid), time.monotonic()
        last = _fresh_status(cp.store_path, w1)
        wake, empty = loop_rates(first, last)
        used0 = first["airtime_limit_ms"] - first["airtime_left_ms"]
        used1 = last["airtime_limit_ms"] - last["airtime_left_ms"]
        return SaturatedFigures(
            cpu_pct=round(100.0 * (cpu1 - cpu0) / (w1 - w0), 2), wakeups_per_min=round(wake, 1),
            empty_timer_runs_per_min=round(empty, 1), airtime_s=round(max(0, used1 - used0) / 1000.0, 1),
            airtime_left_s=round(last["airtime_left_ms"] / 1000.0, 1), queued_end=sum(last["queue"].values()),
            window_s=round(w1 - w0, 1), preset=preset)
    finally:
        _stop(daemon)
        _stop(sim)
        broker.stop()
        notify.close()
        shutil.rmtree(work, ignore_errors=True)


def report_saturated(f: SaturatedFigures) -> str:
    ok = "ok" if f.cpu_pct <= SATURATED_CPU_TARGET_PCT else "BOVEN DOEL"
    return (f"  radio verzadigd, IP aan ({f.window_s:.0f} s, {MESSAGES} berichten voor een NSP zonder IP):\n"
            f"    CPU:              {f.cpu_pct:.2f} % (doel ≤ {SATURATED_CPU_TARGET_PCT:.0f} %: {ok})\n"
            f"    wake-ups:         {f.wakeups_per_min:.1f} per minuut ({f.empty_timer_runs_per_min:.1f} zonder werk)\n"
            f"    zendtijd:         {f.airtime_s:.1f} s in het venster, {f.airtime_left_s:.1f} s budget over, "
            f"{f.queued_end} in wachtrij")
