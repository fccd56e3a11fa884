"""Inbound frames: decode, replay check, custody, delivery, receipts, acknowledgements, expiry reports.

Replay policy. Every frame is authenticated by the codec. Byte-for-byte copies of a recent frame are dropped
whatever hop or link they come by. Counters of pair-key frames feed a per-sender `ReplayWindow` (persisted);
network-key frames (beacons, roster updates, bulletins) have separate windows (core/netwindow.py), because
any enrolled box can seal one in another box's name. Frames whose effect is idempotent (messages:
deduplicated by MsgId against the inbox; receipts, custody acks, expiry reports, fragment requests:
re-applying them changes nothing, and fragment requests are rate-limited) are processed even when the window
calls the counter old, provided a relay handed them over with a valid hop tag: a CP may deliver a frame it
held for hours, long after the originator's counter moved on. Frames whose effect is not idempotent (probes,
sync hints, beacons) must be fresh. A seen counter arriving straight from its originator that is not a
byte-for-byte duplicate means the sender restarted from an old counter (backup restored, SD card cloned):
it gets a rate-limited SyncFrame.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from nspgw.core import bulletins
from nspgw.core.actions import (
    Action,
    AdoptNetworkKeys,
    AdoptRoster,
    Detail,
    DetailKind,
    DropCustody,
    DropFragments,
    Notice,
    NoticeKind,
    ProbeAnswered,
    StoreCustody,
    StoreFragment,
    StoreInbox,
    StoreReceipt,
)
from nspgw.core.airtime import meshtastic_frame_len, time_on_air_ms
from nspgw.core.config import body_digest
from nspgw.core.context import NodeContext
from nspgw.core.events import RADIO, FrameIn
from nspgw.core.lifecycle import CustodyEvent, MsgEvent, advance_custody
from nspgw.core.resync import sync_hint, sync_received
from nspgw.core.scheduler import backoff_s
from nspgw.core.work import Ctl, CtlKey, Held, HeldKey, OutMsg
from nspgw.crypto.roster import RosterDelta
from nspgw.errors import AuthError, DecodeError, SecurityError
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.frames import (
    MAX_BROADCAST_FRAME,
    NSPGW_PORTNUM,
    RECEIPT_DIGEST_LEN,
    BeaconFrame,
    BulletinHeldFrame,
    CustodyAckFrame,
    ExpiredFrame,
    FragmentRequestFrame,
    Frame,
    FrameRef,
    MessageFrame,
    MsgId,
    NetworkKeyFrame,
    Precedence,
    ProbeFrame,
    ReceiptFrame,
    Received,
    RosterUpdateFrame,
    SyncFrame,
    receipt_digest,
)

_RECENT_MAX = 1024
_FRAG_DIGESTS_KEPT = 4096  # fragmented messages whose per-fragment digests we keep (in memory)
_MAX_RECEIPT_SEQS = 30  # ≤ 6 bytes each (4-byte delta + 2-byte digest): 180 + 20, within one unicast frame
_MAX_ACK_REFS = 30  # 2-byte origin + ≤ 5-byte counter each
_RECEIPT_REPEAT_S = 10.0  # a duplicate message gets its receipt again, at most this often
_BULLETIN_PARTIAL_S = 6 * 3600.0  # past any duty-cycle wait between fragments; the caps bound memory anyway
_FRAG_REQUEST_GAP_S = 20.0  # fragments of one message are resent for one requester at most this often


class InboundMemory:
    """What the inbound side remembers on its own: digests of recent raw frames (exact copies across links
    and replays) and when each delivered message last got a receipt. Only this class changes it."""

    def __init__(self) -> None:
        self._recent: dict[bytes, None] = {}
        self._receipt_sent: dict[MsgId, float] = {}

    def seen(self, digest: bytes) -> bool:
        """True for bytes seen recently; otherwise remembers them (bounded) and returns False."""
        if digest in self._recent:
            return True
        self._recent[digest] = None
        if len(self._recent) > _RECENT_MAX:
            self._recent.pop(next(iter(self._recent)))
        return False

    def receipt_due(self, msg: MsgId, now: float) -> bool:
        """A duplicate of a delivered message gets its receipt again, at most every `_RECEIPT_REPEAT_S`."""
        last = self._receipt_sent.get(msg)
        if last is not None and now - last < _RECEIPT_REPEAT_S:
            return False
        self._receipt_sent[msg] = now
        return True

    def receipt_queued(self, msg: MsgId, now: float) -> None:
        self._receipt_sent[msg] = now
        if len(self._receipt_sent) > 4096:
            self._receipt_sent.clear()


def frame_in(node: NodeContext, ev: FrameIn, now: float, acts: list[Action]) -> None:
    try:
        rec = node.codec.decode(ev.data, ev.hop_src_addr)
    except (DecodeError, AuthError):
        node.stats["rejected"] += 1
        return
    hop = rec.hop_src
    h = rec.header
    digest = hashlib.sha256(ev.data).digest()[:16]
    if node.memory.seen(digest):
        # The same bytes again, whatever link or topic they came by: a copy over the other link, or a replay.
        # Nothing to act on; a custodian repeating a frame we already took only needs its ack again.
        node.stats["duplicates"] += 1
        if h.custody and rec.frame is not None and h.dst != BROADCAST_ADDR:
            node.queue_ack(hop, ev.link, FrameRef(h.src, h.counter), now, h.precedence)
        elif isinstance(rec.frame, MessageFrame) and h.dst == BROADCAST_ADDR and rec.frame.msg in node.delivered:
            bulletins.copy_heard(node, rec.frame, hop)
            # A CP re-sends the GCT's bulletin bytes unchanged to a post it has no confirmation from: the post
            # holds it (our confirmation was lost), so it confirms again (rate-limited).
            if node.memory.receipt_due(rec.frame.msg, now):
                bulletins.repeat_heard(node, rec.frame, hop, now)
        elif rec.frame is None:
            _take_custody(node, rec, ev, now, acts)
        return
    # Only a hop tag proves who handed us a frame: the radio `from` and the MQTT topic are the attacker's
    # choice. The codec accepts a hop other than `src` only with a valid hop tag from a relay (a CP).
    relayed = h.custody
    if rec.frame is None:
        _take_custody(node, rec, ev, now, acts)
        return
    frame = rec.frame
    if h.dst == BROADCAST_ADDR:
        _network_frame(node, frame, rec, ev, now, acts)
        return
    window = node.window(h.src)
    fresh = window.accept(h.counter)
    if fresh:
        node.touch_window(h.src)
        if not relayed:
            node.history.record(h.src, h.counter, ev.data)
            node.net_windows.pair_seen(h.src, h.counter)
        if hop != node.me:  # only a fresh frame says the box is there now (a replay proves nothing)
            node.peer_heard(hop, ev.link, ev.snr, ev.rssi, now, acts, ev.mesh_hops)
    elif not relayed:
        # An old counter straight from its originator: the same bytes again are a replay and change nothing;
        # other bytes mean the sender runs from a restored or cloned copy: it gets a sync hint, and only a
        # message we do not hold yet is taken from it. Old counters are normal only on frames a custodian
        # delivers late, which carry a hop tag (relayed).
        verdict = node.history.verdict(h.src, h.counter, ev.data)
        if verdict == "same":
            node.stats["duplicates"] += 1
            return
        if verdict == "different":
            _clone_alert(node, h.src, h.counter, acts)
        sync_hint(node, h.src, hop, ev.link, window.highest, now)
        if not isinstance(frame, MessageFrame) or (frame.msg in node.delivered and frame.frag_count == 1 and
                                                   node.digests.get(frame.msg) == body_digest(frame.body)):
            node.stats["rejected"] += 1
            return
    elif isinstance(frame, ProbeFrame | SyncFrame):  # not idempotent: must be fresh
        return
    if isinstance(frame, MessageFrame):
        _message(node, frame, rec, ev.link, relayed, now, acts)
        return
    if relayed:  # control frames relayed by a CP are acknowledged like messages (after the step commits)
        node.queue_ack(hop, ev.link, FrameRef(h.src, h.counter), now, h.precedence)
    if fresh and hop != node.me and ev.link == RADIO and ev.mesh_hops == 0 and \
            isinstance(frame, ReceiptFrame | CustodyAckFrame):
        node.answered_at[hop] = now  # it heard us, we hear it: our beacon tells it nothing (Node._beacon_due)
    if isinstance(frame, ReceiptFrame):
        _receipt(node, frame, acts)
    elif isinstance(frame, BulletinHeldFrame):
        _bulletin_held(node, frame, now, acts)
    elif isinstance(frame, CustodyAckFrame):
        _custody_ack(node, frame, now, acts)
    elif isinstance(frame, ExpiredFrame):
        _expired(node, frame, acts)
    elif isinstance(frame, FragmentRequestFrame):
        _fragment_request(node, frame, now, acts)
    elif isinstance(frame, SyncFrame):
        sync_received(node, frame, now, acts)
    elif isinstance(frame, ProbeFrame):
        if not frame.reply:
            reply = ProbeFrame(node.me, frame.src, frame.nonce, reply=True)
            # A probe a relay brought goes back by the router, like a receipt: to the relay with custody (it
            # cannot open, so it refuses, a frame for another box without), or straight when heard. Pinned to
            # the relay as a one-hop frame, the first ping two hops away was never answered.
            node.add_ctl(Ctl(reply, Precedence.PRIORITY, None if relayed else hop, None if relayed else ev.link, 1),
                         now)
        elif frame.dst == node.me:  # the answer to an operator's ping: the driver's ping table matches it
            acts.append(ProbeAnswered(frame.src, frame.nonce, ev.link, hop, ev.snr, ev.rssi))
    elif isinstance(frame, NetworkKeyFrame) and frame.dst == node.me:
        # The codec opens one only from an unrevoked crisis-team box. An epoch we hold already is a repeat.
        keys = node.cfg.keyring.network_keys_after(frame.key)
        if keys is not None:
            acts.append(AdoptNetworkKeys(keys, frame.src))


def _clone_alert(node: NodeContext, src: BoxAddr, counter: int, acts: list[Action]) -> None:
    """Two different frames, both sealed under `src`'s pair key, with one counter: two copies of that box's
    keys are speaking (a cloned SD card beside the original, or a restored backup). Only the box itself can
    seal these, so this is proof, not a claim. Told to the operator once per box and boot; the daemon also
    reports it to the crisis team (`daemon_control.relay_alert`)."""
    if src in node.clone_alerted:
        return
    node.clone_alerted.add(src)
    acts.append(Notice(NoticeKind.CLONE_SUSPECTED, {"box": node.name_of(src), "counter": counter}))


def _network_frame(node: NodeContext, frame: Frame, rec: Received, ev: FrameIn, now: float, acts: list[Action]) -> None:
    """Beacons, roster updates and bulletins: network key only, so `src` is a claim any enrolled box can make.
    Their counters live in separate, capped windows (core/netwindow.py) and never feed the pair-key window,
    the frame history or a sync hint: a forged beacon must not be able to silence the box it names."""
    h = rec.header
    pair_highest = node.windows[h.src].highest if h.src in node.windows else -1
    fresh = node.net_windows.accept(h.src, h.counter, pair_highest)
    if fresh and rec.hop_src != node.me:
        node.peer_heard(rec.hop_src, ev.link, ev.snr, ev.rssi, now, acts, ev.mesh_hops)
    if isinstance(frame, MessageFrame):  # a bulletin: deduplicated by message number, signature checked
        _message(node, frame, rec, ev.link, False, now, acts, ev.mesh_hops)
    elif isinstance(frame, BeaconFrame) and fresh and frame.roster_version > node.roster_warned:
        mine = node.cfg.keyring.roster.version
        if frame.roster_version > mine:
            # Possibly a revocation this box missed. Said once per higher version (a forged beacon can claim
            # any version, so this is a hint to the operator, never acted on).
            node.roster_warned = frame.roster_version
            acts.append(Notice(NoticeKind.ROSTER_NEWER, {"box": node.name_of(h.src), "version": frame.roster_version,
                                                         "mine": mine}))
    elif isinstance(frame, RosterUpdateFrame):
        _roster_update(node, frame, acts)
    # BeaconFrame: hearing it (peer_heard above) is the whole point.


def _roster_update(node: NodeContext, frame: RosterUpdateFrame, acts: list[Action]) -> None:
    """A roster delta anyone can relay: only the authority's signature counts. A newer roster leaves as an
    `AdoptRoster` action (the driver persists it with the key files, then the node adopts it); a repeat or
    replay changes nothing; a forged, unreadable or version-skipping one is counted and ignored (the box
    then needs the full roster, `nspgw roster import`)."""
    try:
        roster = node.cfg.keyring.roster_after(RosterDelta.from_bytes(frame.blob))
    except (DecodeError, SecurityError):
        node.stats["keys_refused"] = node.stats.get("keys_refused", 0) + 1
        return
    if roster is not None:
        acts.append(AdoptRoster(roster))


def _fragment_request(node: NodeContext, frame: FragmentRequestFrame, now: float, acts: list[Action]) -> None:
    """Resend what a destination misses, at most once per `_FRAG_REQUEST_GAP_S` per message and requester:
    a request costs us up to a whole message of airtime, so a flood of them (replays re-wrapped by a relay,
    or a misbehaving box) must not multiply it."""
    if frame.msg.origin != node.me:  # a post of ours (or a CP beyond us) asks for a GCT bulletin we carry
        bulletins.fragments_asked(node, frame.src, frame.msg, frame.missing, now)
        return
    if frame.msg.seq not in node.out:
        return
    key = (frame.src, frame.msg.seq)
    last = node.frag_requests.get(key)
    if last is not None and now - last < _FRAG_REQUEST_GAP_S:
        node.stats["rejected"] += 1
        return
    node.frag_requests[key] = now
    if len(node.frag_requests) > _RECENT_MAX:
        node.frag_requests.pop(next(iter(node.frag_requests)))
    node.resend_fragments(node.out[frame.msg.seq], frame.missing, now, acts)


def _receipt(node: NodeContext, frame: ReceiptFrame, acts: list[Action]) -> None:
    """Only the destination can confirm a message (each box only itself for a bulletin): any enrolled box can
    seal a ReceiptFrame to us, so one naming a message to someone else is a forgery (silent loss otherwise)."""
    for seq, digest in zip(frame.seqs, frame.digests, strict=True):
        o = node.out.get(seq)
        if o is None:
            node.late_receipt(seq, frame.src, acts)
            continue
        _count_receipt(node, o, frame.src, digest, acts)


def _count_receipt(node: NodeContext, o: OutMsg, box: BoxAddr, digest: bytes, acts: list[Action]) -> None:
    if digest != receipt_digest(o.body):
        # The destination stored other content under this number: a restored or cloned copy of this box
        # sent it (and the receipt reached both copies, e.g. over the box's MQTT topic). Not ours.
        node.stats["rejected"] += 1
        return
    if o.pending is not None:
        if box in o.pending:  # else a repeat from a box that already confirmed
            o.pending.discard(box)
            acts.append(StoreReceipt(o.msg.seq, box))
        if not o.pending:
            node.finish(o, MsgEvent.RECEIPT, acts)
    elif box == o.dst:
        acts.append(StoreReceipt(o.msg.seq, box))
        node.finish(o, MsgEvent.RECEIPT, acts)
    else:
        node.stats["rejected"] += 1


def _bulletin_held(node: NodeContext, frame: BulletinHeldFrame, now: float, acts: list[Action]) -> None:
    """Boxes that hold a bulletin, confirmed along the tree (core/bulletins.py): at the originator, each box the
    sending CP may vouch for (itself, its own NSPs) counts as that box's receipt."""
    boxes = bulletins.held_in(node, frame, now)
    if not boxes:
        return
    o = node.out.get(frame.msg.seq)
    for box in boxes:
        if o is None or o.pending is None:
            node.late_receipt(frame.msg.seq, box, acts)
            continue
        _count_receipt(node, o, box, frame.digest, acts)


def _custody_ack(node: NodeContext, frame: CustodyAckFrame, now: float, acts: list[Action]) -> None:
    """Custody passes only from the hop we handed a frame to (or its destination): any enrolled box can seal a
    CustodyAckFrame to us, and believing it would make us drop a frame nobody holds."""
    for ref in frame.refs:
        if ref.origin == node.me:
            if _ctl_custody_acked(node, ref.counter, frame.src):
                continue
            hit = node.frames_sent.get(ref.counter)
            hop = node.frame_hops.get(ref.counter)
            if hit is None or hit[0] not in node.out:
                continue
            if hop is not None and hop != frame.src:
                node.stats["rejected"] += 1
                continue
            node.custody_acked(node.out[hit[0]], hit[1], now, acts)
        elif (ref.origin, ref.counter) in node.held:
            held = node.held[(ref.origin, ref.counter)]
            if frame.src not in held.sent_to and frame.src != held.dst:
                node.stats["rejected"] += 1
                continue
            _drop_held(node, held, CustodyEvent.CUSTODY_ACK, Detail(DetailKind.HANDED_OVER, {"to": int(frame.src)}),
                       acts)


def _ctl_custody_acked(node: NodeContext, counter: int, by: BoxAddr) -> bool:
    """The hop took custody of one of our control frames: its pending re-send is no longer needed."""
    hit = node.ctl_custody.get(counter)
    if hit is None or hit[0] != by:
        return False
    del node.ctl_custody[counter]
    node.ctl.pop(hit[1], None)
    node.sched.remove(CtlKey(hit[1]))
    return True


def _expired(node: NodeContext, frame: ExpiredFrame, acts: list[Action]) -> None:
    """A custodian gave up on our frame. Only the hop that frame went to, and only after it acknowledged
    custody of it, can say so; from anyone else it would make us give up a message that is still moving."""
    for c in frame.counters:
        hit = node.frames_sent.get(c)
        if hit is None or hit[0] not in node.out:
            continue
        o = node.out[hit[0]]
        if node.frame_hops.get(c) != frame.src or hit[1] not in o.acked:
            node.stats["rejected"] += 1
            continue
        node.finish(o, MsgEvent.EXPIRE, acts, Detail(DetailKind.GIVEN_UP, {"by": node.name_of(frame.src)}))


def _message(node: NodeContext, frame: MessageFrame, rec: Received, link: str, relayed: bool, now: float,
             acts: list[Action], mesh_hops: int = 0) -> None:
    h = rec.header
    bulletin = frame.dst == BROADCAST_ADDR
    if frame.msg in node.delivered:
        same = _same_as_delivered(node, frame, now)
        if same is False:
            _seq_conflict(node, frame, rec, link, relayed, now, acts)
            return
        if same:
            node.stats["duplicates"] += 1
            if bulletin:
                bulletins.copy_heard(node, frame, rec.hop_src)
            if node.memory.receipt_due(frame.msg, now):  # the first receipt may have been lost
                if bulletin:
                    bulletins.repeat_heard(node, frame, rec.hop_src, now)
                else:
                    node.queue_receipt(frame.src, frame.msg.seq, frame.precedence, now)
    else:
        if bulletin:
            bulletins.fragment_in(node, frame, rec.raw, mesh_hops, rec.hop_src)
        if bulletin and frame.frag_count > 1:
            _expire_bulletin_partials(node, frame, now)
        try:
            whole = node.reasm.add(frame, newest_wins=bulletin) if frame.frag_count > 1 else frame
        except DecodeError:  # contradicts earlier fragments of the same message: drop, the sender repeats
            node.stats["rejected"] += 1
            return
        finally:  # partials the caps pushed out leave the store too (else its table grows without bound)
            acts.extend(DropFragments(m) for m in node.reasm.take_evicted())
        if whole is None:
            # A bulletin fragment is authenticated only by the network key (every box has it); its signature
            # is checked once the bulletin is whole. So it is kept in memory only (bounded by the reassembler)
            # and never written to disk: the GCT repeats to every box that did not confirm.
            if not bulletin:
                acts.append(StoreFragment(frame))
            _request_missing(node, frame, now)
        else:
            if frame.frag_count > 1:
                acts.append(DropFragments(frame.msg))
                if bulletin:
                    try:
                        node.codec.verify_bulletin(whole)
                    except AuthError:
                        node.stats["rejected"] += 1
                        return
                _remember_fragments(node, frame, whole)
            acts.append(StoreInbox(whole, link))
            node.delivered.add(frame.msg)
            node.digests[frame.msg] = body_digest(whole.body)
            node.stats["delivered_in"] += 1
            node.memory.receipt_queued(frame.msg, now)
            if bulletin:
                bulletins.delivered(node, whole, receipt_digest(whole.body), now)
            else:
                node.queue_receipt(frame.src, frame.msg.seq, frame.precedence, now)
    if relayed and not bulletin:
        node.queue_ack(rec.hop_src, link, FrameRef(h.src, h.counter), now, h.precedence)


def _expire_bulletin_partials(node: NodeContext, frame: MessageFrame, now: float) -> None:
    """Bulletin partials older than `_BULLETIN_PARTIAL_S` are dropped (checked whenever a bulletin fragment
    arrives, so no timer is needed): forged ones must not sit in memory for good, and a genuine bulletin is
    repeated whole by the GCT to every box that did not confirm it."""
    started = node.bulletin_partials
    held = set(node.reasm.pending())
    for msg, t in list(started.items()):
        if now - t > _BULLETIN_PARTIAL_S or msg not in held:
            node.reasm.discard(msg)
            del started[msg]
    started.setdefault(frame.msg, now)
    if len(started) > _RECENT_MAX:
        started.pop(next(iter(started)))


def _request_missing(node: NodeContext, frame: MessageFrame, now: float) -> None:
    """Ask the sender for what is missing: soon after the last fragment, or, when the last one never comes,
    once the rest of the burst had time to arrive. One request per message is queued at a time; sending it
    queues the next (`next_request`)."""
    missing = node.reasm.missing(frame.msg)
    if not missing:
        return
    if frame.frag_index == frame.frag_count - 1:
        at = now + node.batch_delay(frame.precedence)
    else:
        frame_s = time_on_air_ms(meshtastic_frame_len(MAX_BROADCAST_FRAME, NSPGW_PORTNUM), node.cfg.preset) / 1000.0
        rest = frame.frag_count - 1 - frame.frag_index
        at = now + node.cfg.ack_timeout_s + rest * (frame_s + node.cfg.radio_margin_s)
    job = _queued_request(node, frame.msg)
    if job is not None:  # bring the queued request forward when this fragment says it is due sooner
        ready = node.sched.ready_at(CtlKey(job))
        if ready is None or at < ready:
            node.sched.put(CtlKey(job), frame.precedence, at)
        return
    # A bulletin's fragments are asked of the box nearest to us that holds them (its CP), a message's of its sender.
    dst = bulletins.request_target(node, frame.msg) if frame.dst == BROADCAST_ADDR else frame.src
    req = FragmentRequestFrame(node.me, dst, frame.msg, missing)
    node.add_ctl(Ctl(req, frame.precedence), now, at - now)


def _queued_request(node: NodeContext, msg: MsgId) -> int | None:
    return next((n for n, c in node.ctl.items() if isinstance(c.frame, FragmentRequestFrame) and c.frame.msg == msg),
                None)


def next_request(node: NodeContext, c: Ctl, now: float) -> Ctl | None:
    """A fragment request about to go: asking for what is missing now (None: nothing any more). It also
    queues the next one, later and later, for as long as the message stays incomplete. Asking only when the
    last fragment arrives left a box stuck whenever the answer was lost: a bulletin fragment reaches a box
    behind a CP only through that CP's rebroadcast, and the GCT's whole repeats come at most every
    `max_backoff_s`, each a burst the relay, busy rebroadcasting one frame, loses half of (half duplex)."""
    assert isinstance(c.frame, FragmentRequestFrame)
    missing = node.reasm.missing(c.frame.msg)
    if not missing or c.frame.msg in node.delivered:
        return None
    dst = bulletins.request_target(node, c.frame.msg) if c.frame.msg in node.bulletin_partials else c.frame.dst
    again = replace(c, frame=replace(c.frame, dst=dst, missing=missing), asked=c.asked + 1)
    if _queued_request(node, c.frame.msg) is None:  # (a radio NAK re-queues a request too)
        node.add_ctl(again, now, backoff_s(again.asked, node.cfg.ack_timeout_s, node.cfg.max_backoff_s, node.rng))
    return replace(c, frame=again.frame)


def _remember_fragments(node: NodeContext, last: MessageFrame, whole: MessageFrame) -> None:
    """Digest of each fragment of a message just delivered, so a later copy can be told apart fragment by
    fragment. Taken from the fragments as they arrived: their sizes cannot be derived from the whole (the
    last fragment of a bulletin also holds the signature, which can leave it short or even empty)."""
    parts = node.reasm.completed_parts
    if len(parts) != last.frag_count or b"".join(parts) != whole.body:
        return
    node.frag_digests[last.msg] = (last.frag_count, tuple(body_digest(p) for p in parts))
    if len(node.frag_digests) > _FRAG_DIGESTS_KEPT:
        node.frag_digests.pop(next(iter(node.frag_digests)))


def _same_as_delivered(node: NodeContext, frame: MessageFrame, now: float) -> bool | None:
    """Is this (fragment of a) message the one we delivered under its MsgId? None: cannot tell yet.

    A restored sender reuses message numbers for other content (review item 3), so a copy is confirmed only
    when its content matches: the whole body's digest for a single frame, each fragment's digest for a
    fragmented one. After our restart fragment digests are gone: the copy is then reassembled (asking for
    the missing fragments) and compared whole."""
    if frame.frag_count == 1:
        known = node.digests.get(frame.msg)
        return known is None or known == body_digest(frame.body)
    fd = node.frag_digests.get(frame.msg)
    if fd is not None:
        count, digests = fd
        return count == frame.frag_count and digests[frame.frag_index] == body_digest(frame.body)
    try:
        whole = node.reasm.add(frame)
    except DecodeError:
        return None
    if whole is None:
        _request_missing(node, frame, now)
        return None
    same = node.digests.get(frame.msg) in (None, body_digest(whole.body))
    if same:  # never remember a conflicting copy's fragments as the delivered ones
        _remember_fragments(node, frame, whole)
    return same


def _seq_conflict(node: NodeContext, frame: MessageFrame, rec: Received, link: str, relayed: bool, now: float,
                  acts: list[Action]) -> None:
    """Same MsgId, different content: the sender was restored from an old copy and reuses sequence numbers.
    No receipt (it would confirm a message we never stored); the sender's copy expires and is reported to its
    operator, and the sync hint makes it skip ahead."""
    h = rec.header
    node.stats["seq_conflicts"] = node.stats.get("seq_conflicts", 0) + 1
    if relayed and frame.dst != BROADCAST_ADDR:
        node.queue_ack(rec.hop_src, link, FrameRef(h.src, h.counter), now, h.precedence)
    if frame.dst != BROADCAST_ADDR:  # a bulletin's src is not bound to its sender: no hint
        # The message is sealed end to end by its originator, so the same number with other content comes
        # from a restored (or cloned) copy even when a custodian delivers it: the hint then takes the routed
        # way back (through that CP's custody when the sender is not heard straight).
        hop, via = (None, None) if relayed else (rec.hop_src, link)
        sync_hint(node, frame.src, hop, via, node.window(frame.src).highest, now)
    if frame.msg not in node.conflicts:
        node.conflicts.add(frame.msg)
        acts.append(Notice(NoticeKind.SEQ_CONFLICT, {"box": node.name_of(frame.src), "seq": frame.msg.seq}))


def _take_custody(node: NodeContext, rec: Received, ev: FrameIn, now: float, acts: list[Action]) -> None:
    """A frame for another box, handed to us with a valid hop tag. Each (origin, counter) is taken at most
    once, ever (custody replay window, persisted): recorded bytes replayed later are not stored, acknowledged
    or forwarded again. A copy we still hold is acknowledged again (the first ack may have been lost)."""
    h = rec.header
    key = (h.src, h.counter)
    if key in node.held:
        node.queue_ack(rec.hop_src, ev.link, FrameRef(h.src, h.counter), now, h.precedence)
        return
    if node.history.custody_seen(h.src, h.counter):
        node.stats["duplicates"] += 1
        return
    ttl = float(h.ttl_s if h.ttl_s is not None else node.cfg.ttl_s[h.precedence])
    if ttl <= 0:
        return
    if sum(1 for x in node.held.values() if x.from_hop == rec.hop_src) >= node.cfg.custody_quota_per_hop:
        node.stats["custody_refused"] = node.stats.get("custody_refused", 0) + 1
        return  # no ack: the neighbour keeps the frame, retries, and reports it if it expires
    node.history.custody_taken(h.src, h.counter)
    if rec.hop_src != node.me:
        node.peer_heard(rec.hop_src, ev.link, ev.snr, ev.rssi, now, acts, ev.mesh_hops)
    node.held[key] = Held(h.src, h.counter, h.dst, h.precedence, rec.raw, now + ttl, rec.hop_src)
    acts.append(StoreCustody(h.src, h.counter, h.dst, h.precedence, rec.raw, ttl, rec.hop_src))
    node.sched.put(HeldKey(h.src, h.counter), h.precedence, now)
    node.queue_ack(rec.hop_src, ev.link, FrameRef(h.src, h.counter), now, h.precedence)


def _drop_held(node: NodeContext, held: Held, event: CustodyEvent, reason: Detail, acts: list[Action]) -> None:
    held.state = advance_custody(held.state, event)
    node.held.pop((held.origin, held.counter), None)
    node.sched.remove(HeldKey(held.origin, held.counter))
    acts.append(DropCustody(held.origin, held.counter, reason))


def custody_expired(node: NodeContext, held: Held, now: float, acts: list[Action]) -> None:
    """A relay gives up: report to the originator (a FLASH is never dropped silently)."""
    _drop_held(node, held, CustodyEvent.EXPIRE, Detail(DetailKind.CUSTODY_EXPIRED), acts)
    prec = min(held.precedence, Precedence.IMMEDIATE)
    node.add_ctl(Ctl(ExpiredFrame(node.me, held.origin, (held.counter,)), Precedence(prec), tries_left=3), now)


def flush_receipts(node: NodeContext, origin: BoxAddr, seqs: set[int], prec: Precedence, now: float) -> None:
    """Queue receipts for `origin`, piggybacked on a receipt frame still waiting for the radio if any."""
    todo = set(seqs)
    for n, c in node.ctl.items():
        f = c.frame
        if isinstance(f, ReceiptFrame) and f.dst == origin and len(f.seqs) < _MAX_RECEIPT_SEQS and todo:
            room = _MAX_RECEIPT_SEQS - len(f.seqs)
            extra = sorted(todo - set(f.seqs))[:room]
            c.frame = _receipt_frame(node, origin, tuple(sorted({*f.seqs, *extra})))
            c.precedence = Precedence(min(c.precedence, prec))
            if c.custody_sends:  # a re-send waiting for a relay's ack now carries news: it goes now, and an
                # ack of the earlier copy no longer makes it redundant
                for counter in [k for k, (_, job) in node.ctl_custody.items() if job == n]:
                    del node.ctl_custody[counter]
            node.sched.put(CtlKey(n), c.precedence, now)
            todo -= set(extra) | set(f.seqs)
    ordered = sorted(todo)
    for i in range(0, len(ordered), _MAX_RECEIPT_SEQS):
        chunk = tuple(ordered[i : i + _MAX_RECEIPT_SEQS])
        node.add_ctl(Ctl(_receipt_frame(node, origin, chunk), prec, tries_left=3), now)


def _receipt_frame(node: NodeContext, origin: BoxAddr, seqs: tuple[int, ...]) -> ReceiptFrame:
    """A receipt names each message number with the digest of the content stored under it."""
    return ReceiptFrame(node.me, origin, seqs, tuple(
        node.digests.get(MsgId(origin, s), bytes(8))[:RECEIPT_DIGEST_LEN] for s in seqs))


def flush_acks(node: NodeContext, hop: BoxAddr, link: str, refs: list[object], now: float) -> None:
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


__all__ = ["RADIO", "custody_expired", "flush_acks", "flush_receipts", "frame_in"]
