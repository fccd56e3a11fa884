"""The demo's closing account: what was sent, what arrived where, over which link, how fast; lost and doubled.

Pure functions over what the monitor read from the boxes' stores, so the arithmetic is tested on its own:
a message counts once per recipient (a GCT bulletin to all six other boxes is six deliveries). "Lost" is a
recipient that never got an accepted message; "duplicates" are extra inbox rows for a message a box already
has (the inbox's UNIQUE (origin, seq) makes that impossible in SQLite, the count checks it anyway);
"unexpected" is a message in the inbox of a box it was not for.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.table import Table

BROADCAST = "alle"
IP, RADIO = "ip", "radio"


@dataclass(frozen=True)
class Sent:
    origin: str
    seq: int
    dst: str  # box name, or BROADCAST
    precedence: str
    text: str
    accepted_wall: float
    phase: str = ""


@dataclass(frozen=True)
class Delivery:
    box: str
    origin: str
    seq: int
    link: str
    received_wall: float


@dataclass(frozen=True)
class Summary:
    sent: int
    expected: int
    delivered: int
    via_ip: int
    via_radio: int
    latency_p50_s: float | None
    latency_max_s: float | None
    lost: int
    duplicates: int
    unexpected: int
    confirmed: int  # sender's outbox says delivered (every receipt came back)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicates == 0 and self.unexpected == 0

    def as_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"ok": self.ok}


def recipients(msg: Sent, boxes: Sequence[str]) -> set[str]:
    return {b for b in boxes if b != msg.origin} if msg.dst == BROADCAST else {msg.dst}


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(sent: Iterable[Sent], deliveries: Iterable[Delivery], boxes: Sequence[str],
              confirmed: Iterable[tuple[str, int]] = ()) -> Summary:
    msgs = {(m.origin, m.seq): m for m in sent}
    rows = list(deliveries)
    counts = Counter((d.box, d.origin, d.seq) for d in rows)
    first: dict[tuple[str, str, int], Delivery] = {}
    for d in sorted(rows, key=lambda d: d.received_wall):
        first.setdefault((d.box, d.origin, d.seq), d)
    expected = {(r, o, s) for (o, s), m in msgs.items() for r in recipients(m, boxes)}
    got = [d for k, d in first.items() if k in expected]
    latencies = [d.received_wall - msgs[(d.origin, d.seq)].accepted_wall for d in got]
    done = set(confirmed)
    return Summary(
        sent=len(msgs), expected=len(expected), delivered=len(got),
        via_ip=sum(d.link == IP for d in got), via_radio=sum(d.link == RADIO for d in got),
        latency_p50_s=percentile(latencies, 50), latency_max_s=max(latencies) if latencies else None,
        lost=len(expected - set(first)), duplicates=sum(n - 1 for n in counts.values()),
        unexpected=sum(1 for k in first if k not in expected and (k[1], k[2]) in msgs),
        confirmed=sum(1 for k in msgs if k in done),
    )


def by_phase(sent: Sequence[Sent], deliveries: Sequence[Delivery], boxes: Sequence[str],
             confirmed: Sequence[tuple[str, int]], phases: Sequence[str]) -> list[tuple[str, Summary]]:
    """One summary per phase (by when a message was accepted) and the total, in `phases` order."""
    out = []
    for phase in phases:
        part = [m for m in sent if m.phase == phase]
        keys = {(m.origin, m.seq) for m in part}
        out.append((phase, summarize(part, [d for d in deliveries if (d.origin, d.seq) in keys], boxes,
                                     [c for c in confirmed if c in keys])))
    out.append(("totaal", summarize(sent, deliveries, boxes, confirmed)))
    return out


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} s"


def table(parts: Sequence[tuple[str, Summary]]) -> Table:
    """Rows are the measures, one column per phase and the total; lost/duplicates red unless zero."""
    t = Table(title="Samenvatting / summary", title_style="bold")
    t.add_column("")
    for name, _ in parts:
        t.add_column(name, justify="right")

    def row(label: str, cell: object, bad_if_nonzero: bool = False) -> None:
        cells = []
        for _, s in parts:
            value = cell(s) if callable(cell) else cell
            text = str(value)
            if bad_if_nonzero:
                text = f"[red bold]{text}[/]" if value else f"[green]{text}[/]"
            cells.append(text)
        t.add_row(label, *cells)

    row("verstuurd / sent", lambda s: s.sent)
    row("verwacht / expected", lambda s: s.expected)
    row("afgeleverd / delivered", lambda s: s.delivered)
    row("  via IP (MQTT)", lambda s: s.via_ip)
    row("  via radio (LoRa)", lambda s: s.via_radio)
    row("latentie p50", lambda s: _secs(s.latency_p50_s))
    row("latentie max", lambda s: _secs(s.latency_max_s))
    row("bevestigd / receipts", lambda s: f"{s.confirmed}/{s.sent}")
    row("verloren / lost", lambda s: s.lost, bad_if_nonzero=True)
    row("dubbel / duplicates", lambda s: s.duplicates, bad_if_nonzero=True)
    row("verkeerd / misdelivered", lambda s: s.unexpected, bad_if_nonzero=True)
    return t
