"""Review item 12 (reassembler part): the byte caps also count what each partial message costs in memory, so
a flood of tiny fragments of distinct messages is bounded like a flood of large ones."""

from __future__ import annotations

from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.fragment import PARTIAL_OVERHEAD, Reassembler
from nspgw.wire.frames import MessageFrame, MsgId, Precedence


def test_tiny_fragments_of_many_messages_are_bounded_by_the_caps() -> None:
    r = Reassembler(max_bytes_per_sender=64 * 1024, max_bytes_total=512 * 1024)
    for seq in range(1, 5001):
        r.add(MessageFrame(BoxAddr(1), BROADCAST_ADDR, MsgId(BoxAddr(1), seq), Precedence.FLASH, 0, b"x", 0, 2))
    assert len(r.pending()) <= 64 * 1024 // PARTIAL_OVERHEAD
    assert r.bytes_held <= 64 * 1024
    # and a partial that completes gives its overhead back
    r2 = Reassembler()
    f = MessageFrame(BoxAddr(2), BoxAddr(3), MsgId(BoxAddr(2), 1), Precedence.FLASH, 0, b"ab", 0, 2)
    assert r2.add(f) is None and r2.bytes_held == 2 + PARTIAL_OVERHEAD
    whole = r2.add(MessageFrame(BoxAddr(2), BoxAddr(3), MsgId(BoxAddr(2), 1), Precedence.FLASH, 0, b"cd", 1, 2))
    assert whole is not None and whole.body == b"abcd" and r2.bytes_held == 0
