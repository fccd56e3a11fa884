"""The daemon's status record carries the core's backlog estimate (`backlog`, `outbox_eta`) in a form that
does not change every second while a queue drains (it is rewritten on change)."""

from __future__ import annotations

import json
import math

from core_boxes import CP, NSP, node

from nspgw.core.events import LinkChanged, MessageAccepted
from nspgw.daemon.status import build_record, coarse_delay_s
from nspgw.wire.frames import MsgId, Precedence


def _record(n: object, now: float) -> dict[str, object]:
    return build_record(n, now, running=True, box="nsp1", started_wall=0.0, radio={}, mqtt={}, preset="LONG_FAST",
                        region="EU_868", peers={}, sent_via={})


def test_coarse_delay_rounds_up_and_says_none_for_never() -> None:
    assert [coarse_delay_s(x) for x in (0.0, 0.2, 5.0, 5.1, 119.0, 121.0, 3599.0)] == [0, 5, 5, 10, 120, 180, 3600]
    assert coarse_delay_s(math.inf) is None


def test_record_has_backlog_per_precedence_and_an_eta_per_waiting_message() -> None:
    n = node(NSP)
    n.handle(LinkChanged("radio", True, ""), 0.0)
    for seq in range(1, 6):
        n.handle(MessageAccepted(MsgId(NSP, seq), CP, Precedence.ROUTINE, b"r" * 150), 0.0)
    n.handle(MessageAccepted(MsgId(NSP, 9), CP, Precedence.FLASH, b"BRAND"), 0.0)
    rec = _record(n, 0.5)
    json.dumps(rec)  # it is stored as JSON
    backlog = rec["backlog"]
    assert isinstance(backlog, dict) and list(backlog) == ["flash", "immediate", "priority", "routine"]
    assert backlog["flash"]["messages"] == 1 and backlog["routine"]["messages"] == 4  # the first is on air
    assert backlog["flash"]["expected_delay_s"] <= backlog["routine"]["expected_delay_s"]
    assert backlog["immediate"] == {"messages": 0, "frames": 0, "airtime_s": 0.0, "expected_delay_s": 0,
                                    "duty_bound": False, "expiring": 0}
    eta = rec["outbox_eta"]
    assert isinstance(eta, dict) and set(eta) == {"2", "3", "4", "5", "9"}
    assert all(e["expected_delay_s"] % 5 == 0 and not e["duty_bound"] for e in eta.values())

    n.handle(LinkChanged("radio", False, "usb weg"), 1.0)
    down = _record(n, 1.0)["backlog"]
    assert isinstance(down, dict) and down["routine"]["expected_delay_s"] is None  # unknown, not "now"
