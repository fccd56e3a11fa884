"""The journaal's rows in the box's SQLite store: written inside the transaction of the change they record.

`Store` calls `observe` for each store action before carrying it out (it needs the row as it was: did the
state really change, was the inbox row new) and `record` once before the commit, so the journal and the
state it describes are always committed together or not at all (kill -9, power cut). Rows are never
updated or deleted (triggers refuse it; `verify` catches whoever drops them): the inbox/outbox pruning
never touches this table.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from nspgw.core.actions import (
    Action,
    Detail,
    DropCustody,
    Notice,
    StoreCustody,
    StoreInbox,
    StoreOutboxState,
    StoreReceipt,
    Transmit,
)
from nspgw.journal.chain import GENESIS, entry_hash, head_message
from nspgw.journal.entry import Entry, corrections, involves, redate

__all__ = ["Entry", "Note", "Stamp", "accepted_note", "entries", "heads", "links_of", "observe", "record", "sign_head"]

TEXT_MAX = 2000  # characters of a message's readable text kept in its entry (the whole body is in the inbox)
CLOCK_CONFIRMED = "journal_clock_confirmed"  # status key: the boot in which an operator confirmed the clock
STEP_S = 2.0  # a jump of the wall clock against the monotonic clock larger than this is a "clock set"

Note = tuple[str, dict[str, Any]]  # (kind, data)


def observe(db: sqlite3.Connection, a: Action, links: Sequence[str]) -> list[Note]:
    """The journal notes for store action `a`, read BEFORE it is applied (only real changes are noted)."""
    if isinstance(a, StoreOutboxState):
        row = db.execute("SELECT state, dst, precedence FROM outbox WHERE seq = ?", (a.seq,)).fetchone()
        if row is None or row[0] == a.state.value:
            return []
        d: dict[str, Any] = {"seq": a.seq, "to": row[1], "precedence": _prec(row[2]), "from_state": row[0],
                             "state": a.state.value}
        if a.state.value == "in_flight" and len(set(links)) == 1:
            d["link"] = links[0]
        if a.detail:
            d["detail"] = _words(a.detail)
        return [("state", d)]
    if isinstance(a, StoreReceipt):
        if db.execute("SELECT 1 FROM receipts WHERE seq = ? AND box = ?", (a.seq, int(a.by))).fetchone():
            return []
        return [("receipt", {"seq": a.seq, "by": int(a.by)})]
    if isinstance(a, StoreInbox):
        f = a.frame
        if db.execute("SELECT 1 FROM inbox WHERE origin = ? AND seq = ?", (int(f.msg.origin), f.msg.seq)).fetchone():
            return []
        return [("msg_in", {"origin": int(f.msg.origin), "seq": f.msg.seq, "to": int(f.dst),
                            "precedence": _prec(int(f.precedence)), **_content(f.body), "link": a.link})]
    if isinstance(a, StoreCustody):
        if db.execute("SELECT 1 FROM custody WHERE origin = ? AND counter = ?",
                      (int(a.origin), a.counter)).fetchone():
            return []
        return [("custody_in", {"origin": int(a.origin), "counter": a.counter, "dst": int(a.dst),
                                "precedence": _prec(int(a.precedence)), "from": int(a.from_hop)})]
    if isinstance(a, DropCustody):
        row = db.execute("SELECT dst FROM custody WHERE origin = ? AND counter = ?",
                         (int(a.origin), a.counter)).fetchone()
        if row is None:
            return []
        return [("custody_out", {"origin": int(a.origin), "counter": a.counter, "dst": row[0],
                                 "reason": _words(a.reason)})]
    if isinstance(a, Notice):
        from nspgw.cli.texts import notice_text

        return [("notice", {"notice": a.kind.value, "text": notice_text(a)})]
    return []


def links_of(actions: Iterable[Action]) -> list[str]:
    return [a.link for a in actions if isinstance(a, Transmit)]


def accepted_note(origin: int, seq: int, dst: int, precedence: int, body: bytes) -> Note:
    return ("msg_out", {"origin": origin, "seq": seq, "to": dst, "precedence": _prec(precedence),
                        **_content(body)})


Stamp = Callable[[], tuple[float, float, str, str]]  # () -> (wall, monotonic, boot id, clock source)


def record(db: sqlite3.Connection, notes: Iterable[Note], actor: str | None = None, stamp: Stamp | None = None) -> int:
    """Append `notes` to the chain inside the caller's open transaction; the number of entries written.

    `stamp` replaces the box's clocks (the simulator's virtual time); normally the adapter reads them."""
    notes = list(notes)
    if not notes:
        return 0
    who = actor or _account()
    if stamp is None:
        from nspgw.adapters.clock import boot_id, now, time_source

        wall, mono = now()
        boot = boot_id()
        confirmed = db.execute("SELECT value FROM status WHERE key = ?", (CLOCK_CONFIRMED,)).fetchone()
        source = time_source(json.loads(confirmed[0]) if confirmed else None)
    else:
        wall, mono, boot, source = stamp()
    wall, mono = round(wall, 3), round(mono, 3)
    head = db.execute("SELECT n, hash, clock, boot, wall, mono FROM journal ORDER BY n DESC LIMIT 1").fetchone()
    n, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS)
    pre: list[Note] = []
    if head is not None and head[3] == boot:
        if head[2] != source:
            pre.append(("clock", {"from": head[2], "to": source}))
        elif abs((wall - mono) - (float(head[4]) - float(head[5]))) > STEP_S:
            pre.append(("clock", {"source": source, "stepped_s": round((wall - mono) - (head[4] - head[5]), 3)}))
        if head[2] == "unsync" and source != "unsync":
            lo = db.execute("SELECT min(n) FROM journal WHERE boot = ? AND clock = 'unsync' AND n > ?",
                            (boot, _last_corrected(db, boot))).fetchone()[0]
            if lo is not None:
                pre.append(("correction", {"boot": boot, "from_n": int(lo), "to_n": n, "base": round(wall - mono, 3),
                                           "source": source}))
    written = 0
    for kind, data in pre + notes:
        n += 1
        fields = {"n": n, "kind": kind, "wall": wall, "clock": source, "boot": boot, "mono": mono,
                  "actor": who, "data": data, "prev": prev}
        prev = entry_hash(fields)
        db.execute("INSERT INTO journal (n, kind, wall, clock, boot, mono, actor, data, prev, hash) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (n, kind, wall, source, boot, mono, who, json.dumps(data, ensure_ascii=False, sort_keys=True),
                    fields["prev"], prev))
        written += 1
    return written


def _last_corrected(db: sqlite3.Connection, boot: str) -> int:
    row = db.execute("SELECT max(json_extract(data, '$.to_n')) FROM journal WHERE kind = 'correction' AND "
                     "json_extract(data, '$.boot') = ?", (boot,)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def sign_head(db: sqlite3.Connection, box: int, sign: Any, wall: float, n: int | None = None) -> dict[str, Any] | None:
    """Sign entry `n` (default: the head) inside the caller's transaction unless it is signed already."""
    head = (db.execute("SELECT n, hash FROM journal ORDER BY n DESC LIMIT 1").fetchone() if n is None else
            db.execute("SELECT n, hash FROM journal WHERE n = ?", (n,)).fetchone())
    if head is None:
        return None
    n, h = int(head[0]), str(head[1])
    row = db.execute("SELECT n, hash, signature FROM journal_heads WHERE n = ?", (n,)).fetchone()
    if row is None:
        sig = bytes(sign(head_message(box, n, h))).hex()
        db.execute("INSERT INTO journal_heads (n, hash, signature, wall) VALUES (?, ?, ?, ?)", (n, h, sig, wall))
        return {"n": n, "hash": h, "signature": sig}
    return {"n": int(row[0]), "hash": str(row[1]), "signature": str(row[2])}


# --------------------------------------------------------------------------------------------- reading
def entries(db: sqlite3.Connection, *, since: float | None = None, until: float | None = None,
            post: int | None = None, precedence: str | None = None, kinds: Sequence[str] | None = None,
            after_n: int = 0, limit: int | None = None) -> list[Entry]:
    """Journal entries in chain order, filtered; times re-dated where a correction says so.

    `since`/`until` compare the shown (re-dated) time; `post` keeps entries concerning that box address;
    `precedence` a precedence name (flash, immediate, priority, routine); `kinds` entry kinds.
    """
    fixes = corrections(_rows(db, "WHERE kind = 'correction'", ()))
    out: list[Entry] = []
    where = "WHERE n > ?"
    args: list[Any] = [after_n]
    if kinds:
        where += f" AND kind IN ({','.join('?' * len(kinds))})"
        args += list(kinds)
    # Only an unsynchronised entry can be shown at another time than it was written (a correction moves it):
    # the others are filtered in SQL, so a year-long journal is not parsed to show one shift.
    if since is not None:
        where += " AND (clock = 'unsync' OR wall >= ?)"
        args.append(since)
    if until is not None:
        where += " AND (clock = 'unsync' OR wall < ?)"
        args.append(until)
    for e in _rows(db, where, tuple(args)):
        e = redate(e, fixes)
        if since is not None and e.shown_wall < since:
            continue
        if until is not None and e.shown_wall >= until:
            continue
        if post is not None and not involves(e, post):
            continue
        if precedence is not None and e.data.get("precedence") != precedence:
            continue
        out.append(e)
        if limit is not None and len(out) >= limit:
            break
    return out


def heads(db: sqlite3.Connection, up_to: int | None = None) -> list[dict[str, Any]]:
    q = "SELECT n, hash, signature, wall FROM journal_heads"
    args: tuple[Any, ...] = ()
    if up_to is not None:
        q, args = q + " WHERE n <= ?", (up_to,)
    return [{"n": n, "hash": h, "signature": s, "wall": w} for n, h, s, w in db.execute(q + " ORDER BY n", args)]


def _rows(db: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> Iterable[Entry]:
    for n, kind, wall, clock, boot, mono, actor, data, prev, h in db.execute(
            "SELECT n, kind, wall, clock, boot, mono, actor, data, prev, hash FROM journal " + where +
            " ORDER BY n", args):
        yield Entry(int(n), kind, float(wall), clock, boot, float(mono), actor, json.loads(data), prev, h, float(wall))


def _prec(p: int) -> str:
    from nspgw.wire.frames import Precedence

    try:
        return Precedence(p).name.lower()
    except ValueError:
        return str(p)


def _content(body: bytes) -> dict[str, Any]:
    """Type and readable text of a message body (Dutch rendering of forms), cut at TEXT_MAX characters."""
    import hashlib

    from nspgw.errors import NspgwError
    from nspgw.wire.content import decode_content, render

    digest = hashlib.sha256(body).hexdigest()[:16]
    try:
        ct, value = decode_content(body)
        text = render(ct, value, "nl")
        kind = ct.name.lower()
    except NspgwError as exc:
        kind, text = "onbekend", f"[onleesbaar: {exc}]"
        try:  # bare UTF-8 (the simulator's bodies, a test tool): show it as such, marked as not encoded
            raw = body.decode("utf-8")
            if raw.isprintable():
                kind, text = "ruw", raw
        except UnicodeDecodeError:
            pass
    if len(text) > TEXT_MAX:
        text = text[:TEXT_MAX] + "…"
    return {"type": kind, "text": text, "body_sha256": digest}


def _account() -> str:
    """Who acts: `NSPGW_OPERATOR` when the shift set it (operators may share one account on a box), else the
    OS account of this process (the operator running the CLI, or the service account)."""
    named = os.environ.get("NSPGW_OPERATOR", "").strip()
    if named:
        return named[:64]
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return os.environ.get("USER", "?")


def _words(detail: Detail | str) -> str:
    from nspgw.cli.texts import detail_text  # lazily, as in store/sqlite.py

    return detail_text(detail)
