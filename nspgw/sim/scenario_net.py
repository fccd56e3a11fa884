"""A network of real nspgw boxes (core `Node` + SQLite `Store` + real codec and crypto) over the simulated mesh.

Each box runs the daemon's own `Driver` (nspgw/daemon/driver.py) on the mesh's virtual clock, with the
simulated radio and broker as its link ports (sim/scenario_ports.py): events in, store actions committed in
one transaction, then transmits handed over exactly as `nspgw run` hands them to its adapters. Tests and the
scenario runner use it; nothing sleeps, the whole run is deterministic for a seed.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nspgw.core.actions import Notice, StoreFrameSent, StoreInbox, StoreOutboxState, Transmit
from nspgw.core.config import NodeConfig
from nspgw.core.events import (
    IP,
    Event,
    LinkChanged,
    MessageAccepted,
    PeerPresence,
)
from nspgw.core.lifecycle import FINAL
from nspgw.core.node import Node
from nspgw.crypto.enrol import BoxSpec, Network, make_network
from nspgw.daemon.driver import Driver, core_timing
from nspgw.daemon.trace import Trace
from nspgw.errors import NspgwError, SimulationError
from nspgw.ids import BoxAddr
from nspgw.sim.box_radio import box_radio
from nspgw.sim.mesh import Mesh, Reception
from nspgw.sim.mesh import RoutingEvent as MeshRouting
from nspgw.sim.scenario_airtime import AirLog
from nspgw.sim.scenario_links import LinkLog
from nspgw.sim.scenario_ports import SimIpPort, SimRadioPort, routing_error_name
from nspgw.store.sqlite import Store
from nspgw.wire.frames import NSPGW_PORTNUM, MsgId, Precedence

IP_LATENCY_S = 0.2
# Wall time of a simulated run's t = 0 in its journals (2026-11-14 07:00 UTC, a drill morning): a day of
# traffic then reads as a day, not the few seconds of real time it took.
SIM_EPOCH = 1_794_639_600.0
# A box that drops off the broker is announced by its Last Will when the broker's keep-alive timer runs out:
# 1.5 × the keep-alive (MQTT 3.1.1 §3.1.2.10; ours is 10 s, adapters/mqtt_settings.py).
PRESENCE_EXPIRY_S = 15.0
# The boxes' driver log lines (a NAK per lost frame) would flood a drill's output: the report and the trace
# (--trace) say what happened. Kept for a test or developer that attaches a handler.
_BOX_LOG = logging.getLogger("nspgw.sim.boxes")
_BOX_LOG.addHandler(logging.NullHandler())
_BOX_LOG.propagate = False


@dataclass
class ScenarioBox:
    spec: BoxSpec
    db_path: Path
    store: Store
    node: Node
    driver: Driver
    radio: SimRadioPort
    up: bool = True
    ip_up: bool = False
    last_polled: int = 0  # highest outbox seq already fed to the node
    notices: list[Notice] = field(default_factory=list)
    transmits: list[tuple[float, Transmit]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"box{self.spec.addr}"


class SimNet:
    """Boxes by address; `mesh` links are named `box<addr>`."""

    def __init__(self, boxes: list[BoxSpec], workdir: Path, *, seed: int = 1, preset: str = "LONG_FAST",
                 config: dict[str, object] | None = None, key_seed: bytes = b"nspgw simulated network keys",
                 positions: dict[int, tuple[float, float]] | None = None, presence: bool = True,
                 trace: Trace | None = None) -> None:
        self.seed = seed
        self.presence = presence  # the broker relays presence (retained status, Last Will); False: older boxes
        self.trace = trace  # `nspgw sim run --trace FILE`: every box's events and actions, one JSON line each
        self.workdir = workdir
        # Keys come from their own seed: a restarted run (new mesh seed) must find the same enrolment.
        self.network: Network = make_network(boxes, key_seed)
        self.mesh = Mesh(preset, seed=seed)
        self.preset = preset
        self.config_overrides = dict(config or {})
        self.boxes: dict[int, ScenarioBox] = {}
        self._pending: list[tuple[int, Event | RadioIn | RadioAnswer]] = []
        self._ip_queue: list[tuple[float, int, Event]] = []
        self._packet_id = 1000
        self.deliveries: list[tuple[float, int, int, int]] = []  # (t, reader box, origin, seq)
        self.outcomes: dict[tuple[int, int], tuple[float, str]] = {}  # (origin, seq) → (t, final state)
        # Node.next_deadline() only changes when the node handles something: cache it per box (the driver
        # loop asked every box on every step, the hot spot of a 56-box day).
        self._deadlines: dict[int, float | None] = {}
        self.current: int | None = None  # the box handling an event right now (named by an internal error)
        self.link_log = LinkLog()  # which link each message took (report: sim/scenario_links.py)
        self.mesh.on_deliver = self._on_deliver
        self.mesh.on_routing = self._on_routing
        # What went on air, by kind (report: channel utilisation and airtime efficiency, sim/scenario_airtime.py)
        self.air_log = AirLog({spec.node_num: int(spec.addr) for spec in boxes})
        self.mesh.on_transmit = self.air_log.note
        self.frames_sent: dict[int, dict[int, tuple[int, int]]] = {}  # box → counter → (seq, fragment index)
        for spec in boxes:
            # Role, rebroadcast mode and hop limit as `nspgw radio provision` leaves them with the post type's
            # firmware profile (firmware-profiles/); a scenario's radio_role overrides are applied afterwards.
            radio = box_radio(spec.role)
            self.mesh.add_node(f"box{spec.addr}", spec.node_num, role=radio.role,
                               rebroadcast_mode=radio.rebroadcast_mode, hop_limit=radio.hop_limit,
                               position=(positions or {}).get(spec.addr))
            self.boxes[spec.addr] = self._boot(spec)

    # ------------------------------------------------------------------------------------------ boxes
    def _boot(self, spec: BoxSpec) -> ScenarioBox:
        db = self.workdir / f"box{spec.addr}.db"
        store = Store.open(db)
        store.journal_clock = self._journal_stamp  # the journal of a simulated day reads its virtual time
        timing: dict[str, object] = {**core_timing(self.preset), **self.config_overrides}  # as `nspgw run` does
        cfg = NodeConfig(self.network.keyring(spec.addr), preset=self.preset, **timing)  # type: ignore[arg-type]
        rng = random.Random(f"{self.seed}/{spec.addr}/{self.now}")
        node = Node(cfg, store.load_state(spec.addr), rng)
        driver = Driver(node, store, self.mesh.clock, trace=self.trace, logger=_BOX_LOG)
        radio = SimRadioPort(self, spec.addr, driver.radio_queued)
        driver.radio = radio
        driver.ip = SimIpPort(self, spec.addr)
        box = ScenarioBox(spec, db, store, node, driver, radio)
        a = spec.addr  # observers look the box up: a restart hands its lists to the new ScenarioBox
        driver.on_commit.append(lambda acts: self.link_log.note(a, self.now, acts, self._on_broker))
        driver.observe(Notice, lambda n: self.boxes[a].notices.append(n))
        driver.observe(Transmit, lambda t: self.boxes[a].transmits.append((self.now, t)))
        driver.observe(StoreInbox, lambda a: self.deliveries.append(
            (self.now, spec.addr, int(a.frame.msg.origin), a.frame.msg.seq)))
        driver.observe(StoreOutboxState, lambda a: self._outcome(spec.addr, a))
        carried = self.frames_sent.setdefault(a, {})
        driver.observe(StoreFrameSent, lambda f: carried.__setitem__(f.counter, (f.seq, f.frag_index)))
        for ev in store.accepted_after(spec.addr):
            self._pending.append((spec.addr, ev))
            box.last_polled = max(box.last_polled, ev.msg.seq)
        return box

    def _outcome(self, addr: int, a: StoreOutboxState) -> None:
        if a.state in FINAL:
            self.outcomes[(addr, a.seq)] = (self.now, a.state.value)

    def next_packet_id(self) -> int:
        """Packet ids unique over the whole mesh (each firmware numbers its own; one counter is simpler)."""
        self._packet_id += 1
        return self._packet_id

    def ip_later(self, addr: int, ev: Event) -> None:
        """An event for box `addr` that the broker delivers after IP_LATENCY_S."""
        self._ip_queue.append((self.now + IP_LATENCY_S, addr, ev))

    def _journal_stamp(self) -> tuple[float, float, str, str]:
        return SIM_EPOCH + self.now, self.now, f"sim{self.seed}", "sim"

    def poll_outbox(self) -> int:
        """What the daemon does on a wake-up (or its periodic re-read): feed rows `nspgw send` committed."""
        n = 0
        for box in self.boxes.values():
            if not box.up:
                continue
            for ev in box.store.accepted_after(box.spec.addr, box.last_polled):
                self._pending.append((box.spec.addr, ev))
                box.last_polled = max(box.last_polled, ev.msg.seq)
                n += 1
        return n

    def restart(self, addr: int) -> None:
        """Power cycle: only what the store committed survives (in-memory queues, windows, timers are gone)."""
        old = self.boxes[addr]
        old.store.close()
        box = self._boot(old.spec)
        box.notices, box.ip_up, box.transmits = old.notices, old.ip_up, old.transmits
        self.boxes[addr] = box
        self._deadlines.pop(addr, None)
        self._pending = [(a, e) for a, e in self._pending if a != addr or isinstance(e, MessageAccepted)]
        if box.ip_up:
            self._pending.append((addr, LinkChanged(IP, True)))
            self._presence(addr, True)

    def set_up(self, addr: int, up: bool) -> None:
        """Box and radio lose power (up=False) or come back (a reboot: state from the store only)."""
        box = self.boxes[addr]
        self.mesh.set_node_up(box.name, up)
        was_up = box.up
        if up and not box.up:
            self.restart(addr)
        self.boxes[addr].up = up
        if not up and was_up and box.ip_up:
            self._presence(addr, False)

    def set_ip(self, addr: int, up: bool) -> None:
        box = self.boxes[addr]
        changed = box.ip_up != up and box.up
        box.ip_up = up
        self._pending.append((addr, LinkChanged(IP, up)))
        if changed:
            self._presence(addr, up)

    def _presence(self, addr: int, online: bool) -> None:
        """What the broker tells the others (and, on joining, the box itself) about presence: a box that
        joins publishes its retained status at once; one that vanishes is announced by its Last Will after
        the keep-alive expiry. A box joining receives every box's retained status (all were on the broker
        once, at enrolment)."""
        if not self.presence:
            return
        delay = IP_LATENCY_S if online else PRESENCE_EXPIRY_S
        if online:  # back before the keep-alive ran out: the new session's status follows any will
            self._ip_queue = [q for q in self._ip_queue
                              if not (isinstance(q[2], PeerPresence) and q[2].addr == addr and not q[2].online)]
        for b in self.boxes.values():
            if b.spec.addr != addr and b.up and b.ip_up:
                self._ip_queue.append((self.now + delay, b.spec.addr, PeerPresence(BoxAddr(addr), online)))
        if online:
            for b in self.boxes.values():
                if b.spec.addr != addr:
                    self._ip_queue.append((self.now + IP_LATENCY_S, addr,
                                           PeerPresence(b.spec.addr, b.up and b.ip_up)))

    @property
    def now(self) -> float:
        return self.mesh.clock.now()

    def close(self) -> None:
        for b in self.boxes.values():
            b.store.close()

    # --------------------------------------------------------------------------------------- operators
    def send(self, src: int, dst: int, body: bytes, precedence: Precedence = Precedence.ROUTINE,
             ttl_s: int | None = None) -> MsgId:
        """`nspgw send` on box `src`: commit the outbox row, then wake the daemon."""
        box = self.boxes[src]
        msg = box.store.accept_message(BoxAddr(src), BoxAddr(dst), precedence, body, ttl_s=ttl_s)
        self.link_log.note_accept(src, msg.seq, self._on_broker(src), self._on_broker(dst))
        if box.up:
            self._pending.append((src, MessageAccepted(msg, BoxAddr(dst), precedence, body, ttl_s)))
        return msg

    def inbox(self, addr: int) -> list[tuple[int, int, bytes]]:
        return [(int(r.origin), r.seq, r.body) for r in self.boxes[addr].store.inbox()]

    def outbox_state(self, addr: int, seq: int) -> str:
        for row in self.boxes[addr].store.outbox():
            if row.seq == seq:
                return row.state.value
        raise KeyError(seq)

    # ----------------------------------------------------------------------------------------- driving
    def run_until(self, t_end: float) -> None:
        guard = 0
        while True:
            self._drain()
            times = [t for t in (self.mesh.next_event_time(),) if t is not None]
            deadlines = [self._deadline(b) for b in self.boxes.values() if b.up]
            times += [d for d in deadlines if d is not None]
            times += [w for b in self.boxes.values() if b.up and (w := b.radio.wake_at) is not None]
            times += [t for t, _, _ in self._ip_queue]
            t = min(times, default=float("inf"))
            if t > t_end:
                break
            t = max(t, self.now)
            self.mesh.run_until(t)
            due = [(a, ev) for tt, a, ev in self._ip_queue if tt <= t]
            self._ip_queue = [q for q in self._ip_queue if q[0] > t]
            for a, ev in due:
                self._pending.append((a, ev))
            self._drain()
            for b in list(self.boxes.values()):
                w = b.radio.wake_at
                if b.up and w is not None and w <= t:
                    self.current = b.spec.addr
                    b.radio.pump()
            self._drain()
            fired = False
            for b in list(self.boxes.values()):
                d = self._deadline(b) if b.up else None
                if d is not None and d <= t:
                    self.current = b.spec.addr
                    self._deadlines.pop(b.spec.addr, None)
                    b.driver.timer()
                    fired = True
            guard = guard + 1 if fired and t == self.now else 0
            if guard > 10_000:
                stuck = [b for b in self.boxes.values() if b.up and (self._deadline(b) or t + 1) <= t]
                box = stuck[0] if stuck else None
                raise SimulationError(t, box.spec.addr if box else None, stuck_state(box.node, t) if box else "",
                                      "node timers do not advance")
        self.mesh.run_until(t_end)
        self._drain()

    def _on_broker(self, addr: int) -> bool:
        b = self.boxes.get(addr)
        return b is not None and b.up and b.ip_up

    @contextlib.contextmanager
    def internal_errors(self) -> Iterator[None]:
        """Turn any internal exception of a box into a `SimulationError`: the scenario time, the box that was
        handling something and its state, in one line (a drill never ends in a traceback)."""
        try:
            yield
        except NspgwError:
            raise
        except Exception as exc:  # the one boundary of a drill: reported, never swallowed
            box = self.boxes.get(self.current) if self.current is not None else None
            state = stuck_state(box.node, self.now) if box is not None else ""
            raise SimulationError(self.now, self.current, state, f"{type(exc).__name__}: {exc}") from exc

    def _deadline(self, b: ScenarioBox) -> float | None:
        a = b.spec.addr
        if a not in self._deadlines:
            self._deadlines[a] = b.node.next_deadline()
        return self._deadlines[a]

    def run_while(self, predicate: object, t_max: float, step_s: float = 5.0) -> bool:
        """Advance in steps until `predicate()` is false or `t_max`; True when the predicate became false."""
        assert callable(predicate)
        while self.now < t_max:
            if not predicate():
                return True
            self.run_until(min(self.now + step_s, t_max))
        return not predicate()

    def _drain(self) -> None:
        while self._pending:
            addr, ev = self._pending.pop(0)
            box = self.boxes[addr]
            if not box.up:
                continue
            self.current = addr
            self._deadlines.pop(addr, None)  # the node is about to handle something
            if isinstance(ev, RadioIn):  # as the daemon's radio events reach its driver
                box.radio.heard(ev.from_node, ev.mesh_hops, 0)
                box.driver.radio_frame(ev.from_node, ev.data, ev.snr, ev.rssi, ev.mesh_hops)
            elif isinstance(ev, RadioAnswer):
                if box.radio.answered(ev.request_id, ev.error_reason):
                    box.driver.radio_result(ev.request_id, ev.error_reason)
            else:
                box.driver.handle(ev)

    def _on_deliver(self, node_num: int, rx: Reception) -> None:
        p = rx.packet
        if p.portnum != NSPGW_PORTNUM:
            return
        me = self.network.roster.by_node(node_num)
        if me is None:
            return
        self._pending.append((me.addr, RadioIn(p.src, p.payload, rx.rx_snr, rx.rx_rssi,
                                               max(0, p.hop_start - p.hop_limit))))

    def _on_routing(self, node_num: int, ev: MeshRouting) -> None:
        me = self.network.roster.by_node(node_num)
        if me is not None:
            self._pending.append((me.addr, RadioAnswer(ev.request_id, routing_error_name(ev.error_reason))))


@dataclass(frozen=True)
class RadioIn:
    """A frame a box's radio heard (the adapter's "frame" event)."""

    from_node: int
    data: bytes
    snr: float | None
    rssi: int | None
    mesh_hops: int = 0  # hop_start - hop_limit: Meshtastic relays it took (0: heard from the sender's radio)


@dataclass(frozen=True)
class RadioAnswer:
    """The firmware's routing answer for one of a box's packets (the adapter's "acknak" event)."""

    request_id: int
    error_reason: str


def stuck_state(node: Node, now: float) -> str:
    """What a box was doing, for an internal-error line: its deadline, queues, links and radio budget."""
    s = node.snapshot(now)
    d = s.deadline
    links = ",".join(f"{k} {'up' if v['up'] else 'down'}" for k, v in s.links.items())
    return (f"deadline {'-' if d is None else f'{d:.1f}'}, outbox {len(s.outbox)}, custody {s.custody}, "
            f"jobs {s.jobs}, waiting on the radio {s.waiting_on_radio}, {links}, "
            f"airtime {s.airtime_used_ms / 1000:.1f}/{s.airtime_limit_ms / 1000:.0f} s")
