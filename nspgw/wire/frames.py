"""Logical frames: what the core sends and receives. `nspgw.wire.codec` turns them into bytes and back.

These dataclasses are the contract between `core/` (routing, custody, receipts) and `wire/` + `crypto/`
(bytes, sealing). Field widths are those of wire format v1 (docs/wire-format.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from nspgw.ids import BoxAddr

NSPGW_PORTNUM = 311
"""Meshtastic private application port (256..511) that carries nspgw frames."""

MAX_RADIO_PAYLOAD = 233
"""Meshtastic `Constants.DATA_PAYLOAD_LEN`: the most application bytes one packet carries."""


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
    """End-to-end receipts from the reader's box `src` to originator `dst`: these seqs of `dst` are stored."""

    src: BoxAddr
    dst: BoxAddr
    seqs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CustodyAckFrame:
    """Hop custody acknowledgement: relay `src` has committed these messages and takes over delivery."""

    src: BoxAddr
    dst: BoxAddr
    msgs: tuple[MsgId, ...]


@dataclass(frozen=True, slots=True)
class FragmentRequestFrame:
    """Selective repeat: `src` still misses these fragment indexes of message `msg`."""

    src: BoxAddr
    dst: BoxAddr
    msg: MsgId
    missing: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ExpiredFrame:
    """Report to the originator `dst`: relay `src` gave up on these messages of `dst` (TTL ran out)."""

    src: BoxAddr
    dst: BoxAddr
    seqs: tuple[int, ...]


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


Frame = (
    MessageFrame
    | ReceiptFrame
    | CustodyAckFrame
    | FragmentRequestFrame
    | ExpiredFrame
    | BeaconFrame
    | RosterUpdateFrame
    | ProbeFrame
)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A frame as it travels one hop: the frame plus what the hop adds.

    `hop_src`/`hop_dst` are the boxes at the two ends of this hop (the radio/MQTT addressing is derived from
    them); `custody=True` asks `hop_dst` to take custody (the frame then carries a hop tag so the relay can
    check that an enrolled box sent it before it stores anything).
    """

    frame: Frame
    hop_src: BoxAddr
    hop_dst: BoxAddr
    custody: bool = False
