"""Per-node packet history and next-hop table of the simulated firmware (PacketHistory, NextHopRouter).

What a node remembers of each packet it saw or sent (10 minutes), which nodes it knows relayed it, and the
next hop towards a destination it learned from acks and replies. Pure functions on `SimNode`; the event loop
in `mesh.py` calls them.
"""

from __future__ import annotations

from nspgw.sim.mesh_types import NO_NEXT_HOP, SEEN_EXPIRE_S, PacketRecord, RadioPacket, SimNode

NUM_RELAYERS = 6  # PacketHistory.h: relayed_by[] keeps at most six last bytes


def expire(node: SimNode, now: float) -> None:
    order = node.seen_order
    while order and order[0][0] < now - SEEN_EXPIRE_S:
        _, old = order.popleft()
        rec = node.seen.get(old)
        if rec is not None and rec.time < now - SEEN_EXPIRE_S:
            del node.seen[old]


def add_relayer(rec: PacketRecord, relayer: int) -> None:
    if relayer not in rec.relayed_by:
        rec.relayed_by.insert(0, relayer)
        del rec.relayed_by[NUM_RELAYERS:]


def record_received(node: SimNode, packet: RadioPacket, now: float) -> PacketRecord:
    """wasSeenRecently(withUpdate) for a new packet: its next hop, no relayers yet."""
    expire(node, now)
    key = (packet.src, packet.packet_id)
    rec = node.seen[key] = PacketRecord(now, next_hop=packet.next_hop)
    node.seen_order.append((now, key))
    return rec


def record_sent(node: SimNode, packet: RadioPacket, now: float) -> None:
    """FloodingRouter/NextHopRouter::send -> wasSeenRecently: we are a relayer, at this hop limit."""
    key = (packet.src, packet.packet_id)
    rec = node.seen.get(key)
    if rec is None:
        rec = record_received(node, packet, now)
    rec.time = now
    rec.our_tx_hop = packet.hop_limit
    add_relayer(rec, node.relay_id)


def remove_relayer(node: SimNode, src: int, packet_id: int) -> None:
    """PacketHistory::removeRelayer: a cancelled relay means we are not a relayer of it after all."""
    rec = node.seen.get((src, packet_id))
    if rec is not None and node.relay_id in rec.relayed_by:
        rec.relayed_by.remove(node.relay_id)


def was_relayer(rec: PacketRecord | None, relayer: int) -> tuple[bool, bool]:
    """PacketHistory::wasRelayer: (relayer is in the record, and it is the only one)."""
    if rec is None or relayer not in rec.relayed_by:
        return False, False
    return True, len(rec.relayed_by) == 1


def learn_next_hop(node: SimNode, packet: RadioPacket, relay: int) -> None:
    """NextHopRouter::sniffReceived: an ack/reply relayed by a node that also relayed the original (or heard
    straight from the destination when we alone relayed the original) names the next hop towards its sender.
    Relayers are only recorded when they were heard relaying our own relay onward (the #7859 rule in
    PacketHistory::wasSeenRecently), so a node that merely overheard the packet is never chosen."""
    orig = node.seen.get((packet.dest, packet.request_id))
    relay_was, _ = was_relayer(orig, relay)
    we_were, we_sole = was_relayer(orig, node.relay_id)
    direct = packet.hop_start == packet.hop_limit
    if (we_were and relay_was) or (direct and we_sole):
        node.next_hops[packet.src] = relay


def next_hop_for(node: SimNode, dest: int, relay_node: int) -> int:
    """NextHopRouter::getNextHop: the learned next hop, unless it is the node we got the packet from."""
    hop = node.next_hops.get(dest, NO_NEXT_HOP)
    return hop if hop != relay_node else NO_NEXT_HOP
