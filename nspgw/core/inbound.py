"""Inbound frames: decode, replay check, custody, delivery, receipts, acknowledgements, expiry reports.

Replay policy. Every frame is authenticated by the codec. Counters feed a per-sender `ReplayWindow`
(persisted). Frames whose effect is idempotent (messages: deduplicated by MsgId against the inbox; receipts,
custody acks, expiry reports, fragment requests: re-applying them changes nothing) are processed even when
the window calls the counter old: a CP may deliver a frame it held for hours, long after the originator's
counter moved on. Frames whose effect is not idempotent (probes, sync hints, beacons) must be fresh.
A seen counter arriving straight from its originator that is not a byte-for-byte duplicate means the sender
restarted from an old counter (backup restored, SD card cloned): it gets a rate-limited SyncFrame.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from nspgw.core.actions import (
    Action,
    DropCustody,
    DropFragments,
    Notify,
    StoreCustody,
    StoreFragment,
    StoreInbox,
    StoreReceipt,
    StoreSeqJump,
)
from nspgw.core.config import body_digest
from nspgw.core.events import RADIO, FrameIn
from nspgw.core.lifecycle import FINAL
from nspgw.core.work import Ctl, Held
from nspgw.errors import AuthError, DecodeError
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.frames import (
    BeaconFrame,
    CustodyAckFrame,
    ExpiredFrame,
    FragmentRequestFrame,
    FrameRef,
    MessageFrame,
    Precedence,
    ProbeFrame,
    ReceiptFrame,
    Received,
    SyncFrame,
)

if TYPE_CHECKING:
    from nspgw.core.node import Node

_RECENT_MAX = 1024
_MAX_RECEIPT_SEQS = 40  # keeps a receipt frame far below one packet
_MAX_ACK_REFS = 30  # 2-byte origin + ≤ 5-byte counter each
_RECEIPT_REPEAT_S = 10.0
# After a restore, skip this many message sequence numbers: more than a box sends between a backup and its
# restore in any realistic deployment, far below wire format v1's 2^27.
SEQ_JUMP = 1 << 16  # a duplicate message gets its receipt again, at most this often


def frame_in(node: Node, ev: FrameIn, now: float, acts: list[Action]) -> None:
    try:
        rec = node.codec.decode(ev.data, ev.hop_src_addr)
    except (DecodeError, AuthError):
        node.stats["rejected"] += 1
        return
    hop = rec.hop_src
    if hop != node.me:
        node.peer_heard(hop, ev.link, ev.snr, ev.rssi, now, acts)
    digest = hashlib.sha256(ev.data).digest()[:16]
    exact_dup = digest in node._recent
    node._recent[digest] = None
    if len(node._recent) > _RECENT_MAX:
        node._recent.pop(next(iter(node._recent)))
    h = rec.header
    relayed = h.custody or hop != h.src
    if rec.frame is None:
        _take_custody(node, rec, ev.link, now, acts)
        return
    frame = rec.frame
    window = node.window(h.src)
    fresh = window.accept(h.counter)
    if fresh:
        node.touch_window(h.src)
    strict = isinstance(frame, ProbeFrame | SyncFrame | BeaconFrame)
    if not fresh:
        if exact_dup:
            node.stats["duplicates"] += 1
        elif not relayed:
            _sync_hint(node, h.src, hop, ev.link, window.highest, now)
        if strict:
            return
    if isinstance(frame, MessageFrame):
        _message(node, frame, rec, ev.link, relayed, now, acts)
        return
    if relayed:  # control frames relayed by a CP are acknowledged like messages (after the step commits)
        node.queue_ack(hop, ev.link, FrameRef(h.src, h.counter), now, h.precedence)
    if isinstance(frame, ReceiptFrame):
        for seq in frame.seqs:
            o = node.out.get(seq)
            if o is None:
                continue
            if o.pending is not None:
                if frame.src in o.pending:
                    o.pending.discard(frame.src)
                    acts.append(StoreReceipt(seq, frame.src))
                if not o.pending:
                    node.finish(o, "receipt", acts)
            else:
                acts.append(StoreReceipt(seq, frame.src))
                node.finish(o, "receipt", acts)
    elif isinstance(frame, CustodyAckFrame):
        for ref in frame.refs:
            if ref.origin == node.me:
                hit = node.frames_sent.get(ref.counter)
                if hit is not None and hit[0] in node.out:
                    node.custody_acked(node.out[hit[0]], hit[1], now, acts)
            elif (ref.origin, ref.counter) in node.held:
                _drop_held(node, node.held[(ref.origin, ref.counter)], f"overgedragen aan {frame.src}", acts)
    elif isinstance(frame, ExpiredFrame):
        for c in frame.counters:
            hit = node.frames_sent.get(c)
            if hit is not None and hit[0] in node.out:
                node.finish(node.out[hit[0]], "expire", acts, f"opgegeven door {node._name(frame.src)}")
    elif isinstance(frame, FragmentRequestFrame):
        if frame.msg.origin == node.me and frame.msg.seq in node.out:
            node.resend_fragments(node.out[frame.msg.seq], frame.missing, now, acts)
    elif isinstance(frame, SyncFrame):
        _sync_received(node, frame, now, acts)
    elif isinstance(frame, ProbeFrame):
        if frame.reply:
            node.links.probe_ok(ev.link, now)
        else:
            reply = ProbeFrame(node.me, frame.src, frame.nonce, reply=True)
            node.add_ctl(Ctl(reply, Precedence.PRIORITY, hop, ev.link, 1), now)
    # BeaconFrame: hearing it (peer_heard above) is the whole point. RosterUpdateFrame: applied by the
    # daemon through the key store (a roster change must be persisted with the key files, not here).


def _message(node: Node, frame: MessageFrame, rec: Received, link: str, relayed: bool, now: float,
             acts: list[Action]) -> None:
    h = rec.header
    bulletin = frame.dst == BROADCAST_ADDR
    known = node.digests.get(frame.msg)
    if frame.msg in node.delivered and frame.frag_count == 1 and known not in (None, body_digest(frame.body)):
        # Same MsgId, different content: the sender was restored from an old copy and reuses sequence
        # numbers. No receipt (it would confirm a message we never stored); the sender's copy expires and is
        # reported to its operator, and the sync hint makes it skip ahead.
        node.stats["seq_conflicts"] = node.stats.get("seq_conflicts", 0) + 1
        if relayed and not bulletin:
            node.queue_ack(rec.hop_src, link, FrameRef(h.src, h.counter), now, h.precedence)
        if not relayed:
            _sync_hint(node, frame.src, rec.hop_src, link, node.window(frame.src).highest, now)
        if frame.msg not in node.conflicts:
            node.conflicts.add(frame.msg)
            acts.append(Notify("seq_conflict", (
                f"Post {node._name(frame.src)} hergebruikt berichtnummer {frame.msg.seq} voor een ander bericht "
                "(teruggezette back-up?). Dat bericht is niet afgeleverd; vraag de afzender het opnieuw te sturen.")))
        return
    if frame.msg in node.delivered:
        node.stats["duplicates"] += 1
        last = node._receipt_sent.get(frame.msg)
        if last is None or now - last >= _RECEIPT_REPEAT_S:  # the first receipt may have been lost
            node._receipt_sent[frame.msg] = now
            node.queue_receipt(frame.src, frame.msg.seq, frame.precedence, now)
    else:
        try:
            whole = node.reasm.add(frame) if frame.frag_count > 1 else frame
        except DecodeError:  # contradicts earlier fragments of the same message: drop, the sender repeats
            node.stats["rejected"] += 1
            return
        if whole is None:
            acts.append(StoreFragment(frame))
            if frame.frag_index == frame.frag_count - 1:
                missing = node.reasm.missing(frame.msg)
                if missing:
                    req = FragmentRequestFrame(node.me, frame.src, frame.msg, missing)
                    node.add_ctl(Ctl(req, frame.precedence), now, node._batch_delay(frame.precedence))
        else:
            if frame.frag_count > 1:
                acts.append(DropFragments(frame.msg))
                if bulletin:
                    try:
                        node.codec.verify_bulletin(whole)
                    except AuthError:
                        node.stats["rejected"] += 1
                        return
            acts.append(StoreInbox(whole, link))
            node.delivered.add(frame.msg)
            node.digests[frame.msg] = body_digest(whole.body)
            node.stats["delivered_in"] += 1
            node._receipt_sent[frame.msg] = now
            if len(node._receipt_sent) > 4096:
                node._receipt_sent.clear()
            node.queue_receipt(frame.src, frame.msg.seq, frame.precedence, now)
    if relayed and not bulletin:
        node.queue_ack(rec.hop_src, link, FrameRef(h.src, h.counter), now, h.precedence)


def _take_custody(node: Node, rec: Received, link: str, now: float, acts: list[Action]) -> None:
    h = rec.header
    key = (h.src, h.counter)
    if key not in node.held:
        ttl = float(h.ttl_s if h.ttl_s is not None else node.cfg.ttl_s[h.precedence])
        if ttl <= 0:
            return
        held = Held(h.src, h.counter, h.dst, h.precedence, rec.raw, now + ttl, rec.hop_src)
        node.held[key] = held
        acts.append(StoreCustody(h.src, h.counter, h.dst, h.precedence, rec.raw, ttl, rec.hop_src))
        node.sched.put(("held", h.src, h.counter), h.precedence, now)
    # Acknowledge even a copy we already hold: the first acknowledgement may have been lost.
    node.queue_ack(rec.hop_src, link, FrameRef(h.src, h.counter), now, h.precedence)


def _drop_held(node: Node, held: Held, reason: str, acts: list[Action]) -> None:
    node.held.pop((held.origin, held.counter), None)
    node.sched.remove(("held", held.origin, held.counter))
    acts.append(DropCustody(held.origin, held.counter, reason))


def custody_expired(node: Node, held: Held, now: float, acts: list[Action]) -> None:
    """A relay gives up: report to the originator (a FLASH is never dropped silently)."""
    _drop_held(node, held, "verlopen", acts)
    prec = min(held.precedence, Precedence.IMMEDIATE)
    node.add_ctl(Ctl(ExpiredFrame(node.me, held.origin, (held.counter,)), Precedence(prec), tries_left=3), now)


def flush_receipts(node: Node, origin: BoxAddr, seqs: set[int], prec: Precedence, now: float) -> None:
    """Queue receipts for `origin`, piggybacked on a receipt frame still waiting for the radio if any."""
    todo = set(seqs)
    for n, c in node.ctl.items():
        f = c.frame
        if isinstance(f, ReceiptFrame) and f.dst == origin and len(f.seqs) < _MAX_RECEIPT_SEQS and todo:
            room = _MAX_RECEIPT_SEQS - len(f.seqs)
            extra = sorted(todo - set(f.seqs))[:room]
            c.frame = ReceiptFrame(f.src, f.dst, tuple(sorted({*f.seqs, *extra})))
            c.precedence = Precedence(min(c.precedence, prec))
            node.sched.put(("ctl", n), c.precedence, node.sched.ready_at(("ctl", n)) or now)
            todo -= set(extra) | set(f.seqs)
    ordered = sorted(todo)
    for i in range(0, len(ordered), _MAX_RECEIPT_SEQS):
        chunk = tuple(ordered[i : i + _MAX_RECEIPT_SEQS])
        node.add_ctl(Ctl(ReceiptFrame(node.me, origin, chunk), prec, tries_left=3), now)


def flush_acks(node: Node, hop: BoxAddr, link: str, refs: list[object], now: float) -> None:
    """Queue custody acks for `hop`, piggybacked on an ack frame still waiting for the radio if any."""
    todo = [r for r in refs if isinstance(r, FrameRef)]
    for c in node.ctl.values():
        f = c.frame
        if isinstance(f, CustodyAckFrame) and f.dst == hop and c.link == link and todo:
            extra = [r for r in todo if r not in f.refs][: _MAX_ACK_REFS - len(f.refs)]
            c.frame = CustodyAckFrame(f.src, f.dst, f.refs + tuple(extra))
            todo = [r for r in todo if r not in c.frame.refs]
    for i in range(0, len(todo), _MAX_ACK_REFS):
        ack = CustodyAckFrame(node.me, hop, tuple(todo[i : i + _MAX_ACK_REFS]))
        node.add_ctl(Ctl(ack, Precedence.IMMEDIATE, hop, link, 3), now)


def _sync_hint(node: Node, src: BoxAddr, hop: BoxAddr, link: str, floor: int, now: float) -> None:
    last = node._sync_hint_at.get(src)
    if last is not None and now - last < node.cfg.sync_hint_interval_s:
        return
    node._sync_hint_at[src] = now
    node.add_ctl(Ctl(SyncFrame(node.me, src, floor), Precedence.PRIORITY, hop, link, 1), now)


def _sync_received(node: Node, frame: SyncFrame, now: float, acts: list[Action]) -> None:
    """A receiver saw our old counters or a reused message number: we run from a restored (or cloned) copy.

    Move the frame counter past the receiver's floor and the message numbers past anything the old copy may
    have used, then resend what is pending. A second hint from the same box while our counter is already
    past its floor means another box sends with our identity: the operator is warned.
    """
    restored = node.counter <= frame.counter_floor
    if not restored and frame.src in node._sync_from:
        acts.append(Notify("clone_suspected", (
            f"Post {node._name(frame.src)} ziet frametellers of berichtnummers van dit kastje die wij niet "
            "verstuurd hebben: mogelijk een gekloonde SD-kaart. Waarschuw de beheerder.")))
        return
    node._sync_from.add(frame.src)
    node.raise_counter(frame.counter_floor, acts)
    acts.append(StoreSeqJump(SEQ_JUMP))
    for o in node.out.values():  # frames with stale counters were dropped: send again, fresh counters
        if o.state not in FINAL:
            node.sched.put(("out", o.msg.seq), o.precedence, now)
    acts.append(Notify("counter_resync", (
        f"Tellers bijgesteld na melding van {node._name(frame.src)} (kastje teruggezet uit een back-up?)")))


__all__ = ["RADIO", "custody_expired", "flush_acks", "flush_receipts", "frame_in"]
