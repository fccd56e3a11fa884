"""Real-time driver of one simulated mesh, serving every virtual radio on TCP 127.0.0.1 and a pty.

One driver thread maps wall time to the mesh's virtual clock (`Mesh.run_until`) and sleeps on a
condition until the next mesh event or until a client's packet wakes it. Every Mesh and device call
happens under one lock: the Mesh is not thread-safe. Socket and pty writes go through a per-connection
writer thread, so a client that stops reading can never stall the mesh.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import random
import select
import socket
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nspgw.errors import ConfigError, UsageError
from nspgw.sim.device import VirtualDevice, node_id
from nspgw.sim.mesh import DUTY_CYCLE_LIMIT, Mesh, QueueStatus, RadioPacket, Reception, RoutingEvent
from nspgw.sim.topology import Topology

log = logging.getLogger("nspgw.sim")
HOST = "127.0.0.1"
POLL_S = 0.2  # how often blocking loops look at their stop flag
MAX_WAIT_S = 1.0  # the driver re-reads the wall clock at least this often
LINGER_S = 0.5
ANNOUNCE_SPREAD_S = 1.0


class _Writer:
    """Bytes for one client, written by a thread of their own (a stalled reader must not block the mesh)."""

    def __init__(self, write: Callable[[bytes], Any], close: Callable[[], None], label: str) -> None:
        self._q: queue.Queue[bytes | None] = queue.Queue(maxsize=4096)
        self._write, self._close = write, close
        self._thread = threading.Thread(target=self._run, name=f"sim-writer-{label}", daemon=True)
        self._thread.start()

    def put(self, data: bytes) -> None:
        try:
            self._q.put_nowait(data)
        except queue.Full:
            log.warning("client is not reading; dropping %d bytes", len(data))

    def stop(self) -> None:
        with contextlib.suppress(queue.Full):
            self._q.put_nowait(None)

    def _run(self) -> None:
        while (data := self._q.get()) is not None:
            try:
                self._write(data)
            except OSError as exc:
                log.info("client write failed (%s); connection closed", exc)
                break
        with contextlib.suppress(OSError):
            self._close()


def _write_all_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class NodeEndpoint:
    """TCP listener and pseudo-terminal of one virtual radio; at most one client at a time."""

    def __init__(self, server: MeshServer, device: VirtualDevice, port: int, use_pty: bool = True) -> None:
        self.server, self.device = server, device
        self.port = port
        self.use_pty = use_pty
        self.pty_path: str | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._master: int | None = None
        self._conn: socket.socket | None = None
        self._writer: _Writer | None = None
        self._owner: object | None = None  # which transport the device is attached to
        self.running = False

    def start(self) -> None:
        self._stop.clear()
        lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            lst.bind((HOST, self.port))
        except OSError as exc:
            lst.close()
            raise UsageError(f"poort {self.port} is bezet / port in use: {exc.strerror}") from exc
        lst.listen(4)
        lst.settimeout(POLL_S)
        self._listener = lst
        self.port = lst.getsockname()[1]  # the same port again after node up / replug
        self._threads = [threading.Thread(target=self._accept_loop, name=f"sim-accept-{self.device.name}", daemon=True)]
        if self.use_pty:
            self._master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no line discipline: the library speaks binary frames
            self.pty_path = os.ttyname(slave)
            # We do not keep the slave open: with no client holding it, reads on the master fail (EIO),
            # which is how we notice a USB client going away and queue packets for the next one.
            os.close(slave)
            self._threads.append(threading.Thread(target=self._pty_loop, name=f"sim-pty-{self.device.name}",
                                                  daemon=True))
        for t in self._threads:
            t.start()
        self.running = True

    def stop(self) -> None:
        """Close listener, client and pty: to a client this looks like the radio being unplugged."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        self._threads = []
        with self.server.lock:
            self._detach(None)
        if self._master is not None:
            with contextlib.suppress(OSError):
                os.close(self._master)
        self._master = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self.running = False

    def info(self) -> dict[str, Any]:
        return {"name": self.device.name, "node_id": node_id(self.device.node_num), "tcp": f"{HOST}:{self.port}",
                "pty": self.pty_path}

    # -- transports ---------------------------------------------------------------------------------

    def _attach(self, owner: object, writer: _Writer) -> None:
        """Under the lock. A new client replaces the old one, like a second open of a serial port."""
        self._detach(None)
        self._owner, self._writer = owner, writer
        self.device.attach(writer.put)

    def _detach(self, owner: object | None, *, hard: bool = True) -> None:
        """Under the lock. `hard` also closes the transport (replaced client, unplug, node down)."""
        if owner is not None and owner is not self._owner:
            return
        if hard and self._writer is not None:
            self._writer.stop()
        if hard and isinstance(self._owner, socket.socket):
            with contextlib.suppress(OSError):
                self._owner.shutdown(socket.SHUT_RDWR)
        self._owner, self._writer = None, None
        self.device.detach()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        lst = self._listener
        while not self._stop.is_set():
            try:
                conn, _ = lst.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            log.info("%s: TCP client connected", self.device.name)
            t = threading.Thread(target=self._serve_conn, args=(conn,), name=f"sim-conn-{self.device.name}",
                                 daemon=True)
            t.start()

    def _serve_conn(self, conn: socket.socket) -> None:
        conn.settimeout(POLL_S)
        writer = _Writer(conn.sendall, conn.close, self.device.name)
        with self.server.lock:
            self._attach(conn, writer)
        try:
            while not self._stop.is_set() and conn is self._owner:
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                self.server.feed(self.device, data, lambda: conn is self._owner)
        finally:
            log.info("%s: TCP client gone", self.device.name)
            with self.server.lock:
                self._detach(conn, hard=False)
            # The library half-closes and its reader thread may still send a heartbeat: linger briefly so
            # that write lands instead of raising EPIPE in the client (its close() waits 0.25 s for us).
            self._stop.wait(LINGER_S)
            writer.stop()

    def _pty_loop(self) -> None:
        master = self._master
        assert master is not None
        token = object()
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([master], [], [], POLL_S)
            except (OSError, ValueError):
                break
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:
                # EIO: nobody has the pty open (yet, or any more). Detach a gone client, look again soon.
                with self.server.lock:
                    if self._owner is token:
                        log.info("%s: pty client gone", self.device.name)
                        self._detach(token)
                self._stop.wait(POLL_S)
                continue
            if not data:
                continue
            with self.server.lock:
                if self._owner is not token:
                    # Whoever opened the pty and wrote is the client now (we cannot see an open() itself).
                    log.info("%s: pty client active", self.device.name)
                    self._attach(token, _Writer(lambda b: _write_all_fd(master, b), lambda: None, self.device.name))
            self.server.feed(self.device, data)


def connect_devices(mesh: Mesh, devices: list[VirtualDevice]) -> None:
    """Route the mesh's callbacks (called inside run_until/send, so under the lock) to the devices."""
    by_num = {d.node_num: d for d in devices}

    def on_deliver(node_num: int, reception: Reception) -> None:
        if (dev := by_num.get(node_num)) is not None:
            dev.deliver(reception)

    def on_routing(node_num: int, event: RoutingEvent) -> None:
        # Acks and naks reach the client as packets via on_deliver; this only adds the duty-cycle notice.
        if (dev := by_num.get(node_num)) is not None and event.error_reason == DUTY_CYCLE_LIMIT:
            dev.duty_cycle_refused(event.request_id, max(1, event.silent_minutes))

    def on_queue_status(node_num: int, status: QueueStatus) -> None:
        if (dev := by_num.get(node_num)) is not None:
            dev.queue_status(status.res, status.free, status.maxlen, status.mesh_packet_id)

    def pki_decrypt(node_num: int, packet: RadioPacket) -> int:
        dev = by_num.get(node_num)
        return dev.pki_decrypt(packet) if dev is not None else 0

    mesh.on_deliver, mesh.on_routing, mesh.on_queue_status = on_deliver, on_routing, on_queue_status
    mesh.pki_decrypt = pki_decrypt


class MeshServer:
    """Runs a Mesh in real time and serves its devices. `emit` receives the JSON-able status lines."""

    def __init__(self, topology: Topology, *, base_port: int | None = None, state_dir: Path | None = None,
                 use_pty: bool = True, emit: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.topology = topology
        self.lock = threading.RLock()
        self._cond = threading.Condition(self.lock)
        self.emit = emit or (lambda line: None)
        self.mesh = Mesh(preset=topology.preset, seed=topology.seed, region=topology.region)
        self.devices: dict[str, VirtualDevice] = {}
        self.endpoints: dict[str, NodeEndpoint] = {}
        epoch = time.time()
        for k, spec in enumerate(topology.nodes):
            self.mesh.add_node(spec.name, spec.node_num, role=spec.role, position=spec.position)
            dev = VirtualDevice(self.mesh, spec.node_num, spec.name, role=spec.role, preset=topology.preset,
                                region=topology.region, state_dir=state_dir, seed=topology.seed, epoch_base=epoch)
            self.devices[spec.name] = dev
            port = base_port + k if base_port is not None else 0
            self.endpoints[spec.name] = NodeEndpoint(self, dev, port, use_pty)
        for link in topology.links:
            self.mesh.set_link(link.a, link.b, loss=link.loss, snr=link.snr, rssi=link.rssi)
        connect_devices(self.mesh, list(self.devices.values()))
        self._events = list(topology.events)
        self._timers: list[tuple[float, Callable[[], None]]] = []  # wall-clock tasks (radio replug)
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._v0 = self.mesh.clock.now()
        self._driver: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        started: list[NodeEndpoint] = []
        try:
            for ep in self.endpoints.values():
                ep.start()
                started.append(ep)
        except Exception:
            for ep in started:
                ep.stop()
            raise
        with self.lock:
            self._t0 = time.monotonic()
            self._v0 = self.mesh.clock.now()
            # NodeInfoModule broadcasts our User shortly after boot; radios do not boot in the same
            # millisecond, so spread the announcements (seeded) instead of colliding them all at t=0.
            rng = random.Random(self.topology.seed)
            for dev in self.devices.values():
                self._timers.append((self._t0 + rng.uniform(0.0, ANNOUNCE_SPREAD_S), dev.announce))
        self._driver = threading.Thread(target=self._drive, name="sim-driver", daemon=True)
        self._driver.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._driver is not None:
            self._driver.join(timeout=5)
        for ep in self.endpoints.values():
            ep._stop.set()  # all endpoint threads wind down together, then each is joined
        for ep in self.endpoints.values():
            if ep.running:
                ep.stop()

    def __enter__(self) -> MeshServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def virtual_now(self) -> float:
        return self._v0 + (time.monotonic() - self._t0)

    def _drive(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                try:
                    now = self.virtual_now()
                    self.mesh.run_until(now)  # events and timers below act at the present, not in the past
                    self._run_events(now)
                    self.mesh.run_until(now)
                    nxt = self.mesh.next_event_time()
                except Exception:
                    log.exception("mesh driver error")
                    nxt = None
                waits = [MAX_WAIT_S]
                if nxt is not None:
                    waits.append(nxt - self.virtual_now())
                if self._events:
                    waits.append(self._v0 + self._events[0].at_s - self.virtual_now())
                if self._timers:
                    waits.append(min(t for t, _ in self._timers) - time.monotonic())
                self._cond.wait(max(0.0, min(waits)))

    def _run_events(self, now: float) -> None:
        while self._events and self._v0 + self._events[0].at_s <= now:
            ev = self._events.pop(0)
            log.info("topology event at %.1f s: %s %s %s", ev.at_s, ev.action, ev.a, ev.b or "")
            if ev.action in ("link_down", "link_up"):
                self.mesh.set_link_up(ev.a, ev.b, ev.action == "link_up")
            else:
                self._set_node_up(ev.a, ev.action == "node_up")
        due = [task for t, task in self._timers if t <= time.monotonic()]
        self._timers = [(t, task) for t, task in self._timers if t > time.monotonic()]
        for task in due:
            task()

    def feed(self, device: VirtualDevice, data: bytes, still_client: Callable[[], bool] = lambda: True) -> None:
        """Bytes from a client: handled under the lock, then the driver wakes for any new mesh events.

        `still_client` is checked under the lock: bytes a replaced connection read just before it was
        replaced must not be mixed into the new client's stream.
        """
        with self._cond:
            if still_client():
                self._catch_up()
                device.receive_bytes(data)
                self._cond.notify_all()

    def _catch_up(self) -> None:
        """Bring the mesh's clock to wall time before anything enters it. The driver may have slept for up to
        MAX_WAIT_S; a packet sent then would start on air in the past and reach its neighbour before its
        time on air had passed (at SHORT_TURBO: 1-2 ms after sendText for an ~80 ms frame)."""
        try:
            self.mesh.run_until(self.virtual_now())
        except Exception:
            log.exception("mesh driver error")

    # -- control ----------------------------------------------------------------------------------

    def _name(self, name: str) -> str:
        if name not in self.devices:
            raise UsageError(f"onbekende node {name!r} / unknown node (known: {', '.join(self.devices)})")
        return name

    def set_link_up(self, a: str, b: str, up: bool) -> None:
        with self._cond:
            self._catch_up()
            self.mesh.set_link_up(self._name(a), self._name(b), up)
            self._cond.notify_all()

    def set_node_up(self, name: str, up: bool) -> None:
        with self._cond:
            self._catch_up()
            self._set_node_up(self._name(name), up)
            self._cond.notify_all()

    def _set_node_up(self, name: str, up: bool) -> None:
        """Power loss: off the air and its USB/TCP gone; power back: it boots and announces itself."""
        ep = self.endpoints[name]
        self.mesh.set_node_up(name, up)
        if not up and ep.running:
            self._unlocked(ep.stop)
        elif up:
            if not ep.running:
                self._unlocked(ep.start)
                self.emit(ep.info())
            self.devices[name].announce()

    def _unlocked(self, fn: Callable[[], None]) -> None:
        """Endpoint threads take the lock; release ours (held once or re-entrantly) while we join them."""
        depth = 0
        while True:
            try:
                self.lock.release()
                depth += 1
            except RuntimeError:
                break
        try:
            fn()
        finally:
            for _ in range(depth):
                self.lock.acquire()

    def radio_unplug(self, name: str, for_s: float | None = None) -> None:
        """The USB cable out: the node stays on air, its client loses the radio (for `for_s` seconds)."""
        ep = self.endpoints[self._name(name)]
        if ep.running:
            ep.stop()
        if for_s is not None:
            with self._cond:
                self._timers.append((time.monotonic() + for_s, lambda: self._replug_locked(name)))
                self._cond.notify_all()

    def _replug_locked(self, name: str) -> None:
        ep = self.endpoints[name]
        if not ep.running:
            self._unlocked(ep.start)
            self.emit(ep.info())

    def radio_replug(self, name: str) -> None:
        ep = self.endpoints[self._name(name)]
        if not ep.running:
            ep.start()
            self.emit(ep.info())

    def status(self) -> dict[str, Any]:
        with self.lock:
            return {"virtual_s": round(self.virtual_now() - self._v0, 3),
                    "nodes": [dict(ep.info(), up=ep.running) for ep in self.endpoints.values()]}


def check_ports(base_port: int | None, n: int) -> None:
    if base_port is not None and not 1024 <= base_port <= 65535 - n:
        raise ConfigError(f"--base-port: must be between 1024 and {65535 - n}")
