"""Logical frames: what the core sends and receives. `nspgw.wire.codec` turns them into bytes and back.

These dataclasses are the contract between `core/` (routing, custody, receipts) and `wire/` + `crypto/`
(bytes, sealing). Field widths are those of wire format v1 (docs/wire-format.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from nspgw.crypto.keys import NetworkKey
from nspgw.ids import BoxAddr

NSPGW_PORTNUM = 311
"""Meshtastic private application port (256..511) that carries nspgw frames."""

MAX_RADIO_PAYLOAD = 233
"""Meshtastic `Constants.DATA_PAYLOAD_LEN`: the most application bytes one packet carries."""

PKC_OVERHEAD = 12
"""Firmware `MESHTASTIC_PKC_OVERHEAD`: a direct message the firmware PKI-encrypts (X25519 + AES-CCM) carries an
8-byte CCM tag and a 4-byte extra nonce. Firmware 2.5 encrypts DMs with PKI whenever it knows the destination's
public key; later 2.6 builds skip it on secondary channels unless asked, and firmware PR #7722 (Aug 2025, 2.7)
does it again "even if the channel isn't 0"."""

DATA_WRAPPER_LEN = 8
"""`Data` protobuf around an nspgw frame of ≥ 128 bytes: portnum 311 (tag + 2-byte varint = 3), payload tag +
2-byte length (3), and `bitfield` (tag + 1 byte = 2), which firmware `Router::perhapsEncode` sets on every
packet a node originates (ok-to-MQTT bit) *before* its size check."""

MAX_LORA_FRAME = 255
"""Firmware: header (16) + encoded `Data` (+ PKI overhead) must fit 255 bytes, else the packet is dropped with
`Routing_Error_TOO_LARGE`. Hence the real limits below are below `DATA_PAYLOAD_LEN` (233)."""

MAX_BROADCAST_FRAME = MAX_LORA_FRAME - 16 - DATA_WRAPPER_LEN
"""231: the largest nspgw broadcast frame (bulletins, beacons, roster updates; never PKI-encrypted)."""

MAX_UNICAST_FRAME = MAX_BROADCAST_FRAME - PKC_OVERHEAD
"""219: the largest nspgw frame sent as a direct message, sized for the PKI case (docs/wire-format.md)."""


class Precedence(enum.IntEnum):
    """Message precedence, highest first. Two bits on the wire."""

    FLASH = 0
    IMMEDIATE = 1
    PRIORITY = 2
    ROUTINE = 3


class ContentType(enum.IntEnum):
    """What the (decompressed) message body is."""

    TEXT = 0  # free text
    NOODMELDING = 1  # emergency report for the meldkamer
    SITRAP = 2  # situation report
    AANVRAAG = 3  # resource request
    BULLETIN = 4  # crisis team bulletin to all boxes
    AFHANDELING = 5  # handling status of a received report, back to its sender (wire.handling)


@dataclass(frozen=True, slots=True)
class MsgId:
    """A message's network-wide identity: originating box and its per-box message sequence number."""

    origin: BoxAddr
    seq: int


@dataclass(frozen=True, slots=True)
class MessageFrame:
    """A whole message, or fragment `frag_index` of `frag_count` of it.

    `body` is the encoded content (already compressed / form-encoded by `wire.content`); fragmentation
    splits `body`. `ttl_s` is the time to live remaining when this frame was sent (relative, seconds).
    For a bulletin (`dst` = BROADCAST_ADDR) `signature` is the originator's Ed25519 signature over the
    message, carried in the last fragment.
    """

    src: BoxAddr  # originator (end to end)
    dst: BoxAddr  # final destination, or BROADCAST_ADDR
    msg: MsgId
    precedence: Precedence
    ttl_s: int
    body: bytes
    frag_index: int = 0
    frag_count: int = 1
    signature: bytes = b""


@dataclass(frozen=True, slots=True)
class ReceiptFrame:
    """End-to-end receipts from the reader's box `src` to originator `dst`: these seqs of `dst` are stored.

    `digests[i]` is `receipt_digest` of the body stored under `seqs[i]`: the originator counts a receipt only
    for the message it sent under that number, not for another one that a restored or cloned copy of it sent
    under the same number (issue 15, finding 6)."""

    src: BoxAddr
    dst: BoxAddr
    seqs: tuple[int, ...]
    digests: tuple[bytes, ...] = ()


RECEIPT_DIGEST_LEN = 2


def receipt_digest(body: bytes) -> bytes:
    """Which content a receipt confirms: the first 2 bytes of SHA-256 of the whole message body (the prefix of
    the 8-byte digest the core keeps per delivered message, `core.config.body_digest`). It tells a reused
    message number apart with probability 1 - 2^-16; the receipt itself is authenticated by the pair key."""
    import hashlib

    return hashlib.sha256(body).digest()[:RECEIPT_DIGEST_LEN]


@dataclass(frozen=True, slots=True)
class FrameRef:
    """A sealed frame as a relay sees it: originating box and that box's frame counter (both cleartext).

    A relay cannot open an end-to-end sealed frame, so custody acknowledgements and expiry reports from a
    relay name frames this way; the originator maps its counters back to its messages.
    """

    origin: BoxAddr
    counter: int


@dataclass(frozen=True, slots=True)
class CustodyAckFrame:
    """Hop custody acknowledgement: relay `src` has committed these frames and takes over their delivery."""

    src: BoxAddr
    dst: BoxAddr
    refs: tuple[FrameRef, ...]


@dataclass(frozen=True, slots=True)
class FragmentRequestFrame:
    """Selective repeat: `src` still misses these fragment indexes of message `msg`."""

    src: BoxAddr
    dst: BoxAddr
    msg: MsgId
    missing: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ExpiredFrame:
    """Report to the originator `dst`: relay `src` gave up on these frames of `dst` (their TTL ran out)."""

    src: BoxAddr
    dst: BoxAddr
    counters: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SyncFrame:
    """Counter resynchronisation: `src` has seen counters of `dst` up to `counter_floor`.

    A box restored from a backup (or cloned) restarts with an old frame counter; receivers reject its frames
    as replays. A receiver answers such a frame (rate-limited) with this sealed hint; the sender moves its
    counter above the floor and retransmits. A second hint from a box whose counter is already past the floor
    points to a clone and is reported to the operator.
    """

    src: BoxAddr
    dst: BoxAddr
    counter_floor: int


@dataclass(frozen=True, slots=True)
class BulletinHeldFrame:
    """Bulletin confirmation along the post tree: `boxes` hold bulletin `msg` (content digest `digest`).

    An NSP tells its own CP (one hop, `boxes` = itself); the CP tells the bulletin's originator, in one frame,
    which of its NSPs and itself hold it. The originator counts a box only when it is the sender itself or an
    NSP whose roster parent is the sender: a CP can vouch for its own posts, never for others'. Sealed under
    the pair key like a receipt. `digest` is `receipt_digest` of the whole body (as in ReceiptFrame)."""

    src: BoxAddr
    dst: BoxAddr
    msg: MsgId
    digest: bytes
    boxes: tuple[BoxAddr, ...]


@dataclass(frozen=True, slots=True)
class BeaconFrame:
    """A box announces itself: who is reachable, which roster version it holds, how much it has queued."""

    src: BoxAddr
    roster_version: int
    queued: int = 0
    flags: int = 0


@dataclass(frozen=True, slots=True)
class RosterUpdateFrame:
    """A signed roster change from the network authority (typically a revocation), relayed by any box."""

    src: BoxAddr
    blob: bytes  # signed roster delta, opaque to the wire layer (crypto.roster parses and verifies)


@dataclass(frozen=True, slots=True)
class ProbeFrame:
    """Ping / link-health probe; the destination answers with `reply=True` and the same `nonce`."""

    src: BoxAddr
    dst: BoxAddr
    nonce: int
    reply: bool = False


@dataclass(frozen=True, slots=True)
class NetworkKeyFrame:
    """Network key rotation: crisis-team box `src` hands box `dst` the network key of a new epoch.

    Sealed end to end like every unicast frame; `key` has a redacted repr. Receivers accept it only from an
    unrevoked crisis-team box (docs/security.md "Key lifecycle").
    """

    src: BoxAddr
    dst: BoxAddr
    key: NetworkKey


Frame = (
    MessageFrame
    | ReceiptFrame
    | CustodyAckFrame
    | FragmentRequestFrame
    | ExpiredFrame
    | SyncFrame
    | BeaconFrame
    | RosterUpdateFrame
    | ProbeFrame
    | NetworkKeyFrame
    | BulletinHeldFrame
)


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """The cleartext, authenticated part of every frame (docs/wire-format.md).

    A relay reads only this: it cannot open a frame sealed end to end for another box. `precedence` is in
    the clear so that a relay can schedule custody traffic; `ttl_s` is present only on a custody hop (it
    changes per hop, so it is covered by the hop tag, not the end-to-end tag).
    """

    version: int
    kind: int
    src: BoxAddr
    dst: BoxAddr
    counter: int
    precedence: Precedence = Precedence.ROUTINE
    custody: bool = False
    ttl_s: int | None = None


@dataclass(frozen=True, slots=True)
class Received:
    """What the codec makes of bytes from one hop.

    `frame` is None when the frame is sealed for another box (we are a relay); `raw` is then the sealed frame
    as it must be forwarded (hop extension stripped). `hop_src` is the box that sent this hop (authenticated
    by the end-to-end tag when it is the originator, by the hop tag on a custody hop).
    """

    header: FrameHeader
    frame: Frame | None
    raw: bytes
    hop_src: BoxAddr
