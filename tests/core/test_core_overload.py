"""Overload (issue #12): more ROUTINE offered than the duty cycle allows. FLASH and IMMEDIATE keep their
latency, ROUTINE waits and is never dropped silently (what outlives its time to live is reported expired),
and the backlog estimate the operator sees matches what then happens. Real boxes on the simulated mesh, on
its virtual clock (no wall-clock timing)."""

from __future__ import annotations

from pathlib import Path

from sim_nets import all_in_range

from nspgw.core.actions import NoticeKind
from nspgw.core.airtime import time_on_air_ms
from nspgw.core.work import OutKey
from nspgw.wire.frames import Precedence

GCT, NSP1 = 1, 101
FULL_FRAME_S = time_on_air_ms(255, "LONG_FAST") / 1000.0


def test_routine_overload_waits_and_expires_loudly_while_flash_keeps_its_latency(tmp_path: Path) -> None:
    net = all_in_range(tmp_path, seed=3)
    net.run_until(60)
    # ≈ 2 s on air each: 170 of them are ≈ 330 s, more than the 288 s ROUTINE may spend per hour (EU868 10 %,
    # minus the 20 % reserve). Five more with a 10-minute time to live cannot go before it runs out.
    body = "routine melding {:03d}: " + "x" * 150
    bulk = [net.send(NSP1, GCT, body.format(i).encode()).seq for i in range(170)]
    short = [net.send(NSP1, GCT, body.format(900 + i).encode(), ttl_s=600).seq for i in range(5)]
    net.run_until(400)

    node = net.boxes[NSP1].node
    snap = node.snapshot(net.now)
    routine = snap.backlog.lines[Precedence.ROUTINE]
    assert routine.duty_bound and routine.messages >= len(short)
    assert routine.expected_delay_s > 1800  # the window must age out: the operator is told it takes long
    assert routine.expiring == len(short)
    assert all(snap.backlog.items[OutKey(s)].expires_first for s in short)
    assert snap.backlog.lines[Precedence.FLASH].frames == 0

    # FLASH and IMMEDIATE accepted now go out at once: they may spend the reserve ROUTINE has to leave.
    accepted = net.now
    flash = net.send(NSP1, GCT, b"BRAND in de kerk, 3 gewonden", Precedence.FLASH)
    immediate = net.send(NSP1, GCT, b"Ambulance nodig bij de sporthal", Precedence.IMMEDIATE)
    net.run_until(accepted + 30)
    on_air = {p: [t for t, tx in net.boxes[NSP1].transmits if tx.precedence == p and t >= accepted]
              for p in (Precedence.FLASH, Precedence.IMMEDIATE)}
    assert on_air[Precedence.FLASH] and on_air[Precedence.FLASH][0] - accepted <= FULL_FRAME_S + 0.5 + 1e-6
    assert on_air[Precedence.IMMEDIATE] and on_air[Precedence.IMMEDIATE][0] - accepted <= 2 * (FULL_FRAME_S + 0.5)

    every = [*bulk, *short]
    done = net.run_while(lambda: any((NSP1, s) not in net.outcomes for s in every), 4 * 3600, step_s=60.0)
    assert done, {s: net.outbox_state(NSP1, s) for s in every if (NSP1, s) not in net.outcomes}
    assert all(net.outbox_state(NSP1, s) == "delivered" for s in [*bulk, flash.seq, immediate.seq])
    expired = {n.params["seq"] for n in net.boxes[NSP1].notices if n.kind == NoticeKind.EXPIRED}
    assert all(net.outbox_state(NSP1, s) == "expired" for s in short)
    assert expired == set(short)  # each one told to the operator, and nothing else expired

    # The estimate at t=400 said when the last of the bulk would be on air; it reached the GCT about then
    # (a little later: retries and beacons share the ROUTINE budget, which the estimate does not foresee).
    reached = {seq: t for t, reader, origin, seq in net.deliveries if origin == NSP1 and reader == GCT}
    last = max(reached[s] for s in bulk)
    predicted = 400 + routine.expected_delay_s
    assert 0.9 * predicted <= last <= 1.25 * predicted, (last, predicted)
    net.close()
