"""The units of outbound work a node keeps: its own messages, frames in its custody, control frames."""

from __future__ import annotations

from dataclasses import dataclass, field

from nspgw.core.lifecycle import CustodyState, MsgState
from nspgw.core.router import Route
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.frames import Frame, MessageFrame, MsgId, Precedence


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
    counters: list[int] = field(default_factory=list)  # frames sent for it (forgotten when it is final)

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
    sent_to: set[BoxAddr] = field(default_factory=set)  # hops we handed it to: only they may acknowledge
    state: CustodyState = CustodyState.HELD  # moves by `lifecycle.CUSTODY_TRANSITIONS` only


@dataclass
class Ctl:
    """A control frame waiting for the radio (receipt, custody ack, expiry report, request, sync, probe)."""

    frame: Frame
    precedence: Precedence
    hop: BoxAddr | None = None  # fixed next hop (one-hop frames); None = route to frame.dst
    link: str | None = None  # fixed link; None = router decides
    tries_left: int = 2  # sends after a radio NAK
    custody_sends: int = 0  # sends to a relay with custody so far (re-sent until it acknowledges)
    asked: int = 0  # fragment requests: how many this one follows (core/inbound.py `next_request`)
    # Bytes to send unchanged instead of encoding `frame`: a bulletin fragment a CP passes on to its NSPs as
    # the GCT sealed and signed it (core/bulletins.py); `frame` is that fragment, decoded.
    raw: bytes | None = None
    hops: int | None = None  # hop limit to ask of the radio (0: the radios in reach only); core/reach.py


@dataclass(frozen=True, slots=True)
class OutKey:
    """Scheduler key of one of our messages."""

    seq: int


@dataclass(frozen=True, slots=True)
class HeldKey:
    """Scheduler key of a frame in our custody."""

    origin: BoxAddr
    counter: int


@dataclass(frozen=True, slots=True)
class CtlKey:
    """Scheduler key of a queued control frame (its job number, `Node.add_ctl`)."""

    job: int


JobKey = OutKey | HeldKey | CtlKey


@dataclass(frozen=True, slots=True)
class TxRecord:
    """What a radio transmission carried, to act on its send result (NAK: try that job again soon)."""

    key: JobKey
    frag: int
    ctl: Ctl | None
