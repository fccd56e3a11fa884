"""Retries by precedence: a FLASH whose answer does not come is sent again within seconds, never minutes apart;
other precedences keep the slower exponential backoff (airtime). Exercised on a real custodian: a CP holding
a FLASH for the GCT whose every forward is lost (hidden terminals at the GCT in the mass-incident drill)."""

from __future__ import annotations

import itertools
import random

import pytest
from core_boxes import CP, GCT, NSP, node, tx

from nspgw.core.events import RADIO, FrameIn, MessageAccepted
from nspgw.core.outbound import retry_wait
from nspgw.ids import BoxAddr
from nspgw.wire.frames import MsgId, Precedence


def forward_times(prec: Precedence, until_s: float) -> list[float]:
    nsp, cp, gct = node(NSP), node(CP), node(GCT)
    nsp.handle_timer(0.0)
    cp.handle_timer(0.0)
    t = 0.0
    while not (beacons := [a for a in tx(gct.handle_timer(t)) if a.hop_dst is None]):  # the GCT's start-up beacon
        t = gct.next_deadline() or t + 1.0
    cp.handle(FrameIn(RADIO, beacons[0].data, BoxAddr(GCT)), t)  # the CP hears the GCT straight
    sent = tx(nsp.handle(MessageAccepted(MsgId(NSP, 1), GCT, prec, b"Brand in sporthal, 3 gewonden"), 120.0))
    handover = [t for t in sent if t.hop_dst == CP]
    assert handover, sent
    now, at = 121.0, []
    acts = cp.handle(FrameIn(RADIO, handover[0].data, BoxAddr(NSP)), now)
    while now < min(until_s, t + cp.cfg.heard_fresh_s):  # while the GCT counts as heard
        at += [now for t in tx(acts) if t.hop_dst == GCT]  # every forward is lost on air
        d = cp.next_deadline()
        if d is None:
            break
        now = max(d, now + 0.01)
        acts = cp.handle_timer(now)
    return at


def test_a_flash_custodian_retries_within_a_minute_and_a_half_a_routine_one_backs_off() -> None:
    flash = forward_times(Precedence.FLASH, 1800.0)
    routine = forward_times(Precedence.ROUTINE, 1800.0)
    gaps = [b - a for a, b in itertools.pairwise(flash)]
    assert len(flash) >= 30 and max(gaps) <= 60.0 * 1.5 + 1.0, gaps  # cap × the jitter's upper bound
    # The first retries come soon: the third try within 7.5·1.5 + 11.25·1.5 s of the first (growth 1.5, not 2).
    assert flash[2] - flash[0] <= 29.0, flash[:3]
    assert len(routine) < len(flash) / 2


@pytest.mark.parametrize("attempt", range(1, 12))
def test_flash_never_waits_longer_than_the_others(attempt: int) -> None:
    n = node(CP)
    n.rng = random.Random(attempt)  # same jitter draw for each precedence
    waits = {}
    for prec in Precedence:
        n.rng.seed(attempt)
        waits[prec] = retry_wait(n, prec, attempt)
    assert waits[Precedence.FLASH] <= waits[Precedence.IMMEDIATE] <= waits[Precedence.ROUTINE]
    assert waits[Precedence.FLASH] <= 1.5 * 8.0 * n.cfg.ack_timeout_s / 6.0
    # Never before its answer can be there: at least three quarters of the step (7.5 s first at LONG_FAST).
    assert waits[Precedence.FLASH] >= 0.75 * min(n.cfg.ack_timeout_s / 6.0 * 1.5 ** (attempt - 1),
                                                  8.0 * n.cfg.ack_timeout_s / 6.0) - 1e-9
    assert waits[Precedence.IMMEDIATE] <= 1.5 * 600.0


@pytest.mark.parametrize(("prec", "second_hop"), [(Precedence.FLASH, CP), (Precedence.ROUTINE, GCT)])
def test_an_unanswered_direct_flash_goes_to_the_cp_after_one_round(prec: Precedence, second_hop: BoxAddr) -> None:
    """An NSP heard the GCT straight once (the edge of its reach): a FLASH tries it directly once, then hands
    over to its CP with custody; other precedences try directly `direct_attempts_before_relay` (2) times."""
    nsp, gct = node(NSP), node(GCT)
    t = 0.0
    while not (beacons := [a for a in tx(gct.handle_timer(t)) if a.hop_dst is None]):
        t = gct.next_deadline() or t + 1.0
    nsp.handle(FrameIn(RADIO, beacons[0].data, BoxAddr(GCT)), t)
    now = t + 1.0
    acts = nsp.handle(MessageAccepted(MsgId(NSP, 1), GCT, prec, b"Brand in sporthal, 3 gewonden"), now)
    hops = [a.hop_dst for a in tx(acts) if a.data and a.hop_dst is not None]
    while len(hops) < 2 and now < t + 3600.0:  # nothing comes back: every frame is lost
        now = max(nsp.next_deadline() or now + 1.0, now + 0.01)
        hops += [a.hop_dst for a in tx(nsp.handle_timer(now)) if a.hop_dst is not None]
    assert hops[:2] == [GCT, second_hop]
