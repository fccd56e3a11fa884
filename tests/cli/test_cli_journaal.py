"""`nspgw journaal` against real stores: every operator action and message state change exactly once,
verify naming the place of any edit, removal or reordering (in the store and in an export), re-dating,
handover and the merged timeline of several boxes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from journal_check import assert_journal_matches_state

from nspgw.core.actions import (
    DropCustody,
    Notice,
    NoticeKind,
    StoreCustody,
    StoreInbox,
    StoreOutboxState,
    StoreReceipt,
    Transmit,
)
from nspgw.core.lifecycle import MsgState
from nspgw.ids import BoxAddr
from nspgw.sim.boxes import SimBox
from nspgw.store.sqlite import Store
from nspgw.wire.content import encode_content
from nspgw.wire.frames import ContentType, MessageFrame, MsgId, Precedence

Run = Callable[..., tuple[int, str, str]]


def deliver(box: SimBox, origin: int, seq: int, text: str, prec: Precedence = Precedence.ROUTINE,
            ct: ContentType = ContentType.TEXT) -> None:
    frame = MessageFrame(BoxAddr(origin), box.addr, MsgId(BoxAddr(origin), seq), prec, 3600,
                         encode_content(ct, text))
    with Store.open(box.store_path) as s:
        s.apply([StoreInbox(frame, "radio")])
        s.apply([StoreInbox(frame, "ip")])  # a duplicate: no second entry


def lifecycle(box: SimBox, seq: int, to: int) -> None:
    """The moves the core makes for one message, some repeated as the core repeats them."""
    tx = Transmit("radio", BoxAddr(to), b"x", Precedence.ROUTINE, 1, 500.0)
    with Store.open(box.store_path) as s:
        s.apply([StoreOutboxState(seq, MsgState.QUEUED)])
        s.apply([StoreOutboxState(seq, MsgState.IN_FLIGHT), tx])
        s.apply([StoreOutboxState(seq, MsgState.IN_FLIGHT), tx])  # next fragment, same state: not a change
        s.apply([StoreOutboxState(seq, MsgState.QUEUED, detail="retry")])
        s.apply([StoreOutboxState(seq, MsgState.IN_FLIGHT), tx])
        s.apply([StoreReceipt(seq, BoxAddr(to)), StoreOutboxState(seq, MsgState.DELIVERED)])
        s.apply([StoreReceipt(seq, BoxAddr(to))])  # a repeated receipt


def kinds(box: SimBox) -> list[tuple[str, dict[str, object]]]:
    with Store.open(box.store_path) as s:
        return [(e.kind, e.data) for e in s.journal_entries()]


def test_every_operator_action_and_state_change_exactly_once(run: Run, boxes: dict[str, SimBox],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    nsp, cp = boxes["nsp1"], boxes["cp1"]
    cfg = str(nsp.config_path)
    monkeypatch.setenv("NSPGW_OPERATOR", "Jan de Vries")
    assert run("send", "gct", "Dorpshuis: stroom uit", "-c", cfg)[0] == 0
    assert run("send", "gct", "--form", "noodmelding", "--veld", "incident=brand", "--veld",
               "adres=Dorpsstraat 12", "-c", cfg)[0] == 0
    assert run("send", "nergens", "tekst", "-c", cfg)[0] == 2  # refused: no message, no entry
    deliver(nsp, 10, 7, "Kom naar het dorpshuis", Precedence.IMMEDIATE)
    inbox_id = json.loads(run("inbox", "--json", "-c", cfg)[1])[0]["id"]
    assert run("read", str(inbox_id), "-c", cfg)[0] == 0
    assert run("read", str(inbox_id), "-c", cfg)[0] == 0  # read twice: two actions, two entries
    assert run("journaal", "note", "Besluit: aggregaat halen", "-c", cfg)[0] == 0
    lifecycle(nsp, 1, 1)
    with Store.open(cp.store_path) as s:  # a relay's custody, once per real change
        take = StoreCustody(BoxAddr(101), 5, BoxAddr(1), Precedence.FLASH, b"raw", 600.0, BoxAddr(101))
        s.apply([take])
        s.apply([take])
        s.apply([DropCustody(BoxAddr(101), 5, "delivered")])
        s.apply([DropCustody(BoxAddr(101), 5, "delivered")])
        s.apply([Notice(NoticeKind.CLONE_SUSPECTED, {"box": "nsp-1 (101)", "counter": 5})])
    log = kinds(nsp)
    sends = [d for k, d in log if k == "msg_out"]
    outbox = json.loads(run("outbox", "--json", "-c", cfg)[1])
    assert len(sends) == len(outbox) == 2 and sends[0]["text"] == "Dorpshuis: stroom uit"
    assert sends[1]["type"] == "noodmelding" and "Dorpsstraat 12" in sends[1]["text"]
    assert sends[0]["to"] == 1 and sends[0]["precedence"] == "routine"
    assert [d for k, d in log if k == "msg_in"] == [
        {"origin": 10, "seq": 7, "to": 101, "precedence": "immediate", "type": "text",
         "text": "Kom naar het dorpshuis", "link": "radio", "body_sha256": log[[k for k, _ in log].index("msg_in")][1]
         ["body_sha256"]}]
    reads = [d for k, d in log if k == "operator" and d["action"] == "read"]
    assert [r["first"] for r in reads] == [True, False]
    assert [d["text"] for k, d in log if k == "operator" and d["action"] == "note"] == ["Besluit: aggregaat halen"]
    states = [(d["from_state"], d["state"], d.get("link")) for k, d in log if k == "state" and d["seq"] == 1]
    assert states == [("accepted", "queued", None), ("queued", "in_flight", "radio"),
                      ("in_flight", "queued", None), ("queued", "in_flight", "radio"),
                      ("in_flight", "delivered", None)]
    assert [d for k, d in log if k == "receipt"] == [{"seq": 1, "by": 1}]
    with Store.open(nsp.store_path) as s:
        actors = {e.kind: e.actor for e in s.journal_entries()}
    assert actors["operator"] == "Jan de Vries" and actors["msg_out"] == "Jan de Vries"
    assert_journal_matches_state(nsp.store_path, 101)
    assert_journal_matches_state(cp.store_path, 10)
    cp_log = kinds(cp)
    assert [k for k, _ in cp_log] == ["custody_in", "custody_out", "notice"]
    code, out, _ = run("journaal", "show", "-c", cfg)
    assert code == 0 and "Dorpshuis: stroom uit" in out and "Jan de Vries" in out
    assert "ONZEKER" in out or "NTP" in out  # every line says how sure its time is
    shown = json.loads(run("journaal", "show", "--kind", "state", "--json", "-c", cfg)[1])
    assert [d["kind"] for d in shown] == ["state"] * len(shown) and len(shown) >= 5
    flash = json.loads(run("journaal", "show", "--precedence", "spoed", "--json", "-c", cfg)[1])
    assert [d["kind"] for d in flash] == ["msg_in"]
    post = json.loads(run("journaal", "show", "--post", "cp1", "--json", "-c", cfg)[1])
    assert {d["kind"] for d in post} >= {"msg_in"} and all(d["kind"] != "receipt" for d in post)
    assert run("journaal", "show", "--since", "gisteren", "-c", cfg)[0] == 2
    assert run("journaal", "show", "--kind", "nonsense", "-c", cfg)[0] == 2


def _tamper(db: Path, sql: str, *args: object) -> None:
    con = sqlite3.connect(db)
    con.execute(sql, args)
    con.commit()
    con.close()


@pytest.mark.parametrize("how", ["edit", "delete", "reorder", "truncate_signed"])
def test_verify_names_the_place_of_tampering_in_the_store(run: Run, boxes: dict[str, SimBox], how: str) -> None:
    gct = boxes["gct"]
    cfg = str(gct.config_path)
    for i in range(1, 7):
        deliver(gct, 101, i, f"bericht {i}")
    assert run("journaal", "export", "--format", "json", "-o", str(gct.state_dir / "x.json"), "-c", cfg)[0] == 0
    code, out, _ = run("journaal", "verify", "-c", cfg)
    assert code == 0 and "klopt" in out
    db = gct.store_path
    if how == "edit":
        _tamper(db, "UPDATE journal SET data = replace(data, 'bericht 3', 'bericht 9') WHERE n = 3")
        where = "regel 3"
    elif how == "delete":
        _tamper(db, "DELETE FROM journal WHERE n = 4")
        where = "regel 5"
    elif how == "reorder":
        con = sqlite3.connect(db)
        r2 = con.execute("SELECT kind, wall, clock, boot, mono, actor, data, prev, hash FROM journal WHERE n = 2")
        a = r2.fetchone()
        b = con.execute("SELECT kind, wall, clock, boot, mono, actor, data, prev, hash FROM journal WHERE n = 5"
                        ).fetchone()
        for n, row in ((2, b), (5, a)):
            con.execute("UPDATE journal SET kind=?, wall=?, clock=?, boot=?, mono=?, actor=?, data=?, prev=?, hash=? "
                        "WHERE n = ?", (*row, n))
        con.commit()
        con.close()
        where = "regel 2"
    else:  # the export signed entry 6: cutting it and what follows is seen
        _tamper(db, "DELETE FROM journal WHERE n >= 6")
        where = "regel 6"
    code, out, _ = run("journaal", "verify", "-c", cfg)
    assert code == 9, out
    assert "NIET in orde" in out and where in out, out


@pytest.mark.parametrize("how", ["edit", "delete", "reorder", "drop_last", "header"])
def test_verify_names_the_line_of_tampering_in_an_export(run: Run, boxes: dict[str, SimBox], how: str,
                                                         tmp_path: Path) -> None:
    gct = boxes["gct"]
    cfg = str(gct.config_path)
    for i in range(1, 6):
        deliver(gct, 101, i, f"bericht {i}")
    f = tmp_path / "j.json"
    assert run("journaal", "export", "--format", "json", "-o", str(f), "-c", cfg)[0] == 0
    code, out, _ = run("journaal", "verify", str(f), "-c", cfg)
    assert code == 0 and "klopt" in out and "roster: ja" in out, out
    lines = f.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith('{"actor"'))  # entry lines, one each
    if how == "edit":
        lines[first + 2] = lines[first + 2].replace("bericht 3", "bericht 8")
        want = "positie 3"
    elif how == "delete":
        del lines[first + 1]
        want = "positie 2"
    elif how == "reorder":
        lines[first + 1], lines[first + 3] = lines[first + 3], lines[first + 1]
        want = "positie 2"
    elif how == "drop_last":
        del lines[first + 4]
        lines[first + 3] = lines[first + 3].rstrip(",")
        want = "regel 5"
    else:
        lines[0] = lines[0].replace('"box": "gct"', '"box": "nsp1"')
        want = "header"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, _ = run("journaal", "verify", str(f), "-c", cfg)
    assert code == 9, out
    assert want in out, out


def test_entries_before_the_clock_is_known_are_redated_by_a_correction(run: Run, boxes: dict[str, SimBox],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    gct = boxes["gct"]
    monkeypatch.setenv("NSPGW_CLOCK_SOURCE", "unsync")
    deliver(gct, 101, 1, "voor de klok")
    deliver(gct, 101, 2, "nog steeds")
    monkeypatch.setenv("NSPGW_CLOCK_SOURCE", "gps")
    deliver(gct, 101, 3, "na de klok")
    with Store.open(gct.store_path) as s:
        es = s.journal_entries()
    assert [(e.kind, e.clock) for e in es] == [("msg_in", "unsync"), ("msg_in", "unsync"), ("clock", "gps"),
                                               ("correction", "gps"), ("msg_in", "gps")]
    assert es[3].data["from_n"] == 1 and es[3].data["to_n"] == 2
    assert es[0].redated and es[1].redated and not es[4].redated
    assert es[0].wall == es[0].fields()["wall"]  # history is not rewritten: the stored time stays
    assert abs(es[0].shown_wall - (es[3].data["base"] + es[0].mono)) < 1e-6
    out = run("journaal", "show", "-c", str(gct.config_path))[1]
    assert "hersteld" in out and "GPS" in out
    assert run("journaal", "verify", "-c", str(gct.config_path))[0] == 0


def test_handover_lists_open_unread_and_undelivered(run: Run, boxes: dict[str, SimBox]) -> None:
    cp = boxes["cp1"]
    cfg = str(cp.config_path)
    deliver(cp, 101, 1, "Brand in de kerk, 3 gewonden", Precedence.FLASH)
    deliver(cp, 101, 2, "alles rustig")
    assert run("send", "gct", "Zandzakken nodig", "-c", cfg)[0] == 0
    h = json.loads(run("journaal", "handover", "--json", "-c", cfg)[1])
    assert len(h["unread"]) == 2 and len(h["undelivered"]) == 1 and h["shift"]["received"] == 2
    assert h["shift"]["sent"] == 1
    code, out, _ = run("journaal", "handover", "-c", cfg)
    assert code == 0 and "Ongelezen berichten (2)" in out and "Zandzakken" in out


def test_merge_matches_send_and_receive_by_message_id(run: Run, boxes: dict[str, SimBox], tmp_path: Path) -> None:
    nsp, gct = boxes["nsp1"], boxes["gct"]
    assert run("send", "gct", "Dorpshuis: stroom uit", "-c", str(nsp.config_path))[0] == 0
    with Store.open(nsp.store_path) as s:
        seq = s.outbox()[0].seq
        body = s.outbox()[0].body
    frame = MessageFrame(nsp.addr, gct.addr, MsgId(nsp.addr, seq), Precedence.ROUTINE, 3600, body)
    with Store.open(gct.store_path) as s:
        s.apply([StoreInbox(frame, "ip")])
    lifecycle(nsp, seq, int(gct.addr))
    files = []
    for b in (nsp, gct):
        f = tmp_path / f"{b.name}.json"
        assert run("journaal", "export", "--format", "json", "-o", str(f), "-c", str(b.config_path))[0] == 0
        files.append(str(f))
    code, out, _ = run("journaal", "merge", *files, "--json", "-c", str(gct.config_path))
    assert code == 0, out
    m = json.loads(out)
    msg = next(x for x in m["messages"] if x["msg"] == f"{int(nsp.addr)}/{seq}")
    assert msg["sent"]["box"] == "nsp1" and [r["box"] for r in msg["received"]] == ["gct"]
    assert msg["states"][-1]["state"] == "delivered"
    assert [b["ok"] for b in m["boxes"]] == [True, True]
    assert "Bericht 101/" in run("journaal", "merge", *files, "-c", str(gct.config_path))[1]


def test_the_guides_example_morning_is_a_consistent_verifiable_journal(run: Run, boxes: dict[str, SimBox]) -> None:
    from journal_example import build

    cp = boxes["cp1"]
    build(cp)
    assert_journal_matches_state(cp.store_path, int(cp.addr))
    with Store.open(cp.store_path) as s:
        es = s.journal_entries()
    assert [e.redated for e in es[:3]] == [True] * 3 and es[4].kind == "correction"
    assert es[0].wall < es[0].shown_wall < es[3].wall  # re-dated forward from last night, before NTP came
    from journal_example import REAL_START

    with Store.open(cp.store_path) as s:  # periods select by the re-dated time, not the wrong one written
        assert [e.n for e in s.journal_entries(since=REAL_START - 1, limit=3)] == [1, 2, 3]
        assert s.journal_entries(until=REAL_START - 1) == []
        assert [e.n for e in s.journal_entries(since=es[6].shown_wall, until=es[8].shown_wall)] == [7, 8]
    assert run("journaal", "verify", "-c", str(cp.config_path))[0] == 0


def test_clock_confirm_follow_and_english(run: Run, boxes: dict[str, SimBox],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    from nspgw.adapters import clock

    gct = boxes["gct"]
    cfg = str(gct.config_path)
    monkeypatch.delenv("NSPGW_CLOCK_SOURCE", raising=False)
    monkeypatch.setattr(clock, "kernel_synchronised", lambda: False)
    deliver(gct, 101, 1, "voor de bevestiging")
    code, out, _ = run("journaal", "clock", "--confirm", "-c", cfg)
    assert code == 0 and "OPERATOR" in out
    with Store.open(gct.store_path) as s:
        es = s.journal_entries()
    assert [(e.kind, e.clock) for e in es] == [("msg_in", "unsync"), ("clock", "operator"),
                                               ("correction", "operator"), ("operator", "operator")]
    monkeypatch.setenv("NSPGW_LANG", "en")
    out = run("journaal", "show", "--lang", "en", "-c", cfg)[1]
    assert "re-dated" in out and "Clock confirmed by the operator" in out and "Message nsp1/1 from nsp1" in out
    # --follow: a real process prints an entry written after it started
    nspgw = str(Path(sys.executable).parent / "nspgw")
    proc = subprocess.Popen([nspgw, "journaal", "show", "--follow", "--json", "-c", cfg], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        seen = [json.loads(proc.stdout.readline())["n"] for _ in range(len(es))]
        assert seen == [e.n for e in es]
        deliver(gct, 101, 2, "terwijl iemand meekijkt")
        line = json.loads(proc.stdout.readline())  # blocks until the follower prints it (pytest timeout guards)
        assert line["kind"] == "msg_in" and "meekijkt" in line["text"]
    finally:
        proc.kill()
        proc.wait(10)
