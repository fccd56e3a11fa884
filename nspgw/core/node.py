"""The store-and-forward node: events in, actions out (sans-IO, aioquic/h11 style).

    node = Node(config, state, rng)
    actions = node.handle(event, now)      # or node.handle_timer(now) at node.next_deadline()

The driver applies the store actions of one call in one transaction, then transmits (see core/actions.py).
Outbound work (our messages, frames in our custody, control frames) lives in one precedence `Scheduler`;
inbound frames are handled by `core/inbound.py`.
"""

from __future__ import annotations

import contextlib
import math
from types import MappingProxyType

from nspgw.core import bulletins, inbound, lifecycle, outbound
from nspgw.core.actions import (
    Action,
    Detail,
    DetailKind,
    DropFragments,
    Notice,
    NoticeKind,
    StoreCounter,
    StoreOutboxState,
    StoreReceipt,
    StoreReplayWindow,
    StoreStatus,
    StoreTtl,
)
from nspgw.core.airtime import DutyCycleLedger
from nspgw.core.bulletin_state import BulletinRelay
from nspgw.core.config import NodeConfig, NodeState
from nspgw.core.events import (
    RADIO,
    BroadcastRoster,
    Command,
    Event,
    FrameIn,
    LinkChanged,
    MessageAccepted,
    NetworkKeysChanged,
    PeerHeard,
    PeerPresence,
    ProbeRequested,
    RadioSendResult,
    RosterChanged,
)
from nspgw.core.history import FrameHistory
from nspgw.core.lifecycle import FINAL, MsgEvent, MsgState
from nspgw.core.link_health import LinkHealth
from nspgw.core.netwindow import NetWindows
from nspgw.core.peer_links import PeerLinks
from nspgw.core.resync import ResyncState
from nspgw.core.router import relay_for
from nspgw.core.scheduler import Rng, Scheduler, backoff_s
from nspgw.core.snapshot import NodeSnapshot
from nspgw.core.work import Ctl, CtlKey, Held, HeldKey, JobKey, OutKey, OutMsg
from nspgw.crypto.replay import ReplayWindow
from nspgw.errors import DecodeError
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.codec import FrameCodec
from nspgw.wire.fragment import Reassembler
from nspgw.wire.frames import BeaconFrame, MsgId, NetworkKeyFrame, Precedence, ProbeFrame, RosterUpdateFrame

BEACONS_SKIPPED_MAX = 2  # beacons left out in a row while our CP answers us (Node._beacon_due)
_EXPIRED_KEPT = 1024  # recently expired messages a late receipt is still accepted for

__all__ = ["Ctl", "Held", "Node", "OutMsg"]


class Node:
    def __init__(self, config: NodeConfig, state: NodeState, rng: Rng) -> None:
        self.cfg = config
        self.me = config.me
        self.rng = rng
        self.codec = FrameCodec(config.keyring)
        self.ledger = DutyCycleLedger.for_region(config.region, config.duty_window_s)
        self.links = LinkHealth()
        self.peers = PeerLinks()
        # Ready jobs the last `pump` could not serve → the earliest time their link lets them go (radio busy,
        # blocked, out of duty-cycle budget). `next_deadline` waits for these, never for a job's ready time.
        self.gates: dict[JobKey, float] = {}
        self.pumped_at = 0.0
        self.sched: Scheduler[JobKey] = Scheduler()
        self.reasm = Reassembler()
        self.out: dict[int, OutMsg] = {}
        self.held: dict[tuple[BoxAddr, int], Held] = {}
        self.ctl: dict[int, Ctl] = {}
        # Control frames handed to a relay with custody (receipts, expiry reports on their way back): frame
        # counter → (hop, ctl job that sends it again unless that hop acknowledges custody first).
        self.ctl_custody: dict[int, tuple[BoxAddr, int]] = {}
        self.heard: dict[BoxAddr, float] = {}
        self.mesh_hops: dict[BoxAddr, int] = {}  # Meshtastic relays between us when last heard by radio
        self.windows: dict[int, ReplayWindow] = {s: ReplayWindow.from_bytes(b) for s, b in state.replay.items()}
        self.delivered: set[MsgId] = set(state.delivered)
        self.digests: dict[MsgId, bytes] = dict(state.body_digests)
        self.frag_digests: dict[MsgId, tuple[int, tuple[bytes, ...]]] = {}  # fragment count, digest each
        self.frames_sent = dict(state.frames_sent)
        self.expired: dict[int, BoxAddr] = dict(state.expired)  # seq → destination, for a late receipt
        self.frame_hops: dict[int, BoxAddr] = dict(state.frame_hops)
        self.history = FrameHistory(state.frame_digests, state.custody_windows)
        self.net_windows = NetWindows()  # network-key frames: never the pair-key windows above
        self.frag_requests: dict[tuple[BoxAddr, int], float] = {}  # (requester, seq) → last honoured at
        self.bulletin_partials: dict[MsgId, float] = {}  # bulletin partial → first fragment at (expiry)
        self.bulletins = BulletinRelay()  # a CP: bulletins it carries for its NSPs (core/bulletins.py)
        self.clone_alerted: set[BoxAddr] = set()  # boxes seen sending two frames under one counter
        self.roster_warned = config.keyring.roster.version  # highest roster version a beacon told us about
        self._counter = state.counter_reserved
        self._reserved = state.counter_reserved
        self._state = state
        self._started = False
        self._ctl_seq = 0
        self.radio = outbound.RadioTx()  # tx references, radio busy/blocked times, NAK counts
        self._next_beacon = 0.0
        self._beacons_skipped = 0
        self.answered_at: dict[BoxAddr, float] = {}  # box → when its receipt or custody ack came straight by radio
        self._next_checkpoint = 0.0
        self._dirty_windows: set[int] = set()
        self._receipts: dict[BoxAddr, tuple[set[int], Precedence, float]] = {}  # origin → seqs, prec, flush at
        self._acks: dict[tuple[BoxAddr, str], tuple[list[object], float]] = {}  # (hop, link) → refs, flush at
        self.memory = inbound.InboundMemory()  # recent raw frames, receipts last sent
        self.resync = ResyncState()  # sync hints sent, clone warnings, this boot's counter/seq jumps
        self.conflicts: set[MsgId] = set()
        self.stats: dict[str, int] = {"rejected": 0, "duplicates": 0, "delivered_in": 0}

    # ---------------------------------------------------------------------------------------------- API
    def handle(self, event: Event, now: float) -> list[Action]:
        acts: list[Action] = []
        self._start(now, acts)
        if isinstance(event, MessageAccepted):
            self._accept(event, now, acts)
        elif isinstance(event, FrameIn):
            inbound.frame_in(self, event, now, acts)
        elif isinstance(event, RadioSendResult):
            outbound.send_result(self, event, now, acts)
        elif isinstance(event, LinkChanged):
            if self.links.set_state(event.link, event.up, event.detail, now):
                self._wake_all(now)
        elif isinstance(event, PeerHeard):
            self.peer_heard(event.addr, event.link, event.snr, event.rssi, now, acts)
        elif isinstance(event, PeerPresence):
            self.peer_presence(event.addr, event.online, now)
        elif isinstance(event, Command):
            self._command(event, now)
        self._timers(now, acts)
        outbound.pump(self, now, acts)
        self._flush_windows(acts)
        return acts

    def _command(self, ev: Command, now: float) -> None:
        """Operator commands and key material the driver persisted: the key ring changes only here."""
        if isinstance(ev, ProbeRequested):
            self.add_ctl(Ctl(ProbeFrame(self.me, ev.dst, ev.nonce), Precedence.PRIORITY), now)
        elif isinstance(ev, RosterChanged):
            self.cfg.keyring.set_roster(ev.roster)
        elif isinstance(ev, NetworkKeysChanged):
            self.cfg.keyring.set_network_keys(ev.keys)
        elif isinstance(ev, BroadcastRoster):
            for delay in ev.repeats:
                self.add_ctl(Ctl(RosterUpdateFrame(self.me, ev.blob), Precedence.FLASH, BROADCAST_ADDR,
                                 tries_left=1), now, delay)
        else:
            for addr in ev.boxes:  # sealed under each pair key: a revoked box has none any more
                for delay in ev.repeats:
                    self.add_ctl(Ctl(NetworkKeyFrame(self.me, addr, ev.key), Precedence.FLASH, tries_left=3),
                                 now, delay)

    def handle_timer(self, now: float) -> list[Action]:
        acts: list[Action] = []
        self._start(now, acts)
        self._timers(now, acts)
        outbound.pump(self, now, acts)
        self._flush_windows(acts)
        return acts

    def next_deadline(self) -> float | None:
        if not self._started:
            return 0.0
        times: list[float] = [self._next_checkpoint, self._next_beacon]
        # Per job, the link it can really use: a job the last pump found ready but could not serve waits for
        # its gate (radio free, unblocked, budget), a job ready later for its ready time. Every job that is
        # ready now was looked at by that pump (it is the last step of every call), so no deadline stays in
        # the past: a driver never spins on work it cannot do.
        gates = self.gates
        for key, ready in self.sched.items():
            times.append(max(ready, gates[key]) if ready <= self.pumped_at and key in gates else ready)
        times += [o.deadline for o in self.out.values()]
        times += [h.deadline for h in self.held.values()]
        times += [t for _, _, t in self._receipts.values()]
        times += [t for _, t in self._acks.values()]
        relay_due = self.bulletins.next_due()
        if relay_due is not None:
            times.append(relay_due)
        return min(t for t in times if t != math.inf) if any(t != math.inf for t in times) else None

    def ip_reaches(self, addr: BoxAddr, now: float) -> bool:
        """IP is up here and the broker did not say that `addr` left it."""
        return self.links.ip_up and self.peers.ip_reaches(addr)

    def ip_confirmed(self, addr: BoxAddr) -> bool:
        """IP is up here and the broker says `addr` is on it: a relay may be handed frames over IP."""
        return self.links.ip_up and self.peers.ip_confirmed(addr)

    def queued(self) -> int:
        return len(self.out) + len(self.held)

    def snapshot(self, now: float) -> NodeSnapshot:
        """A read-only view for status, drills and diagnostics (outside the core, read this, not the tables)."""
        queue = dict.fromkeys(Precedence, 0)
        for o in self.out.values():
            queue[o.precedence] += 1
        return NodeSnapshot(
            me=self.me, outbox=frozenset(self.out), queue=MappingProxyType(queue), custody=len(self.held),
            links=MappingProxyType(self.links.snapshot()), peer_links=MappingProxyType(self.peers.snapshot(now)),
            airtime_used_ms=self.ledger.used_ms(now), airtime_limit_ms=self.ledger.limit_ms,
            jobs=len(self.sched), waiting_on_radio=len(self.gates), deadline=self.next_deadline(),
            stats=MappingProxyType(dict(self.stats)), backlog=outbound.estimate(self, now))

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
            o.counters = [c for c, (seq, _) in self.frames_sent.items() if seq == o.msg.seq]
            if o.bulletin and o.pending is None:  # accepted while the daemon was down: never started
                o.pending = self.bulletin_addressees()
                acts.append(StoreOutboxState(o.msg.seq, o.state, tuple(sorted(o.acked)), tuple(sorted(o.pending))))
            if o.state != MsgState.HELD_BY_RELAY:
                self.sched.put(OutKey(o.msg.seq), o.precedence, now)
            else:
                self.sched.put(OutKey(o.msg.seq), o.precedence, now + self.cfg.held_recheck_s)
        for c in self._state.custody:
            h = Held(c.origin, c.counter, c.dst, c.precedence, c.raw, now + c.ttl_remaining_s, c.from_hop)
            self.held[(c.origin, c.counter)] = h
            self.sched.put(HeldKey(c.origin, c.counter), c.precedence, now)
        for f in self._state.fragments:
            with contextlib.suppress(DecodeError):  # inconsistent leftovers: the sender repeats what is missing
                self.reasm.add(f)
        acts.extend(DropFragments(m) for m in self.reasm.take_evicted())  # over the caps: gone from disk too
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
        pending = self.bulletin_addressees() if ev.dst == BROADCAST_ADDR else None
        o = OutMsg(ev.msg, ev.dst, ev.precedence, ev.body, now + ttl, MsgState.ACCEPTED, pending=pending)
        self.out[ev.msg.seq] = o
        self.move(o, MsgEvent.ENQUEUE, acts)
        acts.append(StoreTtl(((ev.msg.seq, ttl),), ()))
        self.sched.put(OutKey(ev.msg.seq), ev.precedence, now)

    def bulletin_addressees(self) -> set[BoxAddr]:
        """Every box a bulletin must reach (each confirms for itself): the roster minus us and revoked boxes."""
        return {e.addr for e in self.cfg.keyring.roster.entries if e.addr != self.me and not e.revoked}

    def move(self, o: OutMsg, event: MsgEvent, acts: list[Action], detail: Detail | str = "") -> None:
        new = lifecycle.advance(o.state, event)
        changed = new != o.state
        o.state = new
        if changed or event in (MsgEvent.CUSTODY_ACK, MsgEvent.RECEIPT):
            acts.append(StoreOutboxState(o.msg.seq, new, tuple(sorted(o.acked)),
                                         tuple(sorted(o.pending)) if o.pending is not None else None, detail))
        if new in FINAL:
            self.out.pop(o.msg.seq, None)
            self.sched.remove(OutKey(o.msg.seq))
            for c in o.counters:  # the store drops its rows too (StoreOutboxState to a final state)
                self.frames_sent.pop(c, None)
                self.frame_hops.pop(c, None)
            o.counters.clear()

    def finish(self, o: OutMsg, event: MsgEvent, acts: list[Action], detail: Detail | None = None) -> None:
        if o.state in FINAL:
            return
        self.move(o, event, acts, detail or "")
        if event == MsgEvent.EXPIRE:
            self.expired[o.msg.seq] = o.dst
            if len(self.expired) > _EXPIRED_KEPT:
                self.expired.pop(min(self.expired))
            to = "" if o.bulletin else self.name_of(o.dst)  # "": every box (a bulletin)
            why: dict[str, str | int] = {} if detail is None else {"reason": detail.kind.value, **detail.params}
            acts.append(Notice(NoticeKind.EXPIRED, {"seq": o.msg.seq, "prec": o.precedence.name, "to": to, **why}))

    def late_receipt(self, seq: int, by: BoxAddr, acts: list[Action]) -> None:
        """A receipt for a message we already reported expired: it did arrive after all (a custodian that was
        switched off delivered it later). Record it and tell the operator, who may otherwise send it again."""
        dst = self.expired.get(seq)
        if dst is None:
            return
        if dst == BROADCAST_ADDR:  # a bulletin stays expired (not every box confirmed); note who did
            acts.append(StoreReceipt(seq, by))
            return
        if by != dst:
            self.stats["rejected"] += 1
            return
        del self.expired[seq]
        acts.append(StoreReceipt(seq, by))
        state = lifecycle.advance(MsgState.EXPIRED, MsgEvent.LATE_RECEIPT)
        acts.append(StoreOutboxState(seq, state, (), None, Detail(DetailKind.DELIVERED_LATE)))
        acts.append(Notice(NoticeKind.DELIVERED_LATE, {"seq": seq, "to": self.name_of(dst)}))

    def custody_acked(self, o: OutMsg, frag: int, now: float, acts: list[Action]) -> None:
        if o.state in FINAL or o.bulletin:
            return
        o.acked.add(frag)
        outbound.fragments_of(self, o)
        if len(o.acked) >= len(o.frags) and o.state != MsgState.HELD_BY_RELAY:
            o.round.clear()
            self.move(o, MsgEvent.CUSTODY_ACK, acts)
            o.rechecks += 1
            wait = backoff_s(o.rechecks, self.cfg.held_recheck_s, 8 * self.cfg.held_recheck_s, self.rng)
            self.sched.put(OutKey(o.msg.seq), o.precedence, now + wait)

    def resend_fragments(self, o: OutMsg, missing: tuple[int, ...], now: float, acts: list[Action]) -> None:
        outbound.fragments_of(self, o)
        want = [i for i in missing if 0 <= i < len(o.frags)]
        if not want or o.state in FINAL:
            return
        if o.state == MsgState.HELD_BY_RELAY:
            self.move(o, MsgEvent.FRAGMENT_REQUEST, acts)
        o.acked.difference_update(want)
        o.round = [(i, None) for i in want if (i, None) not in o.round] + o.round
        o.via = None
        self.sched.put(OutKey(o.msg.seq), o.precedence, now)

    def name_of(self, addr: int) -> str:
        e = self.cfg.keyring.roster.get(addr)
        return f"{e.name} ({addr})" if e is not None else str(addr)

    # -------------------------------------------------------------------------------------- peers/links
    def peer_heard(self, addr: BoxAddr, link: str, snr: float | None, rssi: int | None, now: float,
                   acts: list[Action], mesh_hops: int = 0) -> None:
        from nspgw.core.actions import StorePeer

        was_fresh = self.is_fresh(addr, now)
        was_ip = self.peers.ip_reaches(addr)
        if link == RADIO:
            self.heard[addr] = now
            self.mesh_hops[addr] = mesh_hops
        self.peers.heard(addr, link, now)
        if not was_ip and self.peers.ip_reaches(addr):
            self._wake_for(addr, now)
        acts.append(StorePeer(addr, link, snr, rssi))
        if not was_fresh:  # push what waits for this box (or for this relay) as soon as it is heard again
            self._wake_for(addr, now)

    def peer_presence(self, addr: BoxAddr, online: bool, now: float) -> None:
        """The broker says `addr` joined or left. Left: what waits for its receipt over IP is tried again at
        once (the next round counts the IP round as failed and takes the radio), not after the receipt
        timeout. Joined: what waits for it goes again, now over IP."""
        if addr != self.me and self.peers.presence(addr, online, now):
            self._wake_for(addr, now)

    def _wake_for(self, addr: BoxAddr, now: float) -> None:
        roster = self.cfg.keyring.roster
        for o in self.out.values():
            waiting = o.state == MsgState.QUEUED or (o.state == MsgState.IN_FLIGHT and not o.round)
            if waiting and (o.dst == addr or relay_for(roster, self.me, o.dst) == addr):
                self.sched.put(OutKey(o.msg.seq), o.precedence, now)
        for h in self.held.values():
            if h.dst == addr:
                self.sched.put(HeldKey(h.origin, h.counter), h.precedence, now)

    def is_fresh(self, addr: BoxAddr, now: float) -> bool:
        t = self.heard.get(addr)
        return t is not None and now - t <= self.cfg.heard_fresh_s

    def _wake_all(self, now: float) -> None:
        for key in self.sched.job_keys():
            self.sched.put(key, self._prec_of(key), min(now, self.sched.ready_at(key) or now))

    def _prec_of(self, key: JobKey) -> Precedence:
        if isinstance(key, OutKey):
            return self.out[key.seq].precedence
        if isinstance(key, HeldKey):
            return self.held[(key.origin, key.counter)].precedence
        return self.ctl[key.job].precedence

    # -------------------------------------------------------------------------------------------- timers
    def _timers(self, now: float, acts: list[Action]) -> None:
        for o in [o for o in self.out.values() if o.deadline <= now]:
            self.finish(o, MsgEvent.EXPIRE, acts, Detail(DetailKind.TTL))
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
        bulletins.timers(self, now)
        if now >= self._next_beacon:
            self._next_beacon = now + self.cfg.beacon_interval_s * (0.9 + 0.2 * self.rng.random())
            if self._beacon_due(now):
                beacon = BeaconFrame(self.me, self.cfg.keyring.roster.version, min(self.queued(), 255))
                for n in [n for n, c in self.ctl.items() if isinstance(c.frame, BeaconFrame)]:
                    del self.ctl[n]  # one that never went out (radio down, budget) is stale: replace it
                    self.sched.remove(CtlKey(n))
                self.add_ctl(Ctl(beacon, Precedence.ROUTINE, BROADCAST_ADDR, RADIO, 1), now)
        if now >= self._next_checkpoint:
            self._next_checkpoint = now + self.cfg.checkpoint_interval_s
            self.checkpoint(now, acts)

    def _beacon_due(self, now: float) -> bool:
        """Whether this interval's beacon goes. Not when our roster parent (our CP) answered one of our frames
        by radio, straight, within the interval: it hears us and we hear it, which is all a beacon would tell
        it (an NSP sends its CP a sitrep every hour and gets a receipt: its hourly beacon was a fifth of a
        quiet region's frames). At most `BEACONS_SKIPPED_MAX` in a row are left out, so the other boxes in
        reach (a GCT that hears the post straight, the roster version that a beacon carries) still hear one
        every few hours."""
        e = self.cfg.keyring.roster.get(self.me)
        parent = e.parent if e is not None and e.parent not in (None, self.me) else None
        t = self.answered_at.get(parent) if parent is not None else None
        if t is not None and now - t <= self.cfg.beacon_interval_s and self._beacons_skipped < BEACONS_SKIPPED_MAX:
            self._beacons_skipped += 1
            return False
        self._beacons_skipped = 0
        return True

    def checkpoint(self, now: float, acts: list[Action]) -> None:
        if self.out or self.held:
            acts.append(StoreTtl(
                tuple((s, max(o.deadline - now, 0.0)) for s, o in self.out.items()),
                tuple((h.origin, h.counter, max(h.deadline - now, 0.0)) for h in self.held.values())))
        acts.append(StoreStatus("core", {
            "outbox": len(self.out), "custody": len(self.held), "links": self.links.snapshot(),
            "peer_links": self.peers.snapshot(now),
            "airtime_used_ms": round(self.ledger.used_ms(now)), "airtime_limit_ms": round(self.ledger.limit_ms),
            **self.stats}))

    def queue_receipt(self, origin: BoxAddr, seq: int, prec: Precedence, now: float) -> None:
        seqs, p, at = self._receipts.get(origin, (set(), prec, now + self.batch_delay(prec)))
        seqs.add(seq)
        p = min(p, prec)
        self._receipts[origin] = (seqs, p, min(at, now + self.batch_delay(p)))

    def queue_ack(self, hop: BoxAddr, link: str, ref: object, now: float, prec: Precedence) -> None:
        refs, at = self._acks.get((hop, link), ([], now + self.batch_delay(prec)))
        if ref not in refs:
            refs.append(ref)
        self._acks[(hop, link)] = (refs, min(at, now + self.batch_delay(prec)))

    def batch_delay(self, prec: Precedence) -> float:
        return self.cfg.receipt_delay_s / (4.0 if prec == Precedence.FLASH else 1.0)

    def add_ctl(self, c: Ctl, now: float, delay: float = 0.0) -> int:
        """Queue a control frame; returns its job number (the scheduler key is CtlKey(number))."""
        self._ctl_seq += 1
        self.ctl[self._ctl_seq] = c
        self.sched.put(CtlKey(self._ctl_seq), c.precedence, now + delay)
        return self._ctl_seq

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
        acts.extend(self.history.flush())

