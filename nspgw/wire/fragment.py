"""Fragmentation of long messages, bounded reassembly and selective repeat.

A message body longer than one frame is cut into `frag_count` ≤ 256 fragments (wire format v1 carries
count-1 and index in one byte each), so one message can be up to 256 × 211 ≈ 53 KB; operator messages are
capped far lower (8 KiB is tested). The receiver keeps partial messages in a `Reassembler` with hard byte
caps per sender and in total: a flood of fragments, forged or not, evicts the oldest partial messages
instead of exhausting memory. `missing()` lists the indexes to ask for in a FragmentRequestFrame
(selective repeat: only what was lost is sent again, which matters when every frame costs ≥ 0.5 s of air).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace

from nspgw.errors import DecodeError
from nspgw.ids import BROADCAST_ADDR
from nspgw.wire.codec import MAX_FRAGMENTS
from nspgw.wire.frames import MessageFrame, MsgId

PARTIAL_OVERHEAD = 256
"""Bytes charged per partial message on top of its content: the objects that track it (dict entries, the first
frame, bookkeeping) cost a few hundred bytes (tracemalloc: ~700 including the frame), so a flood of 1-byte
fragments of distinct messages is bounded by the caps too, not only a flood of large ones."""


def fragment(frame: MessageFrame, max_body: int) -> list[MessageFrame]:
    """Split a whole message into frames carrying at most `max_body` content bytes each.

    A bulletin's signature (64 bytes) rides in the last fragment, so that fragment carries less body.
    ValueError when the message would need more than 256 fragments or `max_body` leaves no room.
    """
    if frame.frag_count != 1:
        raise ValueError("fragment() takes a whole message")
    sig_room = len(frame.signature) if frame.dst == BROADCAST_ADDR else 0
    if max_body - sig_room < 1:
        raise ValueError(f"max_body {max_body} leaves no room for content")
    body = frame.body
    if len(body) + sig_room <= max_body:
        return [frame]
    chunks: list[bytes] = []
    pos = 0
    while len(body) - pos + sig_room > max_body:
        chunks.append(body[pos : pos + max_body])
        pos += max_body
    chunks.append(body[pos:])
    if len(chunks) > MAX_FRAGMENTS:
        raise ValueError(f"message of {len(body)} bytes needs {len(chunks)} fragments, more than {MAX_FRAGMENTS}")
    n = len(chunks)
    return [
        replace(frame, body=c, frag_index=i, frag_count=n, signature=frame.signature if i == n - 1 else b"")
        for i, c in enumerate(chunks)
    ]


@dataclass
class _Partial:
    first: MessageFrame
    count: int
    parts: dict[int, bytes] = field(default_factory=dict)
    signature: bytes = b""
    size: int = 0


class Reassembler:
    """Collects fragments into whole messages, within `max_bytes_per_sender` and `max_bytes_total`.

    When a new fragment would exceed a cap, the least recently touched partial messages (of that sender
    first, for the per-sender cap) are dropped; their senders will be asked again via selective repeat or
    retransmit on timeout. Already completed messages are not remembered here (the core deduplicates by
    MsgId against the store).
    """

    def __init__(self, max_bytes_per_sender: int = 64 * 1024, max_bytes_total: int = 512 * 1024) -> None:
        self.max_bytes_per_sender = max_bytes_per_sender
        self.max_bytes_total = max_bytes_total
        self._partials: OrderedDict[MsgId, _Partial] = OrderedDict()
        self._total = 0
        self._per_sender: dict[int, int] = {}
        self._evicted: list[MsgId] = []
        self.completed_parts: tuple[bytes, ...] = ()  # the fragments of the message `add` last completed

    @property
    def bytes_held(self) -> int:
        return self._total

    def pending(self) -> tuple[MsgId, ...]:
        return tuple(self._partials)

    def add(self, frame: MessageFrame, *, newest_wins: bool = False) -> MessageFrame | None:
        """Add one fragment; the whole message when this completed it, else None.

        DecodeError when the fragment contradicts what was seen of the same message (different count or
        destination, or other bytes at the same index). With `newest_wins` (bulletin fragments: sealed with
        the network key every box holds, so anyone enrolled can forge one in the GCT's name) the newer
        fragment replaces what it contradicts instead: a forged partial can then never block the genuine
        bulletin, whose own fragments overwrite it, and the signature over the whole decides.
        """
        if frame.frag_count == 1:
            return frame
        if not 0 <= frame.frag_index < frame.frag_count <= MAX_FRAGMENTS:
            raise DecodeError("fragment index out of range")
        p = self._partials.get(frame.msg)
        if p is not None and (p.count != frame.frag_count or p.first.dst != frame.dst or
                              (newest_wins and p.first.precedence != frame.precedence)):
            if not newest_wins:
                raise DecodeError(f"fragment of message {frame.msg} disagrees with earlier fragments")
            self._drop(frame.msg)
            p = None
        if p is None:
            p = _Partial(frame, frame.frag_count)
            self._partials[frame.msg] = p
        self._partials.move_to_end(frame.msg)
        if frame.frag_index in p.parts:
            old = p.parts[frame.frag_index]
            last = frame.frag_index == p.count - 1
            if not newest_wins or (old == frame.body and (not last or p.signature == frame.signature)):
                return None  # duplicate (a retransmission crossed a fragment request)
            del p.parts[frame.frag_index]
            self._shrink(frame.msg, p, len(old) + (len(p.signature) if last else 0))
            if not p.parts:
                self._shrink(frame.msg, p, PARTIAL_OVERHEAD)
        cost = len(frame.body) + len(frame.signature) + (0 if p.parts else PARTIAL_OVERHEAD)
        self._make_room(frame.msg, cost)
        if frame.msg not in self._partials:  # evicted itself: the fragment alone exceeds a cap
            return None
        p.parts[frame.frag_index] = frame.body
        if frame.signature or frame.frag_index == p.count - 1:
            p.signature = frame.signature
        p.size += cost
        self._total += cost
        self._per_sender[frame.msg.origin] = self._per_sender.get(frame.msg.origin, 0) + cost
        if len(p.parts) < p.count:
            return None
        self._drop(frame.msg)
        self.completed_parts = tuple(p.parts[i] for i in range(p.count))
        body = b"".join(self.completed_parts)
        return replace(p.first, body=body, frag_index=0, frag_count=1, signature=p.signature,
                       ttl_s=frame.ttl_s)

    def missing(self, msg: MsgId) -> tuple[int, ...]:
        """Fragment indexes of `msg` not yet received (empty when unknown or complete)."""
        p = self._partials.get(msg)
        if p is None:
            return ()
        return tuple(i for i in range(p.count) if i not in p.parts)

    def discard(self, msg: MsgId) -> None:
        if msg in self._partials:
            self._drop(msg)

    def take_evicted(self) -> list[MsgId]:
        """Partial messages dropped to stay within the caps since the last call (the store drops their
        fragments too, or its table would keep what memory let go)."""
        out, self._evicted = self._evicted, []
        return out

    def _shrink(self, msg: MsgId, p: _Partial, n: int) -> None:
        p.size -= n
        self._total -= n
        self._per_sender[msg.origin] = self._per_sender.get(msg.origin, 0) - n

    def _drop(self, msg: MsgId) -> None:
        p = self._partials.pop(msg)
        self._total -= p.size
        left = self._per_sender.get(msg.origin, 0) - p.size
        if left > 0:
            self._per_sender[msg.origin] = left
        else:
            self._per_sender.pop(msg.origin, None)

    def _make_room(self, msg: MsgId, cost: int) -> None:
        origin = msg.origin
        while self._sender_bytes(origin) + cost > self.max_bytes_per_sender:
            victim = next((m for m in self._partials if m.origin == origin and m != msg), None)
            if victim is None:
                break
            self._drop(victim)
            self._evicted.append(victim)
        while self._total + cost > self.max_bytes_total:
            victim = next((m for m in self._partials if m != msg), None)
            if victim is None:
                break
            self._drop(victim)
            self._evicted.append(victim)
        if self._sender_bytes(origin) + cost > self.max_bytes_per_sender or self._total + cost > self.max_bytes_total:
            self._drop(msg)
            self._evicted.append(msg)

    def _sender_bytes(self, origin: int) -> int:
        return self._per_sender.get(origin, 0)
