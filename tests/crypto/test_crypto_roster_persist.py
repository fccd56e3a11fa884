"""Review item 11: an over-the-air roster delta (revocation) and a network-key rotation are persisted with
their proof and still in force after a restart; forged, replayed or out-of-order updates change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nspgw.crypto.enrol import demo_boxes, make_network
from nspgw.crypto.keys import NetworkKey, SigningKey
from nspgw.crypto.roster import Roster, RosterDelta
from nspgw.errors import AuthError, SecurityError
from nspgw.ids import BoxAddr
from nspgw.store.keyfiles import (
    NETWORK_KEY,
    ROSTER,
    apply_network_key,
    apply_roster_update,
    load_keyring,
    write_bundle,
)
from nspgw.wire.codec import FrameCodec
from nspgw.wire.frames import BeaconFrame, MessageFrame, MsgId, Precedence

NET = make_network(demo_boxes(), b"nspgw roster persistence seed 00")
CP, NSP, NSP2, GCT = BoxAddr(10), BoxAddr(101), BoxAddr(102), BoxAddr(1)
REVOKE_102 = RosterDelta(1, 2, (NSP2,)).signed(NET.authority)
REVOKE_101 = RosterDelta(2, 3, (NSP,)).signed(NET.authority)


def _bundle(tmp_path: Path, addr: int = CP) -> Path:
    d = tmp_path / f"box{addr}"
    write_bundle(d, addr, NET.identities[addr], NET.roster, NET.authority.public, (NET.network_key,))
    return d


def _from_102() -> bytes:
    return FrameCodec(NET.keyring(NSP2)).encode(MessageFrame(NSP2, CP, MsgId(NSP2, 1), Precedence.ROUTINE, 0,
                                                              b"ik ben gestolen"), 9)


def test_revocation_survives_a_restart(tmp_path: Path) -> None:
    d = _bundle(tmp_path)
    ring = load_keyring(d)
    FrameCodec(ring).decode(_from_102())
    assert apply_roster_update(d, ring, REVOKE_102.to_bytes())
    with pytest.raises(AuthError, match="revoked"):
        FrameCodec(ring).decode(_from_102())
    again = load_keyring(d)  # the daemon restarts
    assert again.roster.version == 2 and again.roster.get(NSP2).revoked  # type: ignore[union-attr]
    with pytest.raises(AuthError, match="revoked"):
        FrameCodec(again).decode(_from_102())
    # a second delta chains on the first, and both survive the next restart
    assert apply_roster_update(d, again, REVOKE_101.to_bytes())
    third = load_keyring(d)
    assert third.roster.version == 3 and third.roster.get(NSP).revoked  # type: ignore[union-attr]
    assert third.roster.get(NSP2).revoked  # type: ignore[union-attr]


def test_repeated_old_forged_and_skipping_deltas_change_nothing(tmp_path: Path) -> None:
    d = _bundle(tmp_path)
    ring = load_keyring(d)
    assert apply_roster_update(d, ring, REVOKE_102.to_bytes())
    before = (d / ROSTER).read_bytes()
    assert not apply_roster_update(d, ring, REVOKE_102.to_bytes())  # repeat/replay: nothing to do
    forged = RosterDelta(2, 3, (GCT,)).signed(SigningKey(b"\x01" * 32))
    with pytest.raises(SecurityError):
        apply_roster_update(d, ring, forged.to_bytes())
    skipping = RosterDelta(5, 6, (GCT,)).signed(NET.authority)
    with pytest.raises(SecurityError, match="applies to version"):
        apply_roster_update(d, ring, skipping.to_bytes())
    with pytest.raises(SecurityError):
        apply_roster_update(d, ring, b"\xd1garbage")
    assert (d / ROSTER).read_bytes() == before and ring.roster.version == 2
    assert not ring.roster.get(GCT).revoked  # type: ignore[union-attr]


def test_delta_derived_roster_json_round_trips_and_tampering_is_refused() -> None:
    after = NET.roster.apply(REVOKE_102, NET.authority.public).apply(REVOKE_101, NET.authority.public)
    text = after.to_json()
    assert Roster.from_json(text, NET.authority.public) == after
    doc = json.loads(text)
    assert doc["version"] == 3 and doc["base"]["version"] == 1 and len(doc["deltas"]) == 2
    edits = [
        lambda d: d["entries"][0].update(revoked=True),          # result that does not follow from the deltas
        lambda d: d["deltas"].pop(),                              # a delta left out
        lambda d: d["deltas"].reverse(),                          # out of order
        lambda d: d["base"]["entries"][0].update(name="x"),       # base no longer signed
        lambda d: d.update(deltas=[d["deltas"][0][:-2] + "00", d["deltas"][1]]),  # delta signature broken
        lambda d: d.update(deltas=["zz"]),
        lambda d: d.update(base=None),
    ]
    for edit in edits:
        tampered = json.loads(text)
        edit(tampered)
        with pytest.raises(SecurityError):
            Roster.from_json(json.dumps(tampered), NET.authority.public)


def test_keyring_refuses_an_unproven_or_older_roster() -> None:
    ring = NET.keyring(CP)
    ring.apply_roster_delta(REVOKE_102)
    with pytest.raises(SecurityError):
        ring.set_roster(Roster(3, NET.roster.entries))  # unsigned, no proof
    with pytest.raises(SecurityError, match="older"):
        ring.set_roster(NET.roster)  # signed, but would un-revoke 102


def test_network_key_rotation_persists_and_drops_the_previous_key(tmp_path: Path) -> None:
    d = _bundle(tmp_path)
    ring = load_keyring(d)
    old_beacon = FrameCodec(NET.keyring(NSP)).encode(BeaconFrame(NSP, 1), 5)
    new = NetworkKey(NET.network_key.epoch + 1, b"\x42" * 32)
    assert apply_network_key(d, ring, new)
    assert not apply_network_key(d, ring, NET.network_key)  # older epoch: a replay, ignored
    assert not apply_network_key(d, ring, new)
    again = load_keyring(d)
    assert [k.epoch for k in again.network_key_set] == [new.epoch]
    with pytest.raises(AuthError):  # the revoked box still holds the old key: what it seals is refused
        FrameCodec(again).decode(old_beacon)
    rotated = NET.keyring(NSP)
    rotated.set_network_keys((new,))
    FrameCodec(again).decode(FrameCodec(rotated).encode(BeaconFrame(NSP, 1), 6))
    with pytest.raises(AuthError):  # a box without the new key cannot forge network-key frames any more
        FrameCodec(NET.keyring(GCT)).decode(FrameCodec(rotated).encode(BeaconFrame(NSP, 1), 7))
    assert (d / NETWORK_KEY).stat().st_mode & 0o077 == 0
