"""Broker presence: who is on the MQTT broker right now, authenticated and safe against replay.

The MQTT ecosystem's convention (the "birth and death certificate" of Sparkplug, Home Assistant's
availability topics): a client publishes a *retained* "online" status when it connects and leaves a *Last
Will* "offline" on the same topic, which the broker publishes when the client drops off without a clean
DISCONNECT (MQTT 5.0 §3.1.2.5: keep-alive expiry, a broken connection). Our topic:

    nspgw/v1/<network>/presence/<addr>          retained, QoS 1; the ACL lets only box <addr> write it

The broker is an untrusted link (docs/security.md), so the payload is signed like a bulletin, with the box's
Ed25519 key from the roster, and a verifier ignores what it cannot verify:

    "NP" | version 1 | status (1 online, 0 offline) | addr (2, big-endian) | seq (8, big-endian) | signature (64)

The signature covers a domain label, the network name and the first 14 bytes. **Replay without clocks**: `seq`
strictly increases per box across restarts (blocks reserved in the box's store before use, like frame
counters; a crash skips numbers, never reuses them). Each connection takes two numbers: `n` for its "online"
and `n + 1` for its will, so a will always outranks the "online" of its own session and every status of an
older one. A receiver accepts a status only with a `seq` not lower than any it accepted from that box
(kept in its store across restarts; the newest itself comes again with every subscription), so an old
"online" that a broker or an attacker replays after the box's will
cannot mark it online again. What this cannot stop: a broker that withholds the newest status (it can
drop any traffic, like jamming); then the box is tried over IP and the core falls back to the radio after
its unanswered rounds, as without presence.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nspgw.errors import AuthError, DecodeError

if TYPE_CHECKING:
    from nspgw.crypto.keyring import KeyRing

MAGIC = b"NP"
VERSION = 1
_HEAD = struct.Struct(">2sBBHQ")  # magic, version, status, addr, seq
SIGNATURE_LEN = 64
PAYLOAD_LEN = _HEAD.size + SIGNATURE_LEN
_LABEL = b"nspgw presence v1\x00"
SEQ_BLOCK = 10_000  # sequence numbers reserved in the store per daemon start (two per connection)


@dataclass(frozen=True, slots=True)
class Presence:
    addr: int
    online: bool
    seq: int


@dataclass(frozen=True, slots=True)
class LinkPresence:
    """What the MQTT link hands the daemon: a presence payload for box `addr`, not yet verified."""

    link: str
    addr: int
    payload: bytes


@dataclass(frozen=True)
class PresenceSigner:
    """What the daemon gives the MQTT link: signed payloads for its own box, and where sequence numbers
    come from. `payload(online, seq)` signs (thread-safe: Ed25519 signing keeps no state)."""

    payload: Callable[[bool, int], bytes]
    seqs: SeqBlock


def presence_topic(prefix: str, addr: int) -> str:
    """`prefix` is `nspgw/v1/<network>/`."""
    return f"{prefix}presence/{addr:03x}"


def _signed_part(network: str, head: bytes) -> bytes:
    return _LABEL + network.encode("ascii") + b"\x00" + head


def encode(keyring: KeyRing, network: str, p: Presence) -> bytes:
    """The payload, signed with the box's own key."""
    head = _HEAD.pack(MAGIC, VERSION, 1 if p.online else 0, p.addr, p.seq)
    return head + keyring.sign(_signed_part(network, head))


def decode(keyring: KeyRing, network: str, topic_addr: int, payload: bytes) -> Presence:
    """Verify and parse; DecodeError for malformed bytes, AuthError for a bad signature or a box that is not
    enrolled (or revoked), or a payload about another box than the topic names."""
    if len(payload) != PAYLOAD_LEN:
        raise DecodeError(f"presence payload must be {PAYLOAD_LEN} bytes, not {len(payload)}")
    head, sig = payload[:_HEAD.size], payload[_HEAD.size:]
    magic, version, status, addr, seq = _HEAD.unpack(head)
    if magic != MAGIC or version != VERSION or status not in (0, 1):
        raise DecodeError("not an nspgw presence payload (magic, version or status)")
    if addr != topic_addr:
        raise AuthError(f"presence for box {addr} on the topic of box {topic_addr}")
    keyring.verify_from(addr, sig, _signed_part(network, head))
    return Presence(addr, status == 1, seq)


class SeqBlock:
    """Sequence numbers `[start, end)` the daemon reserved in the store before starting the link; taken two
    at a time by paho's thread at each connection (online, will)."""

    def __init__(self, start: int, end: int) -> None:
        self._next, self._end = start, end
        self._lock = threading.Lock()

    def take_pair(self) -> int | None:
        with self._lock:
            if self._next + 2 > self._end:
                return None  # used up (thousands of reconnects in one run): presence pauses until restart
            n = self._next
            self._next += 2
            return n


class SeenSeqs:
    """Per box, the highest presence `seq` accepted (the daemon persists `snapshot()` in its store)."""

    def __init__(self, seen: dict[int, int] | None = None) -> None:
        self._seen = dict(seen or {})

    def fresh(self, p: Presence) -> bool:
        """True (and remembered) unless something newer was accepted from that box. The newest status itself
        may come again (the broker re-sends retained statuses on every subscription, also after our restart,
        when the core has to learn them anew); only an older one is a replay."""
        if p.seq < self._seen.get(p.addr, -1):
            return False
        self._seen[p.addr] = p.seq
        return True

    def newer(self, p: Presence) -> bool:
        """`p` is strictly newer than what was accepted (the store needs writing)."""
        return p.seq > self._seen.get(p.addr, -1)

    def snapshot(self) -> dict[str, int]:
        return {str(k): v for k, v in sorted(self._seen.items())}
