"""A bulletin sent while presence says a box is off the broker must put every fragment on air, not only the
first. Sent as an IP broadcast with a best-effort radio copy, at most the first fragment went on air: the
next found the radio still busy and was never sent there. In the masts-dying drill a PRIORITY bulletin to 14
readers stayed in flight to the end, an NSP off the broker asking for the missing fragment again and again."""

from __future__ import annotations

from core_boxes import GCT, NSP, node, tx

from nspgw.core.events import IP, RADIO, LinkChanged, MessageAccepted, PeerPresence
from nspgw.ids import BROADCAST_ADDR
from nspgw.wire.frames import MsgId, Precedence


def first_round(off_broker: bool) -> tuple[int, dict[str, list[int]]]:
    """GCT on the broker sends a two-fragment bulletin; which fragments go on which link in its first 60 s."""
    gct = node(GCT)
    gct.handle(LinkChanged(IP, True), 0.0)
    gct.handle(LinkChanged(RADIO, True), 0.0)
    if off_broker:
        gct.handle(PeerPresence(NSP, False), 0.0)  # its mast died: the broker published its Last Will
    now = 100.0
    acts = gct.handle(MessageAccepted(MsgId(GCT, 1), BROADCAST_ADDR, Precedence.PRIORITY, bytes(range(256)) * 2),
                      now)
    frames: dict[bytes, int] = {f.body: f.frag_index for f in gct.out[1].frags}
    count = len(frames)
    links: dict[str, list[int]] = {IP: [], RADIO: []}
    while now < 160.0:
        for t in tx(acts):
            if t.precedence == Precedence.PRIORITY and t.hop_dst in (None, BROADCAST_ADDR):  # not beacons
                links[t.link].append(len(t.data))
        d = gct.next_deadline()
        if d is None or d > 160.0:
            break
        now = max(d, now)
        acts = gct.handle_timer(now)
    return count, links


def test_every_fragment_goes_on_air_while_a_box_is_off_the_broker() -> None:
    count, links = first_round(off_broker=True)
    assert count >= 2
    assert len(links[RADIO]) == count, links  # each fragment once on air, behind the radio gate
    assert sorted(links[IP]) == sorted(links[RADIO]), links  # and the same frames to the readers on the broker


def test_no_radio_broadcast_while_every_box_is_on_the_broker() -> None:
    count, links = first_round(off_broker=False)
    assert len(links[IP]) == count and links[RADIO] == [], links
