"""The shared channel: loss, collisions and capture, path loss, determinism."""

from __future__ import annotations

import pytest

from nspgw.core.airtime import time_on_air_ms
from nspgw.errors import ConfigError, UsageError
from nspgw.sim import mesh_radio
from nspgw.sim.mesh import BROADCAST, Mesh, RadioPacket, Reception

PORT = 311


def bcast(src: int, pid: int, hop_limit: int = 0, payload: bytes = b"x" * 40) -> RadioPacket:
    return RadioPacket(src=src, dest=BROADCAST, packet_id=pid, portnum=PORT, payload=payload,
                       hop_limit=hop_limit, hop_start=hop_limit)


def test_single_hop_delivery_matches_link_loss() -> None:
    mesh = Mesh(preset="SHORT_TURBO", seed=11, region="US")
    mesh.add_node("a", 1)
    mesh.add_node("b", 2)
    mesh.set_link("a", "b", loss=0.3)
    got: list[Reception] = []
    mesh.on_deliver = lambda n, rx: got.append(rx)
    frames = 3000
    for i in range(frames):
        mesh.send("a", bcast(1, i + 1))
        mesh.run_until(0.5 * (i + 1))
    assert len(got) / frames == pytest.approx(0.70, abs=0.03)
    assert mesh.node("a").stats.frames_tx == frames


def test_hidden_nodes_transmitting_together_collide() -> None:
    # a and c cannot hear each other (no CSMA between them); b sits in the middle and loses both frames.
    mesh = Mesh(preset="LONG_FAST", seed=2, region="US")
    for i, name in enumerate("abc"):
        mesh.add_node(name, 0x50 + i)
    mesh.set_link("a", "b", snr=5.0)
    mesh.set_link("b", "c", snr=6.0)
    got: list[tuple[int, Reception]] = []
    mesh.on_deliver = lambda n, rx: got.append((n, rx))
    mesh.send("a", bcast(0x50, 1))
    mesh.send("c", bcast(0x52, 2))
    mesh.run_until(30.0)
    # both start within one contention window (< 8 slots = 0.23 s) and last 0.5 s each: they overlap
    assert got == []
    assert mesh.node("b").stats.collisions == 2


def test_a_much_stronger_frame_survives_the_overlap() -> None:
    mesh = Mesh(preset="LONG_FAST", seed=2, region="US")
    for i, name in enumerate("abc"):
        mesh.add_node(name, 0x50 + i)
    mesh.set_link("a", "b", snr=10.0)
    mesh.set_link("b", "c", snr=-5.0)
    got: list[tuple[int, Reception]] = []
    mesh.on_deliver = lambda n, rx: got.append((n, rx))
    mesh.send("a", bcast(0x50, 1))
    mesh.send("c", bcast(0x52, 2))
    mesh.run_until(30.0)
    assert [(n, rx.packet.src) for n, rx in got] == [(0x51, 0x50)]


def test_capture_rule() -> None:
    """Bor et al. 2016 (LoRaSim, as Meshtasticator): >= 6 dB stronger survives whatever the timing; otherwise
    a frame survives only an overlap that ends before its last 5 preamble symbols."""
    crit = 0.1
    assert not mesh_radio.lost_to(10.0, 0.0, crit, 3.0, 0.9)  # 7 dB stronger: survives
    assert mesh_radio.lost_to(3.0, 0.0, crit, 10.0, 0.9)  # the weaker one is lost
    assert not mesh_radio.lost_to(3.0, 0.5, crit, 10.0, 0.55)  # ... unless only its early preamble was hit
    assert mesh_radio.lost_to(5.0, 0.0, crit, 2.0, 0.5) and mesh_radio.lost_to(2.0, 0.2, crit, 5.0, 0.5)


def test_listen_before_talk_avoids_collisions_between_neighbours() -> None:
    mesh = Mesh(preset="LONG_FAST", seed=4, region="US")
    names = "abcd"
    for i, name in enumerate(names):
        mesh.add_node(name, 0x60 + i)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            mesh.set_link(a, b, snr=5.0)
    got: list[int] = []
    mesh.on_deliver = lambda n, rx: got.append(n)
    for round_ in range(20):
        for i, name in enumerate("abc"):
            mesh.send(name, bcast(0x60 + i, round_ * 10 + i + 1))
        mesh.run_until(30.0 * (round_ + 1))
    # 60 frames, each heard by 3 nodes; CSMA defers, so only draws of the same slot may collide
    assert len(got) >= 0.9 * 60 * 3
    assert sum(mesh.node(n).stats.frames_tx for n in names) == 60


def test_position_links_follow_log_distance_path_loss() -> None:
    mesh = Mesh(preset="LONG_FAST", seed=1)
    mesh.add_node("a", 1, position=(0.0, 0.0))
    mesh.add_node("near", 2, position=(500.0, 0.0))
    mesh.add_node("far", 3, position=(60_000.0, 0.0))
    near = mesh.link("a", "near")
    assert near is not None
    expected_rssi = mesh_radio.TX_POWER_DBM - mesh_radio.path_loss_db(500.0)
    assert near.rssi == round(expected_rssi)
    assert near.snr == pytest.approx(expected_rssi - mesh_radio.noise_floor_dbm(250.0), abs=0.01)
    assert near.loss < 0.001
    assert mesh.link("a", "far") is None  # below the SF11 floor: out of range
    got: list[tuple[int, Reception]] = []
    mesh.on_deliver = lambda n, rx: got.append((n, rx))
    mesh.send("a", bcast(1, 1))
    mesh.run_until(30.0)
    assert [(n, rx.rx_rssi) for n, rx in got] == [(2, near.rssi)]


def test_noise_floor_and_path_loss_constants() -> None:
    assert mesh_radio.noise_floor_dbm(250.0) == pytest.approx(-114.0, abs=0.05)
    assert mesh_radio.free_space_loss_db(1.0) == pytest.approx(31.2, abs=0.1)
    assert mesh_radio.path_loss_db(1000.0) == pytest.approx(31.2 + 105.0, abs=0.1)
    lf = mesh_radio.demod_floor_snr(mesh_radio.ModemPreset("x", 250.0, 11, 5))
    assert lf == -17.5


def _trace(seed: int) -> list[tuple[float, int, int, int]]:
    mesh = Mesh(preset="MEDIUM_FAST", seed=seed)
    for i in range(6):
        mesh.add_node(f"n{i}", 0x70 + i)
    for i in range(5):
        mesh.set_link(f"n{i}", f"n{i + 1}", loss=0.2, snr=float(i - 2))
    mesh.set_link("n0", "n2", loss=0.5, snr=-10.0)
    out: list[tuple[float, int, int, int]] = []
    mesh.on_deliver = lambda n, rx: out.append((round(rx.rx_time, 9), n, rx.packet.src, rx.packet.packet_id))
    mesh.on_routing = lambda n, ev: out.append((round(mesh.clock.now(), 9), n, ev.error_reason, ev.request_id))
    for k in range(10):
        mesh.send(f"n{k % 6}", RadioPacket(src=0x70 + k % 6, dest=0x70 + (k + 3) % 6, packet_id=k + 1,
                                          portnum=PORT, payload=bytes(k * 10), want_ack=True))
        mesh.run_until(20.0 * (k + 1))
    mesh.run_until(600.0)
    return out


def test_same_seed_same_trace() -> None:
    first = _trace(7)
    assert first == _trace(7)
    assert first != _trace(8)
    assert len(first) > 10


def test_bad_topology_input_is_a_clear_error() -> None:
    mesh = Mesh(preset="SHORT_FAST")
    mesh.add_node("a", 1)
    mesh.add_node("b", 2)
    with pytest.raises(ConfigError, match="already"):
        mesh.add_node("a", 3)
    with pytest.raises(ConfigError, match="role"):
        mesh.add_node("c", 4, role="BOSS")
    with pytest.raises(ConfigError, match="loss"):
        mesh.set_link("a", "b", loss=1.5)
    with pytest.raises(UsageError, match="unknown node"):
        mesh.set_link("a", "zz")
    with pytest.raises(UsageError, match="no link"):
        mesh.set_link_up("a", "b", False)
    with pytest.raises(ConfigError, match="preset"):
        Mesh(preset="FAST_AND_FURIOUS")


def test_stats_count_airtime() -> None:
    mesh = Mesh(preset="LONG_FAST", seed=1)
    mesh.add_node("a", 1)
    mesh.add_node("b", 2)
    mesh.set_link("a", "b")
    packet = bcast(1, 1, payload=bytes(100))
    mesh.send("a", packet)
    mesh.run_until(10.0)
    stats = mesh.stats()
    assert stats["a"]["frames_tx"] == 1
    assert stats["a"]["airtime_s"] == pytest.approx(time_on_air_ms(packet.frame_len(), "LONG_FAST") / 1000)
    assert stats["b"]["frames_rx"] == 1
    assert mesh.node("a").ledger.used_ms(10.0) == pytest.approx(stats["a"]["airtime_s"] * 1000)
