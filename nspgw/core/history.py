"""What a node remembers about frames it received and sent, to tell a fresh frame, a replay and a restored
sender apart (review items 8, 9, 10).

- Frame digests: for the last `DIGESTS_KEPT` counters of each sender that reached us directly, a short hash of
  the bytes. A counter seen again with the same bytes is a replay (or a second copy over another link) and
  has no effect at all; with different bytes the sender runs from a restored or cloned copy and gets a sync
  hint. Persisted, so a replay after our restart is still recognised.
- Custody windows: a replay window per origin over the counters of frames taken into custody, separate from
  the end-to-end window (custody frames may be hours old when they reach a relay). Persisted, so recorded
  custody frames cannot be handed to us again, not even after a restart.
- First counter sent this boot per box (and for broadcasts): a sync hint is only believed when it names a
  floor at or above a frame we actually sent that box (a hint is the answer to a rejected frame of ours).
"""

from __future__ import annotations

import hashlib

from nspgw.core.actions import StoreCustodyWindow, StoreFrameDigests
from nspgw.crypto.replay import ReplayWindow
from nspgw.errors import DecodeError
from nspgw.ids import BoxAddr

DIGESTS_KEPT = 64
_DIGEST_LEN = 8
_ENTRY = 4 + _DIGEST_LEN
CUSTODY_WINDOW = 1024
"""Custody frames of one origin arrive out of counter order (precedence, several relays): a wide window."""


def frame_digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()[:_DIGEST_LEN]


def _parse(blob: bytes) -> dict[int, bytes]:
    if len(blob) % _ENTRY:
        raise DecodeError("frame digest record has the wrong length")
    out: dict[int, bytes] = {}
    for i in range(0, len(blob), _ENTRY):
        out[int.from_bytes(blob[i : i + 4], "big")] = blob[i + 4 : i + _ENTRY]
    return out


class FrameHistory:
    def __init__(self, digests: dict[int, bytes], custody_windows: dict[int, bytes]) -> None:
        self._digests: dict[int, dict[int, bytes]] = {}
        for sender, blob in digests.items():
            try:
                self._digests[sender] = _parse(blob)
            except DecodeError:
                continue  # unreadable: we only lose the ability to recognise those few old replays
        self._custody: dict[int, ReplayWindow] = {}
        for origin, blob in custody_windows.items():
            try:
                self._custody[origin] = ReplayWindow.from_bytes(blob)
            except DecodeError:
                continue
        self._dirty_digests: set[int] = set()
        self._dirty_custody: set[int] = set()
        self._first_sent: dict[int, int] = {}

    # ------------------------------------------------------------------------------- received directly
    def verdict(self, sender: int, counter: int, data: bytes) -> str:
        """"same" (these bytes were seen under this counter), "different" or "unknown" (no digest kept)."""
        known = self._digests.get(sender, {}).get(counter)
        if known is None:
            return "unknown"
        return "same" if known == frame_digest(data) else "different"

    def record(self, sender: int, counter: int, data: bytes) -> None:
        d = self._digests.setdefault(sender, {})
        d[counter] = frame_digest(data)
        if len(d) > DIGESTS_KEPT:
            for c in sorted(d)[: len(d) - DIGESTS_KEPT]:
                del d[c]
        self._dirty_digests.add(sender)

    # --------------------------------------------------------------------------------------- custody
    def custody_seen(self, origin: int, counter: int) -> bool:
        w = self._custody.get(origin)
        return w is not None and w.seen(counter)

    def custody_taken(self, origin: int, counter: int) -> None:
        w = self._custody.get(origin)
        if w is None:
            w = self._custody[origin] = ReplayWindow(CUSTODY_WINDOW)
        w.accept(counter)
        self._dirty_custody.add(origin)

    # ------------------------------------------------------------------------------------------ sent
    def note_sent(self, counter: int, *boxes: int) -> None:
        for b in boxes:
            self._first_sent.setdefault(b, counter)

    def first_sent(self, *boxes: int) -> int | None:
        return min((self._first_sent[b] for b in boxes if b in self._first_sent), default=None)

    # ------------------------------------------------------------------------------------------ store
    def flush(self) -> list[StoreFrameDigests | StoreCustodyWindow]:
        acts: list[StoreFrameDigests | StoreCustodyWindow] = []
        for s in sorted(self._dirty_digests):
            d = self._digests[s]
            blob = b"".join(c.to_bytes(4, "big") + d[c] for c in sorted(d))
            acts.append(StoreFrameDigests(BoxAddr(s), blob))
        for o in sorted(self._dirty_custody):
            acts.append(StoreCustodyWindow(BoxAddr(o), self._custody[o].to_bytes()))
        self._dirty_digests.clear()
        self._dirty_custody.clear()
        return acts
