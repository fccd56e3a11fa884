"""The beacons a box leaves out while its CP answers it straight (Node._beacon_due, issue #12): an NSP's hourly
beacon told its CP nothing its hourly sitrep and the CP's receipt had not."""

from __future__ import annotations

import itertools

from core_boxes import CP, NSP, node, tx

from nspgw.core.events import FrameIn, MessageAccepted
from nspgw.core.node import BEACONS_SKIPPED_MAX
from nspgw.wire.frames import MsgId, Precedence

HOUR = 3600.0


def nsp_beacons(answer_hops: int | None, hours: float = 12.0) -> list[float]:
    """When an NSP beacons over `hours`, its CP answering it (a receipt, `answer_hops` relays away; None: never)
    every half hour."""
    nsp, cp = node(NSP), node(CP)
    nsp.handle_timer(0.0)
    cp.handle_timer(0.0)
    beacons: list[float] = []
    t, seq, next_msg = 0.0, 0, 60.0
    while t < hours * HOUR:
        d = min(x for x in (nsp.next_deadline(), next_msg) if x is not None)
        t = max(d, t + 1e-3)
        if t >= next_msg:
            seq += 1
            next_msg += HOUR / 2
            acts = nsp.handle(MessageAccepted(MsgId(NSP, seq), CP, Precedence.ROUTINE, b"sitrep: rustig"), t)
        else:
            acts = nsp.handle_timer(t)
        for a in tx(acts):
            if a.hop_dst is None:
                beacons.append(t)
            elif a.hop_dst == CP and answer_hops is not None:
                for r in tx(cp.handle(FrameIn("radio", a.data, NSP), t + 1.0)
                            + cp.handle_timer(t + cp.cfg.receipt_delay_s + 1.0)):
                    if r.hop_dst == NSP:
                        nsp.handle(FrameIn("radio", r.data, CP, mesh_hops=answer_hops), t + 8.0)
    return beacons


def test_an_nsp_its_cp_answers_straight_leaves_most_beacons_out_but_never_more_than_two_in_a_row() -> None:
    interval = node(NSP).cfg.beacon_interval_s
    silent = nsp_beacons(None)
    answered = nsp_beacons(0)
    assert len(silent) >= 11  # once an hour (± 10 %), the first within 30 s of the start
    assert len(answered) <= len(silent) // 2
    gaps = [b - a for a, b in itertools.pairwise(answered)]
    assert gaps and max(gaps) <= (BEACONS_SKIPPED_MAX + 1) * interval * 1.1 + 1.0, gaps


def test_an_answer_through_a_relay_does_not_stand_in_for_a_beacon() -> None:
    assert len(nsp_beacons(1)) >= 11
