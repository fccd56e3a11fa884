"""Pings and key material pass through `Node.handle` as events and actions: the driver never queues frames
in the node or changes its key ring behind its back."""

from __future__ import annotations

from core_boxes import CP, GCT, NET, NSP, NSP2, codec, node, tx

from nspgw.core.actions import AdoptNetworkKeys, AdoptRoster, ProbeAnswered
from nspgw.core.events import (
    BroadcastRoster,
    FrameIn,
    NetworkKeysChanged,
    PeerHeard,
    ProbeRequested,
    RosterChanged,
    SendNetworkKey,
)
from nspgw.crypto.keys import NetworkKey, SigningKey
from nspgw.crypto.roster import RosterDelta
from nspgw.ids import BROADCAST_ADDR
from nspgw.wire.frames import NetworkKeyFrame, ProbeFrame, RosterUpdateFrame


def test_a_ping_goes_out_as_a_probe_and_its_answer_comes_back_as_an_action() -> None:
    nsp, cp = node(NSP), node(CP)
    nsp.handle_timer(0.0)
    cp.handle_timer(0.0)
    (probe,) = [t for t in tx(nsp.handle(ProbeRequested(CP, 42), 1.0)) if t.hop_dst == CP]
    assert codec(CP).decode(probe.data, NSP).frame == ProbeFrame(NSP, CP, 42)
    (reply,) = [t for t in tx(cp.handle(FrameIn("radio", probe.data, NSP, -3.0, -90), 2.0)) if t.hop_dst == NSP]
    answers = [a for a in nsp.handle(FrameIn("radio", reply.data, CP, 5.0, -80), 3.0) if isinstance(a, ProbeAnswered)]
    assert answers == [ProbeAnswered(CP, 42, "radio", CP, 5.0, -80)]
    # the same reply again (a replay) answers nothing
    assert not [a for a in nsp.handle(FrameIn("radio", reply.data, CP), 4.0) if isinstance(a, ProbeAnswered)]


def test_a_roster_update_leaves_as_adopt_roster_and_the_node_adopts_only_on_roster_changed() -> None:
    nsp = node(NSP)
    nsp.handle_timer(0.0)
    delta = RosterDelta(1, 2, (NSP2,)).signed(NET.authority)
    data = codec(GCT).encode(RosterUpdateFrame(GCT, delta.to_bytes()), 7)
    (adopt,) = [a for a in nsp.handle(FrameIn("radio", data, GCT), 1.0) if isinstance(a, AdoptRoster)]
    assert adopt.roster.version == 2 and adopt.roster.get(NSP2).revoked
    assert nsp.cfg.keyring.roster.version == 1  # not before the driver persisted it
    nsp.handle(RosterChanged(adopt.roster), 2.0)
    assert nsp.cfg.keyring.roster.version == 2
    again = codec(GCT).encode(RosterUpdateFrame(GCT, delta.to_bytes()), 8)
    assert not [a for a in nsp.handle(FrameIn("radio", again, GCT), 3.0) if isinstance(a, AdoptRoster)]


def test_a_forged_or_version_skipping_roster_update_changes_nothing() -> None:
    nsp = node(NSP)
    forged = RosterDelta(1, 2, (GCT,)).signed(SigningKey(b"\x01" * 32))
    data = codec(GCT).encode(RosterUpdateFrame(GCT, forged.to_bytes()), 7)
    assert not [a for a in nsp.handle(FrameIn("radio", data, GCT), 1.0) if isinstance(a, AdoptRoster)]
    assert nsp.stats["rejected"] == 1  # the codec checks the authority's signature already
    skipping = RosterDelta(2, 3, (NSP2,)).signed(NET.authority)  # we hold version 1: one delta was missed
    data = codec(GCT).encode(RosterUpdateFrame(GCT, skipping.to_bytes()), 8)
    assert not [a for a in nsp.handle(FrameIn("radio", data, GCT), 2.0) if isinstance(a, AdoptRoster)]
    assert nsp.stats["keys_refused"] == 1 and nsp.cfg.keyring.roster.version == 1


def test_key_rotation_sends_the_key_to_each_box_and_the_receiver_adopts_it_through_events() -> None:
    gct, nsp = node(GCT), node(NSP)
    gct.handle_timer(0.0)
    nsp.handle_timer(0.0)
    gct.handle(PeerHeard(NSP), 0.5)  # heard just now: the key goes to it straight, not through its CP
    new = NetworkKey(NET.network_key.epoch + 1, b"\x07" * 32)
    sent = tx(gct.handle(SendNetworkKey(new, (NSP,), (0.0, 10.0)), 1.0))
    frames = [codec(NSP).decode(t.data, GCT).frame for t in sent if t.hop_dst in (NSP, CP)]
    assert NetworkKeyFrame(GCT, NSP, new) in frames
    data = next(t.data for t in sent if codec(NSP).decode(t.data, GCT).frame == NetworkKeyFrame(GCT, NSP, new))
    (adopt,) = [a for a in nsp.handle(FrameIn("ip", data, GCT), 2.0) if isinstance(a, AdoptNetworkKeys)]
    assert adopt.src == GCT and adopt.keys[0].epoch == new.epoch
    assert nsp.cfg.keyring.network_key_set[0].epoch == NET.network_key.epoch
    nsp.handle(NetworkKeysChanged(adopt.keys), 3.0)
    assert nsp.cfg.keyring.network_key_set[0].epoch == new.epoch


def test_broadcast_roster_goes_on_air_once_per_repeat() -> None:
    gct = node(GCT)
    gct.handle_timer(0.0)
    blob = RosterDelta(1, 2, (NSP2,)).signed(NET.authority).to_bytes()
    first = [t for t in tx(gct.handle(BroadcastRoster(blob, (0.0, 20.0)), 1.0)) if t.hop_dst is None]
    later = [t for t in tx(gct.handle_timer(30.0)) if t.hop_dst is None]
    frames = [codec(NSP).decode(t.data, GCT).frame for t in first + later]
    assert frames.count(RosterUpdateFrame(GCT, blob)) == 2 and BROADCAST_ADDR == 0xFFF
