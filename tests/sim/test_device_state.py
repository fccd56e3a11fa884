"""Device state: admin changes persist atomically across restarts; corrupt state is loud."""

from __future__ import annotations

from pathlib import Path

import pytest
from meshtastic.protobuf import admin_pb2, mesh_pb2, portnums_pb2

from nspgw.errors import StoreError
from nspgw.sim.device import FrameDecoder, VirtualDevice, encode_frame
from nspgw.sim.mesh import Mesh


def _device(state_dir: Path) -> tuple[VirtualDevice, list[mesh_pb2.FromRadio]]:
    mesh = Mesh(preset="SHORT_TURBO", seed=1)
    mesh.add_node("nsp-a", 0x11223344)
    dev = VirtualDevice(mesh, 0x11223344, "nsp-a", preset="SHORT_TURBO", state_dir=state_dir)
    out: list[mesh_pb2.FromRadio] = []
    dec = FrameDecoder()
    dev.attach(lambda b: out.extend(mesh_pb2.FromRadio.FromString(f) for f in dec.feed(b)))
    dev.receive_bytes(encode_frame(mesh_pb2.ToRadio(want_config_id=1)))
    return dev, out


def _admin(dev: VirtualDevice, admin: admin_pb2.AdminMessage, packet_id: int) -> None:
    pkt = mesh_pb2.MeshPacket(to=dev.node_num, id=packet_id, want_ack=True)
    pkt.decoded.portnum = portnums_pb2.PortNum.ADMIN_APP
    pkt.decoded.payload = admin.SerializeToString()
    pkt.decoded.want_response = True
    dev.receive_bytes(encode_frame(mesh_pb2.ToRadio(packet=pkt)))


def test_handshake_defaults(tmp_path: Path) -> None:
    _, out = _device(tmp_path)
    lora = next(m.config.lora for m in out if m.config.HasField("lora"))
    assert lora.region == 3 and lora.modem_preset == 8 and lora.use_preset and lora.hop_limit == 3
    assert lora.tx_enabled
    assert out[-1].config_complete_id == 1
    assert sum(m.HasField("channel") for m in out) == 8


def test_admin_changes_survive_restart(tmp_path: Path) -> None:
    dev, out = _device(tmp_path)
    a = admin_pb2.AdminMessage()
    a.set_config.lora.hop_limit = 5
    a.set_config.lora.region = 3
    _admin(dev, a, 0x100)
    owner = admin_pb2.AdminMessage()
    owner.set_owner.long_name = "NSP Dorpshuis"
    owner.set_owner.short_name = "NSPD"
    _admin(dev, owner, 0x101)
    canned = admin_pb2.AdminMessage(set_canned_message_module_messages="ja|nee|hulp")
    _admin(dev, canned, 0x102)
    # queueStatus for each packet, and the passkey comes with admin answers
    assert {m.queueStatus.mesh_packet_id for m in out if m.HasField("queueStatus")} >= {0x100, 0x101, 0x102}
    _admin(dev, admin_pb2.AdminMessage(get_config_request=admin_pb2.AdminMessage.SESSIONKEY_CONFIG), 0x103)
    reply = next(m.packet for m in out if m.HasField("packet") and m.packet.decoded.request_id == 0x103)
    assert len(admin_pb2.AdminMessage.FromString(reply.decoded.payload).session_passkey) == 8

    again, out2 = _device(tmp_path)
    assert again.state["config"].lora.hop_limit == 5
    assert again.state["owner"].long_name == "NSP Dorpshuis"
    assert again.state["canned_messages"] == "ja|nee|hulp"
    _admin(again, admin_pb2.AdminMessage(get_canned_message_module_messages_request=True), 0x200)
    answer = next(m.packet for m in out2 if m.HasField("packet") and m.packet.decoded.request_id == 0x200)
    decoded = admin_pb2.AdminMessage.FromString(answer.decoded.payload)
    assert decoded.get_canned_message_module_messages_response == "ja|nee|hulp"
    assert not list(tmp_path.glob("*.tmp"))


def test_corrupt_state_is_loud(tmp_path: Path) -> None:
    _device(tmp_path)
    (tmp_path / "nsp-a.json").write_text('{"version": 1, "config": "!!"}')
    with pytest.raises(StoreError, match=r"nsp-a\.json"):
        _device(tmp_path)
