"""The SQLite store: outbox, inbox, custody, counters, replay windows, peers, status.

Durability: WAL journal with `synchronous=FULL` (a committed transaction survives power loss), one
transaction per accepted message and one per core step (`apply`). Corrupt, truncated or unknown databases
raise `StoreError` and are never reset, repaired or overwritten: the operator's messages may be in them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nspgw.core.actions import (
    Action,
    Detail,
    DriverAction,
    DropCustody,
    DropFragments,
    Notice,
    StoreCounter,
    StoreCustody,
    StoreCustodyWindow,
    StoreFragment,
    StoreFrameDigests,
    StoreFrameSent,
    StoreInbox,
    StoreOutboxState,
    StorePeer,
    StoreReceipt,
    StoreReplayWindow,
    StoreSeqJump,
    StoreStatus,
    StoreTtl,
)
from nspgw.core.config import DEFAULT_TTL_S, CustodyItem, NodeState, OutboxItem, body_digest
from nspgw.core.events import MessageAccepted
from nspgw.core.lifecycle import FINAL, MsgState
from nspgw.errors import StoreError, UsageError
from nspgw.ids import BoxAddr
from nspgw.store import journal
from nspgw.store.schema import MIGRATIONS, SCHEMA_VERSION
from nspgw.wire.codec import MAX_SEQ
from nspgw.wire.frames import MessageFrame, MsgId, Precedence

SQLITE_MAGIC = b"SQLite format 3\x00"
MAX_BODY = 32 * 1024  # must fit 256 fragments of max_body(custody=True) bytes (wire format v1)
EXPIRED_KEPT = 1024  # recently expired messages the core still accepts a late receipt for
_ACTIVE = tuple(s.value for s in MsgState if s not in FINAL)


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    origin: BoxAddr
    seq: int
    dst: BoxAddr
    precedence: Precedence
    body: bytes
    link: str
    received_wall: float
    read: bool


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    dst: BoxAddr
    precedence: Precedence
    content_type: int
    body: bytes
    state: MsgState
    detail: str
    accepted_wall: float
    receipts: tuple[BoxAddr, ...]


class Store:
    """One box's database. Not thread-safe: one Store per thread/process."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._db = conn
        self.path = path
        self.journal_clock: journal.Stamp | None = None  # the journal's clocks; None: the box's own

    # ------------------------------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: Path | str, *, create: bool = True) -> Store:
        p = Path(path)
        if p.exists():
            _check_header(p)
        elif not create:
            raise StoreError(f"database {p} bestaat niet (does not exist)")
        try:
            conn = sqlite3.connect(p, isolation_level=None, timeout=10.0)
        except sqlite3.Error as exc:
            raise StoreError(f"database {p} kan niet worden geopend: {exc}") from None
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"database {p} has schema version {version}, newer than this nspgw ({SCHEMA_VERSION}); "
                    "update nspgw — the database is left untouched")
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StoreError(f"database {p} is corrupt ({check}); it is left untouched — restore a backup")
            mode = _switch_to_wal(conn)
            if str(mode).lower() != "wal":
                raise StoreError(f"database {p}: cannot enable WAL journal (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            store = cls(conn, p)
            store._migrate(version)
            return store
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"database {p} is unreadable or corrupt ({exc}); it is left untouched") from None
        except StoreError:
            conn.close()
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self, version: int) -> None:
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._tx():
                # Re-read under the write lock: another process (the daemon creating the store while `nspgw
                # status` opens it) may have applied this step since we read the version.
                if int(self._db.execute("PRAGMA user_version").fetchone()[0]) >= target:
                    continue
                for stmt in _statements(MIGRATIONS[target - 1]):
                    self._db.execute(stmt)
                self._db.execute(f"PRAGMA user_version = {target}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path} cannot be written: {exc}") from None
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path}: commit failed: {exc}") from None

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # ----------------------------------------------------------------------------------------- accepting
    def accept_message(self, origin: BoxAddr, dst: BoxAddr, precedence: Precedence, body: bytes, *,
                       ttl_s: int | None = None, content_type: int = 0, actor: str | None = None) -> MsgId:
        """Accept a message: once this returns, it is committed and will be delivered or reported expired."""
        if not body:
            raise UsageError("leeg bericht (empty message)")
        if len(body) > MAX_BODY:
            raise UsageError(f"bericht te lang: {len(body)} bytes (max {MAX_BODY})")
        if ttl_s is not None and ttl_s <= 0:
            raise UsageError("geldigheidsduur moet positief zijn (ttl must be positive)")
        now = time.time()
        ttl_rem = float(ttl_s if ttl_s is not None else DEFAULT_TTL_S[Precedence(precedence)])
        with self._tx() as db:
            seq = int(db.execute("SELECT value FROM counters WHERE name = 'next_seq'").fetchone()[0])
            if seq > MAX_SEQ:
                raise StoreError("message sequence numbers exhausted")
            db.execute("UPDATE counters SET value = ? WHERE name = 'next_seq'", (seq + 1,))
            db.execute(
                "INSERT INTO outbox (seq, dst, precedence, content_type, body, ttl_s, ttl_remaining_s, state, "
                "accepted_wall, updated_wall) VALUES (?, ?, ?, ?, ?, ?, ?, 'accepted', ?, ?)",
                (seq, int(dst), int(precedence), content_type, bytes(body), ttl_s, ttl_rem, now, now))
            journal.record(db, [journal.accepted_note(int(origin), seq, int(dst), int(precedence), bytes(body))],
                           actor, self.journal_clock)
        return MsgId(origin, seq)

    def accepted_after(self, origin: BoxAddr, after_seq: int = 0) -> list[MessageAccepted]:
        """Outbox rows still in state `accepted` with seq > after_seq, as core events (oldest first)."""
        rows = self._db.execute(
            "SELECT seq, dst, precedence, body, ttl_remaining_s FROM outbox WHERE state = 'accepted' AND seq > ? "
            "ORDER BY seq", (after_seq,)).fetchall()
        return [MessageAccepted(MsgId(origin, s), BoxAddr(d), Precedence(p), bytes(b), int(t))
                for s, d, p, b, t in rows]

    # ------------------------------------------------------------------------------------------- loading
    def load_state(self, origin: BoxAddr) -> NodeState:
        db = self._db
        state = NodeState()
        state.counter_reserved = int(db.execute(
            "SELECT value FROM counters WHERE name = 'frame_reserved'").fetchone()[0])
        marks = ",".join("?" * len(_ACTIVE))
        for seq, dst, prec, body, ttl_rem, st, acked, pending in db.execute(
                f"SELECT seq, dst, precedence, body, ttl_remaining_s, state, acked_frags, pending FROM outbox "
                f"WHERE state IN ({marks}) ORDER BY seq", _ACTIVE):
            state.outbox.append(OutboxItem(
                MsgId(origin, seq), BoxAddr(dst), Precedence(prec), bytes(body), float(ttl_rem), MsgState(st),
                tuple(json.loads(acked)), tuple(BoxAddr(a) for a in json.loads(pending)) if pending else None))
        for c, seq, frag, hop in db.execute(
                f"SELECT f.counter, f.seq, f.frag_index, f.hop FROM frames_sent f JOIN outbox o ON o.seq = f.seq "
                f"WHERE o.state IN ({marks})", _ACTIVE):
            state.frames_sent[int(c)] = (int(seq), int(frag))
            if hop is not None:
                state.frame_hops[int(c)] = BoxAddr(hop)
        for o, c, d, p, raw, ttl, hop in db.execute(
                "SELECT origin, counter, dst, precedence, raw, ttl_remaining_s, from_hop FROM custody"):
            state.custody.append(CustodyItem(BoxAddr(o), c, BoxAddr(d), Precedence(p), bytes(raw), float(ttl),
                                             BoxAddr(hop)))
        for seq, dst in db.execute("SELECT seq, dst FROM outbox WHERE state = 'expired' ORDER BY seq DESC LIMIT ?",
                                   (EXPIRED_KEPT,)):
            state.expired[int(seq)] = BoxAddr(dst)
        for sender, window in db.execute("SELECT sender, window FROM replay_windows"):
            state.replay[int(sender)] = bytes(window)
        for origin, window in db.execute("SELECT origin, window FROM custody_windows"):
            state.custody_windows[int(origin)] = bytes(window)
        for sender, digests in db.execute("SELECT sender, digests FROM frame_digests"):
            state.frame_digests[int(sender)] = bytes(digests)
        for o, s, body in db.execute("SELECT origin, seq, body FROM inbox"):
            mid = MsgId(BoxAddr(o), int(s))
            state.delivered.add(mid)
            state.body_digests[mid] = body_digest(bytes(body))
        for o, s, i, n, d, p, ttl, body, sig in db.execute(
                "SELECT origin, seq, frag_index, frag_count, dst, precedence, ttl_s, body, signature "
                "FROM fragments ORDER BY origin, seq, frag_index"):
            state.fragments.append(MessageFrame(BoxAddr(o), BoxAddr(d), MsgId(BoxAddr(o), s), Precedence(p), ttl,
                                                bytes(body), i, n, bytes(sig)))
        return state

    # ------------------------------------------------------------------------------------ one core step
    def apply(self, actions: Iterable[Action]) -> None:
        """Carry out the store actions of one core step in ONE transaction (driver actions are skipped), with the
        journal entries for what they change (nspgw/store/journal.py)."""
        acts = list(actions)
        todo = [a for a in acts if not isinstance(a, DriverAction)]
        if not todo:
            return
        now = time.time()
        links = journal.links_of(acts)
        with self._tx() as db:
            notes: list[journal.Note] = []
            for a in todo:
                notes += journal.observe(db, a, links)
                _apply_one(db, a, now)
            journal.record(db, notes, None, self.journal_clock)

    # -------------------------------------------------------------------------------------- reading side
    def inbox(self, *, unread_only: bool = False) -> list[InboxRow]:
        q = "SELECT id, origin, seq, dst, precedence, body, link, received_wall, read FROM inbox"
        q += " WHERE read = 0" if unread_only else ""
        return [InboxRow(i, BoxAddr(o), s, BoxAddr(d), Precedence(p), bytes(b), lk, w, bool(r))
                for i, o, s, d, p, b, lk, w, r in self._db.execute(q + " ORDER BY precedence, id")]

    def mark_read(self, inbox_id: int, *, actor: str | None = None) -> bool:
        with self._tx() as db:
            row = db.execute("SELECT origin, seq, read FROM inbox WHERE id = ?", (inbox_id,)).fetchone()
            if row is None:
                return False
            db.execute("UPDATE inbox SET read = 1 WHERE id = ?", (inbox_id,))
            journal.record(db, [("operator", {"action": "read", "origin": row[0], "seq": row[1],
                                              "first": not row[2]})], actor, self.journal_clock)
            return True

    def outbox(self) -> list[OutboxRow]:
        receipts: dict[int, list[BoxAddr]] = {}
        for seq, box in self._db.execute("SELECT seq, box FROM receipts ORDER BY seq, box"):
            receipts.setdefault(seq, []).append(BoxAddr(box))
        return [OutboxRow(s, BoxAddr(d), Precedence(p), ct, bytes(b), MsgState(st), det, w,
                          tuple(receipts.get(s, ())))
                for s, d, p, ct, b, st, det, w in self._db.execute(
                    "SELECT seq, dst, precedence, content_type, body, state, detail, accepted_wall FROM outbox "
                    "ORDER BY seq")]

    def custody_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM custody").fetchone()[0])

    def status(self) -> dict[str, object]:
        return {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM status")}

    def set_status(self, key: str, value: object) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO status VALUES (?, ?)", (key, json.dumps(value)))

    # ------------------------------------------------------------------------------------------ journaal
    def journal_record(self, kind: str, data: dict[str, object], *, actor: str | None = None) -> None:
        """An event that changes no other state (service start/stop, link lost/back, an operator's note)."""
        with self._tx() as db:
            journal.record(db, [(kind, data)], actor, self.journal_clock)

    def journal_sign(self, box: int, sign: Callable[[bytes], bytes], n: int | None = None) -> dict[str, Any] | None:
        """Sign the journal's head (or entry `n`) with the box key, once; the signature record, None if empty."""
        with self._tx() as db:
            return journal.sign_head(db, box, sign, time.time(), n)

    def journal_entries(self, **filters: Any) -> list[journal.Entry]:
        """Entries in chain order; filters of `nspgw.store.journal.entries` (period, post, precedence, kinds)."""
        return journal.entries(self._db, **filters)

    def journal_heads(self, up_to: int | None = None) -> list[dict[str, Any]]:
        return journal.heads(self._db, up_to)

    def key_floor(self) -> dict[str, tuple[int, str]]:
        """Newest key material this box has used: name → (version or epoch, data), see schema migration 4."""
        return {n: (int(v), str(d)) for n, v, d in self._db.execute("SELECT name, value, data FROM key_floor")}

    def raise_key_floor(self, name: str, value: int, data: str = "") -> None:
        """Record `value` for `name` unless a higher one is recorded (the floor never goes down)."""
        with self._tx() as db:
            db.execute("INSERT INTO key_floor VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET value = "
                       "excluded.value, data = excluded.data WHERE excluded.value > key_floor.value",
                       (name, value, data))

    def notices(self, limit: int = 50) -> list[tuple[str, str, float]]:
        return [(k, t, w) for k, t, w in self._db.execute(
            "SELECT kind, text, wall FROM notices ORDER BY id DESC LIMIT ?", (limit,))]


def _apply_one(db: sqlite3.Connection, a: Action, now: float) -> None:
    if isinstance(a, StoreCounter):
        db.execute("UPDATE counters SET value = max(value, ?) WHERE name = 'frame_reserved'", (a.reserved,))
    elif isinstance(a, StoreSeqJump):
        db.execute("UPDATE counters SET value = min(value + ?, ?) WHERE name = 'next_seq'", (a.by, MAX_SEQ + 1))
    elif isinstance(a, StoreFrameSent):
        db.execute("INSERT OR REPLACE INTO frames_sent (counter, seq, frag_index, hop) VALUES (?, ?, ?, ?)",
                   (a.counter, a.seq, a.frag_index, None if a.hop is None else int(a.hop)))
    elif isinstance(a, StoreOutboxState):
        pending = json.dumps([int(x) for x in a.pending]) if a.pending is not None else None
        db.execute("UPDATE outbox SET state = ?, acked_frags = ?, pending = coalesce(?, pending), detail = ?, "
                   "updated_wall = ? WHERE seq = ?",
                   (a.state.value, json.dumps(list(a.acked_frags)), pending, _words(a.detail), now, a.seq))
        if a.state in FINAL:
            db.execute("DELETE FROM frames_sent WHERE seq = ?", (a.seq,))
    elif isinstance(a, StoreReceipt):
        db.execute("INSERT OR IGNORE INTO receipts VALUES (?, ?, ?)", (a.seq, int(a.by), now))
    elif isinstance(a, StoreInbox):
        f = a.frame
        db.execute("INSERT OR IGNORE INTO inbox (origin, seq, dst, precedence, body, signature, link, "
                   "received_wall) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (int(f.msg.origin), f.msg.seq, int(f.dst), int(f.precedence), f.body, f.signature, a.link, now))
    elif isinstance(a, StoreFragment):
        f = a.frame
        db.execute("INSERT OR IGNORE INTO fragments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (int(f.msg.origin), f.msg.seq, f.frag_index, f.frag_count, int(f.dst), int(f.precedence),
                    f.ttl_s, f.body, f.signature))
    elif isinstance(a, DropFragments):
        db.execute("DELETE FROM fragments WHERE origin = ? AND seq = ?", (int(a.msg.origin), a.msg.seq))
    elif isinstance(a, StoreCustody):
        db.execute("INSERT OR IGNORE INTO custody VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (int(a.origin), a.counter, int(a.dst), int(a.precedence), a.raw, a.ttl_s, int(a.from_hop), now))
    elif isinstance(a, DropCustody):
        row = db.execute("SELECT dst FROM custody WHERE origin = ? AND counter = ?",
                         (int(a.origin), a.counter)).fetchone()
        if row is not None:
            db.execute("DELETE FROM custody WHERE origin = ? AND counter = ?", (int(a.origin), a.counter))
            db.execute("INSERT INTO custody_log VALUES (?, ?, ?, ?, ?)",
                       (int(a.origin), a.counter, row[0], _words(a.reason), now))
    elif isinstance(a, StoreTtl):
        db.executemany("UPDATE outbox SET ttl_remaining_s = ? WHERE seq = ?", [(t, s) for s, t in a.outbox])
        db.executemany("UPDATE custody SET ttl_remaining_s = ? WHERE origin = ? AND counter = ?",
                       [(t, int(o), c) for o, c, t in a.custody])
    elif isinstance(a, StoreReplayWindow):
        db.execute("INSERT OR REPLACE INTO replay_windows VALUES (?, ?)", (int(a.sender), a.window))
    elif isinstance(a, StoreCustodyWindow):
        db.execute("INSERT OR REPLACE INTO custody_windows VALUES (?, ?)", (int(a.origin), a.window))
    elif isinstance(a, StoreFrameDigests):
        db.execute("INSERT OR REPLACE INTO frame_digests VALUES (?, ?)", (int(a.sender), a.digests))
    elif isinstance(a, StorePeer):
        db.execute("INSERT OR REPLACE INTO peers VALUES (?, ?, ?, ?, ?)",
                   (int(a.addr), a.link, now, a.snr, a.rssi))
    elif isinstance(a, StoreStatus):
        db.execute("INSERT OR REPLACE INTO status VALUES (?, ?)", (a.key, json.dumps(a.value)))
    elif isinstance(a, Notice):
        from nspgw.cli.texts import notice_text

        db.execute("INSERT INTO notices (kind, text, wall) VALUES (?, ?, ?)", (a.kind, notice_text(a), now))
    else:
        raise TypeError(f"not a store action: {a!r}")  # a core/store mismatch must not pass silently


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _switch_to_wal(conn: sqlite3.Connection) -> str:
    """`PRAGMA journal_mode = WAL`, retried: on a brand-new file opened by several processes at once SQLite
    can answer "database is locked" here without calling the busy handler."""
    for attempt in range(50):
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


def _check_header(p: Path) -> None:
    """Refuse a file that is not an SQLite database before sqlite3 gets a chance to treat it as empty."""
    try:
        with p.open("rb") as fh:
            head = fh.read(100)
        size = p.stat().st_size  # after the header: a concurrent checkpoint only grows the file
        wal = p.with_name(p.name + "-wal")
        wal_active = wal.exists() and wal.stat().st_size > 0
    except OSError as exc:
        raise StoreError(f"database {p} kan niet worden gelezen: {exc}") from None
    if size == 0 or not head:
        # A file created but never written (sqlite3 does the same on first connect). `not head`: it was empty
        # when we read it, and another process opening it for the first time wrote its first page since
        # (seen: 1 of 4 concurrent first opens refused a brand-new database under load).
        return
    if not head.startswith(SQLITE_MAGIC):
        raise StoreError(f"{p} is not an nspgw database (no SQLite header); it is left untouched")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    # The in-header page count is valid only when "version-valid-for" equals the change counter (SQLite
    # file format §1.3.7); then a shorter file has lost its tail.
    valid = head[24:28] == head[92:96]
    # While a WAL is active another process may be checkpointing (header written before the tail); then the
    # size says nothing and PRAGMA quick_check, which runs next, is the judge.
    if len(head) < 100 or (valid and pages and size < pages * page_size and not wal_active):
        raise StoreError(f"database {p} is truncated ({size} bytes, header says {pages} pages); left untouched")


def _words(detail: Detail | str) -> str:
    """A core reason as the operator's words (the catalogue, `cli/texts.py`); kept as text in the store."""
    from nspgw.cli.texts import detail_text  # the cli package imports lazily; this module is imported early

    return detail_text(detail)
