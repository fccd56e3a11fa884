"""Freshness of network-key frames (beacons, roster updates, bulletins), kept apart from pair-key freshness.

A network-key frame is authenticated only by the key every enrolled box holds, and its `src` is not bound to
the box that sealed it: any enrolled (or stolen) box can make a beacon that claims to come from the GCT with
counter 0xFFFFFFFF. Such a counter must never reach the per-sender window of pair-key traffic (persisted:
it would make us drop every genuine custody ack, receipt and probe of that box for good). So network-key
frames get their own windows here, in memory only, and a forged counter can do little even here:

- A jump far ahead of everything authenticated from that box is refused (`JUMP_CAP`): the anchor is the
  highest counter of its pair-key window (only that box, or a clone, can seal those) or of this window.
- A direct, fresh pair-key frame from the box proves where its counter really is: a network-key window more
  than `LEAD_MAX` ahead of it was pushed there by a forger and is reset (`pair_seen`). So the worst a forger
  achieves is that some of another box's beacons count as replays until that box next speaks to us.
- Nothing here is persisted: after a restart a recorded beacon may be accepted once more. Its only effect is
  "this box was heard", which an enrolled box can claim anyway; bulletins are deduplicated by message number
  and signature, roster updates by version, so neither depends on this window for safety.
"""

from __future__ import annotations

from nspgw.crypto.replay import ReplayWindow

JUMP_CAP = 1 << 20
"""≈ 27 days of transmitting at the full 10 % duty cycle (≈ 1,600 frames an hour), plus a resync jump (2^16):
a genuine box we last heard that long ago is heard again once it sends us a pair-key frame."""
LEAD_MAX = 256
"""How far a genuine broadcast's counter can run ahead of a unicast that arrives after it (the two links
and the scheduler reorder a few frames, never hundreds)."""


class NetWindows:
    __slots__ = ("_windows",)

    def __init__(self) -> None:
        self._windows: dict[int, ReplayWindow] = {}

    def accept(self, src: int, counter: int, pair_highest: int) -> bool:
        """True when a network-key frame from `src` with `counter` is fresh (and records it)."""
        w = self._windows.get(src)
        if w is None:
            w = self._windows[src] = ReplayWindow()
        anchor = max(pair_highest, w.highest)
        if anchor >= 0 and counter > anchor + JUMP_CAP:
            return False
        return w.accept(counter)

    def pair_seen(self, src: int, counter: int) -> None:
        """A fresh pair-key frame straight from `src`: forget a network-key window forged ahead of it."""
        w = self._windows.get(src)
        if w is not None and w.highest > counter + LEAD_MAX:
            self._windows[src] = ReplayWindow(highest=counter)

    def highest(self, src: int) -> int:
        w = self._windows.get(src)
        return -1 if w is None else w.highest
