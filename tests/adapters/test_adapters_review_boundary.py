"""Review items 14 and 15: what crosses the adapter boundary (secrets in reprs, radio input checks)."""

from __future__ import annotations

import pytest
from meshtastic.protobuf import mesh_pb2, portnums_pb2

from nspgw.adapters.meshtastic_radio import MAX_DIRECT_FRAME_BYTES, MAX_FRAME_BYTES, MeshtasticRadio
from nspgw.adapters.mqtt_settings import MqttSettings
from nspgw.adapters.radio_connect import RadioTarget
from nspgw.adapters.radio_events import RadioAckNak, RadioFrame, packet_to_event
from nspgw.adapters.radio_profile import NSPGW_CHANNEL_INDEX
from nspgw.errors import UsageError
from nspgw.wire.frames import MAX_BROADCAST_FRAME, MAX_UNICAST_FRAME

ME = 0x1234
PEER = 0x5678


def test_mqtt_password_is_not_in_repr() -> None:
    s = MqttSettings("127.0.0.1", 8883, "elsterwijk", 0x65, username="065", password="geheim-wachtwoord-123")
    assert "geheim-wachtwoord-123" not in repr(s) and "geheim-wachtwoord-123" not in str(s)
    assert s.password == "geheim-wachtwoord-123"


def _routing(sender: int, error: int = mesh_pb2.Routing.Error.DUTY_CYCLE_LIMIT) -> mesh_pb2.MeshPacket:
    pkt = mesh_pb2.MeshPacket(to=ME, id=5)
    setattr(pkt, "from", sender)
    pkt.decoded.portnum = portnums_pb2.PortNum.ROUTING_APP
    pkt.decoded.request_id = 42
    pkt.decoded.payload = mesh_pb2.Routing(error_reason=error).SerializeToString()
    return pkt


def test_routing_verdicts_only_from_our_own_radio() -> None:
    assert packet_to_event(_routing(ME), ME) == RadioAckNak(42, "DUTY_CYCLE_LIMIT")
    assert packet_to_event(_routing(PEER), ME) is None  # a neighbour cannot NAK (or ACK) our frames
    assert packet_to_event(_routing(PEER, mesh_pb2.Routing.Error.NONE), ME) is None
    assert packet_to_event(_routing(0), 0) is None  # own node number not known yet: trust nothing


def _frame(channel: int, *, to: int = ME, pki: bool = False) -> mesh_pb2.MeshPacket:
    pkt = mesh_pb2.MeshPacket(to=to, id=7, channel=channel, pki_encrypted=pki)
    setattr(pkt, "from", PEER)
    pkt.decoded.portnum = 311
    pkt.decoded.payload = b"frame"
    return pkt


def test_port_311_only_on_the_nspgw_channel_or_as_pki_direct_message() -> None:
    assert isinstance(packet_to_event(_frame(NSPGW_CHANNEL_INDEX), ME), RadioFrame)
    assert packet_to_event(_frame(0), ME) is None  # public LongFast channel: not ours
    assert packet_to_event(_frame(2), ME) is None
    assert isinstance(packet_to_event(_frame(3), ME, channel_index=3), RadioFrame)
    # firmware PKI direct messages keep channel 0 after decryption; only to us
    assert isinstance(packet_to_event(_frame(0, pki=True), ME), RadioFrame)
    assert packet_to_event(_frame(0, to=0xFFFFFFFF, pki=True), ME) is None


def test_direct_messages_are_limited_to_the_unicast_frame_size() -> None:
    assert (MAX_DIRECT_FRAME_BYTES, MAX_FRAME_BYTES) == (MAX_UNICAST_FRAME, MAX_BROADCAST_FRAME) == (219, 231)
    radio = MeshtasticRadio(RadioTarget(kind="serial"), lambda kind, payload: None)
    radio.send(PEER, b"x" * 219)
    with pytest.raises(UsageError, match="219"):
        radio.send(PEER, b"x" * 220)
    radio.send(0xFFFFFFFF, b"x" * 231)
    with pytest.raises(UsageError):
        radio.send(0xFFFFFFFF, b"x" * 232)
    assert radio.queued() == 2
