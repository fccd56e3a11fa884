"""Restored and cloned boxes: the sync hint a receiver sends when a sender's counters or message numbers go
back in time, and what the sender believes of one (docs/store-and-forward.md, docs/security.md §5)."""

from __future__ import annotations

from nspgw.core.actions import Action, Notice, NoticeKind, StoreSeqJump
from nspgw.core.context import NodeContext
from nspgw.core.lifecycle import FINAL
from nspgw.core.work import Ctl, OutKey
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.frames import Precedence, SyncFrame

# After a restore, skip this many message sequence numbers (and frame counters past the floor): more than a
# box sends between a backup and its restore in any realistic deployment, far below wire format v1's 2^27.
SEQ_JUMP = 1 << 16
SYNC_FLOOR_LIMIT = 1 << 31  # a sync hint never moves our frame counter beyond this


class ResyncState:
    """What resync remembers for this boot; only this module changes it."""

    def __init__(self) -> None:
        self.hint_at: dict[BoxAddr, float] = {}  # box → when we last sent it a sync hint
        self.warned: set[BoxAddr] = set()  # boxes whose hint made us suspect a clone (warned once)
        self.counter_resynced = False  # frame counter moved past a restored copy's
        self.seq_resynced = False  # message numbers jumped past a restored copy's


def sync_hint(node: NodeContext, src: BoxAddr, hop: BoxAddr | None, link: str | None, floor: int, now: float) -> None:
    """Tell `src` the highest counter we saw from it; `hop`/`link` None: routed like any frame to `src`."""
    st = node.resync
    last = st.hint_at.get(src)
    if last is not None and now - last < node.cfg.sync_hint_interval_s:
        return
    st.hint_at[src] = now
    node.add_ctl(Ctl(SyncFrame(node.me, src, floor), Precedence.PRIORITY, hop, link, 1), now)


def sync_received(node: NodeContext, frame: SyncFrame, now: float, acts: list[Action]) -> None:
    """A receiver saw our old counters or a reused message number: we run from a restored (or cloned) copy.

    Any enrolled box can seal a SyncFrame to us, so it is believed only within bounds: the floor must be
    below 2^31 (half the counter space stays ours whatever a hint says) and at or above a counter we sent
    that box (or broadcast) since we started — a hint is the answer to one of our frames. Then the frame
    counter moves past the floor with a margin beyond anything the old copy can have used, and — once per
    boot — the message numbers jump past the old copy's (StoreSeqJump). A hint whose floor is at or above
    our counter *after* that jump names counters we never sent: another box sends with our identity.
    """
    floor = frame.counter_floor
    first = node.history.first_sent(frame.src, BROADCAST_ADDR)
    if floor >= SYNC_FLOOR_LIMIT or first is None or first > floor:
        node.stats["sync_ignored"] = node.stats.get("sync_ignored", 0) + 1
        return
    restored = node.counter <= floor
    st = node.resync
    if restored and st.counter_resynced:
        node.raise_counter(floor, acts)
        if frame.src not in st.warned:
            st.warned.add(frame.src)
            acts.append(Notice(NoticeKind.CLONE_SUSPECTED, {"box": node.name_of(frame.src)}, variant="sync"))
        return
    if restored:
        st.counter_resynced = True
        node.raise_counter(min(floor + SEQ_JUMP, SYNC_FLOOR_LIMIT), acts)
    if restored or not st.seq_resynced:
        if not st.seq_resynced:
            st.seq_resynced = True
            acts.append(StoreSeqJump(SEQ_JUMP))
        for o in node.out.values():  # frames with stale counters were dropped: send again, fresh counters
            if o.state not in FINAL:
                node.sched.put(OutKey(o.msg.seq), o.precedence, now)
        acts.append(Notice(NoticeKind.COUNTER_RESYNC, {"box": node.name_of(frame.src)}))
