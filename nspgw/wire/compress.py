"""Text compression for message content: raw UTF-8, DEFLATE + dictionary, or the PPM model; smallest wins.

Every method is identified by a small number stored by the caller (`wire.content` puts it in the content
header). A method number is a promise for ever: once a box has shipped with it, every later version must
still decode it, so a changed model or dictionary gets a *new* number and the old one stays
(docs/content-encoding.md, "Versioning").

| method | payload |
|---|---|
| 0 `RAW` | the UTF-8 bytes |
| 1 `DEFLATE_V1` | raw DEFLATE stream, preset dictionary = `dictionary/nl_v1.txt` |
| 2 `PPM_V1` | uvarint character count, then the arithmetic-coded PPM stream (order 4, `dictionary/nl_v1.txt`) |
"""

from __future__ import annotations

import enum
from functools import cache
from importlib import resources

from nspgw.errors import DecodeError, UsageError
from nspgw.wire.compress_deflate import deflate, inflate
from nspgw.wire.compress_ppm import PpmModel

MAX_TEXT_BYTES = 16 * 1024
"""Largest text (UTF-8 bytes) we encode or accept when decoding: bounds memory and decoder time."""


class TextMethod(enum.IntEnum):
    RAW = 0
    DEFLATE_V1 = 1
    PPM_V1 = 2


KNOWN_TEXT_METHODS = frozenset(int(m) for m in TextMethod)

# Characters every model version knows even if its training text lacks them: printable ASCII, newline and
# tab, Latin-1 letters (Dutch, German, French, Turkish names), typographic punctuation that phones and
# word processors substitute, and emoji operators are seen to use in status lines. Anything else is still
# coded exactly, through the model's order -1 escape (about 3 bytes the first time).
BASE_ALPHABET_V1 = (
    "".join(chr(c) for c in range(32, 127))
    + "\n\t"
    + "".join(chr(c) for c in range(0xC0, 0x100) if c not in (0xD7, 0xF7))
    + "–—‘’“”„€…•°½²×→±✅❌⚠🔋💧🔥🚑⛽📞🆘👍🙏😊\ufe0f"
)

_PPM_V1_ORDER = 4


@cache
def training_text(name: str) -> str:
    text = resources.files("nspgw.wire.dictionary").joinpath(name).read_text(encoding="utf-8")
    # A checkout with CRLF conversion must not change the model (and with it every encoded message).
    return text.replace("\r\n", "\n")


@cache
def deflate_dictionary_v1() -> bytes:
    # DEFLATE reaches back at most 32 KiB; the end of the dictionary is the cheapest to refer to.
    return training_text("nl_v1.txt").encode("utf-8")[-32768:]


@cache
def ppm_model_v1() -> PpmModel:
    """The frozen v1 model (built once per process from the training text, ~0.1 s)."""
    lines = [line for line in training_text("nl_v1.txt").split("\n") if line]
    # Escape frequency 5/4 of PPM-D's: operators' messages differ more from the training text than the
    # training text from itself, so novel symbols are a little likelier than PPM-D assumes.
    return PpmModel(lines, _PPM_V1_ORDER, BASE_ALPHABET_V1, escape_num=5, escape_den=4)


def put_uvarint(value: int, out: bytearray) -> None:
    """Unsigned LEB128."""
    if value < 0:
        raise ValueError("uvarint must be >= 0")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def get_uvarint(data: bytes, pos: int, limit: int = 1 << 32) -> tuple[int, int]:
    """Read an unsigned LEB128 at `pos`: (value, next pos). Minimal encodings only; DecodeError otherwise."""
    value = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise DecodeError("bericht is afgekapt (getal onvolledig)")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            if b == 0 and shift:
                raise DecodeError("getal niet minimaal gecodeerd")
            break
        shift += 7
        if value > limit:
            break
    if value > limit:
        raise DecodeError(f"getal {value} buiten bereik (max {limit})")
    return value, pos


def check_text(text: str, what: str = "tekst") -> bytes:
    """The UTF-8 bytes of `text`, or UsageError if it cannot be sent (too long, lone surrogates)."""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{what}: bevat tekens die geen geldige tekst zijn (verkeerde tekencodering? gebruik "
                         "UTF-8) / contains characters that are not valid text (wrong encoding? use UTF-8)") from None
    if len(raw) > MAX_TEXT_BYTES:
        raise UsageError(f"{what}: te lang ({len(raw)} bytes, maximaal {MAX_TEXT_BYTES})")
    return raw


def compress_text(text: str) -> tuple[TextMethod, bytes]:
    """The smallest encoding of `text`: (method, payload). Never larger than the UTF-8 bytes."""
    raw = check_text(text)
    best = (TextMethod.RAW, raw)
    if not raw:
        return best
    ppm = bytearray()
    put_uvarint(len(text), ppm)
    ppm += ppm_model_v1().encode(text)
    if len(ppm) < len(best[1]):
        best = (TextMethod.PPM_V1, bytes(ppm))
    zd = deflate(raw, deflate_dictionary_v1())
    if len(zd) < len(best[1]):
        best = (TextMethod.DEFLATE_V1, zd)
    return best


def decompress_text(method: int, payload: bytes) -> str:
    """Inverse of `compress_text`; DecodeError for an unknown method or any bad payload."""
    if method == TextMethod.RAW:
        raw = payload
    elif method == TextMethod.DEFLATE_V1:
        raw = inflate(payload, deflate_dictionary_v1(), MAX_TEXT_BYTES)
    elif method == TextMethod.PPM_V1:
        n_chars, pos = get_uvarint(payload, 0, MAX_TEXT_BYTES)
        text = ppm_model_v1().decode(payload[pos:], n_chars)
        if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
            raise DecodeError(f"tekst is langer dan het maximum van {MAX_TEXT_BYTES} bytes")
        return text
    else:
        raise DecodeError(
            f"onbekende tekstcodering {method}: dit bericht komt van een nieuwere nspgw-versie; werk deze box bij"
        )
    if len(raw) > MAX_TEXT_BYTES:
        raise DecodeError(f"tekst is langer dan het maximum van {MAX_TEXT_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("tekst is geen geldige UTF-8") from None
