"""`nspgw ping gct` from an NSP two hops away: the probe goes to the CP with custody and the CP forwards it at
once; the GCT's reply must come back the same way. It used to go to the CP as a plain one-hop frame addressed
to the NSP, which the CP's codec refuses (a frame for another box without custody), so the first ping after
start-up was answered only once the NSP happened to hear the GCT's own beacon and probed it directly."""

from __future__ import annotations

import heapq

from core_boxes import CP, GCT, NSP, codec, node, tx

from nspgw.core.events import RADIO, FrameIn
from nspgw.core.node import Node
from nspgw.core.work import Ctl
from nspgw.ids import BoxAddr
from nspgw.wire.frames import Precedence, ProbeFrame

HOP_S = 1.0  # about a small frame's time on air at LONG_FAST, plus the radio's queue
CHAIN = {NSP: {CP}, CP: {NSP, GCT}, GCT: {CP}}  # the NSP does not hear the GCT, nor the GCT the NSP


def ping_reply_at(start_s: float, until_s: float) -> float | None:
    """Three cores started together on a lossless chain; the NSP probes the GCT at `start_s` the way the
    daemon does (`daemon_control.Pings`). Returns when a probe reply reaches the NSP, or None."""
    nodes: dict[BoxAddr, Node] = {a: node(a) for a in CHAIN}
    air: list[tuple[float, int, BoxAddr, BoxAddr, bytes]] = []  # (arrival, order, to, from, bytes)
    order = 0

    def send(src: BoxAddr, acts: list[object], now: float) -> None:
        nonlocal order
        for t in tx(acts):  # type: ignore[arg-type]
            assert t.link == RADIO
            for dst in CHAIN[src] if t.hop_dst is None else {t.hop_dst} & CHAIN[src]:
                order += 1
                heapq.heappush(air, (now + HOP_S, order, dst, src, t.data))

    for a, n in nodes.items():
        send(a, n.handle_timer(0.0), 0.0)
    probed = False
    now = 0.0
    while now < until_s:
        deadlines = [d for n in nodes.values() if (d := n.next_deadline()) is not None]
        times = [*deadlines, *(a[0] for a in air[:1]), *([] if probed else [start_s])]
        now = max(min(times), now)
        if not probed and now >= start_s:
            probed = True
            nsp = nodes[NSP]
            nsp.add_ctl(Ctl(ProbeFrame(NSP, GCT, 4242), Precedence.PRIORITY), now)
            send(NSP, nsp.handle_timer(now), now)
        while air and air[0][0] <= now:
            _, _, dst, src, data = heapq.heappop(air)
            if dst == NSP:
                f = codec(NSP).decode(data, src).frame
                if isinstance(f, ProbeFrame) and f.reply and f.nonce == 4242:
                    return now
            send(dst, nodes[dst].handle(FrameIn(RADIO, data, src), now), now)
        for a, n in nodes.items():
            d = n.next_deadline()
            if d is not None and d <= now:
                send(a, n.handle_timer(now), now)
        now += 1e-3 if not air and not any(
            (d := n.next_deadline()) is not None and d <= now for n in nodes.values()) else 0.0
    return None


def test_two_hop_ping_right_after_start_up_is_answered_through_the_relay() -> None:
    # Before any beacon: nobody has heard anybody yet but the probe's own hops.
    at = ping_reply_at(0.5, 60.0)
    assert at is not None and at - 0.5 <= 4 * HOP_S + 2.0, at  # probe NSP→CP→GCT, reply GCT→CP→NSP (+ queueing)


def test_two_hop_ping_after_beacons_is_answered_through_the_relay() -> None:
    at = ping_reply_at(120.0, 200.0)
    assert at is not None and at - 120.0 <= 4 * HOP_S + 2.0, at
