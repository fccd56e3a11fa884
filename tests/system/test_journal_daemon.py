"""The daemon's own journal entries: service start and stop, links lost and back, and signed heads that
`nspgw journaal verify` checks against the roster key."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from journal_check import assert_journal_matches_state
from waiting import wait_for

from nspgw.config import load_config
from nspgw.daemon.journal import ServiceJournal
from nspgw.daemon.service import Daemon
from nspgw.ids import BoxAddr
from nspgw.journal.chain import GENESIS, verify
from nspgw.sim.boxes import provision_chain
from nspgw.store.keyfiles import load_keyring
from nspgw.store.sqlite import Store
from nspgw.store.wake import notify_daemon
from nspgw.wire.content import encode_content
from nspgw.wire.frames import ContentType, Precedence

FAKE_RADIOS = [{"name": f"node{i}", "node_id": f"!1000{i:04x}", "tcp": "127.0.0.1:9"} for i in range(3)]


def test_daemon_journals_start_and_stop_and_signs_its_head(tmp_path: Path) -> None:
    nsp = provision_chain(tmp_path / "boxes", FAKE_RADIOS, preset="SHORT_TURBO")[0]
    cfg = load_config(nsp.config_path)
    cfg = replace(cfg, radio=replace(cfg.radio, enabled=False))
    for run in range(2):
        d = Daemon(cfg, handle_signals=False)
        result: dict[str, int] = {}
        t = threading.Thread(target=lambda d=d, result=result: result.setdefault("code", d.run()), daemon=True)
        t.start()
        with Store.open(nsp.store_path) as s:
            s.accept_message(BoxAddr(nsp.addr), BoxAddr(1), Precedence.PRIORITY,
                             encode_content(ContentType.TEXT, f"ronde {run}"))
        notify_daemon(nsp.store_path)

        def fed() -> bool:
            with Store.open(nsp.store_path) as s:
                return all(r.state.value != "accepted" for r in s.outbox())

        wait_for(fed)
        d.request_stop()
        t.join(10)
        assert result["code"] == 0
    with Store.open(nsp.store_path) as s:
        es = s.journal_entries()
        heads = s.journal_heads()
    events = [e.data["event"] for e in es if e.kind == "service"]
    assert events == ["start", "stop", "start", "stop"]
    assert es[-1].kind == "service" and es[-1].data["event"] == "stop"
    assert [e.data["seq"] for e in es if e.kind == "msg_out"] == [1, 2]
    key = load_keyring(cfg.keys_dir).identity.sign_public
    report = verify(int(nsp.addr), [e.fields() for e in es], heads, key, start_prev=GENESIS)
    assert report.ok and report.signed_n == es[-1].n and not report.problems  # signed at stop, up to the end
    assert_journal_matches_state(nsp.store_path, int(nsp.addr))


def test_links_lost_and_back_are_journaled_once_per_change(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as s:
        signed: list[bytes] = []
        sj = ServiceJournal(s, 7, lambda m: signed.append(m) or b"\0" * 64)
        sj.link("radio", False, "verbinden")  # "connecting" at start is not news
        sj.link("radio", True, "verbonden")
        sj.link("radio", True, "verbonden")
        sj.link("ip", True, "broker bereikt")
        sj.link("radio", False, "USB los")
        sj.link("radio", True, "terug")
        sj.tick(0.0)
        sj.tick(1.0)  # within the interval: no second signature
        got = [(e.data["event"], e.data["link"]) for e in s.journal_entries()]
    assert got == [("link_up", "radio"), ("link_up", "ip"), ("link_down", "radio"), ("link_up", "radio")]
    assert len(signed) == 1
