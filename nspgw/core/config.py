"""Node configuration and the state a node is rebuilt from after a restart (what the store holds)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from nspgw.core.lifecycle import MsgState
from nspgw.crypto.keyring import KeyRing
from nspgw.ids import BoxAddr
from nspgw.wire.frames import MessageFrame, MsgId, Precedence

# Default time to live per precedence (seconds). A FLASH that cannot get through within an hour is better
# reported to its operator (who phones, sends a runner) than delivered late; routine traffic may wait out a
# long outage of the CP. A message's own ttl overrides these.
DEFAULT_TTL_S: dict[Precedence, int] = {
    Precedence.FLASH: 3600,
    Precedence.IMMEDIATE: 4 * 3600,
    Precedence.PRIORITY: 12 * 3600,
    Precedence.ROUTINE: 48 * 3600,
}


def body_digest(body: bytes) -> bytes:
    """Short digest to tell a duplicate from a different message under a reused MsgId (restored sender)."""
    return hashlib.sha256(body).digest()[:8]


@dataclass(frozen=True)
class NodeConfig:
    keyring: KeyRing
    preset: str = "LONG_FAST"
    region: str = "EU_868"
    duty_window_s: float = 3600.0
    # Share of the duty-cycle budget ROUTINE traffic and beacons may not spend, so a FLASH still fits after
    # an hour of chatter (EU868: 36 s/h total; 20 % keeps ~7 s ≈ 3 full frames for urgent traffic).
    reserve_fraction: float = 0.2
    # The radio is "busy" for time on air plus this margin (firmware CSMA backoff, serial latency).
    radio_margin_s: float = 0.5
    heard_fresh_s: float = 7200.0  # a peer heard this recently is tried directly
    # Receipts and custody acks wait this long to share one frame (FLASH a quarter of it): a frame costs
    # ≥ 0.5 s of air whatever it carries, a few seconds more before "delivered" costs nothing.
    receipt_delay_s: float = 5.0
    ack_timeout_s: float = 45.0  # first retry after this (× 2^attempt, jittered)
    max_backoff_s: float = 1800.0
    direct_attempts_before_relay: int = 2
    # Held by a relay but no receipt after this long (doubling): the receipt may have been lost on the way
    # back, so the originator sends once more; the reader deduplicates and confirms again.
    held_recheck_s: float = 1800.0
    beacon_interval_s: float = 3600.0
    checkpoint_interval_s: float = 60.0
    counter_block: int = 64
    sync_hint_interval_s: float = 300.0
    # Frames one neighbour may have in our custody at a time: a relay's store is shared by all its NSPs, and
    # one (stolen, or broken) box must not fill it. 256 × ≤ 231 bytes ≈ 58 KiB; an NSP sends a few dozen
    # messages in a long outage. Beyond it the frame is refused (no ack): the sender keeps it and retries.
    custody_quota_per_hop: int = 256
    ttl_s: dict[Precedence, int] = field(default_factory=lambda: dict(DEFAULT_TTL_S))

    @property
    def me(self) -> BoxAddr:
        return self.keyring.me


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One of our own messages not yet delivered or expired, as the store keeps it."""

    msg: MsgId
    dst: BoxAddr
    precedence: Precedence
    body: bytes
    ttl_remaining_s: float
    state: MsgState = MsgState.ACCEPTED
    acked_frags: tuple[int, ...] = ()
    pending: tuple[BoxAddr, ...] | None = None  # bulletin: boxes whose receipt is still missing


@dataclass(frozen=True, slots=True)
class CustodyItem:
    origin: BoxAddr
    counter: int
    dst: BoxAddr
    precedence: Precedence
    raw: bytes
    ttl_remaining_s: float
    from_hop: BoxAddr


@dataclass
class NodeState:
    """What `Store.load_state()` returns; everything else a node knows is rebuilt or relearnt."""

    counter_reserved: int = 1
    outbox: list[OutboxItem] = field(default_factory=list)
    custody: list[CustodyItem] = field(default_factory=list)
    frames_sent: dict[int, tuple[int, int]] = field(default_factory=dict)  # counter → (seq, frag)
    frame_hops: dict[int, BoxAddr] = field(default_factory=dict)  # counter → the hop it was sent to
    replay: dict[int, bytes] = field(default_factory=dict)
    custody_windows: dict[int, bytes] = field(default_factory=dict)  # origin → custody replay window
    frame_digests: dict[int, bytes] = field(default_factory=dict)  # sender → recent counters and digests
    delivered: set[MsgId] = field(default_factory=set)
    body_digests: dict[MsgId, bytes] = field(default_factory=dict)  # inbox: `body_digest(body)` per message
    fragments: list[MessageFrame] = field(default_factory=list)
    expired: dict[int, BoxAddr] = field(default_factory=dict)  # recently expired messages: seq → destination
