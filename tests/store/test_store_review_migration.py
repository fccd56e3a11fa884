"""Schema 2 (review items 5, 8, 9, 13): a version-1 database migrates in place and keeps its rows; the new
state (next hop per frame, custody windows, frame digests, recently expired messages) survives a reload."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from nspgw.core.actions import StoreCustodyWindow, StoreFrameDigests, StoreFrameSent, StoreOutboxState
from nspgw.core.lifecycle import MsgState
from nspgw.ids import BoxAddr
from nspgw.store.schema import MIGRATIONS, SCHEMA_VERSION
from nspgw.store.sqlite import Store
from nspgw.wire.frames import Precedence

ME, GCT, CP = BoxAddr(101), BoxAddr(1), BoxAddr(10)


def test_version_1_database_migrates_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute("INSERT INTO outbox (seq, dst, precedence, body, ttl_remaining_s, state, accepted_wall, "
                 "updated_wall) VALUES (1, 1, 0, x'41', 60, 'in_flight', 0, 0)")
    conn.execute("INSERT INTO frames_sent VALUES (7, 1, 0)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Store.open(path) as st:
        assert st.schema_version == SCHEMA_VERSION >= 2
        state = st.load_state(ME)
        assert state.frames_sent == {7: (1, 0)} and state.frame_hops == {}
        assert [o.msg.seq for o in state.outbox] == [1]


def test_new_state_round_trips(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as st:
        m = st.accept_message(ME, GCT, Precedence.FLASH, b"brand")
        gone = st.accept_message(ME, GCT, Precedence.FLASH, b"te laat")
        st.apply([StoreFrameSent(9, m.seq, 0, CP), StoreCustodyWindow(GCT, b"w1"),
                  StoreFrameDigests(GCT, b"\x00" * 12), StoreOutboxState(gone.seq, MsgState.EXPIRED)])
        state = st.load_state(ME)
        assert state.frame_hops == {9: CP}
        assert state.custody_windows == {GCT: b"w1"} and state.frame_digests == {GCT: b"\x00" * 12}
        assert state.expired == {gone.seq: GCT}
