"""The model must stay cheap: a 56-node network over 24 simulated hours in well under a minute."""

from __future__ import annotations

import random
import time

import pytest

from nspgw.sim.mesh import BROADCAST, Mesh, RadioPacket


@pytest.mark.slow
def test_56_nodes_for_24_hours_runs_fast() -> None:
    rng = random.Random(5)
    mesh = Mesh(preset="LONG_FAST", seed=1)
    for i in range(56):
        mesh.add_node(f"n{i}", 0x1000 + i, position=(rng.uniform(0, 12_000), rng.uniform(0, 12_000)),
                      role="ROUTER" if i < 4 else "CLIENT")
    delivered = [0]
    mesh.on_deliver = lambda n, rx: delivered.__setitem__(0, delivered[0] + 1)
    sends = sorted((k * 900 + rng.uniform(0, 900), i) for i in range(56) for k in range(96))
    start = time.perf_counter()
    for pid, (when, i) in enumerate(sends, start=1):
        mesh.run_until(when)
        dest = 0x1000 + rng.randrange(56)
        mesh.send(f"n{i}", RadioPacket(src=0x1000 + i, dest=BROADCAST if dest == 0x1000 + i else dest,
                                       packet_id=pid, portnum=311, payload=bytes(120), want_ack=True))
    mesh.run_until(86_400 + 600)
    elapsed = time.perf_counter() - start
    assert elapsed < 60.0
    stats = mesh.stats()
    assert delivered[0] > len(sends)  # broadcasts reach many nodes; most DMs arrive
    assert max(s["airtime_s"] for s in stats.values()) / 24 <= 360.0 + 3.0  # EU868 budget per hour, ±1 frame
