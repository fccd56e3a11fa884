"""Frame codec, wire format v1: logical frames (frames.py) ⇄ sealed bytes for one Meshtastic packet.

Byte layout, overhead budget and test vectors: docs/wire-format.md. In short:

    header (8, cleartext, authenticated):  vv kkk c pp | src:12 dst:12 | counter:32
        vv = version (01 = v1), kkk = kind, c = custody hop extension present, pp = precedence
    unicast kinds:  header ‖ AES-CTR(plaintext) ‖ tag:8    SIV under the pair key src→dst
                    [‖ ttl:8 ‖ hop_tag:24]                 custody hop: HMAC under the hop pair key
    bulletin:       header ‖ AES-CTR(plaintext) ‖ tag:8    SIV under the network key, Ed25519 signed
    beacon:         header ‖ body ‖ tag:8                  HMAC under the network key
    roster update:  header ‖ signed delta ‖ tag:8          HMAC under the network key; the delta itself
                                                           carries the authority's Ed25519 signature

The end-to-end tag covers the header with the custody bit cleared, so a relay can add, strip and replace
the hop extension without touching the sealed frame. Replay windows are the core's job (crypto.replay);
`Received.header.counter` is what it feeds them.
"""

from __future__ import annotations

import enum
import itertools

from nspgw.crypto.keyring import KeyRing
from nspgw.crypto.keys import KEY_LEN, SIGNATURE_LEN, NetworkKey, SymmetricKeys
from nspgw.crypto.roster import MAX_ADDR, Role, RosterDelta
from nspgw.crypto.seal import HOP_TAG_LEN, TAG_LEN, check_mac, mac, open_sealed, seal
from nspgw.errors import AuthError, DecodeError, SecurityError
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.cursor import Reader, unzigzag, varint, zigzag
from nspgw.wire.frames import (
    MAX_BROADCAST_FRAME,
    MAX_RADIO_PAYLOAD,
    MAX_UNICAST_FRAME,
    RECEIPT_DIGEST_LEN,
    BeaconFrame,
    BulletinHeldFrame,
    CustodyAckFrame,
    ExpiredFrame,
    FragmentRequestFrame,
    Frame,
    FrameHeader,
    FrameRef,
    MessageFrame,
    MsgId,
    NetworkKeyFrame,
    Precedence,
    ProbeFrame,
    ReceiptFrame,
    Received,
    RosterUpdateFrame,
    SyncFrame,
)

VERSION = 1
HEADER_LEN = 8
HOP_EXT_LEN = 1 + HOP_TAG_LEN
FIXED_OVERHEAD = HEADER_LEN + TAG_LEN  # 16 bytes on every frame
CUSTODY_OVERHEAD = FIXED_OVERHEAD + HOP_EXT_LEN  # 20 bytes on a custody hop
MAX_SEQ = (1 << 27) - 1  # message sequence numbers fit a 4-byte varint together with the fragment flag
MAX_FRAGMENTS = 256
MESSAGE_FIELDS_MAX = 4 + 2  # seq varint (≤ 4) + fragment count and index
_CUSTODY_BIT = 0x04


class Kind(enum.IntEnum):
    """Three bits in header byte 0."""

    MESSAGE = 0
    RECEIPT = 1
    CUSTODY_ACK = 2
    FRAGMENT_REQUEST = 3
    EXPIRED = 4
    CONTROL = 5  # rare frames; first plaintext byte is a `Control` sub-kind
    BEACON = 6
    ROSTER_UPDATE = 7


class Control(enum.IntEnum):
    SYNC = 0
    PROBE = 1
    PROBE_REPLY = 2
    NETWORK_KEY = 3
    BULLETIN_HELD = 4


MAX_HELD_BOXES = 80
"""Boxes one BulletinHeldFrame names (≤ 2-byte varint each: 160 bytes, within one unicast frame)."""


_BROADCAST_KINDS = {Kind.BEACON, Kind.ROSTER_UPDATE}

# --- TTL on a custody hop: one byte, a minifloat (4-bit exponent, 4-bit mantissa), always rounded down so a
# relay never extends a message's life. 0..15 s exact, then ≤ 6.25 % steps, up to 507,904 s (5.9 days).
MAX_TTL_S = 31 << 14


def ttl_to_byte(ttl_s: int) -> int:
    ttl_s = max(0, min(int(ttl_s), MAX_TTL_S))
    if ttl_s < 16:
        return ttl_s
    exp = ttl_s.bit_length() - 4  # ≥ 1
    return (exp << 4) | ((ttl_s >> (exp - 1)) - 16)


def ttl_from_byte(b: int) -> int:
    exp, man = b >> 4, b & 0x0F
    return man if exp == 0 else (16 + man) << (exp - 1)


def bulletin_signed_bytes(frame: MessageFrame) -> bytes:
    """What the originator of a bulletin signs: the whole message, not one fragment."""
    return (
        b"nspgw/v1/bulletin"
        + int(frame.msg.origin).to_bytes(2, "big")
        + frame.msg.seq.to_bytes(4, "big")
        + bytes([frame.precedence])
        + frame.body
    )


def _header(kind: Kind, prec: Precedence, custody: bool, src: int, dst: int, counter: int) -> bytes:
    if not 0 <= counter <= 0xFFFFFFFF:
        raise ValueError(f"frame counter out of range: {counter}")
    if not 1 <= src <= MAX_ADDR or not 1 <= dst <= BROADCAST_ADDR:
        raise ValueError(f"address out of range: {src}→{dst}")
    b0 = (VERSION << 6) | (kind << 3) | (_CUSTODY_BIT if custody else 0) | int(prec)
    return bytes([b0]) + ((src << 12) | dst).to_bytes(3, "big") + counter.to_bytes(4, "big")


def _kind_of(frame: Frame) -> Kind:
    if isinstance(frame, MessageFrame):
        return Kind.MESSAGE
    if isinstance(frame, ReceiptFrame):
        return Kind.RECEIPT
    if isinstance(frame, CustodyAckFrame):
        return Kind.CUSTODY_ACK
    if isinstance(frame, FragmentRequestFrame):
        return Kind.FRAGMENT_REQUEST
    if isinstance(frame, ExpiredFrame):
        return Kind.EXPIRED
    if isinstance(frame, SyncFrame | ProbeFrame | NetworkKeyFrame | BulletinHeldFrame):
        return Kind.CONTROL
    if isinstance(frame, BeaconFrame):
        return Kind.BEACON
    return Kind.ROSTER_UPDATE


def _deltas(values: tuple[int, ...]) -> bytes:
    out, prev = bytearray(), 0
    for v in values:
        if not 0 <= v <= 0xFFFFFFFF:
            raise ValueError(f"value out of range: {v}")
        out += varint(zigzag(v - prev))
        prev = v
    return bytes(out)


def _checked(v: int) -> int:
    if not 0 <= v <= 0xFFFFFFFF:
        raise ValueError(f"value out of range: {v}")
    return v


def _in_range(v: int) -> int:
    if not 0 <= v <= 0xFFFFFFFF:
        raise DecodeError("value out of range")
    return v


def _read_deltas(r: Reader) -> tuple[int, ...]:
    out, prev = [], 0
    while r.remaining:
        prev += unzigzag(r.varint())
        if not 0 <= prev <= 0xFFFFFFFF:
            raise DecodeError("value out of range")
        out.append(prev)
    return tuple(out)


def _plaintext(frame: Frame) -> bytes:
    """Body of a frame kind (sealed for unicast kinds and bulletins)."""
    if isinstance(frame, MessageFrame):
        if frame.msg.origin != frame.src or not 0 <= frame.msg.seq <= MAX_SEQ:
            raise ValueError("message id must be (src, seq) with seq < 2^27")
        fragmented = frame.frag_count > 1
        out = varint(frame.msg.seq << 1 | fragmented)
        if fragmented:
            if not 2 <= frame.frag_count <= MAX_FRAGMENTS or not 0 <= frame.frag_index < frame.frag_count:
                raise ValueError(f"fragment {frame.frag_index}/{frame.frag_count} out of range")
            out += bytes([frame.frag_count - 1, frame.frag_index])
        elif frame.frag_index != 0 or frame.frag_count != 1:
            raise ValueError("fragment count must be ≥ 1")
        last = frame.frag_index == frame.frag_count - 1
        if frame.dst == BROADCAST_ADDR and last:
            if len(frame.signature) != SIGNATURE_LEN:
                raise ValueError("the last fragment of a bulletin carries the originator's signature")
            return out + frame.body + frame.signature
        if frame.signature:
            raise ValueError("only the last fragment of a bulletin carries a signature")
        return out + frame.body
    if isinstance(frame, ReceiptFrame):
        if len(frame.digests) != len(frame.seqs) or any(len(d) != RECEIPT_DIGEST_LEN for d in frame.digests):
            raise ValueError("a receipt carries one 2-byte content digest per message number")
        parts, prev = [], 0
        for seq, digest in zip(frame.seqs, frame.digests, strict=True):
            parts.append(varint(zigzag(_checked(seq) - prev)) + digest)
            prev = seq
        return b"".join(parts)
    if isinstance(frame, CustodyAckFrame):
        return b"".join(int(r.origin).to_bytes(2, "big") + varint(r.counter) for r in frame.refs)
    if isinstance(frame, FragmentRequestFrame):
        if any(not 0 <= i < MAX_FRAGMENTS for i in frame.missing):
            raise ValueError("fragment index out of range")
        return int(frame.msg.origin).to_bytes(2, "big") + varint(frame.msg.seq) + bytes(frame.missing)
    if isinstance(frame, ExpiredFrame):
        return _deltas(frame.counters)
    if isinstance(frame, SyncFrame):
        return bytes([Control.SYNC]) + frame.counter_floor.to_bytes(4, "big")
    if isinstance(frame, ProbeFrame):
        return bytes([Control.PROBE_REPLY if frame.reply else Control.PROBE]) + varint(frame.nonce)
    if isinstance(frame, NetworkKeyFrame):
        return bytes([Control.NETWORK_KEY]) + frame.key.epoch.to_bytes(4, "big") + frame.key.secret
    if isinstance(frame, BulletinHeldFrame):
        return bytes([Control.BULLETIN_HELD]) + _held_plaintext(frame)
    if isinstance(frame, BeaconFrame):
        return varint(frame.roster_version) + varint(frame.queued) + bytes([frame.flags])
    return frame.blob


def _held_plaintext(frame: BulletinHeldFrame) -> bytes:
    """origin (2) ‖ varint(seq) ‖ digest (2) ‖ varint(first box) ‖ varint(gap to the next) …, boxes ascending."""
    if not 1 <= frame.msg.origin <= MAX_ADDR or not 0 <= frame.msg.seq <= MAX_SEQ:
        raise ValueError("bulletin id out of range")
    if len(frame.digest) != RECEIPT_DIGEST_LEN:
        raise ValueError(f"content digest must be {RECEIPT_DIGEST_LEN} bytes")
    boxes = frame.boxes
    if not 1 <= len(boxes) <= MAX_HELD_BOXES or any(not 1 <= b <= MAX_ADDR for b in boxes):
        raise ValueError(f"a bulletin confirmation names 1..{MAX_HELD_BOXES} valid boxes")
    if any(b >= c for b, c in itertools.pairwise(boxes)):
        raise ValueError("boxes of a bulletin confirmation must be strictly ascending")
    out = bytearray(int(frame.msg.origin).to_bytes(2, "big") + varint(frame.msg.seq) + frame.digest)
    prev = 0
    for b in boxes:
        out += varint(b - prev)
        prev = b
    return bytes(out)


def _parse_held(src: BoxAddr, dst: BoxAddr, r: Reader) -> BulletinHeldFrame:
    origin = r.uint(2)
    if not 1 <= origin <= MAX_ADDR:
        raise DecodeError("bulletin confirmation names an invalid originator")
    seq = r.varint()
    if seq > MAX_SEQ:
        raise DecodeError("message sequence number out of range")
    digest = r.take(RECEIPT_DIGEST_LEN)
    boxes: list[BoxAddr] = []
    prev = 0
    while r.remaining:
        gap = r.varint()
        prev += gap
        if gap == 0 or prev > MAX_ADDR or len(boxes) >= MAX_HELD_BOXES:
            raise DecodeError("bulletin confirmation: boxes out of range or not ascending")
        boxes.append(BoxAddr(prev))
    if not boxes:
        raise DecodeError("bulletin confirmation names no box")
    return BulletinHeldFrame(src, dst, MsgId(BoxAddr(origin), seq), digest, tuple(boxes))


def _parse(kind: Kind, src: BoxAddr, dst: BoxAddr, prec: Precedence, ttl: int | None, pt: bytes) -> Frame:
    r = Reader(pt)
    frame: Frame
    if kind == Kind.MESSAGE:
        head = r.varint()
        seq, fragmented = head >> 1, head & 1
        if seq > MAX_SEQ:
            raise DecodeError("message sequence number out of range")
        count, index = (r.u8() + 1, r.u8()) if fragmented else (1, 0)
        if fragmented and (count < 2 or index >= count):
            raise DecodeError("fragment index out of range")
        sig = b""
        if dst == BROADCAST_ADDR and index == count - 1:
            if r.remaining < SIGNATURE_LEN:
                raise DecodeError("bulletin signature missing")
            rest = r.rest()
            body, sig = rest[:-SIGNATURE_LEN], rest[-SIGNATURE_LEN:]
        else:
            body = r.rest()
        msg = MsgId(src, seq)
        return MessageFrame(src, dst, msg, prec, ttl or 0, body, index, count, sig)
    if kind == Kind.RECEIPT:
        seqs, digests, prev = [], [], 0
        while r.remaining:
            prev += unzigzag(r.varint())
            seqs.append(_in_range(prev))
            digests.append(r.take(RECEIPT_DIGEST_LEN))
        return ReceiptFrame(src, dst, tuple(seqs), tuple(digests))
    if kind == Kind.CUSTODY_ACK:
        refs = []
        while r.remaining:
            origin = r.uint(2)
            if not 1 <= origin <= MAX_ADDR:
                raise DecodeError("custody ack names an invalid box address")
            counter = r.varint()
            if counter > 0xFFFFFFFF:
                raise DecodeError("counter out of range")
            refs.append(FrameRef(BoxAddr(origin), counter))
        return CustodyAckFrame(src, dst, tuple(refs))
    if kind == Kind.FRAGMENT_REQUEST:
        origin = r.uint(2)
        if not 1 <= origin <= MAX_ADDR:
            raise DecodeError("fragment request names an invalid box address")
        seq = r.varint()
        if seq > MAX_SEQ:
            raise DecodeError("message sequence number out of range")
        return FragmentRequestFrame(src, dst, MsgId(BoxAddr(origin), seq), tuple(r.rest()))
    if kind == Kind.EXPIRED:
        return ExpiredFrame(src, dst, _read_deltas(r))
    if kind == Kind.CONTROL:
        sub = r.u8()
        if sub == Control.SYNC:
            frame = SyncFrame(src, dst, r.uint(4))
        elif sub in (Control.PROBE, Control.PROBE_REPLY):
            frame = ProbeFrame(src, dst, r.varint(), reply=sub == Control.PROBE_REPLY)
        elif sub == Control.NETWORK_KEY:
            frame = NetworkKeyFrame(src, dst, NetworkKey(r.uint(4), r.take(KEY_LEN)))
        elif sub == Control.BULLETIN_HELD:
            frame = _parse_held(src, dst, r)
        else:
            raise DecodeError(f"unknown control frame {sub} (newer nspgw version?)")
        r.end()
        return frame
    if kind == Kind.BEACON:
        frame = BeaconFrame(src, r.varint(), r.varint(), r.u8())
        r.end()
        return frame
    return RosterUpdateFrame(src, pt)


class FrameCodec:
    """Encode and decode frames for the box `keyring.me` (see module docstring)."""

    def __init__(self, keyring: KeyRing) -> None:
        self.keyring = keyring

    # ---- sending -------------------------------------------------------------------------------------
    def max_body(self, *, broadcast: bool = False, custody: bool = False) -> int:
        """Content bytes one MessageFrame (fragment) can carry (worst-case message fields assumed).

        For a bulletin the last fragment also carries the 64-byte signature; `fragment()` reserves it.
        """
        if broadcast:
            return MAX_BROADCAST_FRAME - FIXED_OVERHEAD - MESSAGE_FIELDS_MAX
        envelope = CUSTODY_OVERHEAD if custody else FIXED_OVERHEAD
        return MAX_UNICAST_FRAME - envelope - MESSAGE_FIELDS_MAX

    def sign_bulletin(self, frame: MessageFrame) -> MessageFrame:
        """The whole bulletin with this box's signature (sign before fragmenting)."""
        from dataclasses import replace

        return replace(frame, signature=self.keyring.sign(bulletin_signed_bytes(frame)))

    def verify_bulletin(self, frame: MessageFrame) -> None:
        """AuthError unless a whole bulletin is signed by its originator, an unrevoked crisis-team box."""
        self.keyring.verify_from(frame.src, frame.signature, bulletin_signed_bytes(frame), role=Role.GCT)

    def encode(
        self,
        frame: Frame,
        counter: int,
        *,
        custody_to: BoxAddr | None = None,
        ttl_s: int | None = None,
        precedence: Precedence | None = None,
    ) -> bytes:
        """Sealed bytes of a frame from this box (≤ 219 unicast, ≤ 231 broadcast).

        ValueError for a frame this box may not send (not ours, too big, bad field ranges); AuthError when
        the destination or custodian is not an unrevoked roster member (there is no key for it).
        A whole bulletin without a signature is signed here.
        """
        kind = _kind_of(frame)
        src = frame.src
        if src != self.keyring.me:
            raise ValueError(f"frame source {src} is not this box ({self.keyring.me})")
        dst = getattr(frame, "dst", BROADCAST_ADDR)
        prec = precedence if precedence is not None else getattr(frame, "precedence", Precedence.ROUTINE)
        if isinstance(frame, MessageFrame) and dst == BROADCAST_ADDR and frame.frag_count == 1 and not frame.signature:
            frame = self.sign_bulletin(frame)
        if (kind in _BROADCAST_KINDS) != (dst == BROADCAST_ADDR) and kind != Kind.MESSAGE:
            raise ValueError(f"{type(frame).__name__} cannot be sent to {dst}")
        custody = custody_to is not None and custody_to != dst
        if custody and dst == BROADCAST_ADDR:
            raise ValueError("broadcast frames are not handed over for custody")
        header = _header(kind, prec, False, src, dst, counter)
        pt = _plaintext(frame)
        if kind in _BROADCAST_KINDS:
            out = header + pt + mac(self.keyring.network_keys()[0].k_mac, header + pt, TAG_LEN)
        elif dst == BROADCAST_ADDR:
            out = header + seal(self.keyring.network_keys()[0], header, pt)
        else:
            out = header + seal(self._pair(src, dst), header, pt)
        if custody:
            assert custody_to is not None
            if ttl_s is None:
                ttl_s = frame.ttl_s if isinstance(frame, MessageFrame) else MAX_TTL_S
            out = self._add_hop(out, custody_to, ttl_s)
        limit = MAX_BROADCAST_FRAME if dst == BROADCAST_ADDR else MAX_UNICAST_FRAME
        if len(out) > limit:
            raise ValueError(f"frame is {len(out)} bytes, more than {limit}: fragment it first")
        return out

    def forward(self, raw: bytes, *, custody_to: BoxAddr | None, ttl_s: int | None) -> bytes:
        """A relay passes on `Received.raw`: unchanged, or with a new hop extension for the next custodian."""
        if len(raw) < FIXED_OVERHEAD or raw[0] & _CUSTODY_BIT:
            raise ValueError("forward() takes Received.raw (a sealed frame without hop extension)")
        dst = int.from_bytes(raw[1:4], "big") & 0xFFF
        if custody_to is None or dst == BROADCAST_ADDR:
            return raw
        # Also the last hop, to the destination itself, carries a hop tag: it is what tells the destination
        # that an old counter comes from a custodian delivering late, not from a replay (security.md §2).
        return self._add_hop(raw, custody_to, MAX_TTL_S if ttl_s is None else ttl_s)

    def _add_hop(self, sealed: bytes, custody_to: BoxAddr, ttl_s: int) -> bytes:
        if custody_to == self.keyring.me:
            raise ValueError("cannot hand custody to this box itself")
        framed = bytes([sealed[0] | _CUSTODY_BIT]) + sealed[1:] + bytes([ttl_to_byte(ttl_s)])
        hop = self._pair(self.keyring.me, custody_to).k_hop
        return framed + mac(hop, framed, HOP_TAG_LEN)

    def _pair(self, src: int, dst: int) -> SymmetricKeys:
        return self.keyring.pair_keys(src, dst)

    # ---- receiving -----------------------------------------------------------------------------------
    def decode(self, data: bytes, hop_src: BoxAddr | None = None) -> Received:
        """Bytes from one hop → Received. DecodeError for malformed bytes, AuthError for forged, altered,
        unknown or revoked senders, frames for another box without custody. Never another exception."""
        try:
            return self._decode(bytes(data), hop_src)
        except (DecodeError, AuthError):
            raise
        except SecurityError as exc:  # roster-level refusals surface as authentication failures
            raise AuthError(str(exc)) from None

    def _decode(self, data: bytes, hop_src: BoxAddr | None) -> Received:
        if len(data) < HEADER_LEN:
            raise DecodeError(f"frame of {len(data)} bytes is shorter than the {HEADER_LEN}-byte header")
        if len(data) > MAX_RADIO_PAYLOAD:
            raise DecodeError(f"frame of {len(data)} bytes exceeds {MAX_RADIO_PAYLOAD}")
        b0 = data[0]
        if b0 >> 6 != VERSION:
            raise DecodeError(f"wire format version {b0 >> 6} is not supported (update this box)")
        kind, custody, prec = Kind((b0 >> 3) & 7), bool(b0 & _CUSTODY_BIT), Precedence(b0 & 3)
        addrs = int.from_bytes(data[1:4], "big")
        src, dst = BoxAddr(addrs >> 12), BoxAddr(addrs & 0xFFF)
        counter = int.from_bytes(data[4:8], "big")
        if not 1 <= src <= MAX_ADDR or dst == 0:
            raise DecodeError("invalid box address in header")
        broadcast = dst == BROADCAST_ADDR
        if kind in _BROADCAST_KINDS and not broadcast:
            raise DecodeError(f"{kind.name.lower()} frame must be broadcast")
        if custody and broadcast:
            raise DecodeError("broadcast frame with a custody extension")
        if kind not in _BROADCAST_KINDS and kind != Kind.MESSAGE and broadcast:
            raise DecodeError(f"{kind.name.lower()} frame cannot be broadcast")
        if src == self.keyring.me:
            raise AuthError("frame claims to come from this box (echo or spoof)")
        self.keyring.sender(src)  # AuthError: unknown or revoked originator
        ttl: int | None = None
        if custody:
            if len(data) < CUSTODY_OVERHEAD:
                raise DecodeError("custody frame truncated")
            hop_from = src if hop_src is None else hop_src
            framed, hop_tag = data[:-HOP_TAG_LEN], data[-HOP_TAG_LEN:]
            if hop_from == self.keyring.me:
                raise AuthError("custody frame claims to come from this box")
            if not check_mac(self._pair(hop_from, self.keyring.me).k_hop, framed, hop_tag):
                raise AuthError(f"custody hop tag from box {hop_from} is invalid")
            ttl = ttl_from_byte(framed[-1])
            data = bytes([b0 & ~_CUSTODY_BIT]) + framed[1:-1]
            b0 &= ~_CUSTODY_BIT
        hop = BoxAddr(hop_src if hop_src is not None else src)
        if hop != src and not broadcast:
            # Only a relay hands over another box's frame, and only with a hop tag under the pair key of that
            # hop: a frame under someone else's radio node or MQTT topic without one is a replay.
            if not custody:
                raise AuthError(f"frame from box {src} passed on by box {hop} without a hop tag")
            if self.keyring.sender(hop).role != Role.CP:
                raise AuthError(f"box {hop} is not a relay and cannot hand over frames of box {src}")
        header_bytes = data[:HEADER_LEN]
        header = FrameHeader(VERSION, int(kind), src, dst, counter, prec, custody, ttl)
        body = data[HEADER_LEN:]
        if len(body) < TAG_LEN:
            raise DecodeError("frame too short for its authentication tag")
        if kind in _BROADCAST_KINDS:
            pt, tag = body[:-TAG_LEN], body[-TAG_LEN:]
            if not any(check_mac(k.k_mac, header_bytes + pt, tag) for k in self.keyring.network_keys()):
                raise AuthError(f"{kind.name.lower()} tag invalid (not from an enrolled box, or an old network key)")
            if kind == Kind.ROSTER_UPDATE:
                try:
                    RosterDelta.from_bytes(pt).verify(self.keyring.authority_public)
                except SecurityError as exc:
                    raise AuthError(str(exc)) from None
            return Received(header, _parse(kind, src, dst, prec, ttl, pt), data, hop)
        if broadcast:
            pt = self._open_any(self.keyring.network_keys(), header_bytes, body)
            frame = _parse(kind, src, dst, prec, ttl, pt)
            assert isinstance(frame, MessageFrame)
            if self.keyring.sender(src).role != Role.GCT:
                raise AuthError(f"bulletin from box {src}, which is not a crisis-team box")
            if frame.frag_count == 1:
                self.verify_bulletin(frame)
            return Received(header, frame, data, hop)
        if dst != self.keyring.me:
            if not custody:
                raise AuthError(f"frame for box {dst} was not handed to this box for custody")
            return Received(header, None, data, hop)
        pt = open_sealed(self._pair(src, dst), header_bytes, body)
        frame = _parse(kind, src, dst, prec, ttl, pt)
        if isinstance(frame, NetworkKeyFrame) and self.keyring.sender(src).role != Role.GCT:
            raise AuthError(f"network key from box {src}, which is not a crisis-team box")
        return Received(header, frame, data, hop)

    @staticmethod
    def _open_any(keys: tuple[SymmetricKeys, ...], ad: bytes, sealed: bytes) -> bytes:
        for k in keys:
            try:
                return open_sealed(k, ad, sealed)
            except AuthError:
                continue
        raise AuthError("bulletin does not open under the network key (forged, or an old network key)")
