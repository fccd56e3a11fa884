"""The operator-side commands around the console: `operator add/remove/list`, `send --file`/stdin,
`inbox --follow`'s bell, `init --preset`, and that a box without the console never loads it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nspgw.core.actions import StoreInbox
from nspgw.ids import BoxAddr
from nspgw.sim.boxes import SimBox
from nspgw.store.sqlite import Store
from nspgw.wire.content import encode_content
from nspgw.wire.frames import ContentType, MessageFrame, MsgId, Precedence
from nspgw.wire.handling import HandlingState, encode_handling, make_handling

Run = object


def _deliver(box: SimBox, seq: int, ct: ContentType, text: str, prec: Precedence) -> None:
    frame = MessageFrame(BoxAddr(10), box.addr, MsgId(BoxAddr(10), seq), prec, 3600, encode_content(ct, text))
    with Store.open(box.store_path) as s:
        s.apply([StoreInbox(frame, "radio")])


def test_operator_add_list_remove(run, boxes: dict[str, SimBox], monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    cfg = str(boxes["cp1"].config_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("kort\n"))
    code, _, err = run("operator", "add", "jan", "--password-stdin", "-c", cfg)
    assert code == 2 and "minstens 8" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO("lang genoeg wachtwoord\n"))
    assert run("operator", "add", "Jan", "--password-stdin", "-c", cfg)[0] == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("lang genoeg wachtwoord\n"))
    code, _, err = run("operator", "add", "jan", "--password-stdin", "-c", cfg)
    assert code == 2 and "bestaat al" in err
    code, out, _ = run("operator", "list", "--json", "-c", cfg)
    data = json.loads(out)
    assert code == 0 and data["operators"] == [{"name": "jan", "locked": False}]
    assert data["console"]["enabled"] is False and "lang genoeg" not in out
    assert run("operator", "remove", "jan", "-c", cfg)[0] == 0
    assert run("operator", "remove", "jan", "-c", cfg)[0] == 2
    code, out, _ = run("operator", "list", "--log", "-c", cfg)
    assert "operator_add" in out and "operator_remove" in out


def test_send_file_and_stdin(run, boxes: dict[str, SimBox], tmp_path: Path,  # type: ignore[no-untyped-def]
                             monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = str(boxes["nsp1"].config_path)
    f = tmp_path / "bericht.txt"
    f.write_text("Graag 20 veldbedden\n", encoding="utf-8")
    assert run("send", "cp", "--file", str(f), "-c", cfg)[0] == 0
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Stroom is terug\n")))
    assert run("send", "cp", "-", "-c", cfg)[0] == 0
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café".encode("latin-1"))
    code, _, err = run("send", "cp", "--file", str(bad), "-c", cfg)
    assert code == 2 and "geen geldige UTF-8" in err and "surrogaat" not in err
    code, _, err = run("send", "cp", "tekst", "--file", str(f), "-c", cfg)
    assert code == 2
    f.write_text("x" * 1001, encoding="utf-8")
    code, _, err = run("send", "cp", "--file", str(f), "-c", cfg)
    assert code == 2 and "te lang" in err
    with Store.open(boxes["nsp1"].store_path) as s:
        bodies = [o.body for o in s.outbox()]
    from nspgw.wire.content import decode_content

    assert [decode_content(b)[1] for b in bodies] == ["Graag 20 veldbedden", "Stroom is terug"]


def test_inbox_follow_rings_the_bell_on_flash_only(boxes: dict[str, SimBox]) -> None:
    from nspgw.cli.context import load_roster
    from nspgw.cli.inbox import BELL, new_lines
    from nspgw.config import load_config

    cp = boxes["cp1"]
    roster = load_roster(load_config(cp.config_path))
    seen: set[int] = set()
    _deliver(cp, 1, ContentType.TEXT, "gewoon bericht", Precedence.ROUTINE)
    with Store.open(cp.store_path) as s:
        lines = new_lines(s, roster, seen, unread=False, as_json=False, lang="nl")
        assert len(lines) == 1 and BELL not in lines
        _deliver(cp, 2, ContentType.TEXT, "brand in de opvang", Precedence.FLASH)
        status = encode_handling(make_handling(7, HandlingState.AFGEHANDELD, "jan"))
        _deliver(cp, 3, ContentType.AFHANDELING, status, Precedence.FLASH)
        lines = new_lines(s, roster, seen, unread=False, as_json=False, lang="nl")
        assert lines[0].endswith("brand in de opvang") and lines[1] == BELL
        assert len(lines) == 3 and "afgehandeld (door jan)" in lines[2]
        assert new_lines(s, roster, seen, unread=False, as_json=False, lang="nl") == []


def test_init_preset(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from nspgw.config import load_config

    cfg = tmp_path / "box" / "nspgw.toml"
    code, _, err = run("init", "--role", "gct", "--name", "gct", "--no-radio", "--no-qr", "--preset", "LANG",
                       "-c", str(cfg))
    assert code == 2 and "MEDIUM_FAST" in err
    assert run("init", "--role", "gct", "--name", "gct", "--no-radio", "--no-qr", "--preset", "medium_fast",
               "-c", str(cfg))[0] == 0
    assert load_config(cfg).radio.preset == "MEDIUM_FAST"


def test_console_off_loads_no_web_code(boxes: dict[str, SimBox]) -> None:
    code = ("import sys; from pathlib import Path; from nspgw.config import load_config; "
            "from nspgw.daemon.service import Daemon; "
            f"d = Daemon(load_config(Path({str(boxes['cp1'].config_path)!r})), handle_signals=False); "
            "d._start_operator_side(None); "
            "import nspgw.cli; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn', 'anyio') "
            "or m.startswith('nspgw.console')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_error_prefix_follows_the_language(run, boxes: dict[str, SimBox],  # type: ignore[no-untyped-def]
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = str(boxes["nsp1"].config_path)
    code, _, err = run("send", "cp", " ", "-c", cfg)
    assert code == 2 and err.startswith("fout: ")
    code, _, err = run("send", "cp", " ", "--lang", "en", "-c", cfg)
    assert code == 2 and err.startswith("error: the message is empty")
    monkeypatch.setenv("NSPGW_LANG", "en")
    code, _, err = run("send", "cp", "ab\udcff", "-c", cfg)  # invalid UTF-8 on the command line
    assert code == 2 and err.startswith("error: ") and "not valid text" in err and "surrogaat" not in err


def test_status_json_reason_in_english(run, boxes: dict[str, SimBox]) -> None:  # type: ignore[no-untyped-def]
    cfg = str(boxes["nsp1"].config_path)
    _, out, _ = run("status", "--json", "--lang", "en", "-c", cfg)
    assert json.loads(out)["not_running_reason"] == "the service has never run"
    _, out, _ = run("status", "--json", "-c", cfg)
    assert json.loads(out)["not_running_reason"] == "de dienst heeft nog nooit gedraaid"


def test_selftest_details_in_english(run, boxes: dict[str, SimBox]) -> None:  # type: ignore[no-untyped-def]
    cfg = str(boxes["nsp1"].config_path)
    _, out, _ = run("selftest", "--json", "--no-radio", "--lang", "en", "-c", cfg)
    details = {c["name"]: c["detail"] for c in json.loads(out)["checks"]}
    assert "signature good" in details["roster"] and "match roster entry" in details["keys"]
    assert details["daemon"].startswith("the service has never run") and details["radio"] == "not tested (--no-radio)"
    _, out, _ = run("selftest", "--json", "--no-radio", "-c", cfg)
    assert "handtekening goed" in json.loads(out)["checks"][2]["detail"]


def test_status_radio_line_in_english() -> None:
    from nspgw.cli.status import detail_in

    assert detail_in("verbonden met tcp:127.0.0.1:4403", "en") == "connected to tcp:127.0.0.1:4403"
    assert detail_in("radio reageert niet meer; opnieuw verbinden", "en") == \
        "the radio stopped answering; reconnecting"
    assert detail_in("verbonden met tcp:x", "nl") == "verbonden met tcp:x"
    assert detail_in("iets onbekends", "en") == "iets onbekends"
