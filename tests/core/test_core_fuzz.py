"""Whatever bytes arrive, the node answers with actions, never an exception (h11's fuzz invariant)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from nspgw.core.config import NodeConfig, NodeState
from nspgw.core.events import FrameIn
from nspgw.core.node import Node
from nspgw.crypto.enrol import demo_boxes, make_network
from nspgw.ids import BoxAddr
from nspgw.wire.codec import FrameCodec
from nspgw.wire.frames import MessageFrame, MsgId, Precedence

NET = make_network(demo_boxes(), b"f" * 32)
SENDER = FrameCodec(NET.keyring(101))


def fresh() -> Node:
    return Node(NodeConfig(NET.keyring(1)), NodeState(), random.Random(0))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=240), st.sampled_from([None, 101, 10, 999]))
def test_random_bytes_never_raise(data: bytes, hop: int | None) -> None:
    n = fresh()
    n.handle(FrameIn("radio", data, BoxAddr(hop) if hop is not None else None), 0.0)
    n.handle_timer(10.0)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 200), st.integers(0, 255), st.integers(1, 8), st.binary(min_size=1, max_size=100))
def test_mutated_valid_frames_never_raise(pos: int, xor: int, count: int, body: bytes) -> None:
    n = fresh()
    frame = MessageFrame(BoxAddr(101), BoxAddr(1), MsgId(BoxAddr(101), 5), Precedence.ROUTINE, 60, body,
                         frag_index=count - 1, frag_count=count)
    data = bytearray(SENDER.encode(frame, 100 + count))
    data[pos % len(data)] ^= xor
    n.handle(FrameIn("radio", bytes(data), BoxAddr(101)), 0.0)
    n.handle_timer(5.0)
