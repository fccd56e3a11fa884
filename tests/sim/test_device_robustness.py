"""Bad client input never takes a virtual radio down: it logs and keeps serving, a next client works."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from meshtastic.protobuf import mesh_pb2
from meshtastic.tcp_interface import TCPInterface

from nspgw.sim import topology
from nspgw.sim.device import FrameDecoder, encode_frame
from nspgw.sim.server import MeshServer


@pytest.fixture
def server() -> Iterator[MeshServer]:
    srv = MeshServer(topology.chain(2, preset="SHORT_TURBO", seed=5), use_pty=False)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _handshake(sock: socket.socket, config_id: int) -> list[mesh_pb2.FromRadio]:
    """Send want_config and read FromRadio frames up to config_complete_id."""
    sock.sendall(encode_frame(mesh_pb2.ToRadio(want_config_id=config_id)))
    dec, got = FrameDecoder(), []
    sock.settimeout(10)
    while True:
        data = sock.recv(4096)
        assert data, "device closed the connection"
        for body in dec.feed(data):
            msg = mesh_pb2.FromRadio.FromString(body)
            got.append(msg)
            if msg.config_complete_id == config_id:
                return got


def _port(server: MeshServer) -> int:
    return server.endpoints["node0"].port


@pytest.mark.parametrize(
    ("junk", "log_text"),
    [
        (b"\xc3" * 32 + b"debug text\n" + bytes(range(0x95, 0xC3)), None),
        (bytes([0x94, 0xC3, 0xFF, 0xFF]) + b"rest of a lie", "length header 65535 > 512"),
        (bytes([0x94, 0xC3, 0x00, 0x03]) + b"\xff\xff\xff", "undecodable ToRadio"),
    ],
    ids=["garbage", "oversized-header", "undecodable-protobuf"],
)
def test_junk_then_handshake_on_same_connection(server: MeshServer, caplog: pytest.LogCaptureFixture,
                                                junk: bytes, log_text: str | None) -> None:
    caplog.set_level(logging.INFO, logger="nspgw.sim")
    with socket.create_connection(("127.0.0.1", _port(server))) as s:
        s.sendall(junk)
        msgs = _handshake(s, 99)
    assert msgs[0].my_info.my_node_num == server.devices["node0"].node_num
    kinds = [m.WhichOneof("payload_variant") for m in msgs]
    assert kinds.count("channel") == 8 and "metadata" in kinds and kinds.count("config") >= 9
    if log_text:
        assert any(log_text in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]


def test_cut_frame_and_vanishing_client_then_library_works(server: MeshServer, caplog: pytest.LogCaptureFixture,
                                                           wait_for: Callable[..., Any]) -> None:
    caplog.set_level(logging.INFO, logger="nspgw.sim")
    frame = encode_frame(mesh_pb2.ToRadio(want_config_id=5))
    s = socket.create_connection(("127.0.0.1", _port(server)))
    s.sendall(frame[: len(frame) // 2])  # cut off mid-frame, then the client vanishes
    s.close()
    wait_for(lambda: any("unfinished frame" in r.getMessage() for r in caplog.records), what="log of cut frame")
    iface = TCPInterface("127.0.0.1", portNumber=_port(server), timeout=20)
    try:
        assert iface.myInfo is not None and iface.myInfo.my_node_num == server.devices["node0"].node_num
        assert iface.localNode.localConfig.lora.region == 3  # EU_868
    finally:
        iface.close()


def test_new_client_replaces_old_one(server: MeshServer, wait_for: Callable[..., Any]) -> None:
    first = socket.create_connection(("127.0.0.1", _port(server)))
    _handshake(first, 1)
    with socket.create_connection(("127.0.0.1", _port(server))) as second:
        _handshake(second, 2)
        first.settimeout(5)
        # The old connection is closed by the device, like a serial port taken over by another program.
        wait_for(lambda: first.recv(4096) == b"", what="old client closed")
    first.close()
