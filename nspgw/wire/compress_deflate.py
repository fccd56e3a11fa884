"""Raw DEFLATE (RFC 1951) with a preset dictionary (method "deflate").

zlib's `zdict` primes the 32 KiB window with our crisis vocabulary, so even the first words of a short
message can be coded as back-references. Kept next to the PPM coder because it is fast (C) and wins on long
texts that repeat themselves; `compress` picks per message whichever is smaller. Decoding is bounded: at
most `max_bytes` of output are produced, whatever the input.
"""

from __future__ import annotations

import zlib

from nspgw.errors import DecodeError

_WBITS = -15  # raw DEFLATE: no zlib header or Adler-32 (the frame is authenticated; 6 bytes saved)


def deflate(data: bytes, zdict: bytes) -> bytes:
    """Compress with the preset dictionary at maximum effort (messages are small)."""
    comp = zlib.compressobj(level=9, method=zlib.DEFLATED, wbits=_WBITS, memLevel=9, zdict=zdict)
    return comp.compress(data) + comp.flush()


def inflate(data: bytes, zdict: bytes, max_bytes: int) -> bytes:
    """Decompress one complete stream of at most `max_bytes`; DecodeError on anything else."""
    dec = zlib.decompressobj(wbits=_WBITS, zdict=zdict)
    try:
        out = dec.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise DecodeError(f"gecomprimeerde tekst is beschadigd ({exc})") from None
    if len(out) > max_bytes or dec.unconsumed_tail:
        raise DecodeError(f"tekst is langer dan het maximum van {max_bytes} bytes")
    if not dec.eof:
        raise DecodeError("gecomprimeerde tekst is onvolledig")
    if dec.unused_data:
        raise DecodeError("onverwachte bytes na de gecomprimeerde tekst")
    return out
