"""Security properties of sealed frames: tampering, strangers, revocation, replay, confidentiality, forgery."""

from __future__ import annotations

import logging
import traceback
from dataclasses import replace

import pytest

from nspgw.crypto.enrol import BoxSpec, demo_boxes, make_network
from nspgw.crypto.keys import NetworkKey, SigningKey
from nspgw.crypto.replay import ReplayWindow
from nspgw.crypto.roster import Role, RosterDelta
from nspgw.errors import AuthError, DecodeError, SecurityError
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.codec import FrameCodec, bulletin_signed_bytes
from nspgw.wire.frames import (
    BeaconFrame,
    CustodyAckFrame,
    FrameRef,
    MessageFrame,
    MsgId,
    NetworkKeyFrame,
    Precedence,
    ProbeFrame,
    ReceiptFrame,
    RosterUpdateFrame,
    SyncFrame,
)

SEED = b"nspgw security test seed 000000"
GCT, CP_N, CP_Z, NSP_A, NSP_B, NSP_C = (BoxAddr(a) for a in (1, 10, 11, 101, 102, 201))


@pytest.fixture
def net():  # type: ignore[no-untyped-def]
    return make_network(demo_boxes(), SEED)


def codecs(net):  # type: ignore[no-untyped-def]
    return {a: FrameCodec(net.keyring(a)) for a in net.identities}


def msg(src: BoxAddr, dst: BoxAddr, body: bytes = b"Noodmelding: brand Dorpsstraat 4", seq: int = 3) -> MessageFrame:
    return MessageFrame(src, dst, MsgId(src, seq), Precedence.FLASH, 0, body)


def flips(raw: bytes):  # type: ignore[no-untyped-def]
    for i in range(len(raw)):
        for bit in range(8):
            yield raw[:i] + bytes([raw[i] ^ (1 << bit)]) + raw[i + 1 :]


def _rejects(codec: FrameCodec, raw: bytes, hop_src: BoxAddr | None = None) -> None:
    for bad in flips(raw):
        with pytest.raises((DecodeError, AuthError)):
            codec.decode(bad, hop_src)


def test_flipped_bit_anywhere_is_rejected(net) -> None:  # type: ignore[no-untyped-def]
    c = codecs(net)
    delta = RosterDelta(1, 2, (NSP_C,)).signed(net.authority).to_bytes()
    cases = [
        (c[NSP_A].encode(msg(NSP_A, GCT), 7), GCT),
        (c[NSP_A].encode(msg(NSP_A, GCT), 8, custody_to=CP_N, ttl_s=7200), CP_N),
        (c[NSP_A].encode(msg(NSP_A, GCT), 9, custody_to=CP_N, ttl_s=7200), GCT),  # dest cannot check hop tag
        (c[GCT].encode(msg(GCT, BROADCAST_ADDR, b"Bulletin 7: drinkwater"), 1), NSP_A),
        (c[NSP_A].encode(BeaconFrame(NSP_A, 1, 4), 10), NSP_B),
        (c[NSP_A].encode(RosterUpdateFrame(NSP_A, delta), 11), NSP_B),
        (c[NSP_A].encode(ReceiptFrame(NSP_A, GCT, (1, 2, 3), (bytes(2),) * 3), 12), GCT),
        (c[CP_N].encode(CustodyAckFrame(CP_N, NSP_A, (FrameRef(NSP_A, 8),)), 13), NSP_A),
        (c[NSP_A].encode(SyncFrame(NSP_A, GCT, 99), 14), GCT),
        (c[NSP_A].encode(ProbeFrame(NSP_A, GCT, 5), 15), GCT),
    ]
    for raw, receiver in cases[:2] + cases[3:]:
        c[receiver].decode(raw)  # the untouched frame is accepted
        _rejects(c[receiver], raw)
    # A custody frame reaching its destination directly is checked by the hop tag, keyed with the hop pair.
    raw, receiver = cases[2]
    with pytest.raises(AuthError):
        c[receiver].decode(raw)  # GCT is not the custodian the hop tag was made for


def test_custody_hop_checks_the_claimed_hop_sender(net) -> None:  # type: ignore[no-untyped-def]
    c = codecs(net)
    hop = c[CP_N].forward(c[NSP_A].encode(msg(NSP_A, GCT), 1), custody_to=CP_Z, ttl_s=60)
    assert c[CP_Z].decode(hop, hop_src=CP_N).hop_src == CP_N
    for wrong in (None, NSP_A, NSP_B, BoxAddr(4000)):  # transport's from-node mapped to another box
        with pytest.raises(AuthError):
            c[CP_Z].decode(hop, hop_src=wrong)


def test_stranger_outside_the_roster_is_rejected(net) -> None:  # type: ignore[no-untyped-def]
    other = make_network([*demo_boxes(), BoxSpec(BoxAddr(300), "Nep-NSP", Role.NSP, 0x3000_0000, CP_N)],
                         b"another network seed 0000000000")
    stranger = FrameCodec(other.keyring(300))
    raw = stranger.encode(msg(BoxAddr(300), GCT), 1)
    with pytest.raises(AuthError, match="not in the roster"):
        codecs(net)[GCT].decode(raw)
    # A member of another network posing as one of ours has the wrong keys.
    impostor = FrameCodec(other.keyring(101))
    with pytest.raises(AuthError):
        codecs(net)[GCT].decode(impostor.encode(msg(NSP_A, GCT), 1))


def test_revoked_box_is_rejected_after_the_signed_delta(net) -> None:  # type: ignore[no-untyped-def]
    c = codecs(net)
    raw = c[NSP_B].encode(msg(NSP_B, GCT), 1)
    c[GCT].decode(raw)
    delta = RosterDelta(1, 2, (NSP_B,)).signed(net.authority)
    c[GCT].keyring.apply_roster_delta(RosterDelta.from_bytes(delta.to_bytes()))
    with pytest.raises(AuthError, match="revoked"):
        c[GCT].decode(raw)
    with pytest.raises(AuthError, match="revoked"):
        c[GCT].decode(c[NSP_B].encode(BeaconFrame(NSP_B, 1), 2))


def test_delta_not_signed_by_the_authority_is_refused(net) -> None:  # type: ignore[no-untyped-def]
    c = codecs(net)
    forged = RosterDelta(1, 2, (GCT,)).signed(SigningKey(b"\x01" * 32))
    with pytest.raises(SecurityError):
        c[NSP_A].keyring.apply_roster_delta(forged)
    raw = c[NSP_B].encode(RosterUpdateFrame(NSP_B, forged.to_bytes()), 1)
    with pytest.raises(AuthError, match="signature"):
        c[NSP_A].decode(raw)


def test_replay_is_rejected_also_after_a_restart(net) -> None:  # type: ignore[no-untyped-def]
    c = codecs(net)
    window = ReplayWindow()
    frames = [c[NSP_A].encode(msg(NSP_A, GCT, seq=i), 100 + i) for i in range(5)]
    for raw in frames:
        assert window.accept(c[GCT].decode(raw).header.counter)
    assert not window.accept(c[GCT].decode(frames[2]).header.counter)
    restored = ReplayWindow.from_bytes(window.to_bytes())  # the receiver restarts
    assert restored == window
    for raw in frames:
        assert not restored.accept(c[GCT].decode(raw).header.counter)
    assert restored.accept(c[GCT].decode(c[NSP_A].encode(msg(NSP_A, GCT), 200)).header.counter)


def test_frame_sealed_for_b_cannot_be_opened_by_c(net) -> None:  # type: ignore[no-untyped-def]
    c = codecs(net)
    raw = c[NSP_A].encode(msg(NSP_A, NSP_B, b"geheim: sleutel kluis 4471"), 1)
    with pytest.raises(AuthError):
        c[NSP_C].decode(raw)
    with pytest.raises(AuthError):
        c[NSP_C].keyring.pair_keys(NSP_A, NSP_B)
    # Handed to a relay for custody: the relay stores and forwards it, but learns nothing.
    hop = c[NSP_A].encode(msg(NSP_A, NSP_B, b"geheim: sleutel kluis 4471"), 2, custody_to=CP_N, ttl_s=60)
    got = c[CP_N].decode(hop)
    assert got.frame is None and b"geheim" not in got.raw
    assert c[NSP_B].decode(c[CP_N].forward(got.raw, custody_to=NSP_B, ttl_s=60), CP_N).frame is not None


def test_bulletin_forged_by_an_nsp_claiming_to_be_the_crisis_team_is_rejected(net) -> None:  # type: ignore[no-untyped-def]
    c = codecs(net)
    nsp_ring = c[NSP_A].keyring
    fake = msg(GCT, BROADCAST_ADDR, b"Evacueer direct naar de Markt", seq=9)
    fake = replace(fake, signature=nsp_ring.sign(bulletin_signed_bytes(fake)))  # NSP signs with its own key
    # The NSP holds the network key, so it can seal a frame with the crisis team's address in the header
    # exactly as the GCT box would; only the Ed25519 signature gives it away.
    from nspgw.crypto.seal import seal
    from nspgw.wire.codec import Kind, _header, _plaintext

    header = _header(Kind.MESSAGE, Precedence.FLASH, False, GCT, BROADCAST_ADDR, 77)
    raw = header + seal(nsp_ring.network_keys()[0], header, _plaintext(fake))
    with pytest.raises(AuthError, match="signature"):
        c[NSP_B].decode(raw)
    # Signed correctly by itself but sent as a bulletin from an NSP: not a crisis-team box.
    own = c[NSP_A].sign_bulletin(msg(NSP_A, BROADCAST_ADDR, b"Evacueer", seq=10))
    header = _header(Kind.MESSAGE, Precedence.FLASH, False, NSP_A, BROADCAST_ADDR, 78)
    raw = header + seal(nsp_ring.network_keys()[0], header, _plaintext(own))
    with pytest.raises(AuthError, match="crisis-team"):
        c[NSP_B].decode(raw)
    # The genuine one passes.
    c[NSP_B].decode(c[GCT].encode(msg(GCT, BROADCAST_ADDR, b"Evacueer", seq=11), 5))


def test_network_key_rotation_only_from_the_crisis_team(net) -> None:  # type: ignore[no-untyped-def]
    c = codecs(net)
    new = NetworkKey(1, b"\x42" * 32)
    got = c[NSP_A].decode(c[GCT].encode(NetworkKeyFrame(GCT, NSP_A, new), 1)).frame
    assert isinstance(got, NetworkKeyFrame) and got.key.epoch == 1 and got.key.secret == new.secret
    with pytest.raises(AuthError, match="crisis-team"):
        c[NSP_A].decode(c[CP_N].encode(NetworkKeyFrame(CP_N, NSP_A, new), 1))
    # After rotation the old key opens nothing new; during the grace period both are accepted.
    c[GCT].keyring.set_network_keys((new,))
    bulletin = c[GCT].encode(msg(GCT, BROADCAST_ADDR, b"na rotatie", seq=20), 2)
    with pytest.raises(AuthError):
        c[NSP_B].decode(bulletin)
    c[NSP_B].keyring.set_network_keys((new, net.network_key))
    c[NSP_B].decode(bulletin)


def test_no_key_material_in_reprs_logs_or_tracebacks(net, caplog) -> None:  # type: ignore[no-untyped-def]
    c = codecs(net)
    secrets = [s.hex() for s in net.identities[NSP_A].secret_bytes()] + [net.network_key.secret.hex(),
                                                                         net.authority.secret_bytes().hex()]
    pair = c[NSP_A].keyring.pair_keys(NSP_A, GCT)
    secrets += [pair.k_enc.hex(), pair.k_mac.hex(), pair.k_hop.hex()]
    texts = [repr(net), repr(net.identities[NSP_A]), str(net.identities[NSP_A]), repr(net.network_key),
             repr(c[NSP_A].keyring), repr(pair), str(pair), repr(net.authority),
             repr(NetworkKeyFrame(GCT, NSP_A, net.network_key))]
    raw = c[NSP_A].encode(msg(NSP_A, GCT), 1)
    with caplog.at_level(logging.DEBUG):
        for bad in [*list(flips(raw))[:40], b"", raw[:10]]:
            try:
                c[GCT].decode(bad)
            except (AuthError, DecodeError) as exc:
                logging.getLogger("nspgw.test").exception("rejected: %s", exc)
                texts.append("".join(traceback.format_exception(exc)))
    texts.append(caplog.text)
    blob = "\n".join(texts)
    for s in secrets:
        assert s not in blob and s[:16] not in blob
    assert "redacted" in repr(net.identities[NSP_A])
