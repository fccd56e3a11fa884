"""Roster: canonical signed JSON, compact signed deltas, key derivation properties."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nspgw.crypto.enrol import BoxSpec, demo_boxes, identity_from_seed, make_network
from nspgw.crypto.keys import derive_pair_keys
from nspgw.crypto.roster import Role, Roster, RosterDelta, RosterEntry
from nspgw.errors import DecodeError, SecurityError
from nspgw.ids import BoxAddr

SEED = b"nspgw roster test seed 000000000"
NET = make_network(demo_boxes(), SEED)


def test_json_round_trip_and_reformatting_keeps_the_signature() -> None:
    text = NET.roster.to_json()
    again = Roster.from_json(text, NET.authority.public)
    assert again == NET.roster
    reformatted = json.dumps(json.loads(text), indent=None, sort_keys=False)
    assert Roster.from_json(reformatted, NET.authority.public) == NET.roster


@pytest.mark.parametrize("edit", [
    lambda d: d["entries"][0].update(revoked=True),
    lambda d: d["entries"][1].update(role="gct"),
    lambda d: d.update(version=2),
    lambda d: d["entries"].pop(),
    lambda d: d["entries"][2].update(dh_public="00" * 32),
])
def test_any_change_breaks_the_signature(edit) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(NET.roster.to_json())
    edit(doc)
    with pytest.raises(SecurityError):
        Roster.from_json(json.dumps(doc), NET.authority.public)


@pytest.mark.parametrize("text", ["", "[]", '{"format": "nspgw-roster/1"}', '{"format": "x"}',
                                  '{"format": "nspgw-roster/1", "version": 1, "entries": [{}], "signature": ""}'])
def test_malformed_roster_is_a_security_error(text: str) -> None:
    with pytest.raises(SecurityError):
        Roster.from_json(text, NET.authority.public)


def test_delta_round_trip_revoke_and_add() -> None:
    newbox = identity_from_seed(b"new box seed for the roster test", 301)
    entry = RosterEntry(BoxAddr(301), "NSP Nieuw", Role.NSP, 0x2000_0001, newbox.sign_public, newbox.dh_public,
                        BoxAddr(11))
    delta = RosterDelta(1, 2, (BoxAddr(102),), (entry,)).signed(NET.authority)
    raw = delta.to_bytes()
    assert len(raw) < 231 - 16  # fits one broadcast frame
    parsed = RosterDelta.from_bytes(raw)
    assert parsed == delta
    after = NET.roster.apply(parsed, NET.authority.public)
    assert after.version == 2 and after.get(102).revoked and after.get(301) == entry  # type: ignore[union-attr]
    with pytest.raises(SecurityError, match="applies to version"):
        after.apply(parsed, NET.authority.public)


_VALID_DELTA = RosterDelta(1, 2, (BoxAddr(102),), (RosterEntry(BoxAddr(301), "NSP", Role.NSP, 7, bytes(32),
                                                                  bytes(range(32))),)).signed(NET.authority).to_bytes()


@given(st.binary(max_size=300) | st.builds(
    lambda cut, pos, val: (lambda b: b[:pos % len(b)] + bytes([val]) + b[pos % len(b) + 1 :])(_VALID_DELTA[:cut]),
    st.integers(1, len(_VALID_DELTA)), st.integers(0, 300), st.integers(0, 255)))
@settings(max_examples=500, deadline=None)
def test_delta_parser_never_crashes(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        RosterDelta.from_bytes(data)


def test_pair_keys_agree_and_are_directional() -> None:
    a, b = NET.identities[101], NET.identities[1]
    ab_at_a = derive_pair_keys(a, me=BoxAddr(101), peer=BoxAddr(1), peer_dh_public=b.dh_public, sending=True)
    ab_at_b = derive_pair_keys(b, me=BoxAddr(1), peer=BoxAddr(101), peer_dh_public=a.dh_public, sending=False)
    ba_at_a = derive_pair_keys(a, me=BoxAddr(101), peer=BoxAddr(1), peer_dh_public=b.dh_public, sending=False)
    assert ab_at_a.k_enc == ab_at_b.k_enc and ab_at_a.k_mac == ab_at_b.k_mac and ab_at_a.k_hop == ab_at_b.k_hop
    assert ab_at_a.k_enc != ba_at_a.k_enc
    assert len({ab_at_a.k_enc, ab_at_a.k_mac, ab_at_a.k_hop}) == 3


def test_low_order_peer_key_is_refused() -> None:
    with pytest.raises(SecurityError):
        NET.identities[101].shared_secret(bytes(32))


def test_duplicate_address_refused() -> None:
    spec = demo_boxes()
    with pytest.raises(SecurityError):
        make_network([*spec, BoxSpec(BoxAddr(1), "dubbel", Role.CP, 5)], SEED)
