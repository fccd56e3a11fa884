"""Binary arithmetic coder (32-bit integer, bit-oriented renormalisation).

The classic Witten-Neal-Cleary coder (CACM 30(6), 1987) with "pending" (underflow) bits. It is
bit-oriented rather than a byte-wise range coder because our messages are short: a byte-wise coder wastes up
to a byte at the end, and airtime is the scarce resource, not CPU (a 1,000-char message needs ~3,000
renormalisation steps, a few milliseconds in CPython).

Properties the codec relies on:
- The decoder reads zero bits past the end of its input, so the encoder may drop trailing zero bytes.
- For *any* input bytes the decoder's value stays inside [low, high], so every `decode_target` is in
  [0, total): garbage input decodes to *some* symbols, never to an exception; the caller bounds the number
  of symbols (the character count field).
- `total` must stay below 2**24 so that every symbol of non-zero frequency keeps a non-empty interval
  (after renormalisation the range is > 2**30).
"""

from __future__ import annotations

_BITS = 32
_TOP = (1 << _BITS) - 1
_HALF = 1 << (_BITS - 1)
_QUARTER = 1 << (_BITS - 2)
_THREE_QUARTERS = _HALF + _QUARTER
MAX_TOTAL = 1 << 24


class ArithmeticEncoder:
    """Encode a sequence of (cum, freq, total) intervals into bytes."""

    __slots__ = ("_bits", "_high", "_low", "_pending")

    def __init__(self) -> None:
        self._low = 0
        self._high = _TOP
        self._pending = 0
        self._bits: list[int] = []

    def encode(self, cum: int, freq: int, total: int) -> None:
        """Narrow the interval to [cum, cum + freq) out of `total` (0 < freq, cum + freq <= total)."""
        low = self._low
        rng = self._high - low + 1
        high = low + rng * (cum + freq) // total - 1
        low = low + rng * cum // total
        bits = self._bits
        pending = self._pending
        while True:
            if high < _HALF:
                bits.append(0)
                if pending:
                    bits.extend([1] * pending)
                    pending = 0
            elif low >= _HALF:
                bits.append(1)
                if pending:
                    bits.extend([0] * pending)
                    pending = 0
                low -= _HALF
                high -= _HALF
            elif low >= _QUARTER and high < _THREE_QUARTERS:
                pending += 1
                low -= _QUARTER
                high -= _QUARTER
            else:
                break
            low <<= 1
            high = (high << 1) | 1
        self._low = low
        self._high = high
        self._pending = pending

    def finish(self) -> bytes:
        """Flush: two bits (plus pending) select a point inside the final interval; trailing zeros dropped."""
        bits = self._bits
        pending = self._pending + 1
        if self._low < _QUARTER:
            bits.append(0)
            bits.extend([1] * pending)
        else:
            bits.append(1)
            bits.extend([0] * pending)
        out = bytearray()
        acc = 0
        n = 0
        for b in bits:
            acc = (acc << 1) | b
            n += 1
            if n == 8:
                out.append(acc)
                acc = 0
                n = 0
        if n:
            out.append(acc << (8 - n))
        # The decoder reads zeros past the end: trailing zero bytes carry no information.
        while out and out[-1] == 0:
            out.pop()
        return bytes(out)


class ArithmeticDecoder:
    """Decode what `ArithmeticEncoder` produced. Never raises on any input."""

    __slots__ = ("_data", "_high", "_low", "_pos", "_value")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0  # next bit index
        self._low = 0
        self._high = _TOP
        value = 0
        for _ in range(_BITS):
            value = (value << 1) | self._next_bit()
        self._value = value

    def _next_bit(self) -> int:
        pos = self._pos
        self._pos = pos + 1
        byte_index = pos >> 3
        if byte_index >= len(self._data):
            return 0
        return (self._data[byte_index] >> (7 - (pos & 7))) & 1

    def decode_target(self, total: int) -> int:
        """The cumulative count, in [0, total), that the next symbol's interval contains."""
        rng = self._high - self._low + 1
        target = ((self._value - self._low + 1) * total - 1) // rng
        # Cannot happen while low <= value <= high (an invariant for any input); clamp defensively.
        if target < 0:
            return 0
        if target >= total:
            return total - 1
        return target

    def consume(self, cum: int, freq: int, total: int) -> None:
        """Apply the interval of the symbol just identified from `decode_target`."""
        low = self._low
        rng = self._high - low + 1
        high = low + rng * (cum + freq) // total - 1
        low = low + rng * cum // total
        value = self._value
        data = self._data
        ndata = len(data)
        pos = self._pos
        while True:
            if high < _HALF:
                pass
            elif low >= _HALF:
                low -= _HALF
                high -= _HALF
                value -= _HALF
            elif low >= _QUARTER and high < _THREE_QUARTERS:
                low -= _QUARTER
                high -= _QUARTER
                value -= _QUARTER
            else:
                break
            low <<= 1
            high = (high << 1) | 1
            byte_index = pos >> 3
            bit = (data[byte_index] >> (7 - (pos & 7))) & 1 if byte_index < ndata else 0
            pos += 1
            value = (value << 1) | bit
        self._low = low
        self._high = high
        self._value = value
        self._pos = pos

    @property
    def bits_read(self) -> int:
        """How many bits the decoder has pulled (including zero padding past the end)."""
        return self._pos
