"""SQLite store: migrations, one transaction per step, loud refusal of corrupt / truncated / newer files."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from nspgw.core.actions import (
    DropCustody,
    StoreCounter,
    StoreCustody,
    StoreFrameSent,
    StoreInbox,
    StoreOutboxState,
    StoreReplayWindow,
    Transmit,
)
from nspgw.core.lifecycle import MsgState
from nspgw.errors import StoreError, UsageError
from nspgw.ids import BoxAddr
from nspgw.store.schema import SCHEMA_VERSION
from nspgw.store.sqlite import Store
from nspgw.wire.frames import MessageFrame, MsgId, Precedence

ME = BoxAddr(101)


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_new_store_is_migrated_wal_and_full_sync(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_accept_assigns_increasing_seqs_and_survives_reopen(tmp_path: Path) -> None:
    p = tmp_path / "s.db"
    with Store.open(p) as s:
        a = s.accept_message(ME, BoxAddr(1), Precedence.FLASH, b"een")
        b = s.accept_message(ME, BoxAddr(1), Precedence.ROUTINE, b"twee", ttl_s=60)
    assert (a.seq, b.seq) == (1, 2)
    with Store.open(p) as s:
        state = s.load_state(ME)
        assert [o.msg for o in state.outbox] == [a, b]
        assert state.outbox[1].ttl_remaining_s == 60
        assert [e.msg for e in s.accepted_after(ME, 1)] == [b]


@pytest.mark.parametrize("body,ttl", [(b"", None), (b"x" * 70_000, None), (b"ok", 0)])
def test_bad_message_is_a_usage_error_and_nothing_is_stored(tmp_path: Path, body: bytes, ttl: int | None) -> None:
    with Store.open(tmp_path / "s.db") as s:
        with pytest.raises(UsageError):
            s.accept_message(ME, BoxAddr(1), Precedence.ROUTINE, body, ttl_s=ttl)
        assert s.outbox() == []


def test_apply_is_one_transaction(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as s:
        m = s.accept_message(ME, BoxAddr(1), Precedence.ROUTINE, b"x")
        frame = MessageFrame(BoxAddr(1), ME, MsgId(BoxAddr(1), 7), Precedence.ROUTINE, 0, b"hallo")
        bad = StoreFrameSent(5, m.seq, 0)
        with pytest.raises(TypeError):  # a broken action halfway: nothing of the step is committed
            s.apply([StoreCounter(500), StoreInbox(frame, "radio"), bad, "not an action"])  # type: ignore[list-item]
        assert s.load_state(ME).counter_reserved == 1
        assert s.inbox() == []
        s.apply([StoreCounter(500), StoreInbox(frame, "radio"), StoreInbox(frame, "ip"), bad,
                 StoreOutboxState(m.seq, MsgState.IN_FLIGHT),
                 StoreReplayWindow(BoxAddr(1), b"\x57" + b"\x00" * 7 + b"\x00" * 32),
                 Transmit("radio", None, b"", Precedence.ROUTINE, 1, 0.0)])
        st = s.load_state(ME)
        assert st.counter_reserved == 500
        assert st.frames_sent == {5: (m.seq, 0)}
        assert st.delivered == {MsgId(BoxAddr(1), 7)}
        assert len(s.inbox()) == 1  # UNIQUE(origin, seq): the copy from the other link is ignored
        s.apply([StoreCounter(100)])
        assert s.load_state(ME).counter_reserved == 500  # the reservation never goes back


def test_custody_rows_and_log(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as s:
        s.apply([StoreCustody(BoxAddr(102), 9, BoxAddr(1), Precedence.FLASH, b"raw", 300.0, BoxAddr(102))])
        assert [(c.origin, c.counter) for c in s.load_state(BoxAddr(10)).custody] == [(102, 9)]
        s.apply([DropCustody(BoxAddr(102), 9, "overgedragen")])
        assert s.load_state(BoxAddr(10)).custody == []
        assert s._db.execute("SELECT reason FROM custody_log").fetchall() == [("overgedragen",)]


def test_garbage_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    p = tmp_path / "s.db"
    p.write_bytes(b"this is not a database at all " * 200)
    before = digest(p)
    with pytest.raises(StoreError, match="not an nspgw database"):
        Store.open(p)
    assert digest(p) == before
    assert not (tmp_path / "s.db-wal").exists()


def _filled(p: Path) -> None:
    with Store.open(p) as s:
        for i in range(300):
            s.accept_message(ME, BoxAddr(1), Precedence.ROUTINE, bytes([i % 256]) * 200)
        s._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_truncated_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    p = tmp_path / "s.db"
    _filled(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    before = digest(p)
    with pytest.raises(StoreError):
        Store.open(p)
    assert digest(p) == before


def test_corrupted_pages_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "s.db"
    _filled(p)
    data = bytearray(p.read_bytes())
    for off in range(4096 * 2, len(data), 4096):  # scribble over every page but the header page
        data[off + 10 : off + 200] = b"\xa5" * 190
    p.write_bytes(bytes(data))
    before = digest(p)
    with pytest.raises(StoreError):
        Store.open(p)
    assert digest(p) == before


def test_newer_schema_is_refused_not_downgraded(tmp_path: Path) -> None:
    p = tmp_path / "s.db"
    with Store.open(p) as s:
        s.accept_message(ME, BoxAddr(1), Precedence.ROUTINE, b"bewaren")
    conn = sqlite3.connect(p)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = digest(p)
    with pytest.raises(StoreError, match="newer"):
        Store.open(p)
    assert digest(p) == before


def test_missing_store_without_create(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        Store.open(tmp_path / "nope.db", create=False)
    assert not (tmp_path / "nope.db").exists()


def test_migration_from_empty_file_and_idempotent_reopen(tmp_path: Path) -> None:
    p = tmp_path / "s.db"
    p.touch()
    with Store.open(p) as s:
        assert s.schema_version == SCHEMA_VERSION
    with Store.open(p) as s:  # reopening does not re-run migrations (tables would already exist)
        assert s.schema_version == SCHEMA_VERSION
