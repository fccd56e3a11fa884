"""Managed flooding: hop limits, duplicate suppression, relay cancellation, roles."""

from __future__ import annotations

from nspgw.sim.mesh import BROADCAST, Mesh, RadioPacket, Reception

PORT = 311


def chain(n: int, *, preset: str = "SHORT_FAST", seed: int = 1, roles: dict[int, str] | None = None) -> Mesh:
    mesh = Mesh(preset=preset, seed=seed)
    for i in range(n):
        mesh.add_node(f"n{i}", 0x1000 + i, role=(roles or {}).get(i, "CLIENT"))
    for i in range(n - 1):
        mesh.set_link(f"n{i}", f"n{i + 1}", snr=5.0, rssi=-100)
    return mesh


def record(mesh: Mesh) -> list[tuple[int, Reception]]:
    got: list[tuple[int, Reception]] = []
    mesh.on_deliver = lambda num, rx: got.append((num, rx))
    return got


def bcast(src: int, pid: int, hop_limit: int = 3, payload: bytes = b"hallo") -> RadioPacket:
    return RadioPacket(src=src, dest=BROADCAST, packet_id=pid, portnum=PORT, payload=payload,
                       hop_limit=hop_limit, hop_start=hop_limit)


def test_broadcast_travels_hop_limit_relays_and_no_further() -> None:
    # Firmware: the originator sends hop_limit 3; each relay decrements; a copy arriving with 0 is not
    # relayed. So 3 relays: the node 4 hops out still hears it (hops_away 3), the one 5 hops out never does.
    mesh = chain(6)
    got = record(mesh)
    mesh.send("n0", bcast(0x1000, 1, hop_limit=3))
    mesh.run_until(60.0)
    heard = {num - 0x1000: rx for num, rx in got}
    assert sorted(heard) == [1, 2, 3, 4]
    assert [heard[i].packet.hop_limit for i in (1, 2, 3, 4)] == [3, 2, 1, 0]
    assert all(rx.packet.hop_start == 3 for rx in heard.values())
    assert mesh.node("n4").heard[0x1000].hops_away == 3
    assert mesh.node("n4").stats.frames_tx == 0  # arrived with hop_limit 0: not relayed


def test_hop_limit_one_reaches_two_hops() -> None:
    mesh = chain(6)
    got = record(mesh)
    mesh.send("n0", bcast(0x1000, 1, hop_limit=1))
    mesh.run_until(60.0)
    assert sorted(num - 0x1000 for num, _ in got) == [1, 2]


def test_each_node_delivers_a_flooded_packet_once() -> None:
    mesh = Mesh(preset="SHORT_FAST", seed=3)
    names = [f"n{i}" for i in range(5)]
    for i, name in enumerate(names):
        mesh.add_node(name, 0x2000 + i)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            mesh.set_link(a, b, snr=0.0)
    got = record(mesh)
    mesh.send("n0", bcast(0x2000, 42, hop_limit=7))
    mesh.run_until(120.0)
    assert sorted(num for num, _ in got) == [0x2001, 0x2002, 0x2003, 0x2004]
    # everyone heard the originator directly, so any relay heard afterwards was a duplicate
    assert sum(mesh.node(n).stats.duplicates for n in names) >= 1


def test_client_cancels_its_relay_when_it_hears_another_but_router_does_not() -> None:
    # A diamond: n0 -> {n1, n2} -> n3. n1 and n2 both want to relay; the later one hears the earlier one's
    # relay and drops its own copy (CLIENT). Two ROUTERs both relay.
    def diamond(role: str, seed: int) -> Mesh:
        mesh = Mesh(preset="SHORT_FAST", seed=seed)
        for i in range(4):
            mesh.add_node(f"n{i}", 0x3000 + i, role=role if i in (1, 2) else "CLIENT")
        for a, b in (("n0", "n1"), ("n0", "n2"), ("n1", "n3"), ("n2", "n3"), ("n1", "n2")):
            mesh.set_link(a, b, snr=5.0)
        return mesh

    cancelled = 0
    for seed in range(10):
        mesh = diamond("CLIENT", seed)
        mesh.send("n0", bcast(0x3000, 7, hop_limit=3))
        mesh.run_until(60.0)
        relays = mesh.node("n1").stats.rebroadcasts + mesh.node("n2").stats.rebroadcasts
        cancelled += mesh.node("n1").stats.rebroadcasts_cancelled + mesh.node("n2").stats.rebroadcasts_cancelled
        assert relays + mesh.node("n1").stats.rebroadcasts_cancelled + mesh.node("n2").stats.rebroadcasts_cancelled == 2
    assert cancelled >= 8  # almost always one relay suffices (unless the two relays collide in time)

    for seed in range(5):
        mesh = diamond("ROUTER", seed)
        mesh.send("n0", bcast(0x3000, 7, hop_limit=3))
        mesh.run_until(60.0)
        assert mesh.node("n1").stats.rebroadcasts == 1
        assert mesh.node("n2").stats.rebroadcasts == 1


def test_client_mute_never_relays() -> None:
    mesh = chain(3, roles={1: "CLIENT_MUTE"})
    got = record(mesh)
    mesh.send("n0", bcast(0x1000, 5))
    mesh.run_until(60.0)
    assert [num for num, _ in got] == [0x1001]
    assert mesh.node("n1").stats.frames_tx == 0


def test_dm_is_flooded_but_only_its_destination_delivers_it() -> None:
    mesh = chain(4)
    got = record(mesh)
    mesh.send("n0", RadioPacket(src=0x1000, dest=0x1003, packet_id=9, portnum=PORT, payload=b"dm"))
    mesh.run_until(60.0)
    assert [(num, rx.packet.payload) for num, rx in got] == [(0x1003, b"dm")]
    assert mesh.node("n1").stats.rebroadcasts == 1 and mesh.node("n2").stats.rebroadcasts == 1
    assert mesh.node("n3").stats.frames_tx == 0  # the destination does not relay a DM for itself
    rx = got[0][1]
    assert rx.relay_node == 0x02 and rx.packet.hop_limit == 1


def test_weak_snr_relays_first() -> None:
    # n0 reaches n1 (weak) and n2 (strong); both relay toward n3. The weak one should usually go first.
    first_weak = 0
    for seed in range(20):
        mesh = Mesh(preset="SHORT_FAST", seed=seed)
        for i in range(4):
            mesh.add_node(f"n{i}", 0x4000 + i)
        mesh.set_link("n0", "n1", snr=-5.0)
        mesh.set_link("n0", "n2", snr=10.0)
        mesh.set_link("n1", "n3", snr=5.0)
        mesh.set_link("n2", "n3", snr=5.0)
        got = record(mesh)
        mesh.send("n0", bcast(0x4000, 1))
        mesh.run_until(60.0)
        at_n3 = [rx for num, rx in got if num == 0x4003]
        first_weak += at_n3[0].relay_node == 0x01
    assert first_weak >= 15  # window 2^5 vs 2^8 slots: weak first ~94 % of the time
