"""The on_flash hook (a real process with the message in its environment) and the console in English."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from console_client import Client, add_operator

from nspgw.alerts import FlashHook
from nspgw.ids import BoxAddr
from nspgw.sim.boxes import SimBox
from nspgw.wire.content import encode_content
from nspgw.wire.frames import ContentType, MessageFrame, MsgId, Precedence
from nspgw.wire.handling import HandlingState, encode_handling, make_handling


def _frame(seq: int, ct: ContentType, text: str, prec: Precedence) -> MessageFrame:
    return MessageFrame(BoxAddr(101), BoxAddr(10), MsgId(BoxAddr(101), seq), prec, 3600, encode_content(ct, text))


def test_on_flash_runs_the_command_for_flash_reports_only(tmp_path: Path) -> None:
    out = tmp_path / "hook.jsonl"
    script = tmp_path / "hook.py"
    script.write_text("import json, os, sys\nwith open(sys.argv[1], 'a') as f:\n    f.write("
                      "json.dumps({k: v for k, v in os.environ.items() if k.startswith('NSPGW_')}) + '\\n')\n")
    hook = FlashHook(f"{sys.executable} {script} {out}", lambda a: {101: "nsp1"}.get(a, f"#{a}"))
    hook.delivered(_frame(1, ContentType.TEXT, "gewoon", Precedence.ROUTINE))
    status = encode_handling(make_handling(3, HandlingState.IN_BEHANDELING, "jan"))
    hook.delivered(_frame(2, ContentType.AFHANDELING, status, Precedence.FLASH))
    hook.delivered(_frame(3, ContentType.TEXT, "Brand in de opvang", Precedence.FLASH))
    hook.wait(20)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines == [{"NSPGW_FROM": "nsp1", "NSPGW_PRECEDENCE": "flash", "NSPGW_TYPE": "text",
                      "NSPGW_TEXT": "Brand in de opvang", "NSPGW_SEQ": "3"}]


def test_a_missing_hook_command_is_logged_not_raised(caplog: object) -> None:
    hook = FlashHook("/nonexistent/zoemer --lang", lambda a: "x")
    hook.delivered(_frame(1, ContentType.TEXT, "Brand", Precedence.FLASH))  # no exception


def test_console_in_english(boxes: dict[str, SimBox], console: Callable[..., Client]) -> None:
    add_operator(boxes["cp1"], "jan")
    c = console("cp1")
    assert c.login("jan") == 303
    _, _, html = c.get("/health?lang=en")
    assert "Service" in html and "Airtime (duty cycle)" in html and 'lang="en"' in html
    _, _, html = c.get("/inbox")  # the choice stays for the session
    assert "No messages yet." in html and "Nog geen" not in html
    _, _, html = c.get("/board?lang=nl")
    assert "Overzicht posten" in html and "nsp1" in html
