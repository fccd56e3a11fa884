"""The driver: events into the core, its actions carried out — store first, then transmit.

One class for every box that runs the core: the daemon (`nspgw run`, nspgw/daemon/service.py) and each box
of a simulation (`nspgw sim run`, nspgw/sim/scenario_net.py). What differs is only what is plugged in: the
clock (monotonic or virtual) and the link ports (the Meshtastic and MQTT adapters, or the simulated mesh and
broker; protocols in nspgw/adapters/ports.py). So the policy of how a frame leaves — which radio node it goes
to, whether the firmware is asked for an ack, how the firmware's ACK/NAK finds its way back to the core —
is the same in the field and in the benchmarks by construction.

    event ─► node.handle(event, now) ─► store.apply(actions)   ONE transaction (persist before acknowledging)
                                     ─► observers(actions)     status, inbox hooks, reports
                                     ─► Transmit → radio port (roster address → node number) or IP port

Where this reaches into the core beyond `handle`/`handle_timer`/`next_deadline` is gathered in `_roster()`
and `me` (the key ring's roster and own address), so a snapshot API can replace them in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from nspgw.adapters.ports import Clock, IpPort, RadioPort
from nspgw.adapters.radio_pacing import neighbour_gap_s
from nspgw.core.actions import Action, StoreFrameSent, Transmit
from nspgw.core.airtime import time_on_air_ms
from nspgw.core.events import IP, RADIO, Event, FrameIn, LinkChanged, RadioSendResult
from nspgw.core.node import Node
from nspgw.daemon.trace import Trace
from nspgw.errors import NspgwError
from nspgw.ids import BROADCAST_ADDR, BoxAddr

log = logging.getLogger("nspgw.daemon")

BROADCAST_NODE = 0xFFFFFFFF
MAX_TX_REFS = 4096  # radio packet ids awaiting the firmware's word; broadcasts never get one, so bounded
FIRMWARE_OK = "NONE"  # Routing.Error NONE: the firmware's ACK (anything else is a NAK reason)

# An observer sees every committed action of one step; returning True means "the outbox grew" (an alert
# relayed to the crisis team), so the driver feeds the outbox again at the end of the step.
Observer = Callable[[Any], "bool | None"]


def core_timing(preset: str) -> dict[str, float]:
    """Core timers scaled to the preset's time on air (Semtech AN1200.13: airtime ∝ 2^SF / BW), for `nspgw run`
    and every box of `nspgw sim run` alike.

    The core's defaults are for LONG_FAST (a full frame ≈ 2.2 s): a first retry after 45 s, 0.5 s of
    CSMA/serial margin per frame. On a faster preset the same waits would idle a channel that is free
    again 20× sooner; the firmware's contention window also scales with the symbol time. The re-check of
    a message a relay holds (30 min at LONG_FAST) is the last resort for a lost receipt; before that, a receipt
    to a relay is re-sent until custody is acknowledged and one sent straight asks the firmware for an ack."""
    scale = time_on_air_ms(255, preset) / time_on_air_ms(255, "LONG_FAST")
    # The margin leaves a neighbour room to win the channel, as the radio adapter paces (radio_pacing.py).
    margin = max(min(0.5, 0.1 + 0.4 * scale), neighbour_gap_s(preset))
    return {"ack_timeout_s": max(6.0, 45.0 * scale), "radio_margin_s": margin,
            "held_recheck_s": max(60.0, 1800.0 * scale)}


class Driver:
    """Drives one `Node` with one `Store`. Not thread-safe: one loop owns it."""

    def __init__(self, node: Node, store: Any, clock: Clock, *, radio: RadioPort | None = None,
                 ip: IpPort | None = None, trace: Trace | None = None, logger: logging.Logger = log) -> None:
        self.log = logger
        self.node = node
        self.store = store
        self.clock = clock
        self.radio = radio
        self.ip = ip
        self.trace = trace
        self.observers: dict[type, list[Observer]] = {}
        self.on_commit: list[Callable[[list[Action]], None]] = []  # sees each committed step as a whole
        # run once a step's actions are all carried out: work an observer noted that needs a step of its own
        # (key files written, then the node adopts them: nspgw/daemon/service.py)
        self.after_step: list[Callable[[], None]] = []
        self.tx_refs: dict[int, int] = {}  # radio packet id → core tx_ref
        self.sent_via: dict[int, str] = {}  # our message seq → link of its last frame (for `nspgw outbox`)
        self.last_seq = 0  # highest outbox seq fed to the core

    # ------------------------------------------------------------------------------------ core call sites
    @property
    def me(self) -> int:
        return int(self.node.me)

    def _roster(self) -> Any:
        return self.node.cfg.keyring.roster

    # ------------------------------------------------------------------------------------------- inputs
    def observe(self, kind: type, fn: Observer) -> None:
        self.observers.setdefault(kind, []).append(fn)

    def handle(self, event: Event) -> list[Action]:
        now = self.clock.now()
        self._trace(now, "event", event)
        acts = self.node.handle(event, now)
        self.apply(acts, now)
        return acts

    def timer(self) -> list[Action]:
        """Run the core's due timers (the caller checked `next_deadline()`)."""
        now = self.clock.now()
        acts = self.node.handle_timer(now)
        if acts:
            self._trace(now, "event", "Timer")
        self.apply(acts, now)
        return acts

    def next_deadline(self) -> float | None:
        return self.node.next_deadline()

    def feed_outbox(self) -> int:
        """Hand the core the messages `nspgw send` (or a console) committed since the last look."""
        n = 0
        for ev in self.store.accepted_after(self.node.me, self.last_seq):
            self.last_seq = max(self.last_seq, ev.msg.seq)
            self.handle(ev)
            n += 1
        return n

    def frame_in(self, link: str, data: bytes, hop: BoxAddr, snr: float | None = None,
                 rssi: int | None = None, mesh_hops: int = 0) -> None:
        self.handle(FrameIn(link, data, hop, snr, rssi, mesh_hops=mesh_hops))

    def radio_frame(self, from_node: int, data: bytes, snr: float | None = None, rssi: int | None = None,
                    mesh_hops: int = 0) -> None:
        """A frame the radio heard from Meshtastic node `from_node` after `mesh_hops` Meshtastic relays: only
        an enrolled box's radio counts."""
        entry = self._roster().by_node(from_node)
        if entry is None:
            return  # nothing to authenticate it with
        self.frame_in(RADIO, data, entry.addr, snr, rssi, mesh_hops)

    def link_state(self, link: str, up: bool, detail: str = "") -> None:
        self.handle(LinkChanged(link, up, detail))

    def radio_queued(self, request_id: int, tx_ref: object) -> None:
        """The radio took the frame of `tx_ref` as packet `request_id`: its ACK/NAK will name that id."""
        if tx_ref is None or not request_id:
            return
        self._trace(self.clock.now(), "port", "RadioQueued", request_id=request_id, tx_ref=tx_ref)
        self.tx_refs[int(request_id)] = int(tx_ref)  # type: ignore[call-overload]
        if len(self.tx_refs) > MAX_TX_REFS:
            self.tx_refs.pop(next(iter(self.tx_refs)))

    def radio_result(self, request_id: int, error_reason: str) -> None:
        """The firmware's routing answer for packet `request_id` ("NONE" = acked, else its NAK reason)."""
        tx_ref = self.tx_refs.pop(int(request_id), None)
        if tx_ref is None:
            return  # not ours, or forgotten (restart, bound): the core retries on its own timer
        ok = error_reason == FIRMWARE_OK
        if not ok:
            self.log.warning("radio meldt %s voor frame %d", error_reason, tx_ref)
        self.handle(RadioSendResult(tx_ref, ok, None if ok else error_reason))

    # ------------------------------------------------------------------------------------------ actions
    def apply(self, acts: list[Action], now: float | None = None) -> None:
        """Persist, then act: the store transaction commits before any frame leaves (core/actions.py)."""
        if not acts:
            return
        self.store.apply(acts)
        for step_fn in self.on_commit:
            step_fn(acts)
        t = self.clock.now() if now is None else now
        frame_of: int | None = None
        grew = False
        for a in acts:
            self._trace(t, "action", a)
            for fn in self.observers.get(type(a), ()):
                grew = bool(fn(a)) or grew
            if isinstance(a, StoreFrameSent):
                frame_of = a.seq
            elif isinstance(a, Transmit):
                if frame_of is not None:  # the frame just recorded for our message goes out on this link
                    self.sent_via[frame_of] = a.link
                    frame_of = None
                self.transmit(a)
        for fn in self.after_step:
            fn()
        if grew:
            self.feed_outbox()

    def transmit(self, t: Transmit) -> None:
        if t.link == RADIO:
            if self.radio is None:
                return  # no radio: the core retries and expires as for a frame lost on air
            node = BROADCAST_NODE
            if t.hop_dst is not None and t.hop_dst != BROADCAST_ADDR:
                entry = self._roster().get(t.hop_dst)
                if entry is None or entry.revoked:
                    self.log.warning("geen radio-adres voor kastje %s; frame niet verzonden", t.hop_dst)
                    return
                node = entry.node_num
            try:
                self.radio.send(node, t.data, int(t.precedence), ref=t.tx_ref, want_ack=t.want_ack, hops=t.hops)
            except NspgwError as exc:
                self.log.error("radio weigert frame: %s", exc)
        elif t.link == IP:
            if self.ip is None:
                return
            try:
                self.ip.send(int(t.hop_dst if t.hop_dst is not None else BROADCAST_ADDR), t.data,
                             int(t.precedence), ref=t.tx_ref)
            except NspgwError as exc:
                self.log.error("MQTT weigert frame: %s", exc)

    def forget_sent(self) -> None:
        """Drop `sent_via` rows of messages no longer in the core's outbox (delivered or expired)."""
        out = self.node.out
        for seq in [s for s in self.sent_via if s not in out]:
            del self.sent_via[seq]

    def _trace(self, t: float, kind: str, obj: Any, **extra: Any) -> None:
        if self.trace is not None:
            self.trace.write(t, self.me, kind, obj, **extra)
