"""Bulletins along the post tree: CP custody downwards, aggregated confirmations upwards (issue #12).

A crisis-team bulletin is broadcast once by its originator (the GCT). Then, instead of every reader sending its
own end-to-end receipt to the GCT (the broadcast-ack implosion: O(posts) frames, each relayed):

* An NSP whose roster parent is a CP confirms to that CP only (`BulletinHeldFrame`, one hop, pair key).
* The CP reports, in one frame to the originator, which of its own NSPs and itself hold the bulletin. The
  originator counts a box only when it is that CP or an NSP whose roster parent is that CP (inbound.py), so a
  (stolen) CP can lie about its own posts at most (docs/security.md).
* The CP keeps the GCT-signed frames as they arrived (never re-sealed: its NSPs verify the GCT's signature,
  not the CP's) and re-sends them to its NSPs that did not confirm, one hop, with backoff: the GCT no longer
  repeats to each missing NSP, but to its CP (outbound.py `bulletin_targets`), which serves its own posts.
* A CP that got the bulletin at the end of the Meshtastic flood (`mesh_hops` ≥ `FLOOD_EDGE_HOPS`) broadcasts
  it once more, so it reaches posts beyond the hop limit (a chain of CPs), and twice more with backoff
  (`EDGE_SENDS_MAX`): nobody else can reach those CPs (the originator's repeats to them end at the hop limit
  too), so one lost broadcast lost the bulletin for every post beyond (seen: 2 of 8 chain runs). Whether a
  CP beyond holds it cannot be told from here (its confirmation passes through us sealed for the
  originator, and a neighbour CP on our side re-sends the same bytes), so the repeats are not cut short;
  they go one relay far (`EDGE_REPEAT_HOPS`), at the edge only.

Fallbacks keep the old behaviour: a box without a CP parent (a GCT with direct NSPs, a CP's own receipt when it
holds no frames to relay) sends a per-reader ReceiptFrame to the originator, and so does an NSP that hears the
originator itself repeat the bulletin (its CP did not pass its confirmation on). What a CP remembers is kept in
memory only: after a restart it confirms with a plain receipt and the GCT's repeats to its NSPs go direct.
"""

from __future__ import annotations

from nspgw.core import reach
from nspgw.core.bulletin_state import Relayed
from nspgw.core.context import NodeContext
from nspgw.core.events import IP, RADIO
from nspgw.core.scheduler import backoff_s
from nspgw.core.work import Ctl
from nspgw.crypto.roster import Role
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.codec import MAX_HELD_BOXES
from nspgw.wire.frames import RECEIPT_DIGEST_LEN, BulletinHeldFrame, MessageFrame, MsgId, Precedence

FLOOD_EDGE_HOPS = 3
"""Meshtastic relays a frame took before it reached us at which the flood stops (firmware default hop limit 3,
`config.lora.hop_limit`): a CP that received a bulletin this far out re-broadcasts it for the posts beyond."""

EDGE_SENDS_MAX = 3
"""Broadcasts of one bulletin by a CP at the flood's edge, for the CPs beyond it."""
EDGE_REPEAT_HOPS = 1
"""Hop limit of the repeats: the neighbour CP beyond and, by its relay, its posts. The first goes as far as the
radio's own limit. Measured on the map chain (seeds 1-8, frames on air per bulletin; 139-199 without
repeats): full-limit repeats 176-291, one relay 191-244, none (0) 173-228 but then a FLASH bulletin expired
on one day of the star chain."""

_GATHER_FACTOR = 3.0  # a CP's later reports wait this many receipt delays for more late confirmations
_SPREAD_PER_SIBLING = 0.8  # × receipt delay per NSP of the same CP: 4 s each at 5 s


# ------------------------------------------------------------------------------------------- roster
def _role(node: NodeContext, addr: BoxAddr) -> Role | None:
    e = node.cfg.keyring.roster.get(addr)
    return None if e is None or e.revoked else e.role


def cp_parent(node: NodeContext, addr: BoxAddr) -> BoxAddr | None:
    """`addr`'s roster parent when that is an unrevoked CP (None: no CP above it)."""
    e = node.cfg.keyring.roster.get(addr)
    if e is None or e.parent is None or e.parent == addr:
        return None
    return e.parent if _role(node, e.parent) == Role.CP else None


def children(node: NodeContext) -> set[BoxAddr]:
    """Unrevoked boxes whose roster parent is this box."""
    return {e.addr for e in node.cfg.keyring.roster.entries if e.parent == node.me and not e.revoked and
            e.addr != node.me}


def _relaying(node: NodeContext, origin: BoxAddr) -> bool:
    return _role(node, node.me) == Role.CP and _role(node, origin) == Role.GCT


# ---------------------------------------------------------------------------------------- receiving
def fragment_in(node: NodeContext, frame: MessageFrame, raw: bytes, mesh_hops: int, hop: BoxAddr) -> None:
    """A CP keeps the bytes of every GCT bulletin fragment as they arrived (newest wins, as in reassembly),
    and notes whether the GCT's flood reaches it or only another CP's re-broadcast does (`upstream_for`)."""
    if not _relaying(node, frame.src):
        return
    r = node.bulletins.get(frame.msg)
    if r is None or r.count != frame.frag_count:
        r = node.bulletins.add(frame.msg, Relayed(frame.precedence, frame.frag_count))
    if hop == frame.src:
        r.from_origin = True
        node.bulletins.set_upstream(frame.src, None)
    elif hop != node.me and mesh_hops == 0 and _role(node, hop) == Role.CP and not r.from_origin:
        # A neighbour CP's own send (its re-broadcast at the flood's edge, or a re-send to its own posts).
        # Our way back only while the originator's flood never brought us this bulletin: a CP that hears
        # both its neighbour and the GCT must not hand its reports to the neighbour (seen in the CP chain:
        # every CP heard the next one's re-sends and handed its reports down the chain, away from the GCT).
        r.via_cp = hop
        node.bulletins.set_upstream(frame.src, hop)
    if r.whole:
        return
    r.raws[frame.frag_index] = raw
    r.parts[frame.frag_index] = frame
    r.mesh_hops = max(r.mesh_hops, mesh_hops)


def copy_heard(node: NodeContext, frame: MessageFrame, hop: BoxAddr) -> None:
    """A copy of a bulletin fragment we hold already: one by the originator's own flood says the flood reaches
    us (after a neighbour CP's send brought it first), so our way back to the originator is direct again."""
    if hop != frame.msg.origin or not _relaying(node, frame.msg.origin):
        return
    r = node.bulletins.get(frame.msg)
    if r is not None:
        r.from_origin = True
    node.bulletins.set_upstream(frame.msg.origin, None)


def delivered(node: NodeContext, whole: MessageFrame, digest: bytes, now: float) -> None:
    """A bulletin was just stored here: confirm it along the tree (or, without a CP, straight to its origin)."""
    msg = whole.msg
    if _relaying(node, msg.origin):
        r = node.bulletins.get(msg)
        if r is not None and _matches(r, whole):
            r.whole = True
            r.digest = digest
            r.confirmed.add(node.me)
            r.pending = children(node) - r.confirmed
            r.deadline = now + node.cfg.ttl_s[whole.precedence]
            if r.mesh_hops >= FLOOD_EDGE_HOPS:
                _send(node, r, None, now)  # beyond the flood's reach: once more, for the posts further out
                r.edge_sends = 1
                r.edge_due = now + _edge_wait(node, 1)
            if r.pending:  # once its NSPs had time to confirm (`confirm_spread_s`)
                r.due = now + node.cfg.ack_timeout_s + confirm_spread_s(node, node.me, whole.precedence)
            # The first report waits until our NSPs had time to confirm (one frame for all of them).
            report(node, msg, digest, {node.me, *r.confirmed}, whole.precedence, now,
                   node.batch_delay(whole.precedence) + confirm_spread_s(node, node.me, whole.precedence))
            return
    parent = cp_parent(node, node.me)
    if parent is not None and parent != msg.origin and _role(node, msg.origin) == Role.GCT:
        _confirm_to(node, parent, msg, digest, whole.precedence, now)
    else:
        node.queue_receipt(msg.origin, msg.seq, whole.precedence, now)


def _matches(r: Relayed, whole: MessageFrame) -> bool:
    """The frames we kept are exactly the verified bulletin (a forged fragment overwritten later is not)."""
    if len(r.parts) != r.count or set(r.parts) != set(range(r.count)):
        return False
    if r.count == 1:
        p = r.parts[0]
        return p.body == whole.body and p.signature == whole.signature
    body = b"".join(r.parts[i].body for i in range(r.count))
    return body == whole.body and r.parts[r.count - 1].signature == whole.signature


def repeat_heard(node: NodeContext, frame: MessageFrame, hop: BoxAddr, now: float) -> None:
    """A bulletin we hold came again (rate-limited by the caller): our confirmation may have been lost."""
    msg = frame.msg
    digest = node.digests.get(msg, bytes(8))[:RECEIPT_DIGEST_LEN]
    r = node.bulletins.get(msg) if _relaying(node, msg.origin) else None
    if r is not None and r.whole:
        if hop == msg.origin:  # the GCT misses confirmations of ours: report all we know, serve the rest now
            prec = frame.precedence
            report(node, msg, digest, {node.me, *r.confirmed}, prec, now, node.batch_delay(prec))
            if r.pending and r.due is None:  # (a running re-send timer is not hurried: its NSPs may be
                r.due = now  # confirming right now)
        return
    parent = cp_parent(node, node.me)
    if hop == msg.origin or parent is None or _role(node, msg.origin) != Role.GCT:
        # The originator itself repeats to us (our CP did not pass our confirmation on), or no CP above us.
        node.queue_receipt(msg.origin, msg.seq, frame.precedence, now)
    elif hop == parent:  # our CP re-sends it: it has no confirmation from us
        _confirm_to(node, parent, msg, digest, frame.precedence, now)
    # else another CP's re-broadcast for its own posts: nothing asks us


def held_in(node: NodeContext, frame: BulletinHeldFrame, now: float) -> tuple[BoxAddr, ...] | None:
    """A BulletinHeldFrame for us. At the originator: the boxes it may vouch for (itself, its own NSPs), for
    the receipt logic. At a CP: an NSP of ours confirming itself, passed on in our next report (returns None).
    Anything else is a forgery or a misrouted frame: counted as rejected."""
    if frame.msg.origin == node.me:
        ok = tuple(b for b in frame.boxes if b == frame.src or cp_parent(node, b) == frame.src)
        if len(ok) != len(frame.boxes):
            node.stats["rejected"] += 1
        return ok
    if frame.boxes != (frame.src,) or cp_parent(node, frame.src) != node.me or not _relaying(node, frame.msg.origin):
        node.stats["rejected"] += 1
        return None
    r = node.bulletins.get(frame.msg)
    prec = Precedence.ROUTINE
    if r is not None:
        if r.digest and r.digest != frame.digest:  # another content under this number: not ours to vouch for
            node.stats["rejected"] += 1
            return None
        r.confirmed.add(frame.src)
        r.pending.discard(frame.src)
        prec = r.precedence
        if not r.pending:
            r.due = None
    # Merged into the report still waiting if any; a late one waits a little for others as late.
    report(node, frame.msg, frame.digest, {frame.src}, prec, now, node.batch_delay(prec) * _GATHER_FACTOR)
    return None


# ------------------------------------------------------------------------------------------ sending
def confirm_spread_s(node: NodeContext, cp: BoxAddr, prec: Precedence) -> float:
    """How far the NSPs of `cp` spread their confirmations: they all heard the same frame at the same moment
    and most of them cannot hear each other (hidden terminals: no carrier sense helps), so confirmations sent
    after one fixed delay collide at the CP, every time (seen in the CP-chain scenario: four in a row lost)."""
    siblings = sum(1 for e in node.cfg.keyring.roster.entries if e.parent == cp and not e.revoked)
    # Not shortened for FLASH: the bulletin is already stored; only the crisis team's view waits for this,
    # and a FLASH bulletin's time to live (1 h) is too short for repairs of confirmations that collided.
    return node.cfg.receipt_delay_s * max(2.0, _SPREAD_PER_SIBLING * siblings)


def _confirm_to(node: NodeContext, parent: BoxAddr, msg: MsgId, digest: bytes, prec: Precedence, now: float) -> None:
    """One hop to our CP: we hold the bulletin (at a random moment of the spread, see `confirm_spread_s`)."""
    for c in node.ctl.values():
        f = c.frame
        if isinstance(f, BulletinHeldFrame) and f.dst == parent and f.msg == msg:
            return  # one still waits for the radio
    frame = BulletinHeldFrame(node.me, parent, msg, digest, (node.me,))
    delay = node.batch_delay(prec) + node.rng.random() * confirm_spread_s(node, parent, prec)
    link = IP if node.ip_reaches(parent, now) else RADIO  # not to the broker while it says our CP left it
    node.add_ctl(Ctl(frame, prec, hop=parent, link=link, tries_left=2), now, delay)


def report(node: NodeContext, msg: MsgId, digest: bytes, boxes: set[BoxAddr], prec: Precedence, now: float,
           delay: float) -> None:
    """Tell the originator these boxes hold `msg`: merged into a report still waiting for the radio if any."""
    todo = set(boxes)
    for c in node.ctl.values():
        f = c.frame
        if isinstance(f, BulletinHeldFrame) and f.dst == msg.origin and f.msg == msg and todo:
            room = MAX_HELD_BOXES - len(f.boxes)
            extra = sorted(todo - set(f.boxes))[:room]
            c.frame = BulletinHeldFrame(f.src, f.dst, f.msg, f.digest, tuple(sorted({*f.boxes, *extra})))
            todo -= set(c.frame.boxes)
    ordered = sorted(todo)
    for i in range(0, len(ordered), MAX_HELD_BOXES):
        chunk = tuple(ordered[i: i + MAX_HELD_BOXES])
        node.add_ctl(Ctl(BulletinHeldFrame(node.me, msg.origin, msg, digest, chunk), prec, tries_left=3), now,
                     delay)


def _send(node: NodeContext, r: Relayed, box: BoxAddr | None, now: float, *, hops: int | None = None,
          parts: tuple[int, ...] | None = None) -> None:
    """Queue the GCT's own frames, unchanged: broadcast (`box` None) or one hop to `box`; `hops`: the broadcast's
    hop limit (0: the radios in reach only; None: the radio's own); `parts`: only these fragments (default all)."""
    link = IP if box is not None and node.ip_reaches(box, now) else RADIO
    hop = BROADCAST_ADDR if box is None else box
    for i in range(r.count) if parts is None else parts:
        node.add_ctl(Ctl(r.parts[i], r.precedence, hop=hop, link=link, tries_left=1, raw=r.raws[i],
                         hops=hops if box is None else None), now)


def _edge_wait(node: NodeContext, sends: int) -> float:
    """How long a CP at the flood's edge waits before it broadcasts again for the CPs beyond: as long as the
    originator waits for confirmations (outbound.py, a bulletin's repeat round)."""
    return backoff_s(sends, 3.0 * node.cfg.ack_timeout_s, node.cfg.max_backoff_s, node.rng)


def edge_timer(node: NodeContext, r: Relayed, now: float) -> None:
    """Broadcast again for the CPs beyond the flood's edge (see the module docstring), or stop."""
    if r.edge_due is None or r.edge_due > now:
        return
    if now >= r.deadline:
        r.edge_due = None
        return
    _send(node, r, None, now, hops=EDGE_REPEAT_HOPS)
    r.edge_sends += 1
    r.edge_due = now + _edge_wait(node, r.edge_sends) if r.edge_sends < EDGE_SENDS_MAX else None


def timers(node: NodeContext, now: float) -> None:
    """Re-send held bulletins to our NSPs that did not confirm: one hop each, or one broadcast when most
    of them miss it; then wait longer and longer (as a message round), until its time to live ends. And
    the broadcasts of a CP at the flood's edge (`edge_timer`)."""
    for _msg, r in node.bulletins.due():
        edge_timer(node, r, now)
        if r.due is None or r.due > now:
            continue
        if not r.pending or now >= r.deadline or not r.whole:
            r.due = None
            continue
        kids = children(node)
        if len(r.pending) >= 2 and 2 * len(r.pending) > len(kids):
            # For our own posts: only as far as they are (neighbour-only when they all hear us straight). Relayed
            # with the radio's hop limit, a re-send for three posts flooded four radio hops of the chain (and the
            # other CPs took the sender for their way back to the GCT).
            _send(node, r, None, now, hops=reach.farthest(node, r.pending, now))
        else:
            for box in sorted(r.pending):
                _send(node, r, box, now)
        r.attempts += 1
        r.due = now + backoff_s(r.attempts, node.cfg.ack_timeout_s, node.cfg.max_backoff_s, node.rng)


def request_target(node: NodeContext, msg: MsgId) -> BoxAddr:
    """Whom to ask for the missing fragments of bulletin `msg`: the box that holds its frames nearest to us.
    An NSP under a CP asks that CP (one hop; it keeps the GCT's frames and serves its posts anyway); a CP
    that got the bulletin only through a neighbour CP's send asks that CP. Everyone else, and every
    non-bulletin, asks the originator. Asked from the originator, each post's request went up the tree (with
    custody, hop by hop, beyond the flood) and every answer was a re-broadcast of the whole mesh."""
    origin = msg.origin
    if _role(node, origin) != Role.GCT:
        return origin
    if _relaying(node, origin):
        r = node.bulletins.get(msg)
        if r is not None and not r.from_origin and r.via_cp is not None and r.via_cp != node.me:
            return r.via_cp
        return origin
    parent = cp_parent(node, node.me)
    return parent if parent is not None and parent != origin else origin


_REQUEST_GAP_S = 20.0  # a box's request for fragments of one bulletin is served at most this often


def fragments_asked(node: NodeContext, requester: BoxAddr, msg: MsgId, missing: tuple[int, ...],
                    now: float) -> None:
    """A box asks us (not the originator) for fragments of a GCT bulletin we carry: sent one hop, as the GCT
    sealed them, once we hold the verified bulletin (before that our own request is under way, and our
    re-sends to our posts follow once it is whole)."""
    r = node.bulletins.get(msg) if _relaying(node, msg.origin) else None
    if r is None or not r.whole:
        return
    last = r.asked_at.get(requester)
    if last is not None and now - last < _REQUEST_GAP_S:
        node.stats["rejected"] += 1
        return
    r.asked_at[requester] = now
    parts = tuple(i for i in sorted(set(missing)) if i in r.raws)
    if parts:
        _send(node, r, requester, now, parts=parts)


def upstream_for(node: NodeContext, dst: BoxAddr) -> BoxAddr | None:
    """The CP to hand a frame for `dst` to with custody, when `dst`'s bulletins reach us only through that CP's
    re-broadcast (a chain of CPs longer than the hop limit): our reports, and frames our NSPs hand us for it,
    go back the way the bulletin came, one CP at a time, instead of a flood that cannot reach."""
    up = node.bulletins.upstream(dst)
    return up if up is not None and up != node.me and _role(node, up) == Role.CP else None


def bulletin_targets(node: NodeContext, pending: set[BoxAddr], attempts: int) -> list[BoxAddr]:
    """Where the originator's repeat round goes: an NSP under a CP is served by that CP (which holds the
    bulletin and re-sends it to its own NSPs), for the first `_VIA_CP_ROUNDS` rounds and every other round after
    that; the other rounds, and every round for a box without a CP, go to the box itself (a CP that is down or
    lost its memory must not silence its posts)."""
    out: set[BoxAddr] = set()
    for b in pending:
        p = cp_parent(node, b)
        via_cp = attempts <= _VIA_CP_ROUNDS or attempts % 2 == 1
        out.add(p if p is not None and p != node.me and via_cp else b)
    return sorted(out)


_VIA_CP_ROUNDS = 3
