"""What the radio adapter reports, as nspgw types, and the conversion from the library's MeshPacket.

Conversion happens here, at the boundary, so nothing above the adapter sees a protobuf or a library dict.

The adapter calls the daemon's sink as `sink(kind, payload)` like every link (nspgw/adapters/ports.py):

| kind | payload | shape |
|---|---|---|
| "frame" | RadioFrame | a ports.LinkFrame (`link`, `src_addr`, `dst_addr`, `data`) plus radio metadata |
| "state" | RadioState | a ports.LinkState (`link`, `status`, `detail`, `connected`) plus the node id |
| "delivered" | RadioSent | a ports.LinkDelivered (`link`, `ref`, `ok`, `detail`): the radio took the frame |
| "acknak" | RadioAckNak | firmware answer for one of our packets (DUTY_CYCLE_LIMIT, TOO_LARGE, ...) |
| "telemetry" | RadioTelemetry | the radio's own device metrics |

The classes match the ports types by attribute (duck typing) rather than by inheritance, so the radio side
does not depend on the MQTT side's module.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError as ProtoDecodeError
from meshtastic.protobuf import mesh_pb2, portnums_pb2, telemetry_pb2

from nspgw.adapters.radio_profile import NSPGW_CHANNEL_INDEX
from nspgw.wire.frames import NSPGW_PORTNUM

BROADCAST_NODE = 0xFFFFFFFF
"""Meshtastic's broadcast node number (mesh_interface.BROADCAST_NUM)."""

LINK_NAME = "radio"


@dataclass(frozen=True)
class RadioFrame:
    """An nspgw frame received on port 311 (payload untouched; the wire layer decodes it)."""

    from_node: int
    to_node: int
    channel: int
    data: bytes
    rx_snr: float
    rx_rssi: int
    hop_start: int
    hop_limit: int
    packet_id: int

    link = LINK_NAME

    @property
    def src_addr(self) -> int:
        return self.from_node

    @property
    def dst_addr(self) -> int:
        return self.to_node


@dataclass(frozen=True)
class RadioAckNak:
    """A ROUTING_APP answer from the firmware for a packet we sent (`request_id` = our packet id).

    `error_reason` is the Routing.Error name: "NONE" is an ack; "DUTY_CYCLE_LIMIT" means the radio refused to
    transmit (EU868 10 % budget spent) and the frame did not go on air, so the scheduler must hold back.
    """

    request_id: int
    error_reason: str

    @property
    def is_ack(self) -> bool:
        return self.error_reason == "NONE"


@dataclass(frozen=True)
class RadioSent:
    """A frame left the adapter: the radio took it as packet `request_id` (match it with RadioAckNak).

    Sent as kind "delivered" (a ports.LinkDelivered): `ref` is what the caller passed to `send`. Hop progress
    only: the frame may still be refused by the firmware (a later RadioAckNak) or lost on air.
    """

    request_id: int
    to_node: int
    size: int
    precedence: int
    ref: object = None
    ok: bool = True
    detail: str = "aan de radio overgedragen"
    link: str = LINK_NAME


@dataclass(frozen=True)
class RadioState:
    """Connection state. `status` is one of: connecting, connected, misconfigured, disconnected, stopped.

    Only `connected` transmits. `detail` says why, in Dutch, for the operator (e.g. "regio is US, verwacht
    EU_868").
    """

    connected: bool
    detail: str
    status: str = "disconnected"
    node_id: str = ""
    link: str = LINK_NAME


@dataclass(frozen=True)
class RadioTelemetry:
    """The radio's own device metrics (the firmware sends them to its client every minute over the API)."""

    battery: int | None
    channel_util: float | None
    air_util_tx: float | None


RadioEvent = RadioFrame | RadioAckNak | RadioSent | RadioState | RadioTelemetry


def packet_to_event(pkt: mesh_pb2.MeshPacket, my_node: int,
                    channel_index: int = NSPGW_CHANNEL_INDEX) -> RadioEvent | None:
    """Turn a received MeshPacket into an nspgw event, or None for traffic nspgw does not use.

    Checked here, at the boundary, because nothing above can tell afterwards:
    - port 311 frames count only on the nspgw channel (`channel_index`), or as a PKI-encrypted direct
      message to this node (firmware 2.5+ decrypts those with the node key and leaves `channel` 0 —
      Router::perhapsDecode). Port 311 on the public LongFast channel is someone else's traffic;
    - ROUTING_APP answers count only from our own node: the firmware's verdicts on our packets
      (DUTY_CYCLE_LIMIT, TOO_LARGE, implicit acks, and MAX_RETRANSMIT for the few frames sent with want_ack)
      come from the local router (Router::abortSendAndNak, ReliableRouter, `from` = our node). A routing
      packet from any other node is a remote ACK (not needed: silence until MAX_RETRANSMIT means delivered)
      or forged: acting on it would let a neighbour silence our retries.
    """
    if not pkt.HasField("decoded"):
        return None  # still encrypted: not on a channel we hold
    d = pkt.decoded
    sender = getattr(pkt, "from")
    if d.portnum == NSPGW_PORTNUM:
        direct_pki = pkt.pki_encrypted and my_node != 0 and pkt.to == my_node
        if pkt.channel != channel_index and not direct_pki:
            return None
        return RadioFrame(from_node=sender, to_node=pkt.to, channel=pkt.channel, data=bytes(d.payload),
                          rx_snr=float(pkt.rx_snr), rx_rssi=int(pkt.rx_rssi), hop_start=int(pkt.hop_start),
                          hop_limit=int(pkt.hop_limit), packet_id=int(pkt.id))
    if d.portnum == portnums_pb2.PortNum.ROUTING_APP and d.request_id and my_node != 0 and sender == my_node:
        routing = mesh_pb2.Routing()
        try:
            routing.ParseFromString(d.payload)
        except ProtoDecodeError:
            return None
        reason = mesh_pb2.Routing.Error.Name(routing.error_reason) if routing.HasField("error_reason") else "NONE"
        return RadioAckNak(request_id=int(d.request_id), error_reason=reason)
    if d.portnum == portnums_pb2.PortNum.TELEMETRY_APP and sender == my_node:
        t = telemetry_pb2.Telemetry()
        try:
            t.ParseFromString(d.payload)
        except ProtoDecodeError:
            return None
        if not t.HasField("device_metrics"):
            return None
        m = t.device_metrics
        return RadioTelemetry(
            battery=m.battery_level if m.HasField("battery_level") else None,
            channel_util=m.channel_utilization if m.HasField("channel_utilization") else None,
            air_util_tx=m.air_util_tx if m.HasField("air_util_tx") else None,
        )
    return None
