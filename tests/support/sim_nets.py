"""Small simulated networks of the demo boxes (real cores, stores and drivers on virtual time) for the core's
network tests: one place for the topologies several test files build."""

from __future__ import annotations

from pathlib import Path

from nspgw.crypto.enrol import demo_boxes
from nspgw.sim.scenario_net import SimNet


def all_in_range(tmp_path: Path, **kw: object) -> SimNet:
    """Every demo box hears every other one, without loss."""
    net = SimNet(demo_boxes(), tmp_path, **kw)  # type: ignore[arg-type]
    addrs = [b.addr for b in demo_boxes()]
    for a in addrs:
        for b in addrs:
            if a < b:
                net.mesh.set_link(f"box{a}", f"box{b}")
    return net
