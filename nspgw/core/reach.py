"""How far a frame has to travel on the mesh: the Meshtastic hop limit the core asks its radio for (issue #12).

Meshtastic floods. Every radio that hears a packet with hop limit > 0 relays it (FloodingRouter::perhapsRebroadcast;
a DM that names no learnt next hop too, NextHopRouter), and each relay is one more frame on air. The radio's own
limit (`lora.hop_limit`, 3 by default) is sized for a mesh nobody knows. nspgw knows its post tree, and from the
frames it hears how many relays each box is away (hop_start - hop_limit, `NodeContext.mesh_hops`). So:

* a DM to a box heard lately goes with that box's distance as its hop limit (0: a neighbour);
* a DM to a box not heard lately, whose roster parent (its CP) is, goes with the parent's distance + 1: a post
  is a neighbour of its own CP (the planning rule of technician-guide §9). In a star of CPs, the GCT's DM to a
  post of a CP was relayed by some 40 radios of that CP's and its neighbours' posts; now by the CPs only;
* a bulletin the originator broadcasts goes as far as its farthest addressee needs by the rules above (a post
  not heard: one relay beyond its CP), so every CP's relay reaches its posts and the posts do not relay it once
  more (they did: 10 to 60 frames per fragment, of which the posts needed none). Its CPs' re-sends serve a post
  the relay missed (bulletins.py); a CP's re-send goes as far as its pending posts (`farthest`).

Everything else, and every distance that is not known, leaves the radio its own limit (None). A distance
that is out of date (the relay died, the post moved) costs unanswered attempts: from the fourth retry of a frame
on, the radio's own limit is used again (`attempt`), and a box heard again is measured again.
"""

from __future__ import annotations

from nspgw.core.context import NodeContext
from nspgw.ids import BoxAddr

HOP_MAX = 7
"""MeshTypes.h `HOP_MAX`: the firmware clamps a larger hop limit to this."""

MEASURED_TRIES = 4
"""Attempts of one frame (or message) that use the measured distance; later ones use the radio's own limit."""


def distance(node: NodeContext, addr: BoxAddr, now: float) -> int | None:
    """Relays between us and `addr` when last heard, if that was lately (`heard_fresh_s`)."""
    if not node.is_fresh(addr, now):
        return None
    return node.mesh_hops.get(addr)


def dm_hops(node: NodeContext, dst: BoxAddr, now: float, attempt: int = 0) -> int | None:
    """The hop limit for a DM to `dst` (see the module docstring); None: the radio's own limit."""
    if attempt >= MEASURED_TRIES:
        return None
    d = distance(node, dst, now)
    if d is not None:
        return min(d, HOP_MAX)
    e = node.cfg.keyring.roster.get(dst)
    if e is None or e.parent is None or e.parent in (dst, node.me):
        return None
    p = distance(node, e.parent, now)
    return None if p is None else min(p + 1, HOP_MAX)


def tree_hops(node: NodeContext, now: float) -> int | None:
    """The hop limit for a bulletin we originate: as far as its farthest addressee needs (`dm_hops`: a post
    not heard counts one relay beyond its CP, whose relay serves it); None while one is not placed (a full
    flood)."""
    return farthest(node, node.bulletin_addressees(), now)


def farthest(node: NodeContext, boxes: set[BoxAddr], now: float) -> int | None:
    """The hop limit for one broadcast meant for `boxes` only: the largest of their DM hop limits (None when
    one of them is not known)."""
    need = 0
    for b in boxes:
        h = dm_hops(node, b, now)
        if h is None:
            return None
        need = max(need, h)
    return need
