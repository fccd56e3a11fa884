"""The console's health page shows the radio backlog and its expected delay, like `nspgw status`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from console_client import Client, add_operator

from nspgw.daemon.status import STATUS_KEY
from nspgw.sim.boxes import SimBox
from nspgw.store.sqlite import Store

EMPTY = {"messages": 0, "frames": 0, "airtime_s": 0.0, "expected_delay_s": 0, "duty_bound": False, "expiring": 0}


def test_health_page_shows_the_backlog_and_warns_while_the_duty_cycle_holds_it(
        boxes: dict[str, SimBox], console: Callable[..., Client]) -> None:
    cp = boxes["cp1"]
    record = {"running": True, "pid": os.getpid(), "heartbeat_wall": time.time(), "queue": {"routine": 2},
              "backlog": {"flash": EMPTY, "immediate": EMPTY, "priority": EMPTY,
                          "routine": {"messages": 2, "frames": 2, "airtime_s": 3.4, "expected_delay_s": 1500,
                                      "duty_bound": True, "expiring": 0}}}
    with Store.open(cp.store_path) as s:
        s.set_status(STATUS_KEY, record)
    add_operator(cp, "jan")
    c = console("cp1")
    assert c.login("jan") == 303
    _, _, html = c.get("/health?lang=nl")
    row = html.split("Achterstand radio")[1].split("</div>")[0]
    assert "ROUTINE 2 (3 s) binnen ~25 min (wacht op zendtijd)" in row and "houd ROUTINE vast" in row
    assert 'h-warn"><dt>Achterstand radio' in html
    _, _, html = c.get("/health?lang=en")
    assert "Radio backlog" in html and "(waiting for airtime)" in html

    with Store.open(cp.store_path) as s:
        s.set_status(STATUS_KEY, dict(record, backlog={k: EMPTY for k in record["backlog"]}))  # type: ignore[attr-defined]
    _, _, html = c.get("/health?lang=nl")
    assert 'h-ok"><dt>Achterstand radio</dt><dd>geen' in html

    # Only a receipt or beacon waiting for the radio (frames, no operator's message): no backlog to act on.
    ctl_only = {**EMPTY, "frames": 1, "airtime_s": 0.3, "expected_delay_s": 5}
    with Store.open(cp.store_path) as s:
        s.set_status(STATUS_KEY, dict(record, backlog={**{k: EMPTY for k in record["backlog"]},  # type: ignore[attr-defined]
                                                       "routine": ctl_only}))
    _, _, html = c.get("/health?lang=nl")
    assert 'h-ok"><dt>Achterstand radio</dt><dd>geen' in html and "ROUTINE 0" not in html
    _, _, html = c.get("/health?lang=en")
    assert 'h-ok"><dt>Radio backlog</dt><dd>none' in html

