"""The journal and the state it records must agree: every message, state move, receipt and custody change
of a store appears in its journal exactly once, in order, and nothing else does."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from nspgw.journal.chain import GENESIS, verify
from nspgw.store.sqlite import Store


def assert_journal_matches_state(db: Path, addr: int) -> int:
    """Check one box's store; returns the number of journal entries."""
    with Store.open(db) as s:
        s._db.execute("BEGIN")  # one snapshot: a running daemon may write meanwhile
        entries = s.journal_entries()
        outbox, inbox = s.outbox(), s.inbox()
        held = {(int(o), int(c)) for o, c in s._db.execute("SELECT origin, counter FROM custody")}
        s._db.execute("COMMIT")
    # the chain only: signatures need the box key and are checked in tests/journal and tests/cli
    report = verify(addr, [e.fields() for e in entries], [], None, start_prev=GENESIS)
    assert [p for p in report.problems if p.code != "unsigned"] == [], report.problems
    assert [e.n for e in entries] == list(range(1, len(entries) + 1))
    by = Counter[str](e.kind for e in entries)
    sent = Counter(e.data["seq"] for e in entries if e.kind == "msg_out")
    assert sent == Counter(r.seq for r in outbox), f"{db}: msg_out entries vs outbox rows"
    got = Counter((e.data["origin"], e.data["seq"]) for e in entries if e.kind == "msg_in")
    assert got == Counter((int(r.origin), r.seq) for r in inbox), f"{db}: msg_in entries vs inbox rows"
    receipts = Counter((e.data["seq"], e.data["by"]) for e in entries if e.kind == "receipt")
    assert receipts == Counter((r.seq, int(b)) for r in outbox for b in r.receipts), f"{db}: receipts"
    # replaying the state entries of each message ends in the outbox row's state, each move from the last
    for r in outbox:
        state = "accepted"
        for e in entries:
            if e.kind == "state" and e.data["seq"] == r.seq:
                assert e.data["from_state"] == state, (db, r.seq, e.n, e.data, state)
                state = e.data["state"]
        assert state == r.state.value, (db, r.seq, state, r.state)
    taken = Counter((e.data["origin"], e.data["counter"]) for e in entries if e.kind == "custody_in")
    passed = Counter((e.data["origin"], e.data["counter"]) for e in entries if e.kind == "custody_out")
    for key in set(taken) | set(passed) | held:
        assert taken[key] - passed[key] == (1 if key in held else 0), (db, key, taken[key], passed[key])
    assert by["msg_out"] == len(outbox)
    return len(entries)

