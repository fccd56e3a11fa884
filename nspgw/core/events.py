"""Events the driver feeds into `Node.handle(event, now)`. Frozen values; the core never reads a clock."""

from __future__ import annotations

from dataclasses import dataclass

from nspgw.crypto.keys import NetworkKey
from nspgw.crypto.roster import Roster
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
class LinkChanged:
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


# Operator commands and key material: the driver asks, the node acts inside `handle` (it owns its key ring).


@dataclass(frozen=True, slots=True)
class ProbeRequested:
    """The operator pings `dst` (`nspgw ping`): send it a probe with `nonce`; its reply leaves as a
    `ProbeAnswered` action."""

    dst: BoxAddr
    nonce: int


@dataclass(frozen=True, slots=True)
class RosterChanged:
    """The driver persisted this newer, verified roster (roster.json first): the node adopts it now."""

    roster: Roster


@dataclass(frozen=True, slots=True)
class NetworkKeysChanged:
    """The driver persisted this newer network key set (network.key first): the node adopts it now."""

    keys: tuple[NetworkKey, ...]


@dataclass(frozen=True, slots=True)
class BroadcastRoster:
    """Broadcast a signed roster delta (`nspgw roster broadcast`) once after each delay in `repeats`: nobody
    acknowledges a broadcast, so it goes more than once."""

    blob: bytes
    repeats: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class SendNetworkKey:
    """Send the new network key to each of `boxes`, sealed to each (the crisis team's rotation), once after
    each delay in `repeats`."""

    key: NetworkKey
    boxes: tuple[BoxAddr, ...]
    repeats: tuple[float, ...]


Command = ProbeRequested | RosterChanged | NetworkKeysChanged | BroadcastRoster | SendNetworkKey
Event = MessageAccepted | FrameIn | RadioSendResult | LinkChanged | PeerHeard | PeerPresence | Command
