"""nspgw precedence → Meshtastic `MeshPacket.priority`: the one mapping the radio adapter and the simulated
radio port both use, so the radio's own transmit queue serves FLASH first as nspgw's queues do.

Why it matters: firmware keeps up to 16 packets in MeshPacketQueue, sorted by priority (CompareMeshPacketFunc:
outside the late-rebroadcast window first, then higher `priority`, then at equal priority a packet already on
the mesh (a relay) before one of our own, then FIFO). When the queue is full, `replaceLowerPriorityPacket`
evicts the last packet outside the late window if its priority is strictly lower than the new one's. The
adapter keeps only one of its own frames in flight (radio_pacing.py), but that frame still queues behind
relays of the neighbours' traffic and the firmware's own packets (acks, NodeInfo replies).

The values (mesh.proto `MeshPacket.Priority`): BACKGROUND 10, DEFAULT 64, RELIABLE 70, RESPONSE 80, HIGH 100,
ALERT 110, ACK 120. Priority is not in the on-air header (PacketHeader: to, from, id, flags, channel,
next_hop, relay_node): every radio that relays a frame gives its copy `fixPriority`'s value for an UNSET
priority, DEFAULT for an nspgw frame without want_ack and RELIABLE with it; routing acks get ACK. So:

- FLASH → ALERT (110): ahead of every relay and of the firmware's NodeInfo/position traffic, and allowed to
  evict a relay from a full queue; still below ACK (120), so routing acks — which stop retransmissions and
  whose delay costs airtime — keep going first. ALERT is what firmware itself gives an SOS (ALERT_APP).
- IMMEDIATE → HIGH (100): what firmware gives text messages; ahead of relays and responses.
- PRIORITY → RELIABLE (70): the library's default for every sendData (what every nspgw frame carried before
  this mapping); ahead of plain relays (DEFAULT), level with want_ack relays (which then go first).
- ROUTINE → DEFAULT (64): what firmware gives any plain packet, so level with the relays of plain frames,
  which go first at equal priority: a neighbour's relayed traffic (possibly its FLASH) is not held up by our
  routine frame. Never evicted by a relay (eviction needs a strictly lower priority). Not BACKGROUND: a frame
  evicted from a full queue is lost without a NAK and only the core's ack timeout would repair it.

Measured (docs/radio.md): on region-24h this mapping and one with ROUTINE also RELIABLE both shortened the
FLASH tail against one priority for all; only this one lost and expired nothing over three seeds.

Nothing here needs the meshtastic package: the values are plain integers (checked against the protobuf enum in
tests/adapters/test_radio_adapter_logic.py).
"""

from __future__ import annotations

PRIORITY_DEFAULT = 64
PRIORITY_RELIABLE = 70
PRIORITY_HIGH = 100
PRIORITY_ALERT = 110

# Indexed by nspgw wire precedence (nspgw.wire.frames.Precedence: FLASH 0, IMMEDIATE 1, PRIORITY 2, ROUTINE 3).
_BY_PRECEDENCE = (PRIORITY_ALERT, PRIORITY_HIGH, PRIORITY_RELIABLE, PRIORITY_DEFAULT)


def mesh_priority(precedence: int) -> int:
    """The `MeshPacket.priority` a frame of nspgw `precedence` is handed to the radio with (out-of-range
    values are clamped: below FLASH counts as FLASH, above ROUTINE as ROUTINE)."""
    return _BY_PRECEDENCE[min(max(int(precedence), 0), len(_BY_PRECEDENCE) - 1)]
