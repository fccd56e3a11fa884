"""The demo network's boxes as bare cores (no store, no radio) for the core's unit tests: one place for the
keyring, node, codec and transmit helpers that every review test file needs."""

from __future__ import annotations

import random

from nspgw.core.actions import Action, Transmit
from nspgw.core.config import NodeConfig, NodeState
from nspgw.core.node import Node
from nspgw.crypto.enrol import demo_boxes, make_network
from nspgw.ids import BoxAddr
from nspgw.wire.codec import FrameCodec

NET = make_network(demo_boxes(), b"n" * 32)
NSP, NSP2, CP, GCT = BoxAddr(101), BoxAddr(102), BoxAddr(10), BoxAddr(1)


def node(addr: BoxAddr, state: NodeState | None = None, **cfg: object) -> Node:
    """A core for `addr` with a fixed random seed; `cfg` overrides NodeConfig fields."""
    return Node(NodeConfig(NET.keyring(addr), **cfg), state or NodeState(), random.Random(1))  # type: ignore[arg-type]


def codec(addr: BoxAddr) -> FrameCodec:
    return FrameCodec(NET.keyring(addr))


def tx(acts: list[Action]) -> list[Transmit]:
    return [a for a in acts if isinstance(a, Transmit)]
