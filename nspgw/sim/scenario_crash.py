"""Crash driver: a small network of real boxes that a test kills with SIGKILL at random moments.

    python -m nspgw.sim.scenario_crash DIR --seed N [--drain --max-virtual-s S]

Boxes GCT 1, CP 10, NSP 101 and 102 (star: the NSPs reach the GCT only through the CP) keep their SQLite
stores in DIR. Messages are accepted by another process writing the outbox (as `nspgw send` does); this
driver picks them up and relays them on the mesh's virtual clock, as fast as the CPU allows. Without
--drain it runs until killed; with --drain it stops when every accepted message is delivered or expired,
printing one JSON line with the outcome.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nspgw.crypto.enrol import demo_boxes
from nspgw.sim.scenario_net import SimNet

CRASH_BOXES = (1, 10, 101, 102)
CRASH_LINKS = ((1, 10), (10, 101), (10, 102))


def build(workdir: Path, seed: int) -> SimNet:
    net = SimNet([b for b in demo_boxes() if b.addr in CRASH_BOXES], workdir, seed=seed)
    for a, b in CRASH_LINKS:
        net.mesh.set_link(f"box{a}", f"box{b}", loss=0.1)
    return net


def unfinished(net: SimNet) -> int:
    return sum(1 for b in net.boxes.values() for r in b.store.outbox() if r.state.value not in ("delivered", "expired"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--drain", action="store_true")
    ap.add_argument("--max-virtual-s", type=float, default=6 * 3600.0)
    args = ap.parse_args(argv)
    net = build(args.workdir, args.seed)
    print("ready", flush=True)
    while True:
        net.poll_outbox()
        net.run_until(net.now + 2.0)
        if args.drain and (unfinished(net) == 0 or net.now >= args.max_virtual_s):
            print(json.dumps({"unfinished": unfinished(net), "virtual_s": net.now}), flush=True)
            net.close()
            return 0


if __name__ == "__main__":
    sys.exit(main())
