"""Golden vectors: exact bytes of every frame kind under fixed keys (also printed in docs/wire-format.md).

Keys come from `make_network(demo_boxes(), GOLDEN_SEED)`; SIV sealing and Ed25519 are deterministic, so
the bytes are too. A change here is a wire-format change: bump the version instead of editing the hex.
"""

from __future__ import annotations

from nspgw.crypto.enrol import demo_boxes, make_network
from nspgw.crypto.keys import NetworkKey
from nspgw.crypto.roster import RosterDelta
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.codec import FrameCodec
from nspgw.wire.frames import (
    BeaconFrame,
    BulletinHeldFrame,
    CustodyAckFrame,
    ExpiredFrame,
    FragmentRequestFrame,
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

GOLDEN_SEED = b"nspgw golden vectors v1 seed...."
GCT, CP_N, NSP_A = BoxAddr(1), BoxAddr(10), BoxAddr(101)


def vectors() -> list[tuple[str, bytes]]:
    net = make_network(demo_boxes(), GOLDEN_SEED)
    c = {a: FrameCodec(net.keyring(a)) for a in (GCT, CP_N, NSP_A)}
    text = b"\x42Brand Dorpsstraat 4"  # a content body as wire.content would produce it (opaque here)
    m = MessageFrame(NSP_A, GCT, MsgId(NSP_A, 300), Precedence.FLASH, 3600, text)
    frag = MessageFrame(NSP_A, GCT, MsgId(NSP_A, 301), Precedence.PRIORITY, 0, b"deel 2", 1, 3)
    bulletin = MessageFrame(GCT, BROADCAST_ADDR, MsgId(GCT, 7), Precedence.PRIORITY, 0, b"\x82Drinkwater 12:00")
    delta = RosterDelta(1, 2, (BoxAddr(102),)).signed(net.authority).to_bytes()
    return [
        ("message", c[NSP_A].encode(m, 1000)),
        ("message_custody_hop", c[NSP_A].encode(m, 1001, custody_to=CP_N, ttl_s=3600)),
        ("message_fragment", c[NSP_A].encode(frag, 1002)),
        ("bulletin", c[GCT].encode(bulletin, 50)),
        ("receipt", c[GCT].encode(ReceiptFrame(GCT, NSP_A, (300, 301, 305), (b"\x01\x02", b"\x03\x04", b"\x05\x06")),
                                  51)),
        ("custody_ack", c[CP_N].encode(CustodyAckFrame(CP_N, NSP_A, (FrameRef(NSP_A, 1001),)), 20)),
        ("fragment_request", c[GCT].encode(FragmentRequestFrame(GCT, NSP_A, MsgId(NSP_A, 301), (0, 2)), 52)),
        ("expired", c[CP_N].encode(ExpiredFrame(CP_N, NSP_A, (1001, 1003)), 21)),
        ("sync", c[GCT].encode(SyncFrame(GCT, NSP_A, 5000), 53)),
        ("probe", c[NSP_A].encode(ProbeFrame(NSP_A, CP_N, 0xBEEF), 1003)),
        ("probe_reply", c[CP_N].encode(ProbeFrame(CP_N, NSP_A, 0xBEEF, reply=True), 22)),
        ("network_key", c[GCT].encode(NetworkKeyFrame(GCT, NSP_A, NetworkKey(1, bytes(range(32)))), 54)),
        ("beacon", c[NSP_A].encode(BeaconFrame(NSP_A, 1, 4), 1004)),
        ("roster_update", c[GCT].encode(RosterUpdateFrame(GCT, delta), 55)),
        ("bulletin_held", c[CP_N].encode(BulletinHeldFrame(CP_N, GCT, MsgId(GCT, 7), b"\x0a\x0b",
                                                           (CP_N, NSP_A, BoxAddr(102))), 23)),
    ]


GOLDEN = {
    "message": "40065001000003e836c8eed97cf3bce4d25d33331b25489b6aaabd796db1cbae804f0782149e",
    "message_custody_hop": "44065001000003e9bf30a15c3e418391919fb19eb282fd527bf4601e6ff63001723aae20a47d8c5a14c2",
    "message_fragment": "42065001000003eafc47688c189ff6a3a40fa8eadf23029a65da",
    "bulletin": (
        "42001fff00000032472dae3397986a3f6b85ad8a81c22cebbbf7d245231f3a44389731ea2982c01342c512fa02f64058"
        "0a305e68ac08aa9fb889dbc894c1e083dca977cde89a6885e0f7fba91edbe0eb9e6f8e8aeb8dcac4608f021e611468d2"
        "fa91"
    ),
    "receipt": "4b001065000000338116334f9d4f790e2d4e15cbe9dee37d3cff",
    "custody_ack": "5300a06500000014823bf18b2a2556684b679081",
    "fragment_request": "5b00106500000034adc6e30ed940d49a6a06d0797b67",
    "expired": "6300a065000000156b8a3ce3f2a5c2f8154985",
    "sync": "6b00106500000035464e17352de15debee4dcf9d02",
    "probe": "6b06500a000003eb618feca01ab2bb172280dc6b",
    "probe_reply": "6b00a06500000016e7599c06a2ecfa258090fa79",
    "network_key": (
        "6b00106500000036fbbbd0a80d89914543d17e4ca7c6095a9ba66c0c3219dfe1cb79a663d64b2e7361215dcc5e10805c"
        "a2b9a23ef7"
    ),
    "beacon": "73065fff000003ec010400a7e88abc299c1b3e",
    "roster_update": (
        "7b001fff00000037d100000001000000021066ef2016d118218fb5e8584bb8db33a813ce839391b9c61241671b200e3f"
        "6cc87bb2f7e9d13e4dd508c40f405314d86a2e0fb0778a9b62d654c12df66e5cca4f02a69db01e56956d01"
    ),
    "bulletin_held": "6b00a00100000017e3409590d8d0eeca28455edc502080cb71",
}


def test_golden_vectors_are_stable() -> None:
    got = {name: raw.hex() for name, raw in vectors()}
    assert got == GOLDEN


def test_golden_vectors_decode() -> None:
    net = make_network(demo_boxes(), GOLDEN_SEED)
    c = {a: FrameCodec(net.keyring(a)) for a in (GCT, CP_N, NSP_A)}
    receivers = {"message": GCT, "message_custody_hop": CP_N, "message_fragment": GCT, "bulletin": NSP_A,
                 "receipt": NSP_A, "custody_ack": NSP_A, "fragment_request": NSP_A, "expired": NSP_A,
                 "sync": NSP_A, "probe": CP_N, "probe_reply": NSP_A, "network_key": NSP_A, "beacon": GCT,
                 "roster_update": NSP_A, "bulletin_held": GCT}
    senders = {"bulletin": GCT, "receipt": GCT, "fragment_request": GCT, "sync": GCT, "network_key": GCT,
               "roster_update": GCT, "custody_ack": CP_N, "expired": CP_N, "probe_reply": CP_N,
               "bulletin_held": CP_N}
    for name, hexed in GOLDEN.items():
        raw = bytes.fromhex(hexed)
        got = c[receivers[name]].decode(raw)
        assert got.header.version == 1 and got.header.kind == raw[0] >> 3 & 7, name
        if got.frame is not None:  # decoding then re-encoding gives the same bytes: one encoding per frame
            again = c[senders.get(name, NSP_A)].encode(got.frame, got.header.counter,
                                                       precedence=got.header.precedence)
            assert again == raw, name
        else:
            assert name == "message_custody_hop" and got.header.ttl_s == 3584
