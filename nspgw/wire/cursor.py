"""Byte cursor for the frame codec: bounds-checked reads that raise DecodeError, never IndexError.

Varints are unsigned LEB128 (as in protobuf), at most 10 bytes, and must be minimal: a decoder that accepted
`0x80 0x00` for 0 would let two byte strings mean the same frame, which breaks golden vectors and the
"bytes → frame → same bytes" property the tests rely on.
"""

from __future__ import annotations

from nspgw.errors import DecodeError

MAX_VARINT_BYTES = 10


def varint(value: int) -> bytes:
    """Unsigned LEB128 encoding of `value` (0 ≤ value < 2^64)."""
    if not 0 <= value < 1 << 64:
        raise ValueError(f"varint out of range: {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def zigzag(value: int) -> int:
    """Signed → unsigned so that small magnitudes stay small (protobuf sint64)."""
    return (value << 1) if value >= 0 else ((-value) << 1) - 1


def unzigzag(value: int) -> int:
    return (value >> 1) if not value & 1 else -((value + 1) >> 1)


class Reader:
    """Reads a frame from the front; every read checks the bounds."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self._data = data
        self._pos = pos

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def u8(self) -> int:
        if self._pos >= len(self._data):
            raise DecodeError("frame truncated")
        b = self._data[self._pos]
        self._pos += 1
        return b

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def take(self, n: int) -> bytes:
        if n < 0 or self._pos + n > len(self._data):
            raise DecodeError("frame truncated")
        chunk = self._data[self._pos : self._pos + n]
        self._pos += n
        return chunk

    def rest(self) -> bytes:
        return self.take(self.remaining)

    def varint(self) -> int:
        value = 0
        for i in range(MAX_VARINT_BYTES):
            b = self.u8()
            value |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                if b == 0 and i > 0:
                    raise DecodeError("non-minimal varint")
                if value >= 1 << 64:
                    raise DecodeError("varint out of range")
                return value
        raise DecodeError("varint too long")

    def end(self) -> None:
        if self.remaining:
            raise DecodeError(f"{self.remaining} unexpected bytes at the end of the frame")
