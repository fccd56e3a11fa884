"""`nspgw send`: accepts in one commit, wakes the daemon, never imports the radio/MQTT libraries, answers fast;
bad input gives a clear message and its documented exit code, and writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nspgw.sim.boxes import SimBox
from nspgw.store.sqlite import Store
from nspgw.wire.content import decode_content
from nspgw.wire.frames import ContentType, Precedence

Run = Callable[..., tuple[int, str, str]]


def outbox(box: SimBox) -> list[Any]:
    if not box.store_path.exists():
        return []
    with Store.open(box.store_path, create=False) as s:
        return s.outbox()


def test_send_accepts_and_says_the_daemon_is_down(run: Run, boxes: dict[str, SimBox]) -> None:
    nsp = boxes["nsp1"]
    code, out, err = run("send", "gct", "Dorpshuis: stroom uit", "--config", str(nsp.config_path))
    assert code == 0
    assert "Bericht 1 geaccepteerd (ROUTINE) voor gct" in out
    assert "draait niet" in err and "wacht" in err
    [row] = outbox(nsp)
    assert row.dst == boxes["gct"].addr and row.precedence == Precedence.ROUTINE
    assert decode_content(row.body) == (ContentType.TEXT, "Dorpshuis: stroom uit")


def test_recipient_aliases_priority_and_ttl(run: Run, boxes: dict[str, SimBox]) -> None:
    nsp, gct = boxes["nsp1"], boxes["gct"]
    assert run("send", "cp", "bedden", "-p", "spoed", "--ttl", "30m", "-c", str(nsp.config_path))[0] == 0
    assert run("send", "GCT", "x", "--priority", "flash", "-c", str(nsp.config_path))[0] == 0
    assert run("send", "alle", "Bulletin 1: water koken", "-c", str(gct.config_path))[0] == 0
    a, b = outbox(nsp)
    assert (a.dst, a.precedence) == (boxes["cp1"].addr, Precedence.IMMEDIATE)
    assert (b.dst, b.precedence) == (gct.addr, Precedence.FLASH)
    with Store.open(nsp.store_path) as s:
        [ttl] = [e.ttl_s for e in s.accepted_after(nsp.addr) if e.msg.seq == 1]
    assert ttl == 1800
    [bulletin] = outbox(gct)
    assert bulletin.dst == 0xFFF


def test_form_from_flags(run: Run, boxes: dict[str, SimBox]) -> None:
    nsp = boxes["nsp1"]
    code, out, _ = run("send", "gct", "--form", "noodmelding", "--veld", "incident=brand",
                       "--veld", "adres=Dorpsstraat 12", "-c", str(nsp.config_path))
    assert code == 0, out
    [row] = outbox(nsp)
    ct, form = decode_content(row.body)
    assert ct == ContentType.NOODMELDING and row.precedence == Precedence.FLASH  # emergency default
    assert form.address == "Dorpsstraat 12"


@pytest.mark.parametrize(("args", "code", "needle"), [
    (("send", "nobody", "x"), 2, "onbekende ontvanger 'nobody'"),
    (("send", "gct", ""), 2, "leeg"),
    (("send", "gct", "   "), 2, "leeg"),
    (("send", "gct", "x" * 1001), 2, "te lang (1001 tekens; maximaal 1000)"),
    (("send", "gct", "x", "--priority", "urgent"), 2, "ongeldige prioriteit 'urgent'"),
    (("send", "gct", "x", "--ttl", "3q"), 2, "ongeldige geldigheidsduur"),
    (("send", "gct", "x", "--ttl", "30d"), 2, "ongeldige geldigheidsduur"),
    (("send", "alle", "x"), 2, "alleen het gemeentelijk crisisteam"),
    (("send", "gct", "--form", "weerbericht", "--veld", "a=b"), 2, "onbekend formulier"),
    (("send", "gct", "--form", "sitrap"), 2, "--veld"),
    (("send", "gct", "--form", "noodmelding", "--veld", "adres=X"), 2, "verplicht"),
    (("send", "gct", "x", "--veld", "a=b"), 2, "--form"),
    (("send", "gct", "x", "--lang", "fr"), 2, "onbekende taal"),
])
def test_bad_input_exit_code_and_nothing_written(run: Run, boxes: dict[str, SimBox], args: tuple[str, ...],
                                                 code: int, needle: str) -> None:
    nsp = boxes["nsp1"]
    got, out, err = run(*args, "-c", str(nsp.config_path))
    assert got == code, (out, err)
    assert err.startswith("fout: ") and needle in err
    assert outbox(nsp) == []


def test_english_messages(run: Run, boxes: dict[str, SimBox]) -> None:
    code, _, err = run("send", "nobody", "x", "--lang", "en", "-c", str(boxes["nsp1"].config_path))
    assert code == 2 and "unknown recipient 'nobody'" in err


def test_missing_broken_config_and_corrupt_store(run: Run, boxes: dict[str, SimBox], tmp_path: Path) -> None:
    code, _, err = run("send", "gct", "x", "-c", str(tmp_path / "nope.toml"))
    assert code == 3 and "bestaat niet" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("[box\nname=", encoding="utf-8")
    code, _, err = run("send", "gct", "x", "-c", str(bad))
    assert code == 3 and "geen geldige TOML" in err
    nsp = boxes["nsp1"]
    nsp.store_path.write_bytes(b"this is not a database" * 100)
    code, _, err = run("send", "gct", "x", "-c", str(nsp.config_path))
    assert code == 4 and "left untouched" in err
    assert nsp.store_path.read_bytes() == b"this is not a database" * 100


def test_send_wakes_a_running_daemon(run: Run, boxes: dict[str, SimBox]) -> None:
    from nspgw.daemon.status import STATUS_KEY
    from nspgw.store.wake import WakeListener

    nsp = boxes["nsp1"]
    with Store.open(nsp.store_path) as s:  # what a live daemon keeps writing
        s.set_status(STATUS_KEY, {"running": True, "pid": os.getpid(), "heartbeat_wall": time.time()})
    listener = WakeListener(nsp.store_path)
    try:
        code, _, err = run("send", "gct", "x", "-c", str(nsp.config_path))
        assert code == 0 and "draait niet" not in err
        assert listener.drain() == 1
    finally:
        listener.close()


def test_send_is_fast_and_never_imports_radio_or_mqtt(boxes: dict[str, SimBox]) -> None:
    probe = (
        "import sys, time\n"
        "t0 = time.monotonic()\n"
        "sys.argv = ['nspgw', 'send', 'gct', 'snel bericht', '-c', sys.argv[1]]\n"
        "from nspgw.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('meshtastic', 'paho', 'pubsub', 'serial'))\n"
        "print('RESULT', __import__('json').dumps({'code': code, 'bad': bad, 's': time.monotonic() - t0}))\n"
    )
    r = subprocess.run([sys.executable, "-c", probe, str(boxes["nsp1"].config_path)], capture_output=True,
                       text=True, timeout=30)
    result = json.loads(r.stdout.split("RESULT", 1)[1])
    assert result["code"] in (0, None) and result["bad"] == []
    # The promise ("well under a second", ~0.3 s here) rests on what is imported, asserted above; the time is
    # only a coarse guard, generous enough not to flake beside other test workers on a 2-core machine.
    assert result["s"] < 3.0, result  # import of the CLI + one commit, without interpreter start-up


def test_form_prompts_on_a_terminal_with_validation(boxes: dict[str, SimBox]) -> None:
    """On a tty without --veld every field is asked in turn; a wrong answer is explained and asked again."""
    import pty
    import select

    nsp = boxes["nsp1"]
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "nspgw"), "send", "gct", "--form", "noodmelding",
                             "-c", str(nsp.config_path)], stdin=slave, stdout=slave, stderr=slave,
                            env=dict(os.environ, NSPGW_LANG="nl"))
    os.close(slave)
    answers = ["vulkaan", "brand", "Kerkplein 1"]  # first: not an incident type; then valid; rest: empty
    transcript = ""
    deadline = time.monotonic() + 20
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096).decode(errors="replace")
            except OSError:
                break  # the child closed the terminal
            transcript += chunk
            if chunk.rstrip().endswith(":"):
                os.write(master, ((answers.pop(0) if answers else "") + "\n").encode())
        assert proc.wait(10) == 0, transcript
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert "Noodmelding" in transcript and "Soort incident *" in transcript
    assert "vulkaan" in transcript and transcript.count("Soort incident") >= 2  # explained and asked again
    assert "geaccepteerd (FLASH)" in transcript
    [row] = outbox(nsp)
    ct, form = decode_content(row.body)
    assert ct == ContentType.NOODMELDING and form.address == "Kerkplein 1"
