"""Events the driver feeds into `Node.handle(event, now)`. Frozen values; the core never reads a clock."""

from __future__ import annotations

from dataclasses import dataclass

from nspgw.ids import BoxAddr
from nspgw.wire.frames import MsgId, Precedence

RADIO = "radio"
IP = "ip"
LINKS = (RADIO, IP)


@dataclass(frozen=True, slots=True)
class MessageAccepted:
    """An outbox row just committed (by `nspgw send`, or found in the store at start)."""

    msg: MsgId
    dst: BoxAddr
    precedence: Precedence
    body: bytes  # encoded content (wire.content)
    ttl_s: int | None = None  # None: the precedence's default


@dataclass(frozen=True, slots=True)
class FrameIn:
    """Bytes of one nspgw frame from a link. `hop_src_addr` is the roster address of the sending radio/peer."""

    link: str
    data: bytes
    hop_src_addr: BoxAddr | None = None
    snr: float | None = None
    rssi: int | None = None
    mesh_hops: int = 0  # radio: Meshtastic relays the packet crossed (hop_start - hop_limit); 0 = heard straight


@dataclass(frozen=True, slots=True)
class RadioSendResult:
    """What became of `Transmit.tx_ref`: ok, or an error (`DUTY_CYCLE_LIMIT`, `MAX_RETRANSMIT`, `NO_RESPONSE` …)."""

    tx_ref: int
    ok: bool
    error_reason: str | None = None


@dataclass(frozen=True, slots=True)
class LinkState:
    """An adapter reports its link up or down (radio connected, MQTT broker reachable)."""

    link: str
    up: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PeerHeard:
    """A box's radio was heard (the firmware's node database saw a packet from it)."""

    addr: BoxAddr
    snr: float | None = None
    rssi: int | None = None
    link: str = RADIO


@dataclass(frozen=True, slots=True)
class PeerPresence:
    """The broker says box `addr` is on it (its retained status) or gone (its Last Will). The driver feeds
    only verified reports (see adapters/mqtt_presence.py)."""

    addr: BoxAddr
    online: bool


Event = MessageAccepted | FrameIn | RadioSendResult | LinkState | PeerHeard | PeerPresence
