"""The store-and-forward node: events in, actions out (sans-IO, aioquic/h11 style).

    node = Node(config, state, rng)
    actions = node.handle(event, now)      # or node.handle_timer(now) at node.next_deadline()

The driver applies the store actions of one call in one transaction, then transmits (see core/actions.py).
Outbound work (our messages, frames in our custody, control frames) lives in one precedence `Scheduler`;
inbound frames are handled by `core/inbound.py`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable
from dataclasses import dataclass, field, replace

from nspgw.core import lifecycle
from nspgw.core.actions import (
    Action,
    Notify,
    StoreCounter,
    StoreFrameSent,
    StoreOutboxState,
    StoreReplayWindow,
    StoreStatus,
    StoreTtl,
    Transmit,
)
from nspgw.core.airtime import DutyCycleLedger, meshtastic_frame_len, time_on_air_ms
from nspgw.core.config import NodeConfig, NodeState
from nspgw.core.events import IP, RADIO, Event, FrameIn, LinkState, MessageAccepted, PeerHeard, RadioSendResult
from nspgw.core.lifecycle import FINAL, MsgState
from nspgw.core.link_health import LinkHealth
from nspgw.core.router import Route, relay_for, route
from nspgw.core.scheduler import Rng, Scheduler, backoff_s
from nspgw.crypto.replay import ReplayWindow
from nspgw.crypto.roster import is_unicast
from nspgw.errors import AuthError, DecodeError
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.codec import FrameCodec
from nspgw.wire.fragment import Reassembler, fragment
from nspgw.wire.frames import NSPGW_PORTNUM, BeaconFrame, Frame, MessageFrame, MsgId, Precedence

_DUTY_BLOCK_S = 60.0
_QUICK_RETRIES = 3  # after the firmware refused for duty cycle, wait this long before trying the radio again


@dataclass
class OutMsg:
    """One of our messages in progress."""

    msg: MsgId
    dst: BoxAddr
    precedence: Precedence
    body: bytes
    deadline: float
    state: MsgState
    acked: set[int] = field(default_factory=set)  # fragments a relay holds
    pending: set[BoxAddr] | None = None  # bulletin: boxes that have not confirmed
    frags: list[MessageFrame] = field(default_factory=list)
    round: list[tuple[int, BoxAddr | None]] = field(default_factory=list)
    via: Route | None = None
    attempts: int = 0
    direct_failures: int = 0
    rechecks: int = 0

    @property
    def bulletin(self) -> bool:
        return self.dst == BROADCAST_ADDR


@dataclass
class Held:
    """A sealed frame in our custody (we are a relay)."""

    origin: BoxAddr
    counter: int
    dst: BoxAddr
    precedence: Precedence
    raw: bytes
    deadline: float
    from_hop: BoxAddr
    attempts: int = 0
    direct_failures: int = 0
    last_direct: bool = False


@dataclass
class Ctl:
    """A control frame waiting for the radio (receipt, custody ack, expiry report, request, sync, probe)."""

    frame: Frame
    precedence: Precedence
    hop: BoxAddr | None = None  # fixed next hop (one-hop frames); None = route to frame.dst
    link: str | None = None  # fixed link; None = router decides
    tries_left: int = 2


@dataclass(frozen=True, slots=True)
class _Sent:
    key: Hashable
    frag: int
    ctl: Ctl | None
    direct: bool


class Node:
    def __init__(self, config: NodeConfig, state: NodeState, rng: Rng) -> None:
        self.cfg = config
        self.me = config.me
        self.rng = rng
        self.codec = FrameCodec(config.keyring)
        self.ledger = DutyCycleLedger.for_region(config.region, config.duty_window_s)
        self.links = LinkHealth()
        self.sched = Scheduler()
        self.reasm = Reassembler()
        self.out: dict[int, OutMsg] = {}
        self.held: dict[tuple[BoxAddr, int], Held] = {}
        self.ctl: dict[int, Ctl] = {}
        self.heard: dict[BoxAddr, float] = {}
        self.windows: dict[int, ReplayWindow] = {s: ReplayWindow.from_bytes(b) for s, b in state.replay.items()}
        self.delivered: set[MsgId] = set(state.delivered)
        self.frames_sent = dict(state.frames_sent)
        self._counter = state.counter_reserved
        self._reserved = state.counter_reserved
        self._state = state
        self._started = False
        self._ctl_seq = 0
        self._tx_seq = 0
        self._tx: dict[int, _Sent] = {}
        self._naks: dict[Hashable, int] = {}
        self._radio_free_at = 0.0
        self._radio_blocked_until = 0.0
        self._budget_wait = 0.0
        self._next_beacon = 0.0
        self._next_checkpoint = 0.0
        self._dirty_windows: set[int] = set()
        self._receipts: dict[BoxAddr, tuple[set[int], Precedence, float]] = {}  # origin → seqs, prec, flush at
        self._acks: dict[tuple[BoxAddr, str], tuple[list[object], float]] = {}  # (hop, link) → refs, flush at
        self._receipt_sent: dict[MsgId, float] = {}
        self._recent: dict[bytes, None] = {}  # digests of recent raw frames (exact duplicates across links)
        self._sync_hint_at: dict[BoxAddr, float] = {}
        self._sync_from: set[BoxAddr] = set()
        self.stats: dict[str, int] = {"rejected": 0, "duplicates": 0, "delivered_in": 0}

    # ---------------------------------------------------------------------------------------------- API
    def handle(self, event: Event, now: float) -> list[Action]:
        acts: list[Action] = []
        self._start(now, acts)
        from nspgw.core import inbound

        if isinstance(event, MessageAccepted):
            self._accept(event, now, acts)
        elif isinstance(event, FrameIn):
            inbound.frame_in(self, event, now, acts)
        elif isinstance(event, RadioSendResult):
            self._send_result(event, now, acts)
        elif isinstance(event, LinkState):
            if self.links.set_state(event.link, event.up, event.detail, now):
                self._wake_all(now)
        elif isinstance(event, PeerHeard):
            self.peer_heard(event.addr, event.link, event.snr, event.rssi, now, acts)
        self._timers(now, acts)
        self._pump(now, acts)
        self._flush_windows(acts)
        return acts

    def handle_timer(self, now: float) -> list[Action]:
        acts: list[Action] = []
        self._start(now, acts)
        self._timers(now, acts)
        self._pump(now, acts)
        self._flush_windows(acts)
        return acts

    def next_deadline(self) -> float | None:
        if not self._started:
            return 0.0
        times: list[float] = [self._next_checkpoint, self._next_beacon]
        ready = self.sched.next_ready()
        if ready is not None:
            gate = max(self._radio_free_at, self._radio_blocked_until, self._budget_wait)
            times.append(ready if self.links.ip_up else max(ready, gate))
        times += [o.deadline for o in self.out.values()]
        times += [h.deadline for h in self.held.values()]
        times += [t for _, _, t in self._receipts.values()]
        times += [t for _, t in self._acks.values()]
        return min(times)

    def queued(self) -> int:
        return len(self.out) + len(self.held)

    # ------------------------------------------------------------------------------------------ startup
    def _start(self, now: float, acts: list[Action]) -> None:
        if self._started:
            return
        self._started = True
        # Counters below the reserved mark may have been on air before a crash: never reuse them.
        self._reserve(acts)
        for item in self._state.outbox:
            o = OutMsg(item.msg, item.dst, item.precedence, item.body, now + item.ttl_remaining_s,
                       MsgState.QUEUED if item.state not in (MsgState.HELD_BY_RELAY,) else item.state,
                       set(item.acked_frags), set(item.pending) if item.pending is not None else None)
            self.out[o.msg.seq] = o
            if o.state != MsgState.HELD_BY_RELAY:
                self.sched.put(("out", o.msg.seq), o.precedence, now)
            else:
                self.sched.put(("out", o.msg.seq), o.precedence, now + self.cfg.held_recheck_s)
        for c in self._state.custody:
            h = Held(c.origin, c.counter, c.dst, c.precedence, c.raw, now + c.ttl_remaining_s, c.from_hop)
            self.held[(c.origin, c.counter)] = h
            self.sched.put(("held", c.origin, c.counter), c.precedence, now)
        for f in self._state.fragments:
            with contextlib.suppress(DecodeError):  # inconsistent leftovers: the sender repeats what is missing
                self.reasm.add(f)
        self._next_beacon = now + self.rng.random() * 30.0
        self._next_checkpoint = now + self.cfg.checkpoint_interval_s

    def _reserve(self, acts: list[Action]) -> None:
        self._reserved = self._counter + self.cfg.counter_block
        acts.append(StoreCounter(self._reserved))

    def alloc_counter(self, acts: list[Action]) -> int:
        c = self._counter
        self._counter += 1
        if self._counter >= self._reserved:
            self._reserved = self._counter + self.cfg.counter_block
            acts.append(StoreCounter(self._reserved))
        return c

    def raise_counter(self, floor: int, acts: list[Action]) -> None:
        self._counter = max(self._counter, floor + 1)
        if self._counter >= self._reserved:
            self._reserved = self._counter + self.cfg.counter_block
            acts.append(StoreCounter(self._reserved))

    @property
    def counter(self) -> int:
        return self._counter

    # ----------------------------------------------------------------------------------------- accepting
    def _accept(self, ev: MessageAccepted, now: float, acts: list[Action]) -> None:
        if ev.msg.seq in self.out or ev.msg.origin != self.me:
            return  # the driver may feed a row twice (start-up load and wake-up race): idempotent
        ttl = float(ev.ttl_s if ev.ttl_s is not None else self.cfg.ttl_s[ev.precedence])
        pending = None
        if ev.dst == BROADCAST_ADDR:
            pending = {e.addr for e in self.cfg.keyring.roster.entries if e.addr != self.me and not e.revoked}
        o = OutMsg(ev.msg, ev.dst, ev.precedence, ev.body, now + ttl, MsgState.ACCEPTED, pending=pending)
        self.out[ev.msg.seq] = o
        self._move(o, "enqueue", acts)
        acts.append(StoreTtl(((ev.msg.seq, ttl),), ()))
        self.sched.put(("out", ev.msg.seq), ev.precedence, now)

    def _move(self, o: OutMsg, event: str, acts: list[Action], detail: str = "") -> None:
        new = lifecycle.advance(o.state, event)
        changed = new != o.state
        o.state = new
        if changed or event in ("custody_ack", "receipt"):
            acts.append(StoreOutboxState(o.msg.seq, new, tuple(sorted(o.acked)),
                                         tuple(sorted(o.pending)) if o.pending is not None else None, detail))
        if new in FINAL:
            self.out.pop(o.msg.seq, None)
            self.sched.remove(("out", o.msg.seq))

    def finish(self, o: OutMsg, event: str, acts: list[Action], detail: str = "") -> None:
        if o.state in FINAL:
            return
        self._move(o, event, acts, detail)
        if event == "expire":
            prec = o.precedence.name
            who = "alle posten" if o.bulletin else f"post {self._name(o.dst)}"
            text = f"Bericht {o.msg.seq} ({prec}) aan {who} is VERLOPEN zonder bevestiging: {detail}".rstrip(": ")
            acts.append(Notify("expired", text))

    def custody_acked(self, o: OutMsg, frag: int, now: float, acts: list[Action]) -> None:
        if o.state in FINAL or o.bulletin:
            return
        o.acked.add(frag)
        self._frags(o)
        if len(o.acked) >= len(o.frags) and o.state != MsgState.HELD_BY_RELAY:
            o.round.clear()
            self._move(o, "custody_ack", acts)
            o.rechecks += 1
            wait = backoff_s(o.rechecks, self.cfg.held_recheck_s, 8 * self.cfg.held_recheck_s, self.rng)
            self.sched.put(("out", o.msg.seq), o.precedence, now + wait)

    def resend_fragments(self, o: OutMsg, missing: tuple[int, ...], now: float, acts: list[Action]) -> None:
        self._frags(o)
        want = [i for i in missing if 0 <= i < len(o.frags)]
        if not want or o.state in FINAL:
            return
        if o.state == MsgState.HELD_BY_RELAY:
            self._move(o, "fragment_request", acts)
        o.acked.difference_update(want)
        o.round = [(i, None) for i in want if (i, None) not in o.round] + o.round
        o.via = None
        self.sched.put(("out", o.msg.seq), o.precedence, now)

    def _name(self, addr: int) -> str:
        e = self.cfg.keyring.roster.get(addr)
        return f"{e.name} ({addr})" if e is not None else str(addr)

    # -------------------------------------------------------------------------------------- peers/links
    def peer_heard(self, addr: BoxAddr, link: str, snr: float | None, rssi: int | None, now: float,
                   acts: list[Action]) -> None:
        from nspgw.core.actions import StorePeer

        was_fresh = self.is_fresh(addr, now)
        if link == RADIO:
            self.heard[addr] = now
        acts.append(StorePeer(addr, link, snr, rssi))
        if not was_fresh:  # push what waits for this box (or for this relay) as soon as it is heard again
            roster = self.cfg.keyring.roster
            for o in self.out.values():
                waiting = o.state == MsgState.QUEUED or (o.state == MsgState.IN_FLIGHT and not o.round)
                if waiting and (o.dst == addr or relay_for(roster, self.me, o.dst) == addr):
                    self.sched.put(("out", o.msg.seq), o.precedence, now)
            for h in self.held.values():
                if h.dst == addr:
                    self.sched.put(("held", h.origin, h.counter), h.precedence, now)

    def is_fresh(self, addr: BoxAddr, now: float) -> bool:
        t = self.heard.get(addr)
        return t is not None and now - t <= self.cfg.heard_fresh_s

    def _wake_all(self, now: float) -> None:
        for key in self.sched.job_keys():
            self.sched.put(key, self._prec_of(key), min(now, self.sched.ready_at(key) or now))

    def _prec_of(self, key: Hashable) -> Precedence:
        assert isinstance(key, tuple)
        if key[0] == "out":
            return self.out[key[1]].precedence
        if key[0] == "held":
            return self.held[(key[1], key[2])].precedence
        return self.ctl[key[1]].precedence

    # -------------------------------------------------------------------------------------------- timers
    def _timers(self, now: float, acts: list[Action]) -> None:
        for o in [o for o in self.out.values() if o.deadline <= now]:
            self.finish(o, "expire", acts, "tijd verstreken")
        from nspgw.core import inbound

        for h in [h for h in self.held.values() if h.deadline <= now]:
            inbound.custody_expired(self, h, now, acts)
        for origin, (seqs, prec, at) in list(self._receipts.items()):
            if at <= now:
                del self._receipts[origin]
                inbound.flush_receipts(self, origin, seqs, prec, now)
        for (hop, link), (refs, at) in list(self._acks.items()):
            if at <= now:
                del self._acks[(hop, link)]
                inbound.flush_acks(self, hop, link, refs, now)
        if now >= self._next_beacon:
            self._next_beacon = now + self.cfg.beacon_interval_s * (0.9 + 0.2 * self.rng.random())
            beacon = BeaconFrame(self.me, self.cfg.keyring.roster.version, min(self.queued(), 255))
            self.add_ctl(Ctl(beacon, Precedence.ROUTINE, BROADCAST_ADDR, RADIO, 1), now)
        if now >= self._next_checkpoint:
            self._next_checkpoint = now + self.cfg.checkpoint_interval_s
            self.checkpoint(now, acts)

    def checkpoint(self, now: float, acts: list[Action]) -> None:
        if self.out or self.held:
            acts.append(StoreTtl(
                tuple((s, max(o.deadline - now, 0.0)) for s, o in self.out.items()),
                tuple((h.origin, h.counter, max(h.deadline - now, 0.0)) for h in self.held.values())))
        acts.append(StoreStatus("core", {
            "outbox": len(self.out), "custody": len(self.held), "links": self.links.snapshot(),
            "airtime_used_ms": round(self.ledger.used_ms(now)), "airtime_limit_ms": round(self.ledger.limit_ms),
            **self.stats}))

    def queue_receipt(self, origin: BoxAddr, seq: int, prec: Precedence, now: float) -> None:
        seqs, p, at = self._receipts.get(origin, (set(), prec, now + self._batch_delay(prec)))
        seqs.add(seq)
        p = min(p, prec)
        self._receipts[origin] = (seqs, p, min(at, now + self._batch_delay(p)))

    def queue_ack(self, hop: BoxAddr, link: str, ref: object, now: float, prec: Precedence) -> None:
        refs, at = self._acks.get((hop, link), ([], now + self._batch_delay(prec)))
        if ref not in refs:
            refs.append(ref)
        self._acks[(hop, link)] = (refs, min(at, now + self._batch_delay(prec)))

    def _batch_delay(self, prec: Precedence) -> float:
        return self.cfg.receipt_delay_s / (4.0 if prec == Precedence.FLASH else 1.0)

    def add_ctl(self, c: Ctl, now: float, delay: float = 0.0) -> None:
        self._ctl_seq += 1
        self.ctl[self._ctl_seq] = c
        self.sched.put(("ctl", self._ctl_seq), c.precedence, now + delay)

    def window(self, sender: int) -> ReplayWindow:
        w = self.windows.get(sender)
        if w is None:
            w = self.windows[sender] = ReplayWindow()
        return w

    def touch_window(self, sender: int) -> None:
        self._dirty_windows.add(sender)

    def _flush_windows(self, acts: list[Action]) -> None:
        for s in sorted(self._dirty_windows):
            acts.append(StoreReplayWindow(BoxAddr(s), self.windows[s].to_bytes()))
        self._dirty_windows.clear()

    # ------------------------------------------------------------------------------------------ sending
    def _frags(self, o: OutMsg) -> list[MessageFrame]:
        if not o.frags:
            whole = MessageFrame(self.me, o.dst, o.msg, o.precedence, 0, o.body)
            if o.bulletin:
                whole = self.codec.sign_bulletin(whole)
                o.frags = fragment(whole, self.codec.max_body(broadcast=True))
            else:
                # Custody-sized fragments: a relay adds a hop extension without re-fragmenting. The codec's
                # limits already follow the firmware's real size check (Router::perhapsEncode).
                o.frags = fragment(whole, self.codec.max_body(custody=True))
        return o.frags

    def _plan(self, key: Hashable, now: float) -> Route | None:
        assert isinstance(key, tuple)
        kind = key[0]
        ip = self.links.ip_up
        if kind == "out":
            o = self.out[key[1]]
            if o.round and o.via is not None:
                return o.via
            if o.bulletin:
                return Route(IP if ip else RADIO, BROADCAST_ADDR, False)
            return route(self.cfg.keyring.roster, self.me, o.dst, heard_fresh=self.is_fresh(o.dst, now), ip_up=ip,
                         direct_failures=o.direct_failures, direct_limit=self.cfg.direct_attempts_before_relay)
        if kind == "held":
            h = self.held[(key[1], key[2])]
            return route(self.cfg.keyring.roster, self.me, h.dst, heard_fresh=self.is_fresh(h.dst, now), ip_up=ip,
                         direct_failures=h.direct_failures, direct_limit=self.cfg.direct_attempts_before_relay,
                         holding=True, exclude=h.from_hop)
        c = self.ctl[key[1]]
        if c.hop is not None:
            return Route(c.link or (IP if ip else RADIO), c.hop, False)
        dst = getattr(c.frame, "dst", BROADCAST_ADDR)
        r = route(self.cfg.keyring.roster, self.me, dst, heard_fresh=self.is_fresh(dst, now), ip_up=ip,
                  direct_failures=0, direct_limit=1)
        return r

    @staticmethod
    def airtime_ms(data_len: int, preset: str) -> float:
        return time_on_air_ms(meshtastic_frame_len(data_len, NSPGW_PORTNUM), preset)

    def _estimate_len(self, key: Hashable) -> int:
        assert isinstance(key, tuple)
        if key[0] == "out":
            o = self.out[key[1]]
            frags = self._frags(o)
            i = o.round[0][0] if o.round else len(frags) - 1
            return len(frags[i].body) + len(frags[i].signature) + 26
        if key[0] == "held":
            return len(self.held[(key[1], key[2])].raw) + 4
        return 40

    def _pump(self, now: float, acts: list[Action]) -> None:
        self._budget_wait = 0.0
        for _ in range(10_000):
            blocked: list[float] = []

            def fits(key: Hashable, prec: Precedence, blocked: list[float] = blocked) -> bool:
                r = self._plan(key, now)
                if r is None:  # a custodian holds until the destination is heard (or a slow re-probe)
                    self.sched.put(key, prec, now + self.cfg.max_backoff_s)
                    return False
                if r.link == IP:
                    return True
                if now < self._radio_free_at or now < self._radio_blocked_until:
                    return False
                est = self.airtime_ms(self._estimate_len(key), self.cfg.preset)
                reserve = self.ledger.limit_ms * self.cfg.reserve_fraction if prec == Precedence.ROUTINE else 0.0
                if self.ledger.can_send(now, est, reserve):
                    return True
                blocked.append(self.ledger.next_time_available(now, est, reserve))
                return False

            key = self.sched.pick(now, fits)
            if key is None:
                if blocked:
                    self._budget_wait = min(blocked)
                return
            self._serve(key, now, acts)

    def _transmit(self, link: str, hop: BoxAddr | None, data: bytes, prec: Precedence, sent: _Sent | None,
                  now: float, acts: list[Action]) -> None:
        self._tx_seq += 1
        airtime = 0.0
        if link == RADIO:
            airtime = self.airtime_ms(len(data), self.cfg.preset)
            self.ledger.record(now, airtime)
            self._radio_free_at = now + airtime / 1000.0 + self.cfg.radio_margin_s
            if sent is not None:
                self._tx[self._tx_seq] = sent
                if len(self._tx) > 2000:  # results that never came (adapter restarted): forget the oldest
                    self._tx.pop(next(iter(self._tx)))
        acts.append(Transmit(link, hop, data, prec, self._tx_seq, airtime))

    def _also_radio(self, prec: Precedence, data: bytes, hop: BoxAddr | None, now: float, acts: list[Action]) -> None:
        """FLASH goes on both links: the receiver deduplicates by message id."""
        if prec != Precedence.FLASH or now < self._radio_free_at or now < self._radio_blocked_until:
            return
        if self.ledger.can_send(now, self.airtime_ms(len(data), self.cfg.preset)):
            self._transmit(RADIO, hop, data, prec, None, now, acts)

    def _serve(self, key: Hashable, now: float, acts: list[Action]) -> None:
        """Serve one job. A frame that cannot be sealed any more (destination or relay revoked or removed
        from the roster since the message was accepted, oversized content) ends that job with a report;
        it never takes the node down."""
        assert isinstance(key, tuple)
        try:
            self._serve_job(key, now, acts)
        except (AuthError, ValueError) as exc:
            self.sched.remove(key)
            self.stats["unsendable"] = self.stats.get("unsendable", 0) + 1
            if key[0] == "out" and key[1] in self.out:
                self.finish(self.out[key[1]], "expire", acts, f"kan niet worden verzonden ({exc})")
            elif key[0] == "held" and (key[1], key[2]) in self.held:
                from nspgw.core import inbound

                inbound.custody_expired(self, self.held[(key[1], key[2])], now, acts)
            else:
                self.ctl.pop(key[1], None)

    def _serve_job(self, key: tuple[object, ...], now: float, acts: list[Action]) -> None:
        r = self._plan(key, now)
        assert r is not None
        if key[0] == "out":
            self._serve_out(self.out[key[1]], r, now, acts)  # type: ignore[index]
        elif key[0] == "held":
            self._serve_held(self.held[(key[1], key[2])], r, now, acts)  # type: ignore[index]
        else:
            c = self.ctl.pop(key[1])  # type: ignore[call-overload]
            self.sched.remove(key)
            hop = None if r.hop == BROADCAST_ADDR else r.hop
            ttl = self.cfg.ttl_s[c.precedence] if r.custody else None
            data = self.codec.encode(c.frame, self.alloc_counter(acts), custody_to=r.hop if r.custody else None,
                                     ttl_s=ttl)
            self._transmit(r.link, hop, data, c.precedence, _Sent(key, 0, c, not r.custody), now, acts)

    def _serve_out(self, o: OutMsg, r: Route, now: float, acts: list[Action]) -> None:
        key = ("out", o.msg.seq)
        frags = self._frags(o)
        if not o.round:  # a new round
            recheck = o.state == MsgState.HELD_BY_RELAY
            if recheck:
                self._move(o, "recheck", acts)
                o.acked.clear()
                o.attempts = max(o.attempts, 1)
            if o.state == MsgState.IN_FLIGHT:
                if o.via is not None and not o.via.custody:
                    o.direct_failures += 1
                self._move(o, "retry", acts)
                r_new = self._plan(key, now)
                if r_new is None:
                    return
                r = r_new
            if o.bulletin and o.attempts > 0:
                assert o.pending is not None
                o.round = [(i, b) for b in sorted(o.pending) for i in range(len(frags))]
            elif (recheck or (o.attempts > 0 and not r.custody)) and len(frags) > 1:
                o.round = [(len(frags) - 1, None)]  # the last fragment makes the reader ask for what it lacks
            else:
                o.round = [(i, None) for i in range(len(frags)) if i not in o.acked]
            if not o.round:
                self.sched.remove(key)
                return
            o.via = r
        via = o.via or r
        i, box = o.round.pop(0)
        remaining = max(int(o.deadline - now), 1)
        frame = replace(frags[i], ttl_s=remaining)
        counter = self.alloc_counter(acts)
        acts.append(StoreFrameSent(counter, o.msg.seq, i))
        self.frames_sent[counter] = (o.msg.seq, i)
        if box is not None:  # bulletin repeated to one box that did not confirm
            link = IP if self.links.ip_up else RADIO
            data = self.codec.encode(frame, counter)
            self._transmit(link, box, data, o.precedence, _Sent(key, i, None, True), now, acts)
        else:
            custody_to = via.hop if via.custody else None
            data = self.codec.encode(frame, counter, custody_to=custody_to, ttl_s=remaining if custody_to else None)
            hop = None if via.hop == BROADCAST_ADDR else via.hop
            self._transmit(via.link, hop, data, o.precedence, _Sent(key, i, None, not via.custody), now, acts)
            if via.link == IP:
                self._also_radio(o.precedence, data, hop, now, acts)
        if o.state != MsgState.IN_FLIGHT:
            self._move(o, "transmit", acts)
        if o.round:
            self.sched.put(key, o.precedence, now)
        else:
            o.attempts += 1
            wait = backoff_s(o.attempts, self.cfg.ack_timeout_s, self.cfg.max_backoff_s, self.rng)
            self.sched.put(key, o.precedence, now + wait)
            o.via = via  # remembered to count a direct failure at the next round

    def _serve_held(self, h: Held, r: Route, now: float, acts: list[Action]) -> None:
        key = ("held", h.origin, h.counter)
        if h.attempts > 0 and h.last_direct:
            h.direct_failures += 1
            r_new = self._plan(key, now)
            if r_new is None:
                return
            r = r_new
        remaining = max(int(h.deadline - now), 1)
        data = self.codec.forward(h.raw, custody_to=r.hop, ttl_s=remaining)
        h.attempts += 1
        h.last_direct = not r.custody
        self._transmit(r.link, r.hop, data, h.precedence, _Sent(key, 0, None, not r.custody), now, acts)
        if r.link == IP:
            self._also_radio(h.precedence, data, r.hop, now, acts)
        wait = backoff_s(h.attempts, self.cfg.ack_timeout_s, self.cfg.max_backoff_s, self.rng)
        self.sched.put(key, h.precedence, now + wait)

    # ------------------------------------------------------------------------------------ send results
    def _send_result(self, ev: RadioSendResult, now: float, acts: list[Action]) -> None:
        sent = self._tx.pop(ev.tx_ref, None)
        self._radio_free_at = min(self._radio_free_at, now)
        if sent is None:
            return
        if ev.ok:
            self._naks.pop(sent.key, None)
            return
        # The next hop did not acknowledge even after the firmware's own retransmissions. Try again soon a
        # few times (a box that just came back is often still busy), then fall back to the normal backoff.
        if len(self._naks) > 1000:
            self._naks.clear()
        naks = self._naks[sent.key] = self._naks.get(sent.key, 0) + 1
        soon = now + backoff_s(naks, 10.0, self.cfg.max_backoff_s, self.rng) if naks <= _QUICK_RETRIES else None
        if ev.error_reason == "DUTY_CYCLE_LIMIT":
            # The firmware's own ledger disagrees with ours (other traffic, a reboot): back off the radio.
            self._radio_blocked_until = now + _DUTY_BLOCK_S
        key = sent.key
        assert isinstance(key, tuple)
        if sent.ctl is not None:
            if sent.ctl.tries_left > 1:
                self.add_ctl(replace(sent.ctl, tries_left=sent.ctl.tries_left - 1), now,
                             backoff_s(1, self.cfg.receipt_delay_s * 4, self.cfg.max_backoff_s, self.rng))
            return
        if key[0] == "out" and key[1] in self.out:
            o = self.out[key[1]]
            if o.state not in (MsgState.IN_FLIGHT, MsgState.QUEUED):
                return
            if ev.error_reason == "DUTY_CYCLE_LIMIT":
                o.round.insert(0, (sent.frag, None))
                self.sched.put(key, o.precedence, now)
            elif not o.round and soon is not None:
                self.sched.put(key, o.precedence, min(soon, self.sched.ready_at(key) or soon))
        elif key[0] == "held" and (key[1], key[2]) in self.held and soon is not None:
            h = self.held[(key[1], key[2])]
            self.sched.put(key, h.precedence, min(soon, self.sched.ready_at(key) or soon))


def is_box(addr: int) -> bool:
    return is_unicast(addr)
