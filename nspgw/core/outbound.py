"""Outbound: choosing the next job for the radio or IP link, sealing it, booking airtime, send results.

Functions over the node, seen as a `NodeContext` (core/context.py), like `core/inbound.py`. One frame at a
time goes to the radio (`pump`); the scheduler picks by precedence, `plan` routes each job, the duty-cycle
ledger gates radio jobs.
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace

from nspgw.core import bulletins, inbound, reach
from nspgw.core.actions import Action, Detail, DetailKind, StoreFrameSent, Transmit
from nspgw.core.airtime import meshtastic_frame_len, time_on_air_ms
from nspgw.core.backlog import Backlog, Pending, estimate_backlog
from nspgw.core.context import NodeContext
from nspgw.core.events import IP, RADIO, RadioSendResult
from nspgw.core.lifecycle import MsgEvent, MsgState
from nspgw.core.router import Route, route
from nspgw.core.scheduler import backoff_s
from nspgw.core.work import Ctl, Held, HeldKey, JobKey, OutKey, OutMsg, TxRecord
from nspgw.errors import AuthError
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.fragment import fragment
from nspgw.wire.frames import (
    MAX_BROADCAST_FRAME,
    NSPGW_PORTNUM,
    BeaconFrame,
    BulletinHeldFrame,
    ExpiredFrame,
    FragmentRequestFrame,
    MessageFrame,
    Precedence,
    ReceiptFrame,
)

_DUTY_BLOCK_S = 60.0  # after the firmware refused for duty cycle, wait this long before trying the radio again
_QUICK_RETRIES = 3
_KEY_EXCHANGE_S = 30.0
"""After PKI_SEND_FAIL_PUBLIC_KEY (the radio does not know the destination's key and sent nothing) the radio
adapter exchanges NodeInfo with the destination (two ~100-byte DMs, a few seconds at LONG_FAST); the frame is
sent again after this wait, without counting a failed attempt, at most `_QUICK_RETRIES` times."""
_CTL_CUSTODY_TRIES = 8  # sends of a control frame to a relay before the end-to-end re-check takes over


class RadioTx:
    """The outbound side's own state: transmission references, the radio's busy and blocked times, and the
    NAK count per job. Only this class changes it; the rest of the core asks through its methods."""

    def __init__(self) -> None:
        self._seq = 0
        self._sent: dict[int, TxRecord] = {}  # tx reference → what it carried (radio frames awaiting a result)
        self._naks: dict[JobKey, int] = {}
        self._free_at = 0.0
        self._blocked_until = 0.0

    def gate(self, now: float) -> float:
        """Earliest time the radio is free and not blocked by the firmware (at least `now`)."""
        return max(self._free_at, self._blocked_until, now)

    def busy(self, now: float) -> bool:
        return now < self._free_at or now < self._blocked_until

    def next_ref(self) -> int:
        self._seq += 1
        return self._seq

    def on_air(self, ref: int, until: float, sent: TxRecord | None) -> None:
        """A radio frame went out under `ref`; the radio is busy until `until`."""
        self._free_at = until
        if sent is not None:
            self._sent[ref] = sent
            if len(self._sent) > 2000:  # results that never came (adapter restarted): forget the oldest
                self._sent.pop(next(iter(self._sent)))

    def result(self, ref: int) -> TxRecord | None:
        return self._sent.pop(ref, None)

    def acked(self, key: JobKey) -> None:
        self._naks.pop(key, None)

    def nak(self, key: JobKey) -> int:
        """Count one more NAK for `key`; the count so far."""
        if len(self._naks) > 1000:
            self._naks.clear()
        n = self._naks[key] = self._naks.get(key, 0) + 1
        return n

    def block(self, until: float) -> None:
        self._blocked_until = until


# ------------------------------------------------------------------------------------------ sending
def fragments_of(node: NodeContext, o: OutMsg) -> list[MessageFrame]:
    if not o.frags:
        whole = MessageFrame(node.me, o.dst, o.msg, o.precedence, 0, o.body)
        if o.bulletin:
            # Unicast-sized although broadcast first: the repeats to boxes that did not confirm go as direct
            # messages, which the firmware may PKI-encrypt (+12 bytes) and drops as TOO_LARGE above 219.
            whole = node.codec.sign_bulletin(whole)
            o.frags = fragment(whole, node.codec.max_body())
        else:
            # Custody-sized fragments: a relay adds a hop extension without re-fragmenting. The codec's
            # limits already follow the firmware's real size check (Router::perhapsEncode).
            o.frags = fragment(whole, node.codec.max_body(custody=True))
    return o.frags

def plan(node: NodeContext, key: JobKey, now: float) -> Route | None:
    ip = node.links.ip_up
    if isinstance(key, OutKey):
        o = node.out[key.seq]
        if o.bulletin:  # before `via`: each repeat of a round has its own box, and so its own link
            box = _next_bulletin_box(o)
            if box is not None:
                return Route(bulletin_link(node, o, box), box, False)
            if o.round and o.via is not None:
                return o.via
            return Route(IP if ip and not bulletin_by_radio(node, o, now) else RADIO, BROADCAST_ADDR, False)
        if o.round and o.via is not None:
            return o.via
        # A new round after an unanswered direct one counts that failure first (serve_out does): plan with it,
        # so the gate `pump` checks is the gate of the link the frame will really take.
        failed = int(not o.round and o.state == MsgState.IN_FLIGHT and o.via is not None and not o.via.custody)
        return route(node.cfg.keyring.roster, node.me, o.dst, heard_fresh=node.is_fresh(o.dst, now),
                     ip_up=node.ip_reaches(o.dst, now), via_mesh_relay=node.mesh_hops.get(o.dst, 0) > 0,
                     direct_failures=o.direct_failures + failed, direct_limit=direct_limit(node, o.precedence),
                     relay_on_ip=lambda hop: node.ip_confirmed(hop))
    if isinstance(key, HeldKey):
        h = node.held[(key.origin, key.counter)]
        up = bulletins.upstream_for(node, h.dst)
        if up is not None and up != h.from_hop and not node.ip_reaches(h.dst, now):
            return Route(RADIO, up, True)  # beyond the flood from `dst`: back the way its bulletins came
        failed = int(h.attempts > 0 and h.last_direct)
        return route(node.cfg.keyring.roster, node.me, h.dst, heard_fresh=node.is_fresh(h.dst, now),
                     ip_up=node.ip_reaches(h.dst, now), via_mesh_relay=node.mesh_hops.get(h.dst, 0) > 0,
                     direct_failures=h.direct_failures + failed, direct_limit=node.cfg.direct_attempts_before_relay,
                     holding=True, exclude=h.from_hop, relay_on_ip=lambda hop: node.ip_confirmed(hop))
    c = node.ctl[key.job]
    if c.hop is not None:
        return Route(c.link or (IP if ip else RADIO), c.hop, False)
    dst = getattr(c.frame, "dst", BROADCAST_ADDR)
    up = bulletins.upstream_for(node, dst) if dst != BROADCAST_ADDR else None
    if up is not None and not node.ip_reaches(dst, now):
        return Route(RADIO, up, True)  # beyond the flood from `dst`: back the way its bulletins came
    r = route(node.cfg.keyring.roster, node.me, dst, heard_fresh=node.is_fresh(dst, now),
              ip_up=node.ip_reaches(dst, now), via_mesh_relay=node.mesh_hops.get(dst, 0) > 0,
              direct_failures=0, direct_limit=1)
    return r

def direct_limit(node: NodeContext, prec: Precedence) -> int:
    """Unanswered direct rounds before a message goes to a relay that takes custody. A FLASH gets one: a box
    heard straight once may sit at the edge of the radio's reach (in the geographic region a lossy NSP-GCT
    link cost two FLASH timeouts before the CP carried it: p95 51 s against a 30 s target)."""
    return 1 if prec == Precedence.FLASH else node.cfg.direct_attempts_before_relay


def _next_bulletin_box(o: OutMsg) -> BoxAddr | None:
    """The box the next frame of a bulletin repeat goes to (None: the first, broadcast round)."""
    if o.round:
        return o.round[0][1]
    if o.attempts > 0 and o.pending:
        return min(o.pending)
    return None

def bulletin_by_radio(node: NodeContext, o: OutMsg, now: float) -> bool:
    """A bulletin broadcast goes by radio, every fragment in turn behind the radio gate, while presence says
    some addressee is off the broker (a copy goes to the broker as well, `serve_out`). As a best-effort radio
    copy of an IP broadcast, only the first fragment went on air: the others found the radio still busy with
    it and were never sent, so a reader off the broker always missed the rest and had to ask for it."""
    return node.links.healthy(RADIO) and any(not node.ip_reaches(b, now) for b in o.pending or ())

def bulletin_link(node: NodeContext, o: OutMsg, box: BoxAddr) -> str:
    """A bulletin repeated to one box that did not confirm: over IP while the broker has it, by radio once
    presence says it left, and by radio from the third round on whatever presence says (an older box
    publishes none, and a box that never confirms over IP is not reading there)."""
    return IP if node.ip_reaches(box, 0.0) and o.attempts < 2 else RADIO

@functools.lru_cache(maxsize=1024)
def airtime_ms(data_len: int, preset: str) -> float:
    return time_on_air_ms(meshtastic_frame_len(data_len, NSPGW_PORTNUM), preset)

def estimate_len(node: NodeContext, key: JobKey) -> int:
    if isinstance(key, OutKey):
        o = node.out[key.seq]
        frags = fragments_of(node, o)
        i = o.round[0][0] if o.round else len(frags) - 1
        # An estimate for the airtime budget; no frame the codec makes exceeds the broadcast limit.
        return min(len(frags[i].body) + len(frags[i].signature) + 26, MAX_BROADCAST_FRAME)
    if isinstance(key, HeldKey):
        return len(node.held[(key.origin, key.counter)].raw) + 4
    raw = node.ctl[key.job].raw
    return 40 if raw is None else len(raw)

def _frag_len(frag: MessageFrame) -> int:
    return min(len(frag.body) + len(frag.signature) + 26, MAX_BROADCAST_FRAME)

def _frames_to_send(node: NodeContext, o: OutMsg, r: Route) -> list[int]:
    """Byte estimates of the frames `o` still has to put on air: the rest of its round, or the round
    `serve_out` would start on route `r` (a first one, or a retry that is due)."""
    frags = fragments_of(node, o)
    if o.round:
        return [_frag_len(frags[i]) for i, _ in o.round]
    recheck = o.state == MsgState.HELD_BY_RELAY
    if o.bulletin and o.attempts > 0:
        return [_frag_len(f) for f in frags] * len(o.pending or ())
    if (recheck or (o.attempts > 0 and not r.custody)) and len(frags) > 1:
        return [_frag_len(frags[-1])]
    return [_frag_len(f) for i, f in enumerate(frags) if recheck or i not in o.acked]

def _waits_for_answer(node: NodeContext, key: JobKey) -> bool:
    """A job not due yet that has nothing for the radio until then (it waits for a receipt or an ack)."""
    if isinstance(key, OutKey):
        o = node.out[key.seq]
        return not o.round and o.state not in (MsgState.ACCEPTED, MsgState.QUEUED)
    if isinstance(key, HeldKey):
        return node.held[(key.origin, key.counter)].attempts > 0
    return False

def radio_work(node: NodeContext, now: float) -> list[Pending]:
    """The queued work that will go by radio, for `backlog.estimate_backlog` (IP work is not duty-cycle bound;
    a custodian holding until the destination is heard has nothing to send)."""
    work: list[Pending] = []
    preset = node.cfg.preset
    for order, (key, ready) in enumerate(node.sched.items()):
        due = ready <= now
        if not due and _waits_for_answer(node, key):
            continue
        r = plan(node, key, now)
        if r is None or r.link != RADIO:
            continue
        if isinstance(key, OutKey):
            o = node.out[key.seq]
            sizes, prec, message, deadline = _frames_to_send(node, o, r), o.precedence, True, o.deadline
        elif isinstance(key, HeldKey):
            h = node.held[(key.origin, key.counter)]
            sizes = [len(h.raw) + 4]
            prec, message, deadline = h.precedence, True, h.deadline
        else:
            sizes, prec, message = [estimate_len(node, key)], node.ctl[key.job].precedence, False
            deadline = math.inf
        if not sizes:
            continue
        work.append(Pending(key, prec, tuple(airtime_ms(n, preset) for n in sizes), ready, order, message, deadline))
    return work

def estimate(node: NodeContext, now: float) -> Backlog:
    """`backlog.estimate_backlog` for this node now."""
    return estimate_backlog(
        radio_work(node, now), node.ledger, now, radio_free_at=node.radio.gate(now),
        margin_s=node.cfg.radio_margin_s, routine_reserve_ms=node.ledger.limit_ms * node.cfg.reserve_fraction,
        radio_up=node.links.healthy(RADIO))

def radio_gate(node: NodeContext, key: JobKey, prec: Precedence, now: float) -> float:
    """Earliest time a radio job could go: `now` when it may go now, else when the radio is free, no longer
    blocked by the firmware, and the duty-cycle ledger has room for its frame (inf: radio reported down)."""
    if not node.links.healthy(RADIO):
        return math.inf
    gate = node.radio.gate(now)
    est = airtime_ms(estimate_len(node, key), node.cfg.preset)
    reserve = node.ledger.limit_ms * node.cfg.reserve_fraction if prec == Precedence.ROUTINE else 0.0
    # A frame that could never fit (a budget smaller than one frame) is tried again after the longest backoff
    # rather than never: the driver then still reports it expired when its time to live runs out.
    return max(gate, min(node.ledger.next_time_available(now, est, reserve), now + node.cfg.max_backoff_s))

def pump(node: NodeContext, now: float, acts: list[Action]) -> None:
    """Serve every job that can go now. A ready job that cannot (radio busy, blocked or out of budget) is
    left in place and its gate noted in `node.gates`: `Node.next_deadline()` then waits for that gate, not for
    the job's ready time, so a driver is never woken for work it cannot do (no busy loop)."""
    node.gates.clear()
    node.pumped_at = now
    for _ in range(10_000):
        gates: dict[JobKey, float] = {}

        def fits(key: JobKey, prec: Precedence, gates: dict[JobKey, float] = gates) -> bool:
            r = plan(node, key, now)
            if r is None:  # a custodian holds until the destination is heard (or a slow re-probe)
                node.sched.put(key, prec, now + node.cfg.max_backoff_s)
                return False
            if r.link == IP:
                return True
            if not node.links.healthy(RADIO):
                # The adapter reported the radio gone: a frame made now would only pile up in its queue
                # with a counter and airtime booked for nothing. Wait; LinkChanged up wakes every job.
                node.sched.put(key, prec, now + node.cfg.max_backoff_s)
                return False
            gate = radio_gate(node, key, prec, now)
            if gate <= now:
                return True
            gates[key] = gate
            return False

        key = node.sched.pick(now, fits)
        if key is None:
            node.gates.update(gates)
            return
        serve(node, key, now, acts)
    raise RuntimeError(f"outbound pump did not settle at t={now:.3f}: {len(node.sched)} jobs")

def transmit(node: NodeContext, link: str, hop: BoxAddr | None, data: bytes, prec: Precedence, sent: TxRecord | None,
              now: float, acts: list[Action], want_ack: bool = False, hops: int | None = None,
              attempt: int = 0) -> None:
    """Hand one frame to a link. `hops`: the hop limit to ask of the radio (0: neighbours only); for a DM it
    defaults to the measured distance (core/reach.py, `attempt`: how many times this frame went before)."""
    ref = node.radio.next_ref()
    airtime = 0.0
    if link == RADIO:
        airtime = airtime_ms(len(data), node.cfg.preset)
        node.ledger.record(now, airtime)
        node.radio.on_air(ref, now + airtime / 1000.0 + node.cfg.radio_margin_s, sent)
    if link != RADIO:
        hops = None
    elif hops is None and hop is not None:
        hops = reach.dm_hops(node, hop, now, attempt)
    acts.append(Transmit(link, hop, data, prec, ref, airtime, want_ack and link == RADIO, hops))

def also_radio(node: NodeContext, prec: Precedence, data: bytes, hop: BoxAddr | None, now: float,
               acts: list[Action]) -> None:
    """FLASH goes on both links: the receiver deduplicates by message id."""
    if prec != Precedence.FLASH or node.radio.busy(now):
        return
    if not node.links.healthy(RADIO):
        return
    if node.ledger.can_send(now, airtime_ms(len(data), node.cfg.preset)):
        transmit(node, RADIO, hop, data, prec, None, now, acts)

def serve(node: NodeContext, key: JobKey, now: float, acts: list[Action]) -> None:
    """Serve one job. A frame that cannot be sealed any more (destination or relay revoked or removed
    from the roster since the message was accepted, oversized content) ends that job with a report;
    it never takes the node down."""
    try:
        serve_job(node, key, now, acts)
    except (AuthError, ValueError) as exc:
        node.sched.remove(key)
        node.stats["unsendable"] = node.stats.get("unsendable", 0) + 1
        if isinstance(key, OutKey):
            if key.seq in node.out:
                node.finish(node.out[key.seq], MsgEvent.EXPIRE, acts,
                            Detail(DetailKind.UNSENDABLE, {"error": str(exc)}))
        elif isinstance(key, HeldKey):
            if (key.origin, key.counter) in node.held:
                inbound.custody_expired(node, node.held[(key.origin, key.counter)], now, acts)
        else:
            node.ctl.pop(key.job, None)

def serve_job(node: NodeContext, key: JobKey, now: float, acts: list[Action]) -> None:
    r = plan(node, key, now)
    assert r is not None
    if isinstance(key, OutKey):
        serve_out(node, node.out[key.seq], r, now, acts)
    elif isinstance(key, HeldKey):
        serve_held(node, node.held[(key.origin, key.counter)], r, now, acts)
    else:
        c = node.ctl.pop(key.job)
        node.sched.remove(key)
        if c.raw is not None:  # a GCT bulletin fragment a CP passes on unchanged (core/bulletins.py)
            transmit(node, r.link, None if r.hop == BROADCAST_ADDR else r.hop, c.raw, c.precedence, None, now, acts,
                     hops=c.hops)
            return
        if isinstance(c.frame, FragmentRequestFrame):
            asked = inbound.next_request(node, c, now)  # what is missing now; None: nothing any more
            if asked is None:
                return
            c = asked
        hop = None if r.hop == BROADCAST_ADDR else r.hop
        ttl = node.cfg.ttl_s[c.precedence] if r.custody else None
        counter = node.alloc_counter(acts)
        data = node.codec.encode(c.frame, counter, custody_to=r.hop if r.custody else None, ttl_s=ttl)
        node.history.note_sent(counter, getattr(c.frame, "dst", BROADCAST_ADDR), r.hop)
        if r.custody:
            # Handed over like a message fragment: the same frame goes again (new counter) until the relay
            # acknowledges custody. A receipt lost here would otherwise wait for the originator's slow
            # re-check of a message it believes a relay holds.
            transmit(node, r.link, hop, data, c.precedence, None, now, acts, attempt=c.custody_sends)
            _await_custody(node, c, counter, r.hop, now)
            return
        # Firmware acks for a receipt or expiry report that Meshtastic relays carry (nothing of ours acks it hop
        # by hop). Not to a radio heard straight: want_ack makes the firmware raise hop limit 0 to its default
        # (Router::sendLocal), so the whole neighbourhood would flood it; a lost one is repaired end to end
        # (the message comes again, the receipt with it).
        notice = (hop is not None and (isinstance(c.frame, ReceiptFrame | ExpiredFrame) or (
                      isinstance(c.frame, BulletinHeldFrame) and c.frame.dst == c.frame.msg.origin))
                  and not (node.is_fresh(hop, now) and node.mesh_hops.get(hop, 1) == 0))
        # A beacon tells the boxes that hear this radio itself that we are here: relayed, it would cost the
        # whole mesh a flood and tell far boxes nothing they can use (they reach us through our CP).
        hops = 0 if isinstance(c.frame, BeaconFrame) else c.hops
        transmit(node, r.link, hop, data, c.precedence, TxRecord(key, 0, c), now, acts, want_ack=notice, hops=hops)

def retry_wait(node: NodeContext, prec: Precedence, attempt: int) -> float:
    """How long to wait for the answer to attempt `attempt` before sending again (jittered exponential backoff).

    FLASH waits a sixth of the usual first timeout, grows by half each time instead of doubling and never
    waits more than 8 times its start (7.5, 11, 17, 25, 38, 57, 60 s at LONG_FAST, each -25 % to +50 %).
    Its custody ack comes after a quarter of the receipt delay and overtakes every queue (from the GCT in the
    mass incident: 5.2 s median, 8.4 s for the slowest quarter), so a longer wait is only lost time, and a
    shorter one repeats a frame whose answer is on its way (with ±50 % jitter the first retry could go after
    3.75 s: +19 % frames on air in the mass incident, +10 % now). A lost FLASH frame is a lost frame on one hop
    (10 % loss, a collision at a busy receiver: hidden terminals at a CP or the GCT), not a sign of a full
    channel, which a prompt, jittered retry clears. With a third of the timeout and doubling, two or three
    losses in a row on one hop (1 in 100 at 10 % loss) put the next try 30 to 90 s out: region-24h FLASH p95
    up to 53 s on seeds not in the repository, 2.7 to 23 s now on 16 of them. FLASH is rare except in a mass
    incident; there the extra frames are the price of its latency. IMMEDIATE keeps the usual first timeout but
    backs off to 10 min at most."""
    base, cap, growth, low = node.cfg.ack_timeout_s, node.cfg.max_backoff_s, 2.0, 0.5
    if prec == Precedence.FLASH:
        base, growth, low = base / 6.0, 1.5, 0.75
        cap = min(cap, 8.0 * base)
    elif prec == Precedence.IMMEDIATE:
        cap = min(cap, 600.0)
    return backoff_s(attempt, base, cap, node.rng, growth, low)


def _await_custody(node: NodeContext, c: Ctl, counter: int, hop: BoxAddr, now: float) -> None:
    again = replace(c, custody_sends=c.custody_sends + 1)
    if again.custody_sends >= _CTL_CUSTODY_TRIES:
        return  # the originator's re-check repairs what never got through
    job = node.add_ctl(again, now, retry_wait(node, c.precedence, again.custody_sends))
    if len(node.ctl_custody) > 2000:  # acks that never came for long-gone jobs: forget the oldest
        node.ctl_custody.pop(next(iter(node.ctl_custody)))
    node.ctl_custody[counter] = (hop, job)

def serve_out(node: NodeContext, o: OutMsg, r: Route, now: float, acts: list[Action]) -> None:
    key = OutKey(o.msg.seq)
    frags = fragments_of(node, o)
    if not o.round:  # a new round
        recheck = o.state == MsgState.HELD_BY_RELAY
        if recheck:
            node.move(o, MsgEvent.RECHECK, acts)
            o.acked.clear()
            o.attempts = max(o.attempts, 1)
        if o.state == MsgState.IN_FLIGHT:
            # `r` was planned with this failure counted already (see `plan`), and `pump` checked its gate.
            if o.via is not None and not o.via.custody:
                o.direct_failures += 1
            node.move(o, MsgEvent.RETRY, acts)
        if o.bulletin and o.attempts > 0:
            if o.pending is None:
                o.pending = node.bulletin_addressees()
            # An NSP under a CP is served by that CP, which holds the bulletin (core/bulletins.py).
            targets = bulletins.bulletin_targets(node, o.pending, o.attempts)
            o.round = [(i, b) for b in targets for i in range(len(frags))]
        elif (recheck or (o.attempts > 0 and not r.custody)) and len(frags) > 1:
            o.round = [(len(frags) - 1, None)]  # the last fragment makes the reader ask for what it lacks
        else:
            o.round = [(i, None) for i in range(len(frags)) if i not in o.acked]
        if not o.round:
            node.sched.remove(key)
            return
        o.via = r
    via = o.via or r
    i, box = o.round.pop(0)
    remaining = max(int(o.deadline - now), 1)
    frame = replace(frags[i], ttl_s=remaining)
    counter = node.alloc_counter(acts)
    hop = box if box is not None else None if via.hop == BROADCAST_ADDR else via.hop
    acts.append(StoreFrameSent(counter, o.msg.seq, i, hop))
    node.frames_sent[counter] = (o.msg.seq, i)
    o.counters.append(counter)
    node.history.note_sent(counter, o.dst, hop if hop is not None else BROADCAST_ADDR)
    if hop is not None:
        node.frame_hops[counter] = hop
    if box is not None:  # bulletin repeated to one box that did not confirm (`plan` chose the same link)
        data = node.codec.encode(frame, counter)
        transmit(node, bulletin_link(node, o, box), box, data, o.precedence, TxRecord(key, i, None), now, acts,
                 attempt=o.attempts - 1)
    else:
        custody_to = via.hop if via.custody else None
        data = node.codec.encode(frame, counter, custody_to=custody_to, ttl_s=remaining if custody_to else None)
        # Our bulletin's broadcast goes as far as our children need (core/reach.py); a DM as far as its hop is.
        hops = reach.tree_hops(node, now) if o.bulletin and hop is None and o.attempts == 0 else None
        transmit(node, via.link, hop, data, o.precedence, TxRecord(key, i, None), now, acts, hops=hops,
                 attempt=o.attempts)
        if via.link == RADIO and o.bulletin and hop is None and node.links.ip_up:
            transmit(node, IP, None, data, o.precedence, None, now, acts)  # the readers on the broker
        elif via.link == IP:
            # FLASH goes on both links (on air only if the radio is free now); a bulletin too when an addressee
            # left the broker after this round was planned (the next one goes by radio, `bulletin_by_radio`).
            off_ip = o.bulletin and any(not node.ip_reaches(b, now) for b in o.pending or ())
            also_radio(node, Precedence.FLASH if off_ip else o.precedence, data, hop, now, acts)
    if o.state != MsgState.IN_FLIGHT:
        node.move(o, MsgEvent.TRANSMIT, acts)
    if o.round:
        node.sched.put(key, o.precedence, now)
    else:
        o.attempts += 1
        if o.bulletin:
            # A bulletin's confirmations come from every post, spread out, and through its CP
            # (core/bulletins.py): its repeats wait three times as long as a message's, else the first goes
            # before they could arrive.
            wait = backoff_s(o.attempts, 3.0 * node.cfg.ack_timeout_s, node.cfg.max_backoff_s, node.rng)
        else:
            wait = retry_wait(node, o.precedence, o.attempts)
        node.sched.put(key, o.precedence, now + wait)
        o.via = via  # remembered to count a direct failure at the next round

def serve_held(node: NodeContext, h: Held, r: Route, now: float, acts: list[Action]) -> None:
    key = HeldKey(h.origin, h.counter)
    if h.attempts > 0 and h.last_direct:
        h.direct_failures += 1  # already counted in `r` (see `plan`)
    remaining = max(int(h.deadline - now), 1)
    data = node.codec.forward(h.raw, custody_to=r.hop, ttl_s=remaining)
    h.attempts += 1
    h.last_direct = not r.custody
    h.sent_to.add(r.hop)
    transmit(node, r.link, r.hop, data, h.precedence, TxRecord(key, 0, None), now, acts, attempt=h.attempts - 1)
    if r.link == IP:
        also_radio(node, h.precedence, data, r.hop, now, acts)
    node.sched.put(key, h.precedence, now + retry_wait(node, h.precedence, h.attempts))

# ------------------------------------------------------------------------------------ send results
def send_result(node: NodeContext, ev: RadioSendResult, now: float, acts: list[Action]) -> None:
    sent = node.radio.result(ev.tx_ref)
    if sent is None:
        return
    if ev.ok:
        node.radio.acked(sent.key)
        return
    # The next hop did not acknowledge even after the firmware's own retransmissions. Try again soon a
    # few times (a box that just came back is often still busy), then fall back to the normal backoff.
    naks = node.radio.nak(sent.key)
    soon = now + backoff_s(naks, 10.0, node.cfg.max_backoff_s, node.rng) if naks <= _QUICK_RETRIES else None
    if ev.error_reason == "DUTY_CYCLE_LIMIT":
        # The firmware's own ledger disagrees with ours (other traffic, a reboot): back off the radio.
        node.radio.block(now + _DUTY_BLOCK_S)
    # Refused for an unknown key: nothing went on air and the destination is not at fault, so no attempt is
    # spent; the adapter is exchanging NodeInfo meanwhile. Repeated refusals (the exchange got no answer) fall
    # through to the normal NAK handling, so the route soon moves to the relay.
    key_wait = ev.error_reason == "PKI_SEND_FAIL_PUBLIC_KEY" and naks <= _QUICK_RETRIES
    key = sent.key
    if sent.ctl is not None:
        if key_wait:
            node.add_ctl(sent.ctl, now, _KEY_EXCHANGE_S)
        elif sent.ctl.tries_left > 1:
            node.add_ctl(replace(sent.ctl, tries_left=sent.ctl.tries_left - 1), now,
                         backoff_s(1, node.cfg.receipt_delay_s * 4, node.cfg.max_backoff_s, node.rng))
        return
    if isinstance(key, OutKey) and key.seq in node.out:
        o = node.out[key.seq]
        if o.state not in (MsgState.IN_FLIGHT, MsgState.QUEUED):
            return
        if ev.error_reason == "DUTY_CYCLE_LIMIT":
            o.round.insert(0, (sent.frag, None))
            node.sched.put(key, o.precedence, now)
        elif key_wait and not o.bulletin:  # (a bulletin repeat's round names its box: normal handling)
            if not o.round:
                o.attempts = max(o.attempts - 1, 0)  # the round that just ended is not over yet
            o.round.insert(0, (sent.frag, None))
            node.sched.put(key, o.precedence, now + _KEY_EXCHANGE_S)
        elif not o.round and soon is not None:
            node.sched.put(key, o.precedence, min(soon, node.sched.ready_at(key) or soon))
    elif isinstance(key, HeldKey) and (key.origin, key.counter) in node.held and key_wait:
        h = node.held[(key.origin, key.counter)]
        h.attempts = max(h.attempts - 1, 0)
        h.last_direct = False  # not a direct attempt the destination failed to answer
        node.sched.put(key, h.precedence, now + _KEY_EXCHANGE_S)
    elif isinstance(key, HeldKey) and (key.origin, key.counter) in node.held and soon is not None:
        h = node.held[(key.origin, key.counter)]
        node.sched.put(key, h.precedence, min(soon, node.sched.ready_at(key) or soon))
