"""The adapter's own logic (queue, precedence, reconnect, profile gate, pubsub bridge) against a stand-in for
the *library's* interface object; the real library against virtual radios is in test_radio_sim_*.py."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from meshtastic.protobuf import channel_pb2, config_pb2, localonly_pb2, mesh_pb2, portnums_pb2
from pubsub import pub
from waiting import wait_for

from nspgw.adapters import radio_profile as profiles
from nspgw.adapters.meshtastic_radio import MeshtasticRadio, max_payload_on_port
from nspgw.adapters.radio_connect import RadioTarget
from nspgw.adapters.radio_events import RadioAckNak, RadioFrame, RadioSent, RadioState, packet_to_event
from nspgw.errors import RadioError, UsageError

KEY = bytes(range(32))
MY_NODE = 0x1234


class LibraryInterfaceStandIn:
    """The subset of meshtastic.mesh_interface.MeshInterface the adapter uses."""

    def __init__(self, region: int = config_pb2.Config.LoRaConfig.RegionCode.EU_868,
                 fail_sends: int = 0) -> None:
        self.isConnected = threading.Event()
        self.isConnected.set()
        self.myInfo = mesh_pb2.MyNodeInfo(my_node_num=MY_NODE)
        prof = profiles.load_profile("nsp")
        node = type("Node", (), {})()
        node.localConfig = localonly_pb2.LocalConfig()
        node.localConfig.CopyFrom(prof.config)
        node.localConfig.lora.region = region
        node.channels = []
        for spec in prof.channels:
            ch = channel_pb2.Channel(index=spec.index, role=channel_pb2.Channel.Role.Value(spec.role))
            ch.settings.name = spec.name
            ch.settings.psk = KEY if spec.name == "nspgw" else spec.psk
            node.channels.append(ch)
        self.localNode = node
        self.sent: list[tuple[bytes, int, int, int]] = []
        self.options: list[dict[str, Any]] = []  # per sendData: wantAck, wantResponse, hopLimit, priority
        self.fail_sends = fail_sends
        self.closed = False
        self.heartbeats = 0
        self.queueStatus: mesh_pb2.QueueStatus | None = None

    def sendData(self, data: bytes, destinationId: int, portNum: int, channelIndex: int,
                 wantAck: bool = False, wantResponse: bool = False, hopLimit: int | None = None,
                 priority: int = mesh_pb2.MeshPacket.Priority.RELIABLE) -> mesh_pb2.MeshPacket:
        # The library's wait for room in the radio's queue: no limit, ends only on a queueStatus with room.
        while self.queueStatus is not None and self.queueStatus.free <= 0:
            time.sleep(0.005)
        if self.fail_sends:
            self.fail_sends -= 1
            raise OSError("write failed")
        self.sent.append((data, destinationId, portNum, channelIndex))
        self.options.append({"wantAck": wantAck, "wantResponse": wantResponse, "hopLimit": hopLimit,
                             "priority": priority})
        return mesh_pb2.MeshPacket(id=len(self.sent))

    def getMyUser(self) -> dict[str, Any]:
        # As the library keeps it: MessageToDict of the radio's User (camelCase, bytes as base64).
        return {"id": "!00001234", "longName": "NSP Sporthal", "shortName": "NSP1",
                "publicKey": "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=", "hwModel": "TBEAM"}

    def sendHeartbeat(self) -> None:
        self.heartbeats += 1

    def close(self) -> None:
        self.closed = True
        self.isConnected.clear()


class Opener:
    """Fails `failures` times, then hands out interfaces made by `make`."""

    def __init__(self, failures: int = 0, make: Callable[[], LibraryInterfaceStandIn] = LibraryInterfaceStandIn):
        self.failures = failures
        self.make = make
        self.attempts: list[float] = []
        self.opened: list[LibraryInterfaceStandIn] = []

    def __call__(self, target: RadioTarget, timeout_s: float) -> LibraryInterfaceStandIn:
        self.attempts.append(time.monotonic())
        if self.failures:
            self.failures -= 1
            raise RadioError("radio niet bereikbaar")
        iface = self.make()
        self.opened.append(iface)
        return iface


@pytest.fixture
def radio_factory():  # type: ignore[no-untyped-def]
    made: list[MeshtasticRadio] = []

    def make(opener: Opener, **kw: Any) -> tuple[MeshtasticRadio, queue.Queue[Any]]:
        events: queue.Queue[Any] = queue.Queue()
        kw.setdefault("pace", False)  # pacing has its own tests; here frames go as fast as the stand-in takes them
        r = MeshtasticRadio(RadioTarget(kind="tcp", host="127.0.0.1", port=1), kinds_checked(events),
                            profile=profiles.load_profile("nsp"), nspgw_psk=KEY, opener=opener,
                            backoff_initial_s=0.01, backoff_max_s=0.08, **kw)
        made.append(r)
        return r, events

    KIND_ERRORS.clear()
    yield make
    for r in made:
        r.stop()
    assert not KIND_ERRORS, KIND_ERRORS


KIND_OF = {RadioFrame: "frame", RadioState: "state", RadioSent: "delivered", RadioAckNak: "acknak"}


KIND_ERRORS: list[str] = []


def kinds_checked(events: queue.Queue[Any]) -> Callable[[str, object], None]:
    """A Link sink that checks each event comes under its documented kind (the radio_factory fixture fails
    the test on a mismatch), then queues the payload."""

    def sink(kind: str, payload: object) -> None:
        want = KIND_OF.get(type(payload), "telemetry")
        if kind != want:
            KIND_ERRORS.append(f"{type(payload).__name__} sent as {kind!r}, expected {want!r}")
        events.put(payload)

    return sink


def states(events: queue.Queue[Any]) -> list[RadioState]:
    out = []
    while not events.empty():
        e = events.get()
        if isinstance(e, RadioState):
            out.append(e)
    return out


def test_frames_queued_while_absent_go_out_in_precedence_order(radio_factory) -> None:  # type: ignore[no-untyped-def]
    opener = Opener(failures=5)
    radio, _events = radio_factory(opener)
    radio.send(0xA, b"routine", 3)
    radio.send(0xB, b"flash", 0)
    radio.send(0xC, b"routine-2", 3)
    radio.start()
    iface = wait_for(lambda: opener.opened and len(opener.opened[0].sent) == 3 and opener.opened[0])
    assert [(d, n) for d, n, _p, _c in iface.sent] == [(b"flash", 0xB), (b"routine", 0xA), (b"routine-2", 0xC)]
    assert {(p, c) for _d, _n, p, c in iface.sent} == {(311, 1)}
    gaps = [b - a for a, b in zip(opener.attempts, opener.attempts[1:], strict=False)]
    assert gaps[3] > gaps[0]  # exponential backoff between attempts
    assert radio.queued() == 0


def test_failed_send_reconnects_and_resends(radio_factory) -> None:  # type: ignore[no-untyped-def]
    made = iter([LibraryInterfaceStandIn(fail_sends=1), LibraryInterfaceStandIn()])
    opener = Opener(make=lambda: next(made))
    radio, events = radio_factory(opener)
    radio.start()
    radio.send(0xA, b"x", 2)
    second = wait_for(lambda: len(opener.opened) == 2 and opener.opened[1].sent and opener.opened[1])
    assert second.sent[0][0] == b"x" and opener.opened[0].closed
    assert any(isinstance(e, RadioSent) for e in list(events.queue))


def test_connection_lost_then_frames_wait_for_the_new_interface(radio_factory) -> None:  # type: ignore[no-untyped-def]
    opener = Opener()
    radio, events = radio_factory(opener)
    radio.start()
    first = wait_for(lambda: opener.opened and opener.opened[0])
    wait_for(lambda: radio.state.connected)
    opener.failures = 3
    first.isConnected.clear()
    pub.sendMessage("meshtastic.connection.lost", interface=first)
    radio.send(0xD, b"meanwhile", 1)
    second = wait_for(lambda: len(opener.opened) == 2 and opener.opened[1].sent and opener.opened[1])
    assert second.sent[0][0] == b"meanwhile" and not first.sent
    seen = [s.status for s in states(events)]
    assert "disconnected" in seen and seen[-1] == "connected"


def test_wrong_region_is_misconfigured_and_nothing_is_sent(radio_factory) -> None:  # type: ignore[no-untyped-def]
    opener = Opener(make=lambda: LibraryInterfaceStandIn(region=config_pb2.Config.LoRaConfig.RegionCode.US))
    radio, _events = radio_factory(opener)
    radio.send(0xA, b"hold", 3)
    radio.start()
    st = wait_for(lambda: radio.state.status == "misconfigured" and radio.state)
    assert "regio is US, verwacht EU_868" in st.detail and not st.connected
    radio.send(0xB, b"hold-2", 3)
    wait_for(lambda: radio.queued() == 2)
    assert opener.opened[0].sent == []


def test_pubsub_bridge_converts_and_filters(radio_factory) -> None:  # type: ignore[no-untyped-def]
    opener = Opener()
    radio, events = radio_factory(opener)
    radio.start()
    iface = wait_for(lambda: opener.opened and opener.opened[0])
    wait_for(lambda: radio.state.connected)
    pkt = mesh_pb2.MeshPacket(to=MY_NODE, channel=1, id=77, rx_snr=5.5, rx_rssi=-90, hop_start=3, hop_limit=1)
    setattr(pkt, "from", 0x99)
    pkt.decoded.portnum = 311
    pkt.decoded.payload = b"frame"
    other = LibraryInterfaceStandIn()
    pub.sendMessage("meshtastic.receive.data.311", packet={"raw": pkt}, interface=other)  # not ours: ignored
    pub.sendMessage("meshtastic.receive.data.311", packet={"raw": pkt}, interface=iface)
    nak = mesh_pb2.MeshPacket(to=MY_NODE, id=78)
    setattr(nak, "from", MY_NODE)
    nak.decoded.portnum = portnums_pb2.PortNum.ROUTING_APP
    nak.decoded.request_id = 5
    nak.decoded.payload = mesh_pb2.Routing(error_reason=mesh_pb2.Routing.Error.DUTY_CYCLE_LIMIT).SerializeToString()
    pub.sendMessage("meshtastic.receive.routing", packet={"raw": nak}, interface=iface)
    got = [wait_for(lambda: _next_of(events, (RadioFrame, RadioAckNak))) for _ in range(2)]
    assert got[0] == RadioFrame(0x99, MY_NODE, 1, b"frame", 5.5, -90, 3, 1, 77)
    assert got[1] == RadioAckNak(5, "DUTY_CYCLE_LIMIT") and not got[1].is_ack


def _next_of(events: queue.Queue[Any], kinds: tuple[type, ...]) -> Any:
    while not events.empty():
        e = events.get()
        if isinstance(e, kinds):
            return e
    return None


def test_send_rejects_bad_frames() -> None:
    radio = MeshtasticRadio(RadioTarget(kind="serial"), lambda kind, payload: None, opener=Opener())
    assert max_payload_on_port(311) == 231 and max_payload_on_port(1) == 232  # 311: a 2-byte varint
    radio.send(0xFFFFFFFF, b"x" * 231)  # broadcast: never PKI-encrypted
    with pytest.raises(UsageError):
        radio.send(0xFFFFFFFF, b"x" * 232)
    radio.send(0xA, b"x" * 219)  # direct message: room for the firmware's 12-byte PKI overhead
    with pytest.raises(UsageError):
        radio.send(0xA, b"x" * 220)
    with pytest.raises(UsageError):
        radio.send(0xA, b"")
    with pytest.raises(UsageError):
        radio.send(0, b"x")


def test_packet_to_event_ignores_other_traffic() -> None:
    enc = mesh_pb2.MeshPacket(encrypted=b"\x00" * 8)
    assert packet_to_event(enc, MY_NODE) is None
    text = mesh_pb2.MeshPacket()
    text.decoded.portnum = portnums_pb2.PortNum.TEXT_MESSAGE_APP
    assert packet_to_event(text, MY_NODE) is None
    ack = mesh_pb2.MeshPacket()
    setattr(ack, "from", MY_NODE)
    ack.decoded.portnum = portnums_pb2.PortNum.ROUTING_APP
    ack.decoded.request_id = 9
    ack.decoded.payload = mesh_pb2.Routing(error_reason=mesh_pb2.Routing.Error.NONE).SerializeToString()
    assert packet_to_event(ack, MY_NODE) == RadioAckNak(9, "NONE")
    ack.decoded.payload = b"\xff\xff"
    assert packet_to_event(ack, MY_NODE) is None


def test_own_device_metrics_become_telemetry() -> None:
    from meshtastic.protobuf import telemetry_pb2

    from nspgw.adapters.radio_events import RadioTelemetry

    t = telemetry_pb2.Telemetry()
    t.device_metrics.battery_level = 87
    t.device_metrics.channel_utilization = 12.5
    t.device_metrics.air_util_tx = 1.25
    pkt = mesh_pb2.MeshPacket()
    setattr(pkt, "from", MY_NODE)
    pkt.decoded.portnum = portnums_pb2.PortNum.TELEMETRY_APP
    pkt.decoded.payload = t.SerializeToString()
    assert packet_to_event(pkt, MY_NODE) == RadioTelemetry(87, 12.5, 1.25)
    setattr(pkt, "from", MY_NODE + 1)  # a neighbour's metrics are not our radio's
    assert packet_to_event(pkt, MY_NODE) is None


def test_from_config_uses_role_profile_target_and_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import base64
    import os

    from nspgw.config import parse_config

    cfg = parse_config({"box": {"name": "cp-noord", "role": "cp", "network": "testnet", "state_dir": str(tmp_path)},
                        "radio": {"host": "127.0.0.1:4403"}}, tmp_path / "nspgw.toml")
    radio = MeshtasticRadio.from_config(cfg, lambda kind, payload: None)
    assert radio.target == RadioTarget(kind="tcp", host="127.0.0.1", port=4403)
    assert radio._profile is not None and radio._profile.name == "cp"
    assert radio._psk is None
    (tmp_path / "keys").mkdir()
    key_file = tmp_path / "keys" / "radio-channel.psk"
    key_file.write_text(base64.b64encode(KEY).decode())
    os.chmod(key_file, 0o600)
    assert MeshtasticRadio.from_config(cfg, lambda kind, payload: None)._psk == KEY


def test_cli_module_does_not_import_the_radio_library() -> None:
    """`nspgw send` must stay fast: importing the CLI group must not load meshtastic."""
    import subprocess
    import sys

    code = "import sys, nspgw.cli.radio; print('meshtastic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_library_reconnect_rechecks_the_profile(radio_factory) -> None:  # type: ignore[no-untyped-def]
    opener = Opener()
    radio, _events = radio_factory(opener)
    radio.start()
    iface = wait_for(lambda: opener.opened and opener.opened[0])
    wait_for(lambda: radio.state.connected)
    iface.localNode.localConfig.lora.region = config_pb2.Config.LoRaConfig.RegionCode.US
    pub.sendMessage("meshtastic.connection.established", interface=iface)
    wait_for(lambda: radio.state.status == "misconfigured")
    assert "regio is US" in radio.state.detail


def test_send_stuck_on_a_full_radio_queue_is_unstuck_and_resent(radio_factory) -> None:  # type: ignore[no-untyped-def]
    stuck = LibraryInterfaceStandIn()
    stuck.queueStatus = mesh_pb2.QueueStatus(free=0, maxlen=16)  # full, and the radio died: no update comes
    made = iter([stuck, LibraryInterfaceStandIn()])
    opener = Opener(make=lambda: next(made))
    radio, _events = radio_factory(opener, send_timeout_s=0.2)
    radio.start()
    wait_for(lambda: radio.state.connected)
    radio.send(0xA, b"vast", 1)
    second = wait_for(lambda: len(opener.opened) == 2 and opener.opened[1].sent and opener.opened[1])
    assert second.sent[0][0] == b"vast" and stuck.closed


def test_link_contract_ref_and_duck_types(radio_factory) -> None:  # type: ignore[no-untyped-def]
    opener = Opener()
    radio, events = radio_factory(opener)
    radio.start()
    wait_for(lambda: radio.state.connected)
    radio.send(0xA, b"met-ref", 2, ref=("msg", 7))
    sent = wait_for(lambda: _next_of(events, (RadioSent,)))
    assert (sent.ref, sent.ok, sent.link, sent.to_node) == (("msg", 7), True, "radio", 0xA)
    assert (radio.state.link, radio.state.status) == ("radio", "connected")
    frame = RadioFrame(0x99, 0x12, 1, b"x", 1.0, -80, 3, 2, 5)
    assert (frame.link, frame.src_addr, frame.dst_addr) == ("radio", 0x99, 0x12)
    ports = pytest.importorskip("nspgw.adapters.ports")
    assert isinstance(radio, ports.Link)


def _routing_answer(request_id: int, reason: int) -> mesh_pb2.MeshPacket:
    pkt = mesh_pb2.MeshPacket(to=MY_NODE, id=1000 + request_id)
    setattr(pkt, "from", MY_NODE)
    pkt.decoded.portnum = portnums_pb2.PortNum.ROUTING_APP
    pkt.decoded.request_id = request_id
    pkt.decoded.payload = mesh_pb2.Routing(error_reason=reason).SerializeToString()  # type: ignore[arg-type]
    return pkt


def test_paced_one_frame_in_flight_until_the_radio_answers(radio_factory) -> None:  # type: ignore[no-untyped-def]
    # The nsp profile's preset (LONG_FAST): without an answer the next frame waits ~9.5 s (radio_pacing.py).
    opener = Opener()
    radio, events = radio_factory(opener, pace=True)
    radio.send(0xA, b"first", 3)
    radio.send(0xB, b"second", 3, want_ack=True)
    radio.send(0xC, b"third", 3)
    radio.start()
    iface = wait_for(lambda: opener.opened and opener.opened[0].sent and opener.opened[0])
    time.sleep(0.3)  # long enough for the unpaced adapter to hand over all three (it did before pacing)
    assert [d for d, *_ in iface.sent] == [b"first"] and radio.queued() == 2
    # The firmware's MAX_RETRANSMIT for a frame sent without want_ack: the radio is done with it (next frame
    # goes), but it proves no loss (NextHopRouter), so the daemon does not hear of it.
    pub.sendMessage("meshtastic.receive.routing", packet={"raw": _routing_answer(1, 5)}, interface=iface)
    wait_for(lambda: len(iface.sent) == 2)
    assert iface.sent[1][0] == b"second" and radio.queued() == 1
    # The same NAK for a frame sent with want_ack is passed on.
    pub.sendMessage("meshtastic.receive.routing", packet={"raw": _routing_answer(2, 5)}, interface=iface)
    wait_for(lambda: len(iface.sent) == 3)
    naks = [e for e in list(events.queue) if isinstance(e, RadioAckNak)]
    assert naks == [RadioAckNak(2, "MAX_RETRANSMIT")]


def test_pacing_window_leaves_room_for_one_relay() -> None:
    from nspgw.adapters.radio_pacing import WORST_RELAY_SLOTS, RadioPacer, frame_airtime_s
    from nspgw.core.airtime import slot_time_ms

    pacer = RadioPacer("SHORT_TURBO")
    # 272 slots (getTxDelayMsecWeightedWorst at CWmax) of 2.5·0.256 + 7.6 ms, plus the frame and its relayed copy
    assert WORST_RELAY_SLOTS == 272 and slot_time_ms("SHORT_TURBO") == pytest.approx(8.24)
    airtime = frame_airtime_s(60, "SHORT_TURBO", direct=True)
    assert pacer.window_s(60, direct=True, relayed=True) == pytest.approx(2 * airtime + 272 * 0.00824)
    assert pacer.window_s(60, direct=True) == pytest.approx(airtime + 32 * 0.00824)  # a neighbour: 32 slots
    pacer.sent(100.0, 6, 60, direct=True, want_ack=False)
    assert pacer.ready_at() == pytest.approx(100.0 + pacer.window_s(60, direct=True))
    pacer.sent(100.0, 7, 60, direct=True, want_ack=False, relayed=True)  # to a node heard through a relay
    assert pacer.ready_at() == pytest.approx(100.0 + pacer.window_s(60, direct=True, relayed=True))
    pacer.answered(100.5, 8)  # another packet's answer: still waiting
    assert pacer.ready_at() > 102.0
    pacer.answered(100.5, 7)
    assert pacer.ready_at() == 100.5
    assert not pacer.proves_loss(7, "MAX_RETRANSMIT") and pacer.proves_loss(7, "DUTY_CYCLE_LIMIT")
    assert pacer.proves_loss(9, "MAX_RETRANSMIT")  # not ours without want_ack: passed on
    assert RadioPacer("NO_SUCH").preset == "LONG_FAST"


def test_hop_limit_zero_only_for_a_neighbour_heard_straight() -> None:
    from nspgw.adapters.radio_pacing import RadioPacer

    pacer = RadioPacer("SHORT_TURBO")
    assert pacer.hop_limit_for(0xA, want_ack=False) is None  # never heard: the radio's own limit
    pacer.heard(0xA, 3, 3)  # straight from its radio
    pacer.heard(0xB, 3, 2)  # through one relay
    pacer.heard(0xC, 0, 2)  # firmware without hop_start: unknown
    pacer.heard(0xE, 0, 0)  # sent with hop limit 0 (a beacon, a DM to us): straight from its radio
    assert pacer.hop_limit_for(0xA, want_ack=False) == 0
    assert pacer.hop_limit_for(0xA, want_ack=True) is None  # Router::sendLocal would raise 0 anyway
    assert pacer.hop_limit_for(0xB, want_ack=False) is None and pacer.relayed(0xB)
    assert pacer.hop_limit_for(0xC, want_ack=False) is None and not pacer.relayed(0xC)
    assert pacer.hop_limit_for(0xE, want_ack=False) == 0
    assert pacer.hop_limit_for(0xFFFFFFFF, want_ack=False) is None
    pacer.learn_nodes({0xD: {"hopsAway": 2}, 0xA: {"hopsAway": 1}, "x": None})
    assert pacer.relayed(0xD) and not pacer.relayed(0xA)  # what we heard ourselves wins
    pacer.heard(0xA, 3, 1)  # the neighbour is now behind relays: the configured limit again
    assert pacer.hop_limit_for(0xA, want_ack=False) is None


def test_precedence_becomes_the_radio_priority(radio_factory) -> None:  # type: ignore[no-untyped-def]
    """The firmware's transmit queue orders by MeshPacket.priority (MeshPacketQueue): FLASH goes as ALERT,
    IMMEDIATE as HIGH, PRIORITY as RELIABLE (the library's default), ROUTINE as DEFAULT, all below the
    firmware's routing acks (ACK)."""
    from nspgw.adapters.radio_priority import mesh_priority

    prio = mesh_pb2.MeshPacket.Priority
    assert [mesh_priority(p) for p in range(4)] == [prio.ALERT, prio.HIGH, prio.RELIABLE, prio.DEFAULT]
    assert all(mesh_priority(p) < prio.ACK for p in range(4))
    opener = Opener()
    radio, _events = radio_factory(opener)
    for precedence in (3, 2, 1, 0):
        radio.send(0xA + precedence, b"p%d" % precedence, precedence)
    radio.start()
    iface = wait_for(lambda: opener.opened and len(opener.opened[0].sent) == 4 and opener.opened[0])
    got = {d: o["priority"] for (d, *_rest), o in zip(iface.sent, iface.options, strict=True)}
    assert got == {b"p0": prio.ALERT, b"p1": prio.HIGH, b"p2": prio.RELIABLE, b"p3": prio.DEFAULT}


def test_unknown_key_refusal_sends_our_nodeinfo_once_per_interval(radio_factory) -> None:  # type: ignore[no-untyped-def]
    """PKI_SEND_FAIL_PUBLIC_KEY for a DM: the adapter sends that node our own User on NODEINFO_APP with
    want_response (it answers with its own, which teaches our radio the key), passes the NAK on to the core,
    and does not repeat the exchange for the same node within KEY_EXCHANGE_INTERVAL_S."""
    from nspgw.adapters.meshtastic_radio import NODEINFO_PORTNUM

    pki_fail = mesh_pb2.Routing.Error.PKI_SEND_FAIL_PUBLIC_KEY
    opener = Opener()
    radio, events = radio_factory(opener)
    radio.start()
    radio.send(0xB0B, b"flash", 0)
    iface = wait_for(lambda: opener.opened and opener.opened[0].sent and opener.opened[0])
    pub.sendMessage("meshtastic.receive.routing", packet={"raw": _routing_answer(1, pki_fail)}, interface=iface)
    wait_for(lambda: len(iface.sent) == 2)
    data, node, port, channel = iface.sent[1]
    assert (node, port, channel) == (0xB0B, NODEINFO_PORTNUM, 1)
    user = mesh_pb2.User.FromString(data)
    assert user.long_name == "NSP Sporthal" and user.public_key == bytes(range(1, 33))
    assert iface.options[1]["wantResponse"] and not iface.options[1]["wantAck"]
    assert iface.options[1]["priority"] == mesh_pb2.MeshPacket.Priority.ALERT  # as urgent as the refused frame
    nak = wait_for(lambda: [e for e in list(events.queue) if isinstance(e, RadioAckNak)])
    assert nak == [RadioAckNak(1, "PKI_SEND_FAIL_PUBLIC_KEY")]  # the core re-sends after the exchange
    # The core's re-send is refused again (no answer yet): no second NodeInfo to that node; another node
    # gets its own exchange.
    radio.send(0xB0B, b"flash", 0)
    radio.send(0xC0C, b"other", 3)
    wait_for(lambda: len(iface.sent) == 4)
    pub.sendMessage("meshtastic.receive.routing", packet={"raw": _routing_answer(3, pki_fail)}, interface=iface)
    pub.sendMessage("meshtastic.receive.routing", packet={"raw": _routing_answer(4, pki_fail)}, interface=iface)
    radio.send(0xD0D, b"marker", 3)  # the worker handles radio events before frames: both NAKs are done
    wait_for(lambda: any(d == b"marker" for d, *_ in iface.sent))
    assert [(n, p) for _d, n, p, _c in iface.sent[4:]] == [(0xC0C, NODEINFO_PORTNUM), (0xD0D, 311)]
