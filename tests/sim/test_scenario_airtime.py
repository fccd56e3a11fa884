"""The report's channel figures (sim/scenario_airtime.py): frames on air by kind, channel utilisation, airtime
efficiency and the busiest radio's worst hour, from the mesh's transmit observer."""

from __future__ import annotations

from pathlib import Path

from nspgw.core.airtime import meshtastic_frame_len, time_on_air_ms
from nspgw.core.events import RADIO
from nspgw.crypto.enrol import demo_boxes
from nspgw.sim.mesh_types import BROADCAST, NODEINFO_APP, PKI_OVERHEAD, ROUTING_APP, RadioPacket, SimNode
from nspgw.sim.scenario import parse_scenario
from nspgw.sim.scenario_airtime import AirLog, classify
from nspgw.sim.scenario_net import SimNet
from nspgw.sim.scenario_report import figures
from nspgw.wire.codec import Kind
from nspgw.wire.frames import NSPGW_PORTNUM, Precedence

CP, NSP = 0x2000_000A, 0x2000_0065  # radios of box 10 and box 101


def _frame(kind: Kind, src: int, dst: int, counter: int = 7) -> bytes:
    return bytes([(1 << 6) | (kind << 3) | 3]) + ((src << 12) | dst).to_bytes(3, "big") + counter.to_bytes(4, "big") \
        + b"\0" * 20


def test_classify_by_port_kind_cast_and_who_sent_it() -> None:
    msg = RadioPacket(NSP, CP, 1, NSPGW_PORTNUM, _frame(Kind.MESSAGE, 101, 1))
    assert classify(msg, NSP, 101) == "message_dm_orig"
    assert classify(msg, CP, 10) == "message_dm_relay"  # a Meshtastic rebroadcast of the NSP's packet
    handed_on = RadioPacket(CP, 0x2000_0001, 2, NSPGW_PORTNUM, _frame(Kind.MESSAGE, 101, 1))
    assert classify(handed_on, CP, 10) == "message_dm_forward"  # the CP's radio, the NSP's sealed frame
    beacon = RadioPacket(CP, BROADCAST, 3, NSPGW_PORTNUM, _frame(Kind.BEACON, 10, 0xFFF))
    assert classify(beacon, CP, 10) == "beacon_bcast_orig"
    assert classify(beacon, NSP, 101) == "beacon_bcast_relay"
    for kind, name in [(Kind.RECEIPT, "receipt"), (Kind.CUSTODY_ACK, "custody_ack"), (Kind.CONTROL, "control"),
                       (Kind.FRAGMENT_REQUEST, "fragment_request"), (Kind.EXPIRED, "expired")]:
        assert classify(RadioPacket(CP, NSP, 4, NSPGW_PORTNUM, _frame(kind, 10, 101)), CP, 10) == f"{name}_dm_orig"
    roster = RadioPacket(1, BROADCAST, 5, NSPGW_PORTNUM, _frame(Kind.ROSTER_UPDATE, 1, 0xFFF))
    assert classify(roster, 1, 1) == "roster_bcast_orig"
    assert classify(RadioPacket(CP, NSP, 6, ROUTING_APP, b"\x18\x00"), CP, 10) == "routing_ack_dm_orig"
    assert classify(RadioPacket(CP, BROADCAST, 7, NODEINFO_APP, b"x"), NSP, 101) == "nodeinfo_bcast_relay"
    assert classify(RadioPacket(CP, BROADCAST, 8, 67, b"x"), CP, 10) == "port67_bcast_orig"


def test_worst_hour_is_a_sliding_window_per_radio() -> None:
    log = AirLog({CP: 10, NSP: 101})
    cp, nsp = SimNode("box10", CP), SimNode("box101", NSP)
    pkt = RadioPacket(CP, BROADCAST, 1, NODEINFO_APP, b"x")
    for t in (0.0, 1800.0, 3000.0, 3700.0, 5500.0):  # no hour holds more than three of these
        log.note(cp, pkt, False, 100.0, t)
    log.note(nsp, pkt, False, 250.0, 10.0)
    assert log.worst_hour() == (CP, 300.0 / 3600.0)
    log.note(nsp, pkt, False, 100.0, 3609.0)  # 10..3610: 350 s, more than any CP hour
    assert log.worst_hour() == (NSP, 350.0 / 3600.0)
    assert log.total_s == 850.0
    assert log.frames["nodeinfo_bcast_orig"] == 5 and log.frames["nodeinfo_bcast_relay"] == 2


def test_one_message_between_two_boxes_offered_used_and_efficiency(tmp_path: Path) -> None:
    net = SimNet([b for b in demo_boxes() if b.addr in (1, 10)], tmp_path, seed=4)
    try:
        net.mesh.set_link("box1", "box10")
        sc = parse_scenario({"box": [{"addr": 1, "role": "gct"}, {"addr": 10, "role": "cp"}],
                             "event": [{"send": {"id": "m", "from": 10, "to": 1, "text": "x"}}]})
        spec = sc.events[0].send
        net.run_until(60.0)
        msg = net.send(10, 1, b"Stroom uit in de sporthal, aggregaat draait", Precedence.ROUTINE)
        net.run_until(600.0)
        _, f = figures(net, {"m": (spec, msg.seq, 60.0)}, 0.0)
        frames = [t for _, t in net.boxes[10].transmits if t.link == RADIO and t.data[0] >> 3 & 7 == Kind.MESSAGE]
    finally:
        net.close()
    assert f["delivered"] == 1 and frames
    kinds = f["on_air_by_kind"]
    assert sum(v["frames"] for v in kinds.values()) == f["radio"]["on_air_frames"]
    assert kinds["message_dm_orig"]["frames"] >= 1 and kinds["receipt_dm_orig"]["frames"] >= 1
    assert kinds["beacon_bcast_orig"]["frames"] >= 1
    u = f["channel_utilisation"]
    stats = net.mesh.stats()
    total = sum(float(st["airtime_s"]) for st in stats.values())
    assert u["airtime_s"] == round(total, 1) and u["used"] == round(total / 600.0, 4)
    # Offered: the message's one frame, once, at its size on air (Meshtastic header and Data, PKI for a DM).
    need = time_on_air_ms(meshtastic_frame_len(len(frames[0].data), NSPGW_PORTNUM) + PKI_OVERHEAD, "LONG_FAST")
    assert u["offered_airtime_s"] == round(need / 1000.0, 1)
    assert u["offered"] == round(need / 1000.0 / 600.0, 4)
    assert f["airtime_efficiency"] == round(need / 1000.0 / total, 4)
    assert 0 < f["airtime_efficiency"] < 1  # beacons and the receipt cost air too
    busiest = max(stats, key=lambda n: float(stats[n]["airtime_s"]))  # under an hour: worst hour = all of it
    assert u["busiest_box"] == busiest
    assert u["busiest_box_worst_hour"] == round(float(stats[busiest]["airtime_s"]) / 3600.0, 4)
    assert u["duty_cycle_limit"] == 0.1
