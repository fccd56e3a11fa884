"""One journal entry as readers see it, and the re-dating of entries made before the clock was known. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Entry:
    n: int
    kind: str
    wall: float  # the box's wall clock when written (as it was, never rewritten)
    clock: str  # its source then: ntp, gps, mesh, operator, unsync
    boot: str  # boot id: `mono` is comparable only within one boot
    mono: float  # seconds since boot (CLOCK_MONOTONIC)
    actor: str  # who: the operator's account or name, or the service's account
    data: dict[str, Any] = field(hash=False)
    prev: str
    hash: str
    shown_wall: float = 0.0  # the best known time: `wall`, or re-dated by a later correction entry
    redated: bool = False

    def fields(self) -> dict[str, Any]:
        """The hashed fields plus the hash: the form of the JSON export and of `verify`."""
        return {"n": self.n, "kind": self.kind, "wall": self.wall, "clock": self.clock, "boot": self.boot,
                "mono": self.mono, "actor": self.actor, "data": self.data, "prev": self.prev, "hash": self.hash}


def corrections(entries: Iterable[Entry]) -> dict[str, list[tuple[int, int, float]]]:
    """Per boot, the (first n, last n, base) of each correction entry: true wall = base + mono."""
    out: dict[str, list[tuple[int, int, float]]] = {}
    for e in entries:
        if e.kind == "correction":
            d = e.data
            out.setdefault(str(d["boot"]), []).append((int(d["from_n"]), int(d["to_n"]), float(d["base"])))
    return out


def redate(e: Entry, fixes: Mapping[str, list[tuple[int, int, float]]]) -> Entry:
    """`e` with its shown time corrected when a correction covers it (the stored fields are unchanged)."""
    if e.clock == "unsync":
        for lo, hi, base in fixes.get(e.boot, ()):
            if lo <= e.n <= hi:
                return _with(e, round(base + e.mono, 3), True)
    return _with(e, e.wall, False)


def _with(e: Entry, shown: float, redated: bool) -> Entry:
    return Entry(e.n, e.kind, e.wall, e.clock, e.boot, e.mono, e.actor, e.data, e.prev, e.hash, shown, redated)


def involves(e: Entry, addr: int) -> bool:
    """Whether the entry concerns box `addr` (as sender, reader, custodian or the box it names)."""
    d = e.data
    return any(d.get(k) == addr for k in ("to", "from", "by", "origin", "dst", "box"))
