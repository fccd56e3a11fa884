"""A read-only view of a node for status pages, drills and diagnostics (`Node.snapshot`).

Everything outside the core that wants to know how a node is doing reads one of these, never the node's own
tables: the node stays the only owner of its state, and a caller cannot change it by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nspgw.core.backlog import NO_BACKLOG, Backlog
from nspgw.ids import BoxAddr
from nspgw.wire.frames import Precedence


@dataclass(frozen=True, slots=True)
class NodeSnapshot:
    me: BoxAddr
    outbox: frozenset[int]  # sequence numbers of our messages still in progress (not delivered or expired)
    queue: Mapping[Precedence, int]  # our messages in progress per precedence (every precedence present)
    custody: int  # frames we hold for others (we are a relay)
    links: Mapping[str, Mapping[str, object]]  # link kind → {"up", "detail"} (core/link_health.py)
    peer_links: Mapping[int, Mapping[str, object]]  # per box: how it was last reached (core/peer_links.py)
    airtime_used_ms: float  # within the duty-cycle window, at the time of the snapshot
    airtime_limit_ms: float
    jobs: int  # outbound jobs in the scheduler
    waiting_on_radio: int  # ready jobs the last pump could not serve (radio busy, blocked, out of budget)
    deadline: float | None  # `Node.next_deadline()`
    stats: Mapping[str, int]
    # Radio work per precedence and when the radio is expected to have sent it (core/backlog.py); its
    # `items` are keyed by scheduler key (`OutKey(seq)` for our own messages).
    backlog: Backlog = NO_BACKLOG

    @property
    def queued(self) -> int:
        return len(self.outbox) + self.custody
