"""Actions `Node` asks the driver to carry out.

Contract (persist before acknowledging): the driver applies every `Store*`/`Drop*` action of one `handle`
call in ONE SQLite transaction (`Store.apply`), and only after that commit hands the `Transmit`s to the
links and shows the `Notice`s. A receipt or custody acknowledgement is therefore never on air before the
inbox or custody row it vouches for is durable.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from nspgw.core.lifecycle import MsgState
from nspgw.crypto.keys import NetworkKey
from nspgw.crypto.roster import Roster
from nspgw.ids import BoxAddr
from nspgw.wire.frames import MessageFrame, MsgId, Precedence


@dataclass(frozen=True, slots=True)
class Transmit:
    """Hand `data` to `link`; `hop_dst` None = broadcast. `airtime_ms` is the estimate the ledger booked."""

    link: str
    hop_dst: BoxAddr | None
    data: bytes
    precedence: Precedence
    tx_ref: int
    airtime_ms: float
    # Ask the radio firmware for the destination's ack (it retransmits, then NAKs MAX_RETRANSMIT). Only for
    # small end-to-end notifications sent straight to a box that Meshtastic may reach through rebroadcasts:
    # nothing of ours acknowledges them hop by hop.
    want_ack: bool = False
    # The Meshtastic hop limit the core asks for (core/reach.py): 0 for the radios in reach only (a beacon
    # says "I am here" to the boxes that hear this radio itself), n for at most n relays (a DM to a box the
    # post tree places n relays away, a bulletin for the CPs' own posts); None: the radio adapter decides
    # (0 to a radio it heard straight, else the radio's configured limit).
    hops: int | None = None


class DetailKind(enum.StrEnum):
    """Why a message or a held frame ended as it did (stored beside its state; worded by the catalogue)."""

    TTL = "ttl"  # its time to live ran out here
    GIVEN_UP = "given_up"  # params: by (the relay that gave up on it)
    UNSENDABLE = "unsendable"  # params: error (cannot be sealed any more: revoked, removed, oversized)
    DELIVERED_LATE = "delivered_late"  # the receipt came after the EXPIRED notice
    HANDED_OVER = "handed_over"  # params: to (the hop or destination that acknowledged custody)
    CUSTODY_EXPIRED = "custody_expired"  # a held frame's time to live ran out here


@dataclass(frozen=True, slots=True)
class Detail:
    """A reason as a kind and its facts; `nspgw.cli.texts.detail_text` words it (the store keeps the words)."""

    kind: DetailKind
    params: dict[str, str | int] = field(default_factory=dict)


class NoticeKind(enum.StrEnum):
    """What the operator is told (the stored notice kind; `nspgw.cli.texts.notice_text` words it)."""

    EXPIRED = "expired"  # our message ran out of time without a receipt
    DELIVERED_LATE = "delivered_late"  # ... and then its receipt came after all
    CLONE_SUSPECTED = "clone_suspected"  # two copies of one box's keys are speaking
    ROSTER_NEWER = "roster_newer"  # a beacon names a newer roster than ours
    SEQ_CONFLICT = "seq_conflict"  # a box reused a message number for other content
    COUNTER_RESYNC = "counter_resync"  # a sync hint moved our counters (restored from a backup?)


@dataclass(frozen=True, slots=True)
class Notice:
    """Operator-visible event: a kind and its facts, never prose (the core speaks no language). `variant`
    picks another wording of the same kind; the driver renders it through the catalogue (`cli/texts.py`)."""

    kind: NoticeKind
    params: dict[str, str | int] = field(default_factory=dict)
    variant: str = ""


@dataclass(frozen=True, slots=True)
class ProbeAnswered:
    """Box `src` answered our probe `nonce` (an operator's ping), handed over by `hop` on `link`."""

    src: BoxAddr
    nonce: int
    link: str
    hop: BoxAddr
    snr: float | None = None
    rssi: int | None = None


@dataclass(frozen=True, slots=True)
class AdoptRoster:
    """A newer roster, verified (signed delta from the network authority, received over the air): the driver
    writes roster.json, then feeds `RosterChanged` so the node adopts it (persist first: a crash between
    the two re-reads the new roster at start, never forgets a revocation already acted on)."""

    roster: Roster


@dataclass(frozen=True, slots=True)
class AdoptNetworkKeys:
    """A newer network key from crisis-team box `src`: the driver writes network.key, then feeds
    `NetworkKeysChanged`."""

    keys: tuple[NetworkKey, ...]
    src: BoxAddr


@dataclass(frozen=True, slots=True)
class StoreCounter:
    """Frame counters below `reserved` may have been used: a restarted node starts at `reserved`."""

    reserved: int


@dataclass(frozen=True, slots=True)
class StoreSeqJump:
    """Move the next message sequence number forward by `by`: this box was restored from an old copy, and
    receivers may already hold messages under the sequence numbers that follow in that copy."""

    by: int


@dataclass(frozen=True, slots=True)
class StoreFrameSent:
    """Frame `counter` carried fragment `frag_index` of our message `seq` (custody acks name counters) to the
    next hop `hop` (None for a broadcast): only that hop can acknowledge custody of it or report it expired."""

    counter: int
    seq: int
    frag_index: int
    hop: BoxAddr | None = None


@dataclass(frozen=True, slots=True)
class StoreOutboxState:
    """Our message `seq` moved to `state`; `acked_frags` = fragments a relay holds; `pending` = bulletin boxes."""

    seq: int
    state: MsgState
    acked_frags: tuple[int, ...] = ()
    pending: tuple[BoxAddr, ...] | None = None
    detail: Detail | str = ""


@dataclass(frozen=True, slots=True)
class StoreReceipt:
    """Box `by` confirmed it stored our message `seq`."""

    seq: int
    by: BoxAddr


@dataclass(frozen=True, slots=True)
class StoreInbox:
    """Deliver a whole message to this box's inbox (UNIQUE(origin, seq): a duplicate is ignored)."""

    frame: MessageFrame
    link: str


@dataclass(frozen=True, slots=True)
class StoreFragment:
    """Keep one fragment of a message for this box until the message is whole."""

    frame: MessageFrame


@dataclass(frozen=True, slots=True)
class DropFragments:
    msg: MsgId


@dataclass(frozen=True, slots=True)
class StoreCustody:
    """This box takes custody of a sealed frame for another box (`raw` = `Received.raw`)."""

    origin: BoxAddr
    counter: int
    dst: BoxAddr
    precedence: Precedence
    raw: bytes
    ttl_s: float
    from_hop: BoxAddr


@dataclass(frozen=True, slots=True)
class DropCustody:
    origin: BoxAddr
    counter: int
    reason: Detail | str


@dataclass(frozen=True, slots=True)
class StoreTtl:
    """Checkpoint of remaining time to live (seconds) so a restart resumes the countdown, never a wall clock."""

    outbox: tuple[tuple[int, float], ...]
    custody: tuple[tuple[BoxAddr, int, float], ...]


@dataclass(frozen=True, slots=True)
class StoreReplayWindow:
    sender: BoxAddr
    window: bytes


@dataclass(frozen=True, slots=True)
class StoreCustodyWindow:
    """Replay window over the counters of `origin`'s frames this relay took into custody."""

    origin: BoxAddr
    window: bytes


@dataclass(frozen=True, slots=True)
class StoreFrameDigests:
    """Short digests of the last frames `sender` sent us directly (counter u32 ‖ digest, repeated)."""

    sender: BoxAddr
    digests: bytes


@dataclass(frozen=True, slots=True)
class StorePeer:
    addr: BoxAddr
    link: str
    snr: float | None
    rssi: int | None


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """Key/value the daemon publishes for `nspgw status` (JSON-serialisable values)."""

    key: str
    value: object


StoreAction = (
    StoreCounter
    | StoreSeqJump
    | StoreFrameSent
    | StoreOutboxState
    | StoreReceipt
    | StoreInbox
    | StoreFragment
    | DropFragments
    | StoreCustody
    | DropCustody
    | StoreTtl
    | StoreReplayWindow
    | StoreCustodyWindow
    | StoreFrameDigests
    | StorePeer
    | StoreStatus
)
# Carried out by the driver itself, after the store commit (the store skips them).
DriverAction = Transmit | ProbeAnswered | AdoptRoster | AdoptNetworkKeys
Action = DriverAction | Notice | StoreAction
