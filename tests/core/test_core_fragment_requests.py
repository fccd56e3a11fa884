"""A box missing part of a fragmented bulletin asks for it, and asks again while it stays missing: an NSP
under a CP asks that CP (it keeps the GCT's frames, core/bulletins.py), which answers from them one hop.

It used to ask only when the last fragment arrived: a box behind a CP that never got the last fragment never
asked, and one whose request or answer was lost waited for the GCT's next whole repeat (up to half an hour,
each a burst the relay loses half of), so a bulletin stayed neither delivered nor expired for hours
(docs/scenarios/corpus.toml, several seeds)."""

from __future__ import annotations

import itertools

from core_boxes import CP, GCT, NSP, codec, node, tx

from nspgw.core.events import FrameIn, MessageAccepted
from nspgw.ids import BROADCAST_ADDR
from nspgw.wire.frames import FragmentRequestFrame, MessageFrame, MsgId, Precedence

TEXT = b"GCT BULLETIN 12: stroom terug in Elsterwijk, kookadvies Grevenhoek, tappunten open 08-20 uur. " * 8


def bulletin_frames() -> list[bytes]:
    """The GCT's first broadcast round of a bulletin, one frame per fragment in order."""
    gct = node(GCT)
    gct.handle_timer(0.0)
    got: dict[int, bytes] = {}
    acts = gct.handle(MessageAccepted(MsgId(GCT, 1), BROADCAST_ADDR, Precedence.PRIORITY, TEXT), 1.0)
    t, count = 1.0, 0
    while t < 600.0 and (count == 0 or len(got) < count):
        for a in tx(acts):
            f = codec(NSP).decode(a.data, GCT).frame
            if a.hop_dst is None and isinstance(f, MessageFrame):
                got.setdefault(f.frag_index, a.data)
                count = f.frag_count
        t = max(gct.next_deadline() or t, t + 0.01)
        acts = gct.handle_timer(t)
    assert count >= 3 and len(got) == count
    return [got[i] for i in range(count)]


def requests_until(nsp: object, start: float, end: float) -> list[tuple[float, tuple[int, ...]]]:
    """The fragment requests `nsp` sends to its CP between `start` and `end` (every answer lost)."""
    out = []
    t = start
    while True:
        d = nsp.next_deadline()  # type: ignore[attr-defined]
        if d is None or d > end:
            return out
        t = max(d, t)
        for a in tx(nsp.handle_timer(t)):  # type: ignore[attr-defined]
            assert a.hop_dst in (None, CP), a  # a bulletin's fragments are asked of the NSP's CP, not the GCT
            f = codec(CP).decode(a.data, NSP).frame
            if isinstance(f, FragmentRequestFrame):
                assert f.dst == CP and f.msg.origin == GCT
                out.append((t, f.missing))
        t += 1e-3


def test_a_box_that_never_got_the_last_fragment_asks_and_asks_again() -> None:
    frames = bulletin_frames()
    nsp = node(NSP, heard_fresh_s=1e9)  # it hears the GCT too: still its CP is asked
    nsp.handle_timer(0.0)
    for i, data in enumerate(frames[:-1]):  # the last fragment is lost on the air
        nsp.handle(FrameIn("radio", data, GCT), 2.0 + 3 * i)
    asked = requests_until(nsp, 2.0, 2 * 3600.0)
    last = len(frames) - 1
    assert asked and asked[0][1] == (last,), asked
    assert asked[0][0] < 120.0  # once the rest of the burst had time to come, not at the next whole repeat
    assert len(asked) >= 4  # and again while it stays missing, each time later (not a flood)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(asked)]
    assert min(gaps) >= 20.0 and gaps[-1] > gaps[0]
    # the answer arrives: the bulletin is delivered and nobody asks any more
    nsp.handle(FrameIn("radio", frames[-1], GCT), 2 * 3600.0 + 1)
    assert nsp.reasm.missing(MsgId(GCT, 1)) == () and MsgId(GCT, 1) in nsp.delivered
    assert requests_until(nsp, 2 * 3600.0 + 1, 6 * 3600.0) == []


def test_a_lost_answer_is_asked_for_again() -> None:
    frames = bulletin_frames()
    nsp = node(NSP, heard_fresh_s=1e9)  # it hears the GCT too: still its CP is asked
    nsp.handle_timer(0.0)
    for i, data in enumerate(frames):
        if i != 1:  # a middle fragment is lost; the last one comes and the request goes at once
            nsp.handle(FrameIn("radio", data, GCT), 2.0 + 3 * i)
    asked = requests_until(nsp, 2.0, 3600.0)
    assert len(asked) >= 3 and all(m == (1,) for _, m in asked), asked
    assert asked[0][0] < 2.0 + 3 * len(frames) + 30.0


def test_a_cp_answers_its_posts_request_from_the_gct_frames_it_keeps() -> None:
    frames = bulletin_frames()
    cp = node(CP)
    cp.handle_timer(0.0)
    for i, data in enumerate(frames):
        cp.handle(FrameIn("radio", data, GCT), 2.0 + 3 * i)
    assert MsgId(GCT, 1) in cp.delivered
    req = codec(NSP).encode(FragmentRequestFrame(NSP, CP, MsgId(GCT, 1), (1,)), 7)
    acts = cp.handle(FrameIn("radio", req, NSP), 30.0)
    t, sent = 30.0, []
    while t < 40.0:
        sent += [a for a in tx(acts) if a.hop_dst == NSP]
        t = max(cp.next_deadline() or t, t + 0.01)
        acts = cp.handle_timer(t)
    assert [a.data for a in sent] == [frames[1]]  # the GCT's own bytes, one hop, only the missing one
    rejected = cp.stats["rejected"]
    cp.handle(FrameIn("radio", codec(NSP).encode(FragmentRequestFrame(NSP, CP, MsgId(GCT, 1), (1,)), 8), NSP), 41.0)
    assert cp.stats["rejected"] == rejected + 1  # asked again at once: rate-limited, not answered again
