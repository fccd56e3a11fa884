"""In-process: the official library's TCPInterface against a real-time MeshServer (3-node chain).

Two clients on the chain ends exchange private-port payloads with want_ack; the library refuses 234 bytes
itself and the device NAKs an oversized raw packet with TOO_LARGE; with the middle link cut the sender
gets MAX_RETRANSMIT after the firmware's retransmissions.

On port 311 the largest payload that goes on air is 231 bytes, not DATA_PAYLOAD_LEN (233): firmware's
perhapsEncode adds the bitfield (2 bytes) to every packet it originates and refuses more than 255 bytes
on air with TOO_LARGE (see device.encoded_frame_len). 232 and 233 bytes are therefore NAKed, as on a radio.
A direct message is PKI-encrypted (+12 bytes, Router::perhapsEncode in src/mesh/Router.cpp), so a DM
carries at most 219 bytes; 220 is TOO_LARGE.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from meshtastic.mesh_interface import MeshInterface
from meshtastic.protobuf import mesh_pb2, portnums_pb2
from meshtastic.tcp_interface import TCPInterface
from pubsub import pub

from nspgw.sim import topology
from nspgw.sim.device import FrameDecoder, encode_frame
from nspgw.sim.server import MeshServer

PORTNUM = 311


class Inbox:
    """Strong-referenced pypubsub listener filtered on one interface (topics are process-global)."""

    def __init__(self, iface: TCPInterface) -> None:
        self.iface = iface
        self.packets: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        pub.subscribe(self.on_receive, "meshtastic.receive")

    def on_receive(self, packet: dict[str, Any], interface: Any) -> None:
        if interface is self.iface:
            with self.lock:
                self.packets.append(packet)

    def payloads(self, portnum: str = "311") -> list[bytes]:
        with self.lock:
            return [p["decoded"]["payload"] for p in self.packets
                    if str(p.get("decoded", {}).get("portnum")) == portnum]

    def close(self) -> None:
        pub.unsubscribe(self.on_receive, "meshtastic.receive")


@pytest.fixture
def chain3() -> Iterator[MeshServer]:
    spec = topology.chain(3, preset="SHORT_TURBO", seed=11)
    server = MeshServer(spec, use_pty=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clients(chain3: MeshServer, wait_for: Callable[..., Any]) -> Iterator[tuple[TCPInterface, TCPInterface]]:
    a = TCPInterface("127.0.0.1", portNumber=chain3.endpoints["node0"].port, timeout=20)
    b = TCPInterface("127.0.0.1", portNumber=chain3.endpoints["node2"].port, timeout=20)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def _ids(server: MeshServer) -> tuple[int, int]:
    return server.devices["node0"].node_num, server.devices["node2"].node_num


def test_dm_payloads_1_to_219_bytes_arrive_and_are_acked(chain3: MeshServer,
                                                         clients: tuple[TCPInterface, TCPInterface],
                                                         wait_for: Callable[..., Any]) -> None:
    a, b = clients
    inbox = Inbox(b)
    try:
        _, num2 = _ids(chain3)
        _wait_keys(chain3, wait_for)
        sizes = [1, 17, 120, 219]
        acks: list[dict[str, Any]] = []
        for size in sizes:
            payload = bytes((size + k) % 256 for k in range(size))
            sent = a.sendData(payload, destinationId=num2, portNum=PORTNUM, wantAck=True,
                              onResponse=acks.append, onResponseAckPermitted=True)
            wait_for(lambda p=payload: p in inbox.payloads(), timeout_s=20, what=f"{size}-byte payload")
            wait_for(lambda s=sent: any(r["decoded"].get("requestId") == s.id for r in acks), timeout_s=20,
                     what=f"ack for {size} bytes")
        assert inbox.payloads()[: len(sizes)] == [bytes((s + k) % 256 for k in range(s)) for s in sizes]
        num0, _ = _ids(chain3)
        for r in acks:
            assert r["decoded"]["routing"].get("errorReason", "NONE") == "NONE"
            # ReliableRouter::shouldFilterReceived: hearing node1 relay the DM is an implicit ack (from our
            # own node); the destination's real ack (from node2) may come first when node1 relays late.
            assert r["from"] in (num0, num2)
    finally:
        inbox.close()


def test_220_to_233_byte_dms_on_port_311_are_too_large_on_air(chain3: MeshServer,
                                                              clients: tuple[TCPInterface, TCPInterface],
                                                              wait_for: Callable[..., Any]) -> None:
    a, _ = clients
    _, num2 = _ids(chain3)
    _wait_keys(chain3, wait_for)
    for size in (220, 232, 233):
        responses: list[dict[str, Any]] = []
        sent = a.sendData(b"z" * size, destinationId=num2, portNum=PORTNUM, wantAck=True,
                          onResponse=responses.append)
        wait_for(lambda r=responses: r, what=f"NAK for {size} bytes")
        assert responses[0]["decoded"]["requestId"] == sent.id
        assert responses[0]["decoded"]["routing"]["errorReason"] == "TOO_LARGE"


def _wait_keys(server: MeshServer, wait_for: Callable[..., Any]) -> None:
    """node0 must have node2's public key (from its NodeInfo) before a DM can be PKI-encrypted."""
    num2 = server.devices["node2"].node_num
    wait_for(lambda: num2 in server.devices["node0"].state["nodes"]
             and len(server.devices["node0"].state["nodes"][num2].user.public_key) == 32,
             timeout_s=20, what="node2's NodeInfo at node0")


def test_library_frame_limit_carries_1_to_233_bytes(wait_for: Callable[..., Any]) -> None:
    """`--frame-limit library`: only DATA_PAYLOAD_LEN (233) counts, for rehearsing with library-sized frames."""
    server = MeshServer(topology.chain(3, preset="SHORT_TURBO", seed=11), use_pty=False)
    server.mesh.strict_frame_limit = False
    server.mesh.pki = False  # only DATA_PAYLOAD_LEN counts: no PKI overhead either
    server.start()
    a = TCPInterface("127.0.0.1", portNumber=server.endpoints["node0"].port, timeout=20)
    b = TCPInterface("127.0.0.1", portNumber=server.endpoints["node2"].port, timeout=20)
    inbox = Inbox(b)
    try:
        num2 = server.devices["node2"].node_num
        _wait_keys(server, wait_for)
        for size in (1, 232, 233):
            payload = bytes((size * 7 + k) % 256 for k in range(size))
            acks: list[dict[str, Any]] = []
            sent = a.sendData(payload, destinationId=num2, portNum=PORTNUM, wantAck=True,
                              onResponse=acks.append, onResponseAckPermitted=True)
            wait_for(lambda p=payload: p in inbox.payloads(), timeout_s=20, what=f"{size}-byte payload")
            wait_for(lambda s=sent, r_=acks: any(r["decoded"].get("requestId") == s.id for r in r_), timeout_s=20,
                     what=f"ack for {size} bytes")
            assert acks[-1]["decoded"]["routing"].get("errorReason", "NONE") == "NONE"
        with pytest.raises(MeshInterface.MeshInterfaceError, match="too big"):
            a.sendData(b"x" * 234, destinationId=num2, portNum=PORTNUM)
    finally:
        inbox.close()
        a.close()
        b.close()
        server.stop()


def test_234_bytes_refused_by_library(clients: tuple[TCPInterface, TCPInterface]) -> None:
    a, _ = clients
    with pytest.raises(MeshInterface.MeshInterfaceError, match="too big"):
        a.sendData(b"x" * 234, destinationId="!00000001", portNum=PORTNUM)


def _read_until(sock: socket.socket, dec: FrameDecoder, pred: Callable[[mesh_pb2.FromRadio], bool],
                timeout_s: float = 10.0) -> mesh_pb2.FromRadio:
    sock.settimeout(timeout_s)
    pending: list[bytes] = []
    while True:
        while pending:
            msg = mesh_pb2.FromRadio.FromString(pending.pop(0))
            if pred(msg):
                return msg
        data = sock.recv(4096)
        assert data, "device closed the connection"
        pending += dec.feed(data)


def test_raw_oversized_packet_gets_too_large(chain3: MeshServer) -> None:
    with socket.create_connection(("127.0.0.1", chain3.endpoints["node0"].port)) as s:
        dec = FrameDecoder()
        s.sendall(encode_frame(mesh_pb2.ToRadio(want_config_id=7)))
        _read_until(s, dec, lambda m: m.config_complete_id == 7)
        pkt = mesh_pb2.MeshPacket(to=0x12345678, id=0x4242, want_ack=True)
        pkt.decoded.portnum = PORTNUM
        pkt.decoded.payload = b"y" * 234
        s.sendall(encode_frame(mesh_pb2.ToRadio(packet=pkt)))
        nak = _read_until(s, dec, lambda m: m.HasField("packet") and m.packet.decoded.request_id == 0x4242)
        assert nak.packet.decoded.portnum == portnums_pb2.PortNum.ROUTING_APP
        assert mesh_pb2.Routing.FromString(nak.packet.decoded.payload).error_reason == mesh_pb2.Routing.TOO_LARGE


@pytest.mark.slow
def test_cut_middle_link_gives_max_retransmit_nak(chain3: MeshServer, clients: tuple[TCPInterface, TCPInterface],
                                                 wait_for: Callable[..., Any]) -> None:
    a, _ = clients
    _, num2 = _ids(chain3)
    _wait_keys(chain3, wait_for)
    chain3.set_link_up("node0", "node1", False)  # beyond node1 its relay would be an implicit ack
    responses: list[dict[str, Any]] = []
    sent = a.sendData(b"no way through", destinationId=num2, portNum=PORTNUM, wantAck=True,
                      onResponse=responses.append)
    wait_for(lambda: responses, timeout_s=60, interval_s=0.05, what="NAK after retransmissions")
    assert responses[0]["decoded"]["requestId"] == sent.id
    assert responses[0]["decoded"]["routing"]["errorReason"] == "MAX_RETRANSMIT"
