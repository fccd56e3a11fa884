"""Issue 15, findings 1 and 3: an enrolled (or stolen) box attacks another box through the real codec, core
and store. A network-key frame in another box's name must not silence that box; a recorded frame replayed
under another hop (radio node, MQTT topic) must act on nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from core_boxes import CP, GCT, NET, NSP, NSP2, codec, node, tx

from nspgw.core.actions import Transmit
from nspgw.core.events import FrameIn, MessageAccepted
from nspgw.core.node import Node
from nspgw.crypto.seal import TAG_LEN, mac, seal
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.store.sqlite import Store
from nspgw.wire.codec import Kind, _header, _plaintext
from nspgw.wire.frames import (
    BeaconFrame,
    FragmentRequestFrame,
    MessageFrame,
    MsgId,
    Precedence,
    ProbeFrame,
    SyncFrame,
)

TOP = 0xFFFFFFFF


def forge(kind: str, claimed: BoxAddr, counter: int) -> bytes:
    """What any enrolled box can make with the network key alone: a beacon, or a bulletin fragment (its
    signature is only checked on the whole bulletin), with someone else's address as `src`."""
    net = NET.keyring(NSP2).network_keys()[0]
    if kind == "beacon":
        header = _header(Kind.BEACON, Precedence.ROUTINE, False, claimed, BROADCAST_ADDR, counter)
        pt = _plaintext(BeaconFrame(claimed, 1))
        return header + pt + mac(net.k_mac, header + pt, TAG_LEN)
    header = _header(Kind.MESSAGE, Precedence.FLASH, False, claimed, BROADCAST_ADDR, counter)
    frag = MessageFrame(claimed, BROADCAST_ADDR, MsgId(claimed, 77), Precedence.FLASH, 0, b"nep", 0, 3)
    return header + seal(net, header, _plaintext(frag))


def answers(n: Node, store: Store, probe_from: BoxAddr, counter: int, t: float) -> list[object]:
    """Frames `n` sends to `probe_from` after a genuine probe from it (fresh counter)."""
    probe = codec(probe_from).encode(ProbeFrame(probe_from, n.me, counter), counter)
    store.apply(acts := n.handle(FrameIn("radio", probe, probe_from), t))
    sent = tx(acts)
    while (d := n.next_deadline()) is not None and d < t + 30:
        t = max(d, t + 0.01)
        store.apply(acts := n.handle_timer(t))
        sent += tx(acts)
    return [codec(probe_from).decode(a.data).frame for a in sent if a.hop_dst == probe_from]


@pytest.mark.parametrize(("kind", "victim"), [("beacon", CP), ("beacon", GCT), ("bulletin", GCT)])
def test_a_forged_network_key_frame_does_not_silence_the_box_it_names(tmp_path: Path, kind: str,
                                                                      victim: BoxAddr) -> None:
    store = Store.open(tmp_path / "nsp.db")
    nsp = node(NSP, store.load_state(NSP))
    store.apply(nsp.handle_timer(0.0))
    store.apply(nsp.handle(FrameIn("radio", forge(kind, victim, TOP), NSP2), 1.0))
    got = answers(nsp, store, victim, 500, 2.0)
    assert any(isinstance(f, ProbeFrame) and f.reply for f in got), got  # the genuine box is still heard
    assert not any(isinstance(f, SyncFrame) for f in got)  # and not told it runs from a restored copy
    store.close()
    store = Store.open(tmp_path / "nsp.db")  # the damage used to be persisted: restart and ask again
    nsp2 = node(NSP, store.load_state(NSP))
    store.apply(nsp2.handle_timer(100.0))
    got = answers(nsp2, store, victim, 501, 101.0)
    assert any(isinstance(f, ProbeFrame) and f.reply for f in got), got
    store.close()


def test_forged_beacons_cannot_ratchet_the_beacon_window_of_a_box_that_speaks() -> None:
    """Capped jumps: a forged beacon far ahead is refused; one just inside the cap is forgotten as soon as the
    genuine box sends a pair-key frame, after which its beacons count again."""
    nsp = node(NSP)
    nsp.handle_timer(0.0)
    nsp.handle(FrameIn("radio", codec(CP).encode(ProbeFrame(CP, NSP, 1), 10), CP), 1.0)
    nsp.handle(FrameIn("radio", forge("beacon", CP, TOP), NSP2), 2.0)
    assert nsp.net_windows.highest(CP) == -1  # a jump of 2^32 from counter 10: refused
    nsp.handle(FrameIn("radio", forge("beacon", CP, 10 + (1 << 19)), NSP2), 3.0)
    nsp.handle(FrameIn("radio", codec(CP).encode(ProbeFrame(CP, NSP, 2), 11), CP), 4.0)
    genuine = codec(CP).encode(BeaconFrame(CP, 1), 12)
    nsp.heard.clear()
    nsp.handle(FrameIn("radio", genuine, CP), 5.0)
    assert nsp.is_fresh(CP, 5.0)


def _frames_after_requests(replays: int) -> int:
    """NSP sends a 3-fragment message to the GCT; the GCT asks for all three once; the recorded request is
    then replayed `replays` times under other hops (radio nodes, MQTT topics of other boxes)."""
    req = codec(GCT).encode(FragmentRequestFrame(GCT, NSP, MsgId(NSP, 1), (0, 1, 2)), 40)
    nsp = node(NSP)
    nsp.peer_heard(GCT, "radio", None, None, 0.0, [])
    nsp.handle(MessageAccepted(MsgId(NSP, 1), GCT, Precedence.ROUTINE, b"z" * 600), 0.0)
    sent: list[Transmit] = []
    t = 100.0
    hops = [GCT] + [CP, NSP2, GCT] * 7
    for i in range(21):  # the same steps of time whether a request comes or not
        if i <= replays:
            sent += tx(nsp.handle(FrameIn("ip" if i % 2 else "radio", req, hops[i]), t))
        t += 5.0
        while (d := nsp.next_deadline()) is not None and d < t:
            sent += tx(nsp.handle_timer(max(d, t - 5.0)))
    for _ in range(200):
        d = nsp.next_deadline()
        if d is None or d > t + 30:
            break
        sent += tx(nsp.handle_timer(max(d, t)))
        t = max(d, t) + 0.01
    return sum(1 for a in sent if a.hop_dst == GCT and isinstance(codec(GCT).decode(a.data).frame, MessageFrame))


def test_a_fragment_request_replayed_under_other_hops_resends_nothing_more() -> None:
    honest = _frames_after_requests(0)
    assert _frames_after_requests(20) == honest


def test_a_frame_under_another_boxs_hop_without_a_hop_tag_is_refused() -> None:
    """A CP's frame, replayed by anyone under another radio node or topic: no hop tag, refused."""
    ack = codec(CP).encode(ProbeFrame(CP, NSP, 9), 9)
    nsp = node(NSP)
    nsp.handle_timer(0.0)
    before = nsp.stats["rejected"]
    assert not tx(nsp.handle(FrameIn("ip", ack, NSP2), 1.0))
    assert nsp.stats["rejected"] == before + 1


def test_a_beacon_showing_a_newer_roster_warns_the_operator_once() -> None:
    from nspgw.core.actions import Notice

    nsp = node(NSP)
    nsp.handle_timer(0.0)
    mine = NET.roster.version
    notes = []
    for i, v in enumerate((mine, mine + 1, mine + 1)):
        acts = nsp.handle(FrameIn("radio", codec(CP).encode(BeaconFrame(CP, v), 100 + i), CP), 1.0 + i)
        notes += [a for a in acts if isinstance(a, Notice) and a.kind == "roster_newer"]
    assert len(notes) == 1 and notes[0].params["version"] == mine + 1 and notes[0].params["mine"] == mine


def test_two_frames_under_one_counter_alert_the_operator_and_the_gct(tmp_path: Path) -> None:
    """A cloned SD card running beside the original: both seal with the same keys and reuse counters. The
    second, different frame under a counter already seen is proof of two copies: the operator is told, and
    the daemon's alert goes to the GCT as a FLASH message (real store)."""
    from nspgw.cli.texts import notice_text
    from nspgw.core.actions import Notice
    from nspgw.daemon.control import relay_alert

    cp = node(CP)
    cp.handle_timer(0.0)
    c = codec(NSP)
    original = c.encode(MessageFrame(NSP, CP, MsgId(NSP, 1), Precedence.ROUTINE, 0, b"origineel"), 100)
    clone = c.encode(MessageFrame(NSP, CP, MsgId(NSP, 1), Precedence.ROUTINE, 0, b"van de kloon"), 100)
    cp.handle(FrameIn("radio", original, NSP), 1.0)
    alerts = [a for a in cp.handle(FrameIn("radio", clone, NSP), 2.0) if isinstance(a, Notice)
              and a.kind == "clone_suspected"]
    assert len(alerts) == 1 and "101" in str(alerts[0].params["box"]) and alerts[0].params["counter"] == 100
    again = c.encode(MessageFrame(NSP, CP, MsgId(NSP, 2), Precedence.ROUTINE, 0, b"nog een"), 100)
    assert not [a for a in cp.handle(FrameIn("radio", again, NSP), 3.0) if isinstance(a, Notice)
                and a.kind == "clone_suspected"]  # once per box
    store = Store.open(tmp_path / "cp.db")
    assert relay_alert(store, cp, alerts[0].kind, notice_text(alerts[0]))
    (row,) = store.outbox()
    assert row.dst == GCT and row.precedence == Precedence.FLASH
    assert not relay_alert(store, node(GCT), alerts[0].kind, notice_text(alerts[0]))  # the GCT itself: its notice
    store.close()


def test_a_receipt_for_other_content_under_our_number_does_not_confirm_our_message() -> None:
    """Issue 15, finding 6: a restored or cloned copy of a box reuses message number 5 for other content; the
    GCT stored the original's message 5 and confirms it. That receipt (it reaches both copies, e.g. over the
    box's MQTT topic) must not mark the copy's different message delivered."""
    from nspgw.core.actions import StoreOutboxState, StoreReceipt
    from nspgw.core.lifecycle import MsgState
    from nspgw.wire.frames import ReceiptFrame, receipt_digest

    gct = node(GCT)
    gct.handle_timer(0.0)
    original = codec(NSP).encode(MessageFrame(NSP, GCT, MsgId(NSP, 5), Precedence.FLASH, 0, b"origineel"), 100)
    gct.handle(FrameIn("radio", original, NSP), 1.0)
    sent: list[Transmit] = []
    t = 1.0
    while (d := gct.next_deadline()) is not None and d < 30:
        t = max(d, t + 0.01)
        sent += tx(gct.handle_timer(t))
    receipts = [f for f in (codec(NSP).decode(a.data).frame for a in sent if a.hop_dst == NSP)
                if isinstance(f, ReceiptFrame)]
    assert receipts and receipts[0].digests == (receipt_digest(b"origineel"),)
    copy = node(NSP)  # the copy, which sent "kopie" as its message 5
    copy.handle(MessageAccepted(MsgId(NSP, 5), GCT, Precedence.FLASH, b"kopie"), 0.0)
    acts = copy.handle(FrameIn("radio", codec(GCT).encode(receipts[0], 50), GCT), 40.0)
    assert not [a for a in acts if isinstance(a, StoreReceipt)] and 5 in copy.out
    assert MsgState.DELIVERED not in [a.state for a in acts if isinstance(a, StoreOutboxState)]
    same = node(NSP)  # the original itself is confirmed
    same.handle(MessageAccepted(MsgId(NSP, 5), GCT, Precedence.FLASH, b"origineel"), 0.0)
    assert StoreReceipt(5, GCT) in same.handle(FrameIn("radio", codec(GCT).encode(receipts[0], 51), GCT), 40.0)
