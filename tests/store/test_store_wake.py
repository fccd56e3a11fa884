from __future__ import annotations

import select
from pathlib import Path

import pytest

from nspgw.errors import StoreError
from nspgw.store.wake import WakeListener, notify_daemon


def test_send_without_daemon_is_fine_and_daemon_gets_the_hint(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert notify_daemon(db) is False  # nobody listens: the message simply waits in the outbox
    listener = WakeListener(db)
    try:
        assert notify_daemon(db) is True
        r, _, _ = select.select([listener], [], [], 5.0)
        assert r and listener.drain() == 1
    finally:
        listener.close()
    assert notify_daemon(db) is False


def test_listener_does_not_delete_a_regular_file(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    victim = tmp_path / "s.db.wake"
    victim.write_text("not a socket")
    with pytest.raises(StoreError, match="wake-ups"):
        WakeListener(db)
    assert victim.read_text() == "not a socket"
