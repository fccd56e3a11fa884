"""`nspgw bench daemon`: what the daemon costs a Raspberry Pi while nothing happens.

A real `nspgw run` process (the same entry point systemd starts) against one virtual radio from
`nspgw sim mesh`: time from exec to sd_notify READY=1 (target ≤ 3 s), resident memory once idle (target
≤ 80 MB) and CPU over an idle window (target near 0 %). CPU comes from the kernel's accounting of the
process (/proc/PID/stat utime+stime), so the bench's own work does not count.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nspgw.errors import NspgwError

RSS_TARGET_MB = 80.0
RSS_CONSOLE_TARGET_MB = 120.0  # with the web console on (Starlette, uvicorn, one page served)
READY_TARGET_S = 3.0


class BenchError(NspgwError):
    exit_code = 1


@dataclass(frozen=True)
class DaemonFigures:
    ready_s: float
    rss_mb: float
    cpu_pct: float
    idle_window_s: float
    wakeups_per_min: float
    preset: str
    console: bool
    machine: str
    python: str
    date: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _nspgw() -> list[str]:
    exe = Path(sys.executable).parent / "nspgw"
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from nspgw.cli import main; main()"]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise BenchError("VmRSS niet gevonden")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (proc(5): fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine() -> str:
    model = Path("/proc/device-tree/model")
    if model.exists():
        return model.read_text(errors="replace").strip("\x00\n")
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.machine())
    return f"{cpu}, {os.cpu_count()} CPU"


def measure(seconds: float = 60.0, preset: str = "LONG_FAST", console: bool = False) -> DaemonFigures:
    """Start a virtual radio and one daemon, measure, stop both. Only 127.0.0.1 is used.

    With `console`, the daemon serves its web console and the bench logs in and loads the inbox once before
    the idle window (an idle console that has served a page, not one that never ran)."""
    from nspgw.crypto.roster import Role
    from nspgw.sim.boxes import configure_radios, provision_chain

    work = Path(tempfile.mkdtemp(prefix="nspgw-bench-"))
    sim = subprocess.Popen([*_nspgw(), "sim", "mesh", "--nodes", "1", "--no-pty", "--preset", preset,
                            "--control", str(work / "sim.sock")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
    daemon: subprocess.Popen[bytes] | None = None
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        assert sim.stdout is not None
        radio = None
        while radio is None:
            line = sim.stdout.readline()
            if not line:
                raise BenchError("nspgw sim mesh startte niet")
            obj = json.loads(line)
            radio = obj if "tcp" in obj else None
        [box] = provision_chain(work / "boxes", [radio], preset=preset, layout=(("gct", Role.GCT, 1),))
        configure_radios([box])
        url = ""
        if console:
            from nspgw.sim.demo_console import enable_consoles

            [(_, url)] = enable_consoles([box])
        notify.bind(str(work / "notify.sock"))
        notify.settimeout(30.0)
        env = dict(os.environ, NOTIFY_SOCKET=str(work / "notify.sock"))
        t0 = time.monotonic()
        daemon = subprocess.Popen([*_nspgw(), "run", "--config", str(box.config_path)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                msg = notify.recv(4096).decode()
            except TimeoutError:
                raise BenchError("de dienst meldde geen READY binnen 30 s") from None
            if msg.startswith("READY=1"):
                ready_s = time.monotonic() - t0
                break
        if url:
            _visit_console(url)
        # Let the radio connect and the first beacon go out before the idle window starts.
        settle_until = time.monotonic() + min(10.0, seconds)
        while time.monotonic() < settle_until:
            notify.settimeout(max(0.01, settle_until - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                notify.recv(4096)
        from nspgw.bench.daemon_radio import _fresh_status, loop_rates

        first = _fresh_status(box.store_path, time.monotonic())
        cpu0, w0 = _cpu_s(daemon.pid), time.monotonic()
        end = w0 + seconds
        while time.monotonic() < end:  # drain notifications (as systemd would) until the window ends
            notify.settimeout(max(0.01, end - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                notify.recv(4096)
        cpu1, w1 = _cpu_s(daemon.pid), time.monotonic()
        rss = _rss_mb(daemon.pid)
        wakeups, _ = loop_rates(first, _fresh_status(box.store_path, w1))
        return DaemonFigures(ready_s=round(ready_s, 2), rss_mb=round(rss, 1),
                             cpu_pct=round(100.0 * (cpu1 - cpu0) / (w1 - w0), 2), idle_window_s=round(w1 - w0, 1),
                             wakeups_per_min=round(wakeups, 1), preset=preset, console=console,
                             machine=_machine(), python=platform.python_version(),
                             date=time.strftime("%Y-%m-%d"))
    finally:
        _stop(daemon)
        _stop(sim)
        notify.close()
        shutil.rmtree(work, ignore_errors=True)


def _visit_console(url: str) -> None:
    """Log in as the demo operator and load the inbox (127.0.0.1; the box's self-signed certificate)."""
    import http.cookiejar
    import ssl
    import urllib.parse
    import urllib.request

    from nspgw.sim.demo_console import DEMO_OPERATOR, DEMO_PASSWORD

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx),
                                         urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    deadline = time.monotonic() + 10.0
    while True:
        try:
            form = urllib.parse.urlencode({"name": DEMO_OPERATOR, "password": DEMO_PASSWORD}).encode()
            with opener.open(url + "login", data=form, timeout=10) as r:
                if "/inbox" in r.geturl():
                    return
            raise BenchError("inloggen op de console mislukte")
        except OSError:
            if time.monotonic() > deadline:
                raise BenchError("de console antwoordde niet binnen 10 s") from None
            time.sleep(0.2)  # the server thread may still be binding


def _stop(proc: subprocess.Popen[Any] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def report(f: DaemonFigures) -> str:
    ok = {True: "ok", False: "BOVEN DOEL"}
    target = RSS_CONSOLE_TARGET_MB if f.console else RSS_TARGET_MB
    return (f"Daemon ({f.preset}{', met webconsole' if f.console else ''}) op {f.machine}, Python {f.python}, "
            f"{f.date}\n"
            f"  tijd tot READY:   {f.ready_s:.2f} s   "
            f"(doel ≤ {READY_TARGET_S:.0f} s: {ok[f.ready_s <= READY_TARGET_S]})\n"
            f"  geheugen (RSS):   {f.rss_mb:.1f} MB (doel ≤ {target:.0f} MB: {ok[f.rss_mb <= target]})\n"
            f"  CPU in rust:      {f.cpu_pct:.2f} % over {f.idle_window_s:.0f} s, "
            f"{f.wakeups_per_min:.1f} wake-ups per minuut")
