"""The link contract every transport adapter implements (MQTT now, the Meshtastic radio later).

A link moves opaque, already sealed nspgw frames between boxes. It never decrypts, never decides what a frame
means and never stores anything: the core's SQLite outbox is the authority, so a frame is only done when a
custody ack or receipt comes back end to end, never when a link said it left.

Events go to the daemon as `(kind, payload)` pairs through an `EventSink` (usually a bounded queue's
`put_nowait`): kinds are `"frame"` (LinkFrame), `"state"` (LinkState) and `"delivered"` (LinkDelivered).
Sinks are called on the adapter's own thread and must not block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

EventSink = Callable[[str, object], None]
"""Called as `sink(kind, payload)` from the adapter's thread. Must return quickly and never block."""

# Link state statuses. Only CONNECTED moves frames right now; all others mean "the link retries by itself".
CONNECTING = "connecting"
CONNECTED = "connected"
DISCONNECTED = "disconnected"
AUTH_FAILED = "auth_failed"
TLS_ERROR = "tls_error"
STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class LinkState:
    """A link's connection state. `detail` is Dutch first, for the operator (`nspgw status`)."""

    link: str
    status: str
    detail: str

    @property
    def connected(self) -> bool:
        return self.status == CONNECTED


@dataclass(frozen=True, slots=True)
class LinkFrame:
    """A frame received on a link. `src_addr` is what the transport claims (an MQTT topic level, a radio
    node number), verified by the codec: the end-to-end tag names the originator, a hop tag the hop sender."""

    link: str
    src_addr: int
    dst_addr: int
    data: bytes


@dataclass(frozen=True, slots=True)
class LinkDelivered:
    """The transport's next hop took a frame handed to `send(..., ref=ref)` (MQTT: the broker's PUBACK).

    `ok` False means the next hop refused it (e.g. MQTT v5 PUBACK reason "not authorised") or the link's own
    queue was full; `detail` says why. This is hop progress only, never end-to-end delivery."""

    link: str
    ref: object
    ok: bool
    detail: str = ""


@runtime_checkable
class Link(Protocol):
    """What the daemon needs from any transport. All methods are safe to call from any thread."""

    name: str

    @property
    def state(self) -> LinkState: ...

    def start(self) -> None:
        """Begin connecting in the background; returns at once. Reconnects forever until `stop()`."""

    def stop(self) -> None:
        """Disconnect and end the adapter's threads. Idempotent."""

    def send(self, hop_dst_addr: int, data: bytes, precedence: int = 3, *, ref: object = None) -> None:
        """Hand one sealed frame to the link for `hop_dst_addr`. Never blocks for long; raises
        `nspgw.errors.UsageError` for a frame or address the link can never carry."""


# -- the driver's view of its links (nspgw/daemon/driver.py) ----------------------------------------------
# The daemon's adapters (MeshtasticRadio, MqttLink) and the simulator's ports (nspgw/sim/scenario_ports.py)
# both implement these, so `nspgw run` and `nspgw sim run` hand frames over through the same calls.


class Clock(Protocol):
    """Monotonic seconds: `time.monotonic` in the daemon, the mesh's virtual clock in the simulator."""

    def now(self) -> float: ...


class RadioPort(Protocol):
    """A radio that takes a sealed frame for a Meshtastic node number (0xFFFFFFFF: broadcast).

    It later reports, through its own event path, the packet id it gave the frame (so the driver can map
    the firmware's ACK/NAK back to the core's tx_ref) and the firmware's routing result."""

    def send(self, hop_dst_addr: int, data: bytes, precedence: int = 3, *, ref: object = None,
             want_ack: bool = False, hops: int | None = None) -> None: ...


class IpPort(Protocol):
    """An IP transport (the MQTT broker) that takes a sealed frame for a roster address (BROADCAST_ADDR: every box)."""

    def send(self, hop_dst_addr: int, data: bytes, precedence: int = 3, *, ref: object = None) -> None: ...
