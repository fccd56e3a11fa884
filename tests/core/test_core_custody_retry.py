"""A custodian's first forward to a destination it has not heard yet is lost: it tries again after the normal
backoff. It used to hold the frame after that single try until it heard the destination (or for 30 min), so
in the CP-outage drill a ROUTINE message the CP took at 2 min, whose one forward to the town hall was lost on
a 10 % loss hop, was still in the CP when it lost power at 10 min, and arrived three hours late."""

from __future__ import annotations

from core_boxes import CP, GCT, NSP, node, tx

from nspgw.core.events import RADIO, FrameIn, MessageAccepted
from nspgw.ids import BoxAddr
from nspgw.wire.frames import MsgId, Precedence


def forwards_to_gct(until_s: float) -> list[float]:
    """NSP → CP with custody at t=120; the CP's forwards to the GCT (all lost) until `until_s`."""
    nsp, cp = node(NSP), node(CP)
    nsp.handle_timer(0.0)
    cp.handle_timer(0.0)  # start-up beacons go nowhere: the CP has heard nobody yet
    sent = tx(nsp.handle(MessageAccepted(MsgId(NSP, 1), GCT, Precedence.ROUTINE, b"Bieb open, 25 bezoekers"), 120.0))
    handover = [t for t in sent if t.hop_dst == CP]
    assert handover, sent  # the NSP has not heard the GCT: it hands the message to its CP
    at: list[float] = []
    now = 121.0
    acts = cp.handle(FrameIn(RADIO, handover[0].data, BoxAddr(NSP)), now)
    while True:
        at += [now for t in tx(acts) if t.hop_dst == GCT]  # every one lost on air
        d = cp.next_deadline()
        if d is None or d > until_s:
            return at
        now = max(d, now)
        acts = cp.handle_timer(now)


def test_custodian_tries_again_soon_after_losing_its_first_forward() -> None:
    at = forwards_to_gct(121.0 + 4 * 45.0)
    assert len(at) >= 2, at  # the first forward at once, the next after the normal backoff (≤ 1.5 × 45 s)
    assert at[0] == 121.0 and at[1] - at[0] <= 1.5 * 45.0 + 1.0, at


def test_custodian_still_holds_for_an_unheard_box_after_a_few_tries() -> None:
    """The airtime saving stays: a destination that never answers is not probed at the backoff forever."""
    at = forwards_to_gct(121.0 + 1500.0)
    assert 2 <= len(at) <= 3, at
