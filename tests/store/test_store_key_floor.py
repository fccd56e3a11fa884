"""Issue 15, finding 4: the newest roster and network-key epoch a box used are kept in its store, so that an
older roster.json or network.key restored from a backup cannot un-revoke a stolen box (real key files and
SQLite store; the daemon calls `check_key_floor` at every start)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nspgw.crypto.enrol import demo_boxes, make_network
from nspgw.crypto.keys import NetworkKey
from nspgw.crypto.roster import RosterDelta
from nspgw.daemon.control import check_key_floor, record_key_floor
from nspgw.errors import SecurityError
from nspgw.ids import BoxAddr
from nspgw.store.keyfiles import apply_network_key, apply_roster_update, load_keyring, write_bundle
from nspgw.store.sqlite import Store

NET = make_network(demo_boxes(), b"f" * 32)
CP, STOLEN = BoxAddr(10), BoxAddr(102)


def test_an_old_roster_backup_does_not_unrevoke_and_an_old_network_key_is_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    write_bundle(keys, CP, NET.identities[CP], NET.roster, NET.authority.public, (NET.network_key,))
    backup = tmp_path / "backup"
    shutil.copytree(keys, backup)  # the technician's backup from before the theft
    store = Store.open(tmp_path / "nspgw.db")
    ring = load_keyring(keys)
    check_key_floor(store, ring, keys)
    delta = RosterDelta(NET.roster.version, NET.roster.version + 1, (STOLEN,)).signed(NET.authority)
    assert apply_roster_update(keys, ring, delta.to_bytes())
    assert apply_network_key(keys, ring, NetworkKey(NET.network_key.epoch + 1, b"\x07" * 32))
    record_key_floor(store, ring)

    shutil.copy(backup / "roster.json", keys / "roster.json")  # restore the old roster
    ring = load_keyring(keys)
    assert not ring.roster.get(STOLEN).revoked  # type: ignore[union-attr]  # what the file alone says
    check_key_floor(store, ring, keys)
    assert ring.roster.get(STOLEN).revoked  # type: ignore[union-attr]
    assert load_keyring(keys).roster.get(STOLEN).revoked  # type: ignore[union-attr]  # roster.json repaired

    shutil.copy(backup / "network.key", keys / "network.key")  # restore the old network key too
    with pytest.raises(SecurityError, match="epoch"):
        check_key_floor(store, load_keyring(keys), keys)
    store.close()


def test_the_floor_never_goes_down(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "nspgw.db")
    store.raise_key_floor("roster", 5, "v5")
    store.raise_key_floor("roster", 3, "v3")
    assert store.key_floor()["roster"] == (5, "v5")
    store.close()
