"""Virtual time for the simulated mesh. The mesh owns the event queue; the clock only says what time it is."""

from __future__ import annotations


class VirtualClock:
    """Seconds of virtual time. Only the mesh's event loop moves it, and only forwards."""

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance_to(self, t: float) -> None:
        # Events are processed in time order; a request to go back is a bug in the caller, but never rewind:
        # time running backwards would break every duration computed from it.
        if t > self._now:
            self._now = float(t)
