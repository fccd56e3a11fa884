"""Replay protection without clocks: a sliding window over a sender's frame counters (RFC 4303 §3.4.3 style).

The window remembers the highest counter accepted and a bitmap of the `size` counters below it. A counter
above the highest is new; one inside the window is new unless its bit is set; one below the window is
rejected (too old to tell, so it is treated as a replay). The core keeps one window per sender and persists
it via the store (`to_bytes`), so replays are rejected after a restart too.
"""

from __future__ import annotations

from nspgw.errors import DecodeError

DEFAULT_WINDOW = 256
_MAGIC = 0x57  # "W": a serialised window, layout version 1
MAX_COUNTER = 0xFFFFFFFF


class ReplayWindow:
    """Per-sender anti-replay state. `size` counters below the highest are tracked (default 256)."""

    __slots__ = ("_bitmap", "_highest", "_size")

    def __init__(self, size: int = DEFAULT_WINDOW, highest: int = -1, bitmap: int = 0) -> None:
        if size < 1 or size % 8:
            raise ValueError("window size must be a positive multiple of 8")
        self._size = size
        self._highest = highest  # -1: nothing seen yet
        self._bitmap = bitmap & ((1 << size) - 1)  # bit i set: counter highest - i was seen

    @property
    def highest(self) -> int:
        return self._highest

    @property
    def size(self) -> int:
        return self._size

    def seen(self, counter: int) -> bool:
        """True when `counter` is a replay (already accepted, or too old to tell)."""
        if counter > self._highest:
            return False
        offset = self._highest - counter
        if offset >= self._size:
            return True
        return bool(self._bitmap >> offset & 1)

    def accept(self, counter: int) -> bool:
        """Record `counter` if it is new; returns False (and changes nothing) for a replay."""
        if not 0 <= counter <= MAX_COUNTER:
            return False
        if self.seen(counter):
            return False
        if counter > self._highest:
            shift = counter - self._highest
            self._bitmap = ((self._bitmap << shift) | 1) & ((1 << self._size) - 1) if shift < self._size else 1
            self._highest = counter
        else:
            self._bitmap |= 1 << (self._highest - counter)
        return True

    def to_bytes(self) -> bytes:
        """magic(1) ‖ size/8 (2) ‖ highest+1 (5) ‖ bitmap (size/8), big-endian."""
        nbytes = self._size // 8
        return (
            bytes([_MAGIC])
            + nbytes.to_bytes(2, "big")
            + (self._highest + 1).to_bytes(5, "big")
            + self._bitmap.to_bytes(nbytes, "big")
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> ReplayWindow:
        """Inverse of `to_bytes`; DecodeError for anything else (the store treats that as corruption)."""
        if len(data) < 8 or data[0] != _MAGIC:
            raise DecodeError("not a serialised replay window")
        nbytes = int.from_bytes(data[1:3], "big")
        if nbytes == 0 or len(data) != 8 + nbytes:
            raise DecodeError("replay window has the wrong length")
        highest = int.from_bytes(data[3:8], "big") - 1
        if highest > MAX_COUNTER:
            raise DecodeError("replay window counter out of range")
        return cls(nbytes * 8, highest, int.from_bytes(data[8:], "big"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReplayWindow):
            return NotImplemented
        return (self._size, self._highest, self._bitmap) == (other._size, other._highest, other._bitmap)

    def __hash__(self) -> int:
        return hash((self._size, self._highest, self._bitmap))

    def __repr__(self) -> str:
        return f"ReplayWindow(size={self._size}, highest={self._highest})"
