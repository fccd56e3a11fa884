"""Airtime of the operator corpus: nspgw wire format v1 against plain Meshtastic text messages.

Per message, both ways, as they would leave the originating radio (one transmission, no loss):

- nspgw: the text is encoded by `wire.content` (compression / dictionary), wrapped in MessageFrames by the
  real codec (keys of a fixed test network), fragmented at the codec's `max_body`; each frame rides in a
  Meshtastic `Data` on port 311 behind the 16-byte header (`core.airtime.meshtastic_frame_len`). Unicast
  frames are counted with the firmware's PKI overhead (+12 bytes), because firmware 2.7 PKI-encrypts direct
  messages whenever it knows the destination key. Plus the message's share of an end-to-end receipt: the
  receiving box sends one ReceiptFrame per `receipt_batch` messages from the same sender that arrive within
  its batching window (default k = 4: a busy NSP ↔ CP exchange; k = 1 is the worst case, also reported).
  Bulletins (broadcast) carry the 64-byte Ed25519 signature and get no receipts.
- baseline: the same UTF-8 text as `TEXT_MESSAGE_APP`, sent the same way (direct message with PKI, or
  broadcast for bulletins), split on UTF-8 boundaries into the largest chunks the firmware actually
  transmits: `DATA_PAYLOAD_LEN` (233) would be refused as TOO_LARGE once the firmware adds `bitfield`
  (2 bytes), so 232 for a broadcast and 220 for a PKI direct message. Routing ACKs (want_ack) are NOT counted
  for the baseline: that favours the baseline, so the ratio is conservative.

Multi-hop rebroadcasting multiplies both sides alike and is left out.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from nspgw.core.airtime import MAX_LORA_PAYLOAD_LEN, meshtastic_frame_len, time_on_air_ms
from nspgw.crypto.enrol import demo_boxes, make_network
from nspgw.crypto.seal import TAG_LEN
from nspgw.errors import ConfigError
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.codec import FIXED_OVERHEAD, FrameCodec
from nspgw.wire.content import encode_content
from nspgw.wire.fragment import fragment
from nspgw.wire.frames import NSPGW_PORTNUM, PKC_OVERHEAD, ContentType, MessageFrame, MsgId, Precedence, ReceiptFrame

TEXT_MESSAGE_APP = 1  # meshtastic portnums.proto
ROUTING_APP = 5
_KIND_CONTENT = {
    "bulletin": ContentType.BULLETIN,
    "emergency": ContentType.NOODMELDING,
    "sitrep": ContentType.SITRAP,
    "request": ContentType.AANVRAAG,
    "chat": ContentType.TEXT,
}
_ROLE_ADDR = {"gct": BoxAddr(1), "cp": BoxAddr(10), "nsp": BoxAddr(101), "all": BROADCAST_ADDR}
_BENCH_SEED = b"nspgw airtime bench seed 0000000"
FIRST_SEQ = 1000  # a box that has already sent a thousand messages: 2-byte sequence varint, not the best case


@dataclass(frozen=True, slots=True)
class CorpusMessage:
    id: str
    kind: str
    priority: str
    from_role: str
    to_role: str
    text: str


@dataclass(frozen=True, slots=True)
class MessageAirtime:
    id: str
    kind: str
    chars: int
    utf8_bytes: int
    content_bytes: int
    frames: int
    nspgw_bytes_on_air: int
    nspgw_airtime_ms: float
    receipt_share_ms: float
    meshtastic_frames: int
    meshtastic_bytes_on_air: int
    meshtastic_text_airtime_ms: float
    meshtastic_ack_airtime_ms: float  # routing ACKs a want_ack DM would add (reported, not in the ratio)


@dataclass(frozen=True, slots=True)
class AirtimeReport:
    preset: str
    receipt_batch: int
    rows: tuple[MessageAirtime, ...]

    def totals(self) -> dict[str, float | int]:
        n = sum(r.nspgw_airtime_ms + r.receipt_share_ms for r in self.rows)
        m = sum(r.meshtastic_text_airtime_ms for r in self.rows)
        short = [r for r in self.rows if r.chars <= 200]
        return {
            "messages": len(self.rows),
            "nspgw_airtime_ms": round(n, 1),
            "meshtastic_text_airtime_ms": round(m, 1),
            "ratio": round(n / m, 4) if m else 0.0,
            "frame_overhead_bytes": FIXED_OVERHEAD,
            "custody_frame_overhead_bytes": FIXED_OVERHEAD + 4,
            "nspgw_frames": sum(r.frames for r in self.rows),
            "meshtastic_frames": sum(r.meshtastic_frames for r in self.rows),
            "nspgw_bytes_on_air": sum(r.nspgw_bytes_on_air for r in self.rows),
            "meshtastic_bytes_on_air": sum(r.meshtastic_bytes_on_air for r in self.rows),
            "receipt_airtime_ms": round(sum(r.receipt_share_ms for r in self.rows), 1),
            "meshtastic_text_with_acks_airtime_ms": round(m + sum(r.meshtastic_ack_airtime_ms for r in self.rows), 1),
            "short_messages": len(short),
            "short_messages_single_frame_pct": round(100 * sum(r.frames == 1 for r in short) / len(short), 1)
            if short else 100.0,
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "preset": self.preset,
            "receipt_batch": self.receipt_batch,
            "totals": self.totals(),
            "messages": [asdict(r) for r in self.rows],
        }


def load_corpus(path: str | Path) -> list[CorpusMessage]:
    """Read a JSON-lines corpus; ConfigError naming the line for anything missing or malformed."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"corpus {p}: bestand niet gevonden") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"corpus {p}: niet leesbaar ({type(exc).__name__})") from None
    out: list[CorpusMessage] = []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"corpus {p}, regel {no}: geen geldige JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise ConfigError(f"corpus {p}, regel {no}: verwacht een JSON-object")
        if not isinstance(obj.get("text"), str) or not obj["text"]:
            raise ConfigError(f"corpus {p}, regel {no}: veld 'text' ontbreekt of is leeg")
        from_role = obj.get("from_role", "nsp")
        to_role = obj.get("to_role", "cp")
        if from_role not in _ROLE_ADDR or from_role == "all" or to_role not in _ROLE_ADDR:
            raise ConfigError(f"corpus {p}, regel {no}: onbekende rol {from_role!r} → {to_role!r}")
        prio = obj.get("priority", "routine")
        if prio.upper() not in Precedence.__members__:
            raise ConfigError(f"corpus {p}, regel {no}: onbekende prioriteit {prio!r}")
        out.append(CorpusMessage(str(obj.get("id", no)), str(obj.get("kind", "chat")), prio, from_role, to_role,
                                 obj["text"]))
    if not out:
        raise ConfigError(f"corpus {p}: geen berichten")
    return out


def text_chunk_limit(*, pkc: bool) -> int:
    """Largest TEXT_MESSAGE_APP payload the firmware sends: 16 + Data(2 + 3 + n + 2) [+ 12] ≤ 255."""
    return MAX_LORA_PAYLOAD_LEN - meshtastic_frame_len(200, TEXT_MESSAGE_APP) + 200 - (PKC_OVERHEAD if pkc else 0)


def _text_chunks(text: str, limit: int) -> list[bytes]:
    """UTF-8 text split at `limit` bytes without cutting a character (as a client splitting long text would)."""
    data = text.encode("utf-8")
    chunks, pos = [], 0
    while pos < len(data):
        end = min(pos + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        chunks.append(data[pos:end])
        pos = end
    return chunks


def measure(corpus: list[CorpusMessage], preset: str = "LONG_FAST", receipt_batch: int = 4,
            tag_bytes: int = TAG_LEN) -> AirtimeReport:
    """`tag_bytes` other than the v1 tag (8) models another AEAD's tag (AES-SIV and AES-GCM-SIV: 16): every
    frame grows by the difference and carries that much less body (docs/security.md §4, the AEAD choice)."""
    if receipt_batch < 1:
        raise ConfigError("receipt_batch must be ≥ 1")
    if not TAG_LEN <= tag_bytes <= 32:
        raise ConfigError(f"tag_bytes must be {TAG_LEN}..32")
    extra = tag_bytes - TAG_LEN
    net = make_network(demo_boxes(), _BENCH_SEED)
    codecs: dict[int, FrameCodec] = {}
    rows = []
    counter = 0
    for i, m in enumerate(corpus):
        src = _ROLE_ADDR[m.from_role]
        dst = _ROLE_ADDR[m.to_role]
        if dst == src:
            dst = BoxAddr(102) if src == 101 else BoxAddr(11)
        codec = codecs.setdefault(src, FrameCodec(net.keyring(src)))
        broadcast = dst == BROADCAST_ADDR
        body = encode_content(_KIND_CONTENT.get(m.kind, ContentType.TEXT), m.text)
        frame = MessageFrame(src, dst, MsgId(src, FIRST_SEQ + i), Precedence[m.priority.upper()], 3600, body)
        if broadcast:
            frame = codec.sign_bulletin(frame)
        pkc = 0 if broadcast else PKC_OVERHEAD
        n_bytes, n_ms = 0, 0.0
        parts = fragment(frame, codec.max_body(broadcast=broadcast) - extra)
        for part in parts:
            counter += 1
            on_air = meshtastic_frame_len(len(codec.encode(part, counter)) + extra, NSPGW_PORTNUM) + pkc
            n_bytes += on_air
            n_ms += time_on_air_ms(on_air, preset)
        receipt_ms = 0.0
        if not broadcast:
            rcodec = codecs.setdefault(dst, FrameCodec(net.keyring(dst)))
            seqs = tuple(range(FIRST_SEQ + i, FIRST_SEQ + i + receipt_batch))
            receipt = rcodec.encode(ReceiptFrame(dst, src, seqs, tuple(bytes(2) for _ in seqs)), counter)
            receipt_ms = time_on_air_ms(meshtastic_frame_len(len(receipt) + extra, NSPGW_PORTNUM) + PKC_OVERHEAD,
                                        preset) / receipt_batch
        m_bytes, m_ms, ack_ms = 0, 0.0, 0.0
        chunks = _text_chunks(m.text, text_chunk_limit(pkc=not broadcast))
        for chunk in chunks:
            on_air = meshtastic_frame_len(len(chunk), TEXT_MESSAGE_APP) + pkc
            m_bytes += on_air
            m_ms += time_on_air_ms(on_air, preset)
            if not broadcast:  # Routing{} with request_id, never PKI-encrypted (firmware excludes ROUTING_APP)
                ack_ms += time_on_air_ms(meshtastic_frame_len(0, ROUTING_APP, request_id=1), preset)
        rows.append(MessageAirtime(
            m.id, m.kind, len(m.text), len(m.text.encode("utf-8")), len(body), len(parts), n_bytes,
            round(n_ms, 1), round(receipt_ms, 1), len(chunks), m_bytes, round(m_ms, 1), round(ack_ms, 1)))
    return AirtimeReport(preset, receipt_batch, tuple(rows))
