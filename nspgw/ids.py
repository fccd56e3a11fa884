"""Typed identifiers shared by every layer."""

from __future__ import annotations

from typing import NewType

NodeNum = NewType("NodeNum", int)
"""A Meshtastic node number (32 bit); shown as `!xxxxxxxx`."""

BoxAddr = NewType("BoxAddr", int)
"""A box's compact 12-bit network address, assigned in the roster (1..4094; 0xFFF = all boxes)."""

BROADCAST_ADDR = BoxAddr(0xFFF)


def node_id_str(num: int) -> str:
    """Meshtastic's textual node id for a node number."""
    return f"!{num & 0xFFFFFFFF:08x}"


def parse_node_id(text: str) -> NodeNum:
    """Parse `!xxxxxxxx` (or bare hex) into a node number; ValueError on anything else."""
    t = text[1:] if text.startswith("!") else text
    if not 1 <= len(t) <= 8:
        raise ValueError(f"not a node id: {text!r}")
    return NodeNum(int(t, 16))
