"""What the demo watches and shows: the boxes' own stores, read while the daemons run.

`Monitor.poll()` reads each box's SQLite store (WAL: readers never block the daemon) and returns what is new
since the last poll: messages accepted into an outbox (`Sent`), inbox rows (`Delivery`, with the link that
carried the message as the receiving core recorded it), outbox rows that reached a final state (receipts
back) and link state changes from the daemon's status record. Nothing is taken from the demo's own
bookkeeping: what it reports is what an operator would see with `nspgw outbox`, `inbox` and `status`.

`LiveView` prints each event as one line (rich), so the failover can be followed as it happens.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape

from nspgw.errors import NspgwError
from nspgw.ids import BROADCAST_ADDR
from nspgw.sim.boxes import SimBox
from nspgw.sim.demo_summary import BROADCAST, Delivery, Sent

STATUS_KEY = "daemon"  # as nspgw.daemon.status.STATUS_KEY (not imported: that would pull the daemon in)


@dataclass(frozen=True)
class Confirmed:
    origin: str
    seq: int
    state: str  # "delivered" | "expired"
    detail: str = ""


@dataclass(frozen=True)
class LinkChange:
    box: str
    link: str  # "ip" | "radio"
    status: str  # the adapter's state: connected, disconnected, auth_failed, ...
    detail: str


Event = Sent | Delivery | Confirmed | LinkChange


def body_text(body: bytes) -> str:
    """Readable text of a message body; never raises (a body we cannot read says so)."""
    from nspgw.wire.content import decode_content, render

    try:
        ct, value = decode_content(body)
        return render(ct, value, "nl")
    except NspgwError as exc:
        return f"[onleesbaar: {exc}]"


class Monitor:
    """Reads the stores of `boxes`; one Store per box, used only from the thread that calls `poll`."""

    def __init__(self, boxes: Sequence[SimBox]) -> None:
        from nspgw.store.sqlite import Store

        self.boxes = list(boxes)
        self.names = {int(b.addr): b.name for b in boxes}
        self._stores = {b.name: Store.open(b.store_path, create=False) for b in boxes}
        self._seen_out: set[tuple[str, int]] = set()
        self._final: set[tuple[str, int]] = set()
        self._seen_in: set[tuple[str, int]] = set()  # (box, inbox row id)
        self._links: dict[tuple[str, str], tuple[str, str]] = {}
        self.phase_marks: list[tuple[float, str]] = []  # (wall time, phase name), ascending
        self.sent: list[Sent] = []
        self.deliveries: list[Delivery] = []
        self.confirmed: list[tuple[str, int]] = []
        self.status: dict[str, dict[str, Any]] = {}

    def mark_phase(self, name: str) -> None:
        self.phase_marks.append((time.time(), name))

    def _phase_at(self, wall: float) -> str:
        name = self.phase_marks[0][1] if self.phase_marks else ""
        for at, n in self.phase_marks:
            if at <= wall:
                name = n
        return name

    def poll(self) -> list[Event]:
        events: list[Event] = []
        for box in self.boxes:
            store = self._stores[box.name]
            for r in store.outbox():
                key = (box.name, r.seq)
                if key not in self._seen_out:
                    self._seen_out.add(key)
                    dst = BROADCAST if r.dst == BROADCAST_ADDR else self.names.get(int(r.dst), f"#{r.dst}")
                    s = Sent(box.name, r.seq, dst, r.precedence.name.lower(), body_text(r.body), r.accepted_wall,
                             self._phase_at(r.accepted_wall))
                    self.sent.append(s)
                    events.append(s)
                if r.state.value in ("delivered", "expired") and key not in self._final:
                    self._final.add(key)
                    if r.state.value == "delivered":
                        self.confirmed.append(key)
                    events.append(Confirmed(box.name, r.seq, r.state.value, r.detail))
            for row in store.inbox():
                if (box.name, row.id) not in self._seen_in:
                    self._seen_in.add((box.name, row.id))
                    d = Delivery(box.name, self.names.get(int(row.origin), f"#{row.origin}"), row.seq, row.link,
                                 row.received_wall)
                    self.deliveries.append(d)
                    events.append(d)
            record = store.status().get(STATUS_KEY)
            if isinstance(record, dict):
                self.status[box.name] = record
                for link, section in (("ip", "mqtt"), ("radio", "radio")):
                    part = record.get(section) or {}
                    now = (str(part.get("status", "")), str(part.get("detail", "")))
                    if now[0] and self._links.get((box.name, link), ("", ""))[0] != now[0]:
                        events.append(LinkChange(box.name, link, *now))
                    self._links[(box.name, link)] = now
        # Order within one poll: sends before deliveries before receipts reads naturally.
        rank = {Sent: 0, LinkChange: 1, Delivery: 2, Confirmed: 3}
        events.sort(key=lambda e: rank[type(e)])
        return events

    def link_status(self, link: str) -> dict[str, str]:
        """Current adapter state per box for "ip" or "radio"."""
        return {box: st for (box, lk), (st, _) in self._links.items() if lk == link}

    def close(self) -> None:
        for s in self._stores.values():
            s.close()
        self._stores.clear()


_PREC = {"flash": "[bold red]FLASH[/]", "immediate": "[red]SPOED[/]", "priority": "[yellow]VOORRANG[/]",
         "routine": "[dim]ROUTINE[/]"}
_LINK = {"ip": "[cyan]IP[/]", "radio": "[magenta]radio[/]"}
_STATE_NL = {"connected": "[green]verbonden[/]", "disconnected": "[red]weg[/]", "connecting": "verbinden…",
             "auth_failed": "[red]inlog geweigerd[/]", "tls_error": "[red]TLS-fout[/]",
             "misconfigured": "[red]verkeerd ingesteld[/]", "stopped": "gestopt"}


class LiveView:
    """One line per event, with the seconds since the demo's start."""

    def __init__(self, console: Console, monitor: Monitor) -> None:
        self.console = console
        self.monitor = monitor
        self.t0 = time.time()
        self._sent: dict[tuple[str, int], Sent] = {}

    def _t(self, wall: float | None = None) -> str:
        return f"[dim]{(wall if wall is not None else time.time()) - self.t0:6.1f} s[/]"

    def banner(self, text: str, style: str = "bold") -> None:
        self.console.rule(f"[{style}]{text}[/]")

    def note(self, text: str) -> None:
        self.console.print(f"{self._t()}  {text}")

    def show(self, events: Sequence[Event]) -> None:
        for e in events:
            if isinstance(e, Sent):
                self._sent[(e.origin, e.seq)] = e
                text = e.text.replace("\n", " ")
                short = text if len(text) <= 40 else text[:39] + "…"
                self.console.print(f"{self._t(e.accepted_wall)}  [bold]→ verstuurd[/] {e.origin}#{e.seq} "
                                   f"→ {e.dst}  {_PREC.get(e.precedence, e.precedence)}  [dim]{escape(short)}[/]")
            elif isinstance(e, Delivery):
                s = self._sent.get((e.origin, e.seq))
                lat = f"na {e.received_wall - s.accepted_wall:.2f} s" if s else ""
                self.console.print(f"{self._t(e.received_wall)}  [green]✓ afgeleverd[/] {e.origin}#{e.seq} "
                                   f"bij {e.box} via {_LINK.get(e.link, e.link)} {lat}")
            elif isinstance(e, Confirmed):
                if e.state == "expired":
                    self.console.print(f"{self._t()}  [red]✗ verlopen[/] {e.origin}#{e.seq} {escape(e.detail)}")
            elif isinstance(e, LinkChange):
                name = "IP-link" if e.link == "ip" else "radio"
                detail = f" [dim]({escape(e.detail)})[/]" if e.status != "connected" and e.detail else ""
                self.console.print(f"{self._t()}  [bold]⇄ {name}[/] {e.box}: "
                                   f"{_STATE_NL.get(e.status, escape(e.status))}{detail}")
