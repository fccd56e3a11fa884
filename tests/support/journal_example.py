"""The example page of the operator guide: one morning of a coördinatiepunt, written through the store's own
doors (accept_message, apply, mark_read, journal_record) with a scripted clock, then exported as PDF by the
real command. A Pi without a battery clock boots with last night's time; NTP arrives a minute later and the
first entries are re-dated.

    .venv/bin/python tests/support/journal_example.py docs/img/journaal-voorbeeld.png
"""

from __future__ import annotations

import calendar
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from nspgw.core.actions import DropCustody, StoreCustody, StoreInbox, StoreOutboxState, StoreReceipt, Transmit
from nspgw.core.lifecycle import MsgState
from nspgw.ids import BoxAddr
from nspgw.sim.boxes import SimBox, provision_chain
from nspgw.store.sqlite import Store
from nspgw.wire.content import encode_content
from nspgw.wire.forms_schema import form_from_values
from nspgw.wire.frames import ContentType, MessageFrame, MsgId, Precedence

RADIOS = [{"name": f"node{i}", "node_id": f"!1000{i:04x}", "tcp": "127.0.0.1:9"} for i in range(3)]
REAL_START = calendar.timegm((2026, 11, 14, 6, 58, 0))  # what the time really is at boot
FAKE_START = calendar.timegm((2026, 11, 13, 23, 41, 7))  # what the clock says (saved at last shutdown)


class Clock:
    def __init__(self) -> None:
        self.mono, self.offset, self.source = 31.0, FAKE_START - 31.0, "unsync"

    def __call__(self) -> tuple[float, float, str, str]:
        return self.offset + self.mono, self.mono, "5d1e90c2", self.source

    def after(self, s: float) -> None:
        self.mono += s

    def ntp(self) -> None:
        self.offset, self.source = REAL_START + 60.0 - self.mono, "ntp"


def form(ct: ContentType, **fields: str) -> bytes:
    """A form as `nspgw send --form ... --veld key=value` builds it (docs/operator-guide.nl.md)."""
    return encode_content(ct, form_from_values(ct, fields))


def build(cp: SimBox) -> None:
    clock = Clock()
    nsp, gct = BoxAddr(101), BoxAddr(1)
    radio = Transmit("radio", nsp, b"x", Precedence.IMMEDIATE, 1, 900.0)
    with Store.open(cp.store_path) as s:
        s.journal_clock = clock

        def incoming(origin: BoxAddr, seq: int, prec: Precedence, body: bytes, link: str) -> None:
            s.apply([StoreInbox(MessageFrame(origin, cp.addr, MsgId(origin, seq), prec, 3600, body), link)])

        def moves(seq: int, to: BoxAddr, *states: MsgState) -> None:
            for st in states:
                clock.after(4.0 if st != MsgState.DELIVERED else 38.0)
                acts: list = [StoreOutboxState(seq, st)]
                if st == MsgState.IN_FLIGHT:
                    acts.append(radio)
                if st == MsgState.DELIVERED:
                    acts.insert(0, StoreReceipt(seq, to))
                s.apply(acts)

        s.journal_record("service", {"event": "start", "box": 10, "version": "0.1.0"}, actor="nspgw")
        clock.after(6)
        s.journal_record("service", {"event": "link_up", "link": "radio", "detail": "radio !10000001 verbonden"},
                         actor="nspgw")
        clock.after(21)
        incoming(nsp, 14, Precedence.FLASH, form(ContentType.NOODMELDING, incident="brand", adres="Dorpsstraat 12",
                                                 slachtoffers="3 gewond"), "radio")
        clock.after(33)
        clock.ntp()
        s.journal_record("service", {"event": "link_up", "link": "ip", "detail": "broker bereikt"}, actor="nspgw")
        clock.after(50)
        s.mark_read(1, actor="J. de Vries")
        clock.after(70)
        s.journal_record("operator", {"action": "note", "text": "112 gebeld (vaste lijn werkt): brandweer en "
                                      "ambulance onderweg naar Dorpsstraat 12"}, actor="J. de Vries")
        clock.after(25)
        m = s.accept_message(cp.addr, nsp, Precedence.IMMEDIATE,
                             encode_content(ContentType.TEXT, "Brandweer en ambulance zijn onderweg, verwacht "
                                            "binnen 15 minuten. Houd de straat vrij."), actor="J. de Vries")
        moves(m.seq, nsp, MsgState.QUEUED, MsgState.IN_FLIGHT, MsgState.DELIVERED)
        clock.after(600)
        s.apply([StoreCustody(gct, 311, nsp, Precedence.PRIORITY, b"sealed", 21600.0, gct)])
        clock.after(420)
        s.journal_record("service", {"event": "link_down", "link": "ip", "detail": "broker onbereikbaar"},
                         actor="nspgw")
        clock.after(95)
        s.apply([DropCustody(gct, 311, "afgeleverd bij nsp1")])
        clock.after(300)
        incoming(nsp, 15, Precedence.PRIORITY, form(ContentType.SITRAP, status="open", bezoekers="45",
                                                    stroom="aggregaat", brandstof_uren="8", water="krap"), "radio")
        clock.after(40)
        s.mark_read(2, actor="J. de Vries")
        clock.after(120)
        m2 = s.accept_message(cp.addr, gct, Precedence.PRIORITY,
                              form(ContentType.AANVRAAG, artikelen="200 liter drinkwater; 20 dekens", urgentie="hoog",
                                   afleveren_bij="Dorpshuis"), actor="J. de Vries")
        moves(m2.seq, gct, MsgState.QUEUED, MsgState.IN_FLIGHT, MsgState.QUEUED, MsgState.IN_FLIGHT,
              MsgState.DELIVERED)
        clock.after(900)
        s.journal_record("operator", {"action": "note", "text": "Dienst overgedragen aan P. Jansen; "
                                      "open: aanvraag drinkwater (afgeleverd, nog geen antwoord GCT)"},
                         actor="J. de Vries")


def main(out_png: Path) -> None:
    os.environ["NSPGW_OPERATOR"] = "nspgw"  # the service account, which writes the daemon's entries on a box
    with tempfile.TemporaryDirectory() as tmp:
        boxes = {b.name: b for b in provision_chain(Path(tmp) / "boxes", RADIOS, preset="SHORT_TURBO")}
        cp = boxes["cp1"]
        build(cp)
        pdf = Path(tmp) / "journaal.pdf"
        env = dict(os.environ, NSPGW_OPERATOR="J. de Vries")
        nspgw = str(Path(sys.executable).parent / "nspgw")
        subprocess.run([nspgw, "journaal", "export", "--format", "pdf", "-o", str(pdf),
                        "--until", "2026-11-15", "-c", str(cp.config_path)], check=True, env=env)
        subprocess.run(["pdftoppm", "-r", "100", "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                        str(out_png.with_suffix(""))], check=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
