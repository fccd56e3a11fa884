"""Real boxes (core + SQLite store + codec + crypto) over the seeded simulated mesh, on its virtual clock."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sim_nets import all_in_range

from nspgw.core.actions import NoticeKind
from nspgw.core.airtime import time_on_air_ms
from nspgw.crypto.enrol import demo_boxes
from nspgw.sim.scenario_net import SimNet
from nspgw.wire.frames import Precedence

GCT, CP_N, CP_S, NSP1, NSP2, NSP3 = 1, 10, 11, 101, 102, 201
FULL_FRAME_S = time_on_air_ms(255, "LONG_FAST") / 1000.0


def star(tmp_path: Path, *, loss: float = 0.0, seed: int = 1, presence: bool = True, **cfg: object) -> SimNet:
    """CPs hear the GCT and their own NSPs; NSPs do not hear the GCT or each other (a realistic star)."""
    net = SimNet(demo_boxes(), tmp_path, seed=seed, config=cfg or None, presence=presence)
    for a, b in [(GCT, CP_N), (GCT, CP_S), (CP_N, NSP1), (CP_N, NSP2), (CP_S, NSP3), (CP_N, CP_S)]:
        net.mesh.set_link(f"box{a}", f"box{b}", loss=loss)
    return net


def delivered_once(net: SimNet, dst: int, origin: int, seqs: list[int]) -> None:
    counts = Counter((o, s) for o, s, _ in net.inbox(dst))
    for s in seqs:
        assert counts[(origin, s)] == 1, f"message {origin}/{s} at box {dst}: {counts[(origin, s)]} copies"


def test_direct_delivery_with_end_to_end_receipt(tmp_path: Path) -> None:
    net = all_in_range(tmp_path)
    net.run_until(60)  # beacons: everybody has heard everybody
    m = net.send(NSP1, GCT, b"Stroom uitgevallen in wijk Noord", Precedence.PRIORITY)
    net.run_until(200)
    delivered_once(net, GCT, NSP1, [m.seq])
    assert net.outbox_state(NSP1, m.seq) == "delivered"
    # heard directly: no custody hop was used
    assert all(t.hop_dst in (GCT, None) for _, t in net.boxes[NSP1].transmits)
    net.close()


def test_nsp_to_gct_via_cp_custody_and_receipt_back(tmp_path: Path) -> None:
    net = star(tmp_path)
    m = net.send(NSP1, GCT, b"Aggregaat nodig bij de bieb", Precedence.IMMEDIATE)
    net.run_until(300)
    delivered_once(net, GCT, NSP1, [m.seq])
    assert net.outbox_state(NSP1, m.seq) == "delivered"
    assert net.boxes[CP_N].store.custody_count() == 0
    net.close()


def test_gct_to_nsp_of_other_cp(tmp_path: Path) -> None:
    net = star(tmp_path)
    net.run_until(60)
    m = net.send(GCT, NSP3, b"Hoe is de situatie in de sporthal?", Precedence.PRIORITY)
    net.run_until(600)
    delivered_once(net, NSP3, GCT, [m.seq])
    assert net.outbox_state(GCT, m.seq) == "delivered"
    net.close()


def test_lossy_links_every_message_exactly_once(tmp_path: Path) -> None:
    net = star(tmp_path, loss=0.3, seed=7)
    seqs = [net.send(NSP1, GCT, f"melding {i}: alles rustig".encode()).seq for i in range(12)]
    ok = net.run_while(lambda: any(net.outbox_state(NSP1, s) != "delivered" for s in seqs), 4 * 3600)
    assert ok, [net.outbox_state(NSP1, s) for s in seqs]
    delivered_once(net, GCT, NSP1, seqs)
    net.close()


def test_cp_holds_custody_while_destination_is_down_for_hours(tmp_path: Path) -> None:
    net = star(tmp_path)
    net.run_until(60)
    net.set_up(GCT, False)
    m = net.send(NSP1, GCT, b"Verzoek om water, 40 personen", Precedence.ROUTINE)
    net.run_until(3 * 3600)
    assert net.outbox_state(NSP1, m.seq) == "held_by_relay"
    assert net.boxes[CP_N].store.custody_count() >= 1
    assert net.inbox(GCT) == []
    net.set_up(GCT, True)
    ok = net.run_while(lambda: net.outbox_state(NSP1, m.seq) != "delivered", 3 * 3600 + 3600)
    assert ok
    delivered_once(net, GCT, NSP1, [m.seq])
    net.close()


def test_partitioned_cp_for_hours_then_everything_arrives(tmp_path: Path) -> None:
    net = star(tmp_path, seed=3)
    net.run_until(60)
    net.set_up(CP_N, False)  # the CP loses power: NSPs of CP Noord reach nobody
    seqs = [net.send(NSP1, GCT, f"bericht {i}".encode()).seq for i in range(5)]
    net.run_until(2 * 3600)
    assert net.inbox(GCT) == []
    net.set_up(CP_N, True)
    ok = net.run_while(lambda: any(net.outbox_state(NSP1, s) != "delivered" for s in seqs), 5 * 3600)
    assert ok, [net.outbox_state(NSP1, s) for s in seqs]
    delivered_once(net, GCT, NSP1, seqs)
    net.close()


def test_restart_mid_run_keeps_every_message(tmp_path: Path) -> None:
    net = star(tmp_path, loss=0.1, seed=5)
    net.run_until(60)
    seqs = [net.send(NSP1, GCT, f"r{i}".encode()).seq for i in range(6)]
    for t in (65, 80, 120, 300):
        net.run_until(t)
        net.restart(CP_N)
        net.restart(NSP1)
    ok = net.run_while(lambda: any(net.outbox_state(NSP1, s) != "delivered" for s in seqs), 4 * 3600)
    assert ok, [net.outbox_state(NSP1, s) for s in seqs]
    delivered_once(net, GCT, NSP1, seqs)
    net.close()


def test_flash_behind_200_routine_goes_on_air_within_one_frame(tmp_path: Path) -> None:
    net = all_in_range(tmp_path)
    net.run_until(60)
    for i in range(200):
        net.send(NSP1, GCT, f"routine {i} ".encode() * 3)
    net.run_until(70)
    accepted_at = net.now
    net.send(NSP1, GCT, b"BRAND in de kerk, 3 gewonden", Precedence.FLASH)
    net.run_until(accepted_at + 10)
    flash = [t for t, tx in net.boxes[NSP1].transmits if tx.precedence == Precedence.FLASH]
    assert flash, "FLASH never transmitted"
    assert flash[0] - accepted_at <= FULL_FRAME_S + 0.5 + 1e-6
    net.close()


def test_expiry_at_relay_is_reported_to_the_originator(tmp_path: Path) -> None:
    net = star(tmp_path)
    net.run_until(60)
    net.set_up(GCT, False)
    m = net.send(NSP1, GCT, b"Dringend: ambulance nodig", Precedence.FLASH, ttl_s=900)
    net.run_until(60 + 900 + 600)
    assert net.outbox_state(NSP1, m.seq) == "expired"
    kinds = [n.kind for n in net.boxes[NSP1].notices]
    assert "expired" in kinds
    assert net.boxes[CP_N].store.custody_count() == 0
    net.close()


def test_expiry_without_any_route_is_reported_to_the_operator(tmp_path: Path) -> None:
    net = star(tmp_path)
    net.set_up(CP_N, False)
    net.set_up(GCT, False)
    m = net.send(NSP1, GCT, b"FLASH zonder verbinding", Precedence.FLASH, ttl_s=600)
    net.run_until(700)
    assert net.outbox_state(NSP1, m.seq) == "expired"
    assert any(n.kind == NoticeKind.EXPIRED and n.params["seq"] == m.seq for n in net.boxes[NSP1].notices)
    net.close()


def test_replayed_frame_is_delivered_once_and_answered_with_a_receipt(tmp_path: Path) -> None:
    net = all_in_range(tmp_path)
    net.run_until(60)
    m = net.send(NSP1, GCT, b"eenmalig", Precedence.PRIORITY)
    net.run_until(200)
    first = next(tx for _, tx in net.boxes[NSP1].transmits if tx.hop_dst == GCT)
    from nspgw.core.events import RADIO, FrameIn

    for _ in range(3):  # an attacker (or a looping relay) replays the sealed frame
        net._pending.append((GCT, FrameIn(RADIO, first.data, NSP1)))
        net.run_until(net.now + 30)
    delivered_once(net, GCT, NSP1, [m.seq])
    net.close()


def test_bulletin_reaches_every_box_and_collects_receipts(tmp_path: Path) -> None:
    net = star(tmp_path, seed=9)
    net.run_until(60)
    m = net.send(GCT, 0xFFF, b"Drinkwater beschikbaar bij het gemeentehuis", Precedence.PRIORITY)
    ok = net.run_while(lambda: net.outbox_state(GCT, m.seq) != "delivered", 3 * 3600)
    for b in (CP_N, CP_S, NSP1, NSP2, NSP3):
        delivered_once(net, b, GCT, [m.seq])
    assert ok
    net.close()


@pytest.mark.parametrize("size", [600, 2000])
def test_fragmented_message_over_lossy_link(tmp_path: Path, size: int) -> None:
    net = star(tmp_path, loss=0.2, seed=11)
    net.run_until(60)
    body = bytes((i * 7) % 251 for i in range(size))
    m = net.send(NSP1, GCT, body, Precedence.PRIORITY)
    ok = net.run_while(lambda: net.outbox_state(NSP1, m.seq) != "delivered", 4 * 3600)
    assert ok, net.outbox_state(NSP1, m.seq)
    got = [b for o, s, b in net.inbox(GCT) if (o, s) == (NSP1, m.seq)]
    assert got == [body]
    net.close()


def test_ip_is_preferred_while_up_and_flash_also_goes_on_radio(tmp_path: Path) -> None:
    net = star(tmp_path)
    for b in (GCT, NSP1, CP_N):
        net.set_ip(b, True)
    net.run_until(30)
    routine = net.send(NSP1, GCT, b"via internet")
    flash = net.send(NSP1, GCT, b"FLASH via beide", Precedence.FLASH)
    net.run_until(120)
    delivered_once(net, GCT, NSP1, [routine.seq, flash.seq])
    msgs = [tx for _, tx in net.boxes[NSP1].transmits if tx.data[0] >> 3 & 7 == 0]
    assert {tx.link for tx in msgs if tx.precedence == Precedence.ROUTINE} == {"ip"}
    assert {tx.link for tx in msgs if tx.precedence == Precedence.FLASH} == {"ip", "radio"}
    assert net.outbox_state(NSP1, flash.seq) == "delivered"


def test_ip_down_falls_back_to_radio(tmp_path: Path) -> None:
    net = star(tmp_path)
    for b in (GCT, NSP1):
        net.set_ip(b, True)
    net.run_until(30)
    net.set_ip(NSP1, False)
    m = net.send(NSP1, GCT, b"internet weg")
    net.run_until(600)
    delivered_once(net, GCT, NSP1, [m.seq])
    assert all(tx.link == "radio" for t, tx in net.boxes[NSP1].transmits if t >= 30)


def test_large_sequence_numbers_still_fit_the_firmware_frame_limit(tmp_path: Path) -> None:
    net = star(tmp_path)
    net.boxes[NSP1].store._db.execute("UPDATE counters SET value = 100000 WHERE name = 'next_seq'")
    m = net.send(NSP1, GCT, bytes(range(256)) * 3, Precedence.PRIORITY)
    ok = net.run_while(lambda: net.outbox_state(NSP1, m.seq) != "delivered", 3600)
    assert ok and m.seq == 100000
    assert max(len(tx.data) for _, tx in net.boxes[NSP1].transmits) <= 231


def test_box_restored_from_backup_never_loses_a_message_silently(tmp_path: Path) -> None:
    import sqlite3

    net = all_in_range(tmp_path)
    net.run_until(60)
    first = net.send(NSP1, GCT, b"voor de back-up", Precedence.PRIORITY)
    net.run_until(200)
    backup = tmp_path / "backup.db"
    with sqlite3.connect(backup) as dst:
        net.boxes[NSP1].store._db.backup(dst)
    later = [net.send(NSP1, GCT, f"na de back-up {i}".encode(), Precedence.PRIORITY).seq for i in range(2)]
    net.run_until(400)
    delivered_once(net, GCT, NSP1, [first.seq, *later])
    # the SD card is restored from the backup: counters and message numbers go back in time
    net.set_up(NSP1, False)
    net.boxes[NSP1].store.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"box{NSP1}.db{suffix}").unlink(missing_ok=True)
    backup.rename(tmp_path / f"box{NSP1}.db")
    net.set_up(NSP1, True)
    reused = net.send(NSP1, GCT, b"ander bericht, oud nummer", Precedence.PRIORITY, ttl_s=1800)
    assert reused.seq == later[0]  # the restored copy hands out a number the GCT already holds
    net.run_until(net.now + 2400)
    # not confirmed as if delivered: the sender's operator is told, the reader keeps the original
    assert net.outbox_state(NSP1, reused.seq) == "expired"
    assert any(n.kind == "expired" for n in net.boxes[NSP1].notices)
    assert any(n.kind == "seq_conflict" for n in net.boxes[GCT].notices)
    assert [b for o, s, b in net.inbox(GCT) if (o, s) == (NSP1, later[0])] == [b"na de back-up 0"]
    # after the hint the box numbers past the old copy: new messages arrive again
    fresh = net.send(NSP1, GCT, b"weer normaal", Precedence.PRIORITY)
    assert fresh.seq > later[-1]
    net.run_until(net.now + 600)
    delivered_once(net, GCT, NSP1, [fresh.seq])


def test_receipts_are_batched_into_fewer_frames(tmp_path: Path) -> None:
    net = all_in_range(tmp_path)
    net.run_until(60)
    seqs = [net.send(NSP1, GCT, f"stapel {i}".encode(), Precedence.PRIORITY).seq for i in range(6)]
    net.run_until(400)
    delivered_once(net, GCT, NSP1, seqs)
    receipt_frames = [tx for _, tx in net.boxes[GCT].transmits if tx.hop_dst == NSP1 and tx.data[0] >> 3 & 7 == 1]
    assert 1 <= len(receipt_frames) < len(seqs)
    assert all(net.outbox_state(NSP1, s) == "delivered" for s in seqs)


def test_destination_without_ip_is_reached_by_radio_while_our_ip_is_up(tmp_path: Path) -> None:
    """Without presence (boxes that publish none) the NSP learns it only from unanswered IP rounds."""
    net = star(tmp_path, presence=False)
    net.set_ip(NSP1, True)  # the NSP has internet, the crisis team's uplink is down
    net.run_until(30)
    m = net.send(NSP1, GCT, b"internet alleen aan onze kant", Precedence.PRIORITY)
    ok = net.run_while(lambda: net.outbox_state(NSP1, m.seq) != "delivered", 2 * 3600)
    assert ok
    delivered_once(net, GCT, NSP1, [m.seq])
    links = {tx.link for _, tx in net.boxes[NSP1].transmits if tx.data[0] >> 3 & 7 == 0}
    assert links == {"ip", "radio"}


def test_presence_sends_straight_by_radio_to_a_box_off_the_broker(tmp_path: Path) -> None:
    """The broker's retained status says the crisis team is not on it: no IP round is wasted."""
    net = star(tmp_path)
    net.set_ip(NSP1, True)
    net.run_until(30)
    m = net.send(NSP1, GCT, b"internet alleen aan onze kant", Precedence.PRIORITY)
    ok = net.run_while(lambda: net.outbox_state(NSP1, m.seq) != "delivered", 2 * 3600)
    assert ok
    delivered_once(net, GCT, NSP1, [m.seq])
    links = {tx.link for _, tx in net.boxes[NSP1].transmits if tx.data[0] >> 3 & 7 == 0}
    assert links == {"radio"}


def test_will_of_a_peer_that_left_switches_its_message_to_radio_at_once(tmp_path: Path) -> None:
    """Both on the broker; the GCT's uplink dies just after a message went out over IP. Its Last Will (after
    the broker's keep-alive expiry) sends the message by radio well before the 45 s receipt timeout."""
    net = star(tmp_path)
    net.set_ip(NSP1, True)
    net.set_ip(GCT, True)
    net.run_until(30)
    net.set_ip(GCT, False)
    m = net.send(NSP1, GCT, b"net weg bij de GCT", Precedence.PRIORITY)
    net.run_until(net.now + 1)
    assert [tx.link for _, tx in net.boxes[NSP1].transmits if tx.data[0] >> 3 & 7 == 0] == ["ip"]
    t0 = net.now
    net.run_until(t0 + 25)
    radio = [t for t, tx in net.boxes[NSP1].transmits if tx.data[0] >> 3 & 7 == 0 and tx.link == "radio"]
    assert radio and radio[0] - t0 < 20
    ok = net.run_while(lambda: net.outbox_state(NSP1, m.seq) != "delivered", 3600)
    assert ok
    delivered_once(net, GCT, NSP1, [m.seq])
