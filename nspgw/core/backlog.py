"""How much radio work waits, per precedence, and how long before the radio can have sent it (pure).

Under overload (more offered than the channel and the duty cycle allow) the operator must see that ROUTINE
waits and roughly for how long, while FLASH and IMMEDIATE keep their latency. `estimate_backlog` answers
that from the queued radio work, the duty-cycle ledger (its sliding window as it stands) and the time each
frame takes on air, by playing the scheduler's policy forward on a copy of the ledger:

- one frame at a time; the radio is busy for a frame's time on air plus the margin (`NodeConfig.radio_margin_s`);
- the ready work of highest precedence goes first (then earliest ready, then oldest), as `Scheduler.pick`;
- a frame goes when the ledger has room for it; ROUTINE must leave the reserve unspent
  (`NodeConfig.reserve_fraction`), as `outbound.radio_gate`.

Precedence `p` is estimated from the work of precedence `p` and higher only: the scheduler never lets lower
work go before higher ready work, and ROUTINE cannot spend the reserve, so a ROUTINE backlog does not move
the FLASH estimate (at most the one frame already on air does, through `radio_free_at`).

It is an estimate, not a promise. Where the real pump skips a frame that does not fit the budget and sends a
smaller one behind it, the estimate waits for the first (it errs late); acknowledgements, retries and
frames other boxes put on the channel are not foreseen.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from nspgw.core.airtime import DutyCycleLedger
from nspgw.wire.frames import Precedence


@dataclass(frozen=True, slots=True)
class Pending:
    """One queued unit of radio work: a message (ours or one in our custody) or a control frame."""

    key: Hashable
    precedence: Precedence
    frames_ms: Sequence[float]  # time on air of each frame still to send, in sending order
    ready_at: float  # the scheduler's ready time (monotonic seconds)
    order: int = 0  # tie-break among equals: lower goes first (older)
    message: bool = True  # False: a control frame (receipt, beacon…), counted in frames and airtime only
    deadline: float = math.inf  # when its time to live runs out (it is then reported expired, not sent)


@dataclass(frozen=True, slots=True)
class SendEstimate:
    """When one unit of work is expected to be on air."""

    delay_s: float  # from `now` until its last frame starts (inf: it cannot go, radio down or never fits)
    duty_bound: bool  # it waits for duty-cycle budget, not only for the radio or the work before it
    expires_first: bool = False  # its time to live runs out before it is expected on air


@dataclass(frozen=True, slots=True)
class BacklogLine:
    """The radio work of one precedence."""

    messages: int
    frames: int
    airtime_ms: float
    expected_delay_s: float  # until all of it has started on air (0 when empty; inf: it cannot go)
    duty_bound: bool
    expiring: int = 0  # messages expected to expire before they go (reported to the operator then)


EMPTY_LINE = BacklogLine(0, 0, 0.0, 0.0, False, 0)


@dataclass(frozen=True, slots=True)
class Backlog:
    lines: Mapping[Precedence, BacklogLine]  # every precedence present, FLASH first
    items: Mapping[Hashable, SendEstimate]  # per `Pending.key`

    @property
    def total_airtime_ms(self) -> float:
        return sum(line.airtime_ms for line in self.lines.values())


NO_BACKLOG = Backlog(MappingProxyType(dict.fromkeys(Precedence, EMPTY_LINE)), MappingProxyType({}))


def estimate_backlog(work: Iterable[Pending], ledger: DutyCycleLedger, now: float, *, radio_free_at: float = 0.0,
                     margin_s: float = 0.0, routine_reserve_ms: float = 0.0, radio_up: bool = True) -> Backlog:
    """Backlog and expected delay per precedence (see the module text). `ledger` is not changed."""
    items = [w for w in work if w.frames_ms]
    estimates: dict[Hashable, SendEstimate] = {}
    lines: dict[Precedence, BacklogLine] = {}
    for prec in Precedence:
        mine = [w for w in items if w.precedence == prec]
        if not mine:
            lines[prec] = EMPTY_LINE
            continue
        if radio_up:
            played = _play([w for w in items if w.precedence <= prec], ledger, now, max(now, radio_free_at),
                           margin_s, routine_reserve_ms)
        else:
            played = {}
        for w in mine:
            e = played.get(w.key, SendEstimate(math.inf, False))
            estimates[w.key] = SendEstimate(e.delay_s, e.duty_bound, now + e.delay_s > w.deadline)
        lines[prec] = BacklogLine(
            messages=sum(1 for w in mine if w.message), frames=sum(len(w.frames_ms) for w in mine),
            airtime_ms=sum(sum(w.frames_ms) for w in mine),
            expected_delay_s=max(estimates[w.key].delay_s for w in mine),
            duty_bound=any(estimates[w.key].duty_bound for w in mine),
            expiring=sum(1 for w in mine if w.message and estimates[w.key].expires_first))
    return Backlog(MappingProxyType(lines), MappingProxyType(estimates))


def _play(items: list[Pending], ledger: DutyCycleLedger, now: float, start: float, margin_s: float,
          routine_reserve_ms: float) -> dict[Hashable, SendEstimate]:
    """Send `items` frame by frame on a copy of `ledger` by the scheduler's rules; the estimate per key."""
    led = ledger.copy()
    t = start
    later = [(w.ready_at, w.precedence, w.order, i) for i, w in enumerate(items)]
    heapq.heapify(later)
    ready: list[tuple[Precedence, float, int, int]] = []
    sent = [0] * len(items)
    budget_waited = False
    out: dict[Hashable, SendEstimate] = {}
    while later or ready:
        while later and later[0][0] <= t:
            r, p, o, i = heapq.heappop(later)
            heapq.heappush(ready, (p, r, o, i))
        if not ready:
            t = later[0][0]
            continue
        p, _r, _o, i = ready[0]
        w = items[i]
        ms = w.frames_ms[sent[i]]
        fits_at = led.next_time_available(t, ms, routine_reserve_ms if p == Precedence.ROUTINE else 0.0)
        if fits_at == math.inf:  # never fits the budget: it waits until its time to live runs out
            heapq.heappop(ready)
            out[w.key] = SendEstimate(math.inf, True)
            continue
        if fits_at > t:
            if later and later[0][0] < fits_at:
                t = later[0][0]  # more urgent work may become ready before the budget frees up
                continue
            t = fits_at
            budget_waited = True
        led.record(t, ms)
        sent[i] += 1
        if sent[i] == len(w.frames_ms):
            heapq.heappop(ready)
            # Behind a wait for budget counts as waiting for budget: without it, it would have gone earlier.
            out[w.key] = SendEstimate(t - now, budget_waited)
        t += ms / 1000.0 + margin_s
    return out
