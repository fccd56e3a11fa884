"""Key files: 0600 and atomic on write, refused when others can read them, never leaking content in errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nspgw.crypto.enrol import demo_boxes, make_network
from nspgw.errors import ConfigError, SecurityError
from nspgw.store.keyfiles import (
    BOX_KEY,
    NETWORK_KEY,
    generate_identity,
    load_authority,
    load_identity,
    load_keyring,
    load_network_keys,
    read_secret,
    save_authority,
    save_identity,
    write_atomic,
    write_bundle,
)
from nspgw.wire.codec import FrameCodec
from nspgw.wire.frames import MessageFrame, MsgId, Precedence

NET = make_network(demo_boxes(), b"nspgw keyfile test seed 00000000")


def _bundle(tmp_path: Path, addr: int = 101) -> Path:
    d = tmp_path / f"box{addr}"
    write_bundle(d, addr, NET.identities[addr], NET.roster, NET.authority.public, (NET.network_key,))
    return d


def test_bundle_files_are_0600_and_load_into_a_working_keyring(tmp_path: Path) -> None:
    d = _bundle(tmp_path)
    assert stat.S_IMODE((d / BOX_KEY).stat().st_mode) == 0o600
    assert stat.S_IMODE((d / NETWORK_KEY).stat().st_mode) == 0o600
    assert not [p for p in d.iterdir() if p.name.startswith(".")]  # no temporary files left behind
    ring = load_keyring(d)
    gct = FrameCodec(NET.keyring(1))
    frame = MessageFrame(ring.me, NET.roster.entries[0].addr, MsgId(ring.me, 1), Precedence.ROUTINE, 0, b"hoi")
    assert gct.decode(FrameCodec(ring).encode(frame, 1)).frame == frame


def test_written_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        save_identity(tmp_path / "k", 5, generate_identity())
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o666])
def test_refused_when_group_or_others_can_read(tmp_path: Path, mode: int) -> None:
    d = _bundle(tmp_path)
    os.chmod(d / BOX_KEY, mode)
    with pytest.raises(SecurityError, match="chmod 600") as info:
        load_keyring(d)
    secret_hex = NET.identities[101].secret_bytes()[0].hex()
    assert secret_hex not in str(info.value)


def test_symlink_and_missing_and_garbage(tmp_path: Path) -> None:
    d = _bundle(tmp_path)
    link = tmp_path / "link.key"
    link.symlink_to(d / BOX_KEY)
    with pytest.raises(SecurityError):
        read_secret(link)
    with pytest.raises(ConfigError, match="ontbreekt"):
        load_identity(tmp_path / "nope.key")
    write_atomic(tmp_path / "junk.key", b"\xff\x00 not json")
    with pytest.raises(ConfigError):
        load_identity(tmp_path / "junk.key")
    write_atomic(tmp_path / "short.key", b'{"format": "nspgw-box-key/1", "addr": 3, "sign_secret": "00", '
                                          b'"dh_secret": "00"}')
    with pytest.raises(ConfigError, match="32 bytes"):
        load_identity(tmp_path / "short.key")


def test_roster_tampering_is_refused(tmp_path: Path) -> None:
    d = _bundle(tmp_path)
    text = (d / "roster.json").read_text()
    (d / "roster.json").write_text(text.replace('"nsp"', '"gct"', 1))
    with pytest.raises(SecurityError, match="signature"):
        load_keyring(d)


def test_key_file_not_matching_roster_is_refused(tmp_path: Path) -> None:
    d = _bundle(tmp_path)
    save_identity(d / BOX_KEY, 101, generate_identity())
    with pytest.raises(SecurityError, match="does not match"):
        load_keyring(d)


def test_authority_and_network_keys_round_trip(tmp_path: Path) -> None:
    save_authority(tmp_path / "authority.key", NET.authority)
    assert load_authority(tmp_path / "authority.key").public == NET.authority.public
    d = _bundle(tmp_path)
    (keys,) = [load_network_keys(d / NETWORK_KEY)]
    assert keys[0].secret == NET.network_key.secret and keys[0].epoch == 0


def test_atomic_replace_keeps_old_or_new(tmp_path: Path) -> None:
    p = tmp_path / "f.key"
    write_atomic(p, b"old")
    write_atomic(p, b"new")
    assert read_secret(p) == b"new"


# ------------------------------------------------------------- issue 15, finding 6: trust-anchor file checks
@pytest.mark.parametrize("name", ["authority.pub", "roster.json"])
def test_trust_anchors_refused_when_writable_by_others_or_a_symlink(tmp_path: Path, name: str) -> None:
    from nspgw.crypto.enrol import demo_boxes, make_network
    from nspgw.errors import SecurityError
    from nspgw.ids import BoxAddr
    from nspgw.store.keyfiles import load_keyring, write_bundle

    net = make_network(demo_boxes(), b"t" * 32)
    d = tmp_path / "keys"
    write_bundle(d, BoxAddr(10), net.identities[BoxAddr(10)], net.roster, net.authority.public, (net.network_key,))
    load_keyring(d)
    (d / name).chmod(0o666)
    with pytest.raises(SecurityError, match="wijzigen"):
        load_keyring(d)
    (d / name).chmod(0o644)
    real = tmp_path / f"elsewhere-{name}"
    (d / name).rename(real)
    (d / name).symlink_to(real)  # e.g. pointing into a directory another user controls
    with pytest.raises(SecurityError, match="symbolische link"):
        load_keyring(d)
