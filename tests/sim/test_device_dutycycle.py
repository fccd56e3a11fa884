"""Over the EU868 10 % hourly duty cycle the radio refuses, NAKs DUTY_CYCLE_LIMIT and notifies its client.

No server and no threads: the mesh's virtual clock is advanced directly, so an hour of airtime takes
milliseconds.
"""

from __future__ import annotations

from meshtastic.protobuf import mesh_pb2

from nspgw.sim.device import FrameDecoder, VirtualDevice, encode_frame
from nspgw.sim.mesh import Mesh
from nspgw.sim.server import connect_devices


def test_duty_cycle_refusal_reaches_the_client() -> None:
    mesh = Mesh(preset="VERY_LONG_SLOW", seed=3)
    mesh.add_node("a", 0xA0000001)
    mesh.add_node("b", 0xB0000002)
    mesh.set_link("a", "b")
    dev = VirtualDevice(mesh, 0xA0000001, "a", preset="VERY_LONG_SLOW")
    other = VirtualDevice(mesh, 0xB0000002, "b", preset="VERY_LONG_SLOW")
    connect_devices(mesh, [dev, other])  # the server's own wiring of mesh callbacks to devices
    out: list[mesh_pb2.FromRadio] = []
    dec = FrameDecoder()
    dev.attach(lambda b: out.extend(mesh_pb2.FromRadio.FromString(f) for f in dec.feed(b)))
    dev.receive_bytes(encode_frame(mesh_pb2.ToRadio(want_config_id=1)))

    refused_id = 0
    for k in range(1, 400):
        pkt = mesh_pb2.MeshPacket(to=0xFFFFFFFF, id=k, hop_limit=0)
        pkt.decoded.portnum = 311
        pkt.decoded.payload = bytes(200)
        dev.receive_bytes(encode_frame(mesh_pb2.ToRadio(packet=pkt)))
        mesh.run_until(mesh.clock.now() + 30.0)
        if any(m.HasField("clientNotification") for m in out):
            refused_id = k
            break
    assert refused_id, "never refused: the duty-cycle limiter did not engage"
    note = next(m.clientNotification for m in out if m.HasField("clientNotification"))
    assert note.reply_id == refused_id
    assert note.message.startswith("Duty cycle limit exceeded. You can send again in")
    assert note.level == mesh_pb2.LogRecord.Level.WARNING
    naks = [m.packet for m in out if m.HasField("packet") and m.packet.decoded.request_id == refused_id]
    assert len(naks) == 1  # one NAK packet, not one from the mesh and another from the device
    assert mesh_pb2.Routing.FromString(naks[0].decoded.payload).error_reason == mesh_pb2.Routing.DUTY_CYCLE_LIMIT
    # roughly 10 % of the hour was spent before the refusal
    assert mesh.node("a").airtime_tx_s >= 0.09 * 3600
