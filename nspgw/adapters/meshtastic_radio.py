"""The Meshtastic radio as an nspgw link: frames out on port 311, frames and radio events in.

Threading: every library call happens on one worker thread owned by this adapter. Library writes sleep
(0.1 s per write, 0.5 s while the radio's queue is full) and a send on a dead interface can block for 30 s, so
the daemon never calls the library itself: `send()` only queues, and events come back through the sink
`sink(kind, payload)` of the Link contract (nspgw/adapters/ports.py; kinds in radio_events.py), called on the
worker thread: the daemon puts them on its own queue.

pypubsub: the library publishes on one process-global bus from its own publishing thread, holds listeners
weakly and swallows their exceptions. The listeners here are kept in `self._listeners` (strong references),
ignore every interface but ours, and only append a small event to a deque.

Reconnecting: the library never reconnects after a serial unplug and gives up after one TCP retry. We notice
the loss (connection.lost, an interface that is no longer connected, a send or heartbeat that raises), close
the interface and open a new one with exponential backoff, re-detecting the USB port each time.

Nothing queued is lost: frames handed over while the radio is away, misconfigured or busy stay in this
adapter's queue (precedence first, then arrival order) and go out once the radio is back and matches its
profile. A frame whose send raised goes back to the head of the queue, so delivery is at-least-once (the
receiver's replay window drops a duplicate). The queue lives in memory; the core's SQLite outbox stays the
authority: a frame is only done when a custody ack or receipt comes back, never when it left this adapter.

Precedence reaches the radio too: each frame goes with the `MeshPacket.priority` of its precedence
(radio_priority.py), so the firmware's own transmit queue also serves FLASH before relays and routine traffic.

Unknown keys: firmware 2.7 refuses a direct message to a node whose public key it has not heard
(PKI_SEND_FAIL_PUBLIC_KEY, Router::perhapsEncode). The adapter then sends that node our own NodeInfo with
want_response, as the Meshtastic apps do ("exchange user info"), at most once per node per
KEY_EXCHANGE_INTERVAL_S; the NAK goes on to the core, which re-sends the frame after the exchange without
counting a failed attempt (core/outbound.py `send_result`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from nspgw.adapters import radio_profile as profiles
from nspgw.adapters.radio_connect import RadioTarget, close_quietly, open_interface
from nspgw.adapters.radio_events import (
    BROADCAST_NODE,
    RadioAckNak,
    RadioEvent,
    RadioFrame,
    RadioSent,
    RadioState,
    RadioTelemetry,
    packet_to_event,
)
from nspgw.adapters.radio_pacing import OutFrame, RadioOutbox
from nspgw.adapters.radio_priority import mesh_priority
from nspgw.config import Config
from nspgw.errors import RadioError, UsageError
from nspgw.ids import node_id_str
from nspgw.store.keyfiles import CHANNEL_KEY, read_channel_key
from nspgw.wire.frames import MAX_RADIO_PAYLOAD, MAX_UNICAST_FRAME, NSPGW_PORTNUM, PKC_OVERHEAD

log = logging.getLogger("nspgw.radio")


class _UnplugIsExpected(logging.Filter):
    """meshtastic's StreamInterface.__reader logs an unplugged radio (OSError on read) at ERROR as
    "Unexpected OSError, terminating meshtastic reader"; this adapter expects it and reconnects, and says so
    itself at WARNING. The library's line stays, demoted to INFO, so that an operator is not alarmed."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and str(record.msg).startswith("Unexpected OSError, terminating"):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


logging.getLogger("meshtastic.stream_interface").addFilter(_UnplugIsExpected())


def max_payload_on_port(portnum: int) -> int:
    """The largest payload the firmware puts on air for `portnum`.

    Firmware perhapsEncode sets the Data bitfield on every packet it originates (ok-to-MQTT bit) and drops a
    packet whose encoded Data plus the 16-byte header (MESHTASTIC_HEADER_LENGTH) exceeds 255 bytes
    (MAX_LORA_PAYLOAD_LEN) with TOO_LARGE. DATA_PAYLOAD_LEN (233) assumes a one-byte port number and no
    bitfield; with the bitfield and port 311 (a two-byte varint) 231 bytes is the most a frame can carry
    (before any PKI overhead).
    """
    from meshtastic.protobuf import mesh_pb2

    n = MAX_RADIO_PAYLOAD
    while mesh_pb2.Data(portnum=portnum, payload=bytes(n), bitfield=1).ByteSize() + 16 > 255:  # type: ignore[arg-type]
        n -= 1
    return n


MAX_FRAME_BYTES = max_payload_on_port(NSPGW_PORTNUM)
"""231: broadcast frames longer than this would be refused by the radio (TOO_LARGE), so `send` rejects them."""

MAX_DIRECT_FRAME_BYTES = MAX_FRAME_BYTES - PKC_OVERHEAD
"""219 (wire MAX_UNICAST_FRAME): a direct message may be PKI-encrypted by the firmware (+12 bytes, whatever
the client asks), and one that no longer fits is dropped with TOO_LARGE after it left us."""
assert MAX_DIRECT_FRAME_BYTES == MAX_UNICAST_FRAME

EventSink = Callable[[str, object], None]
"""`sink(kind, payload)`, as nspgw.adapters.ports.EventSink: called on the adapter's thread, must not block."""

_KINDS: dict[type, str] = {RadioFrame: "frame", RadioState: "state", RadioSent: "delivered",
                           RadioAckNak: "acknak", RadioTelemetry: "telemetry"}

PKI_SEND_FAIL = "PKI_SEND_FAIL_PUBLIC_KEY"
NODEINFO_PORTNUM = 4  # portnums.proto NODEINFO_APP
KEY_EXCHANGE_INTERVAL_S = 600.0
"""At most one NodeInfo exchange per node per 10 minutes (a NodeInfo DM is ~100 bytes, ~1.3 s on air at
LONG_FAST): firmware's own NodeInfoModule does not send its NodeInfo more often than every 10 minutes
(allocReply's base timeout), and a node that answered a request from us within 12 hours does not answer again
(NodeInfoModule: replies suppressed per requester), so asking more often only spends airtime."""
_REMEMBER_SENT = 512  # packet id -> (node, precedence) of our recent DMs, to name the node of a PKI refusal



class MeshtasticRadio:
    """One radio, as an nspgw Link (nspgw/adapters/ports.py): `name`, `state`, `start()`, `stop()`,
    `send(hop_dst_addr, data, precedence, ref=...)`; `hop_dst_addr` is the next hop's Meshtastic node number."""

    name = "radio"

    def __init__(self, target: RadioTarget, sink: EventSink, *,
                 profile: profiles.FirmwareProfile | None = None, nspgw_psk: bytes | None = None,
                 channel_index: int = profiles.NSPGW_CHANNEL_INDEX, heartbeat_s: float = 60.0,
                 backoff_initial_s: float = 1.0, backoff_max_s: float = 60.0, connect_timeout_s: float = 30.0,
                 send_timeout_s: float = 30.0, opener: Callable[[RadioTarget, float], Any] = open_interface,
                 pace: bool = True) -> None:
        self.target = target
        self._sink = sink
        self._profile = profile
        self._psk = nspgw_psk
        self._channel_index = channel_index
        self._heartbeat_s = heartbeat_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._connect_timeout_s = connect_timeout_s
        self._send_timeout_s = send_timeout_s
        self._opener = opener
        self._cond = threading.Condition()
        self._inbox: deque[tuple[str, Any, Any]] = deque()  # (kind, item, interface) from the pubsub bridge
        self._opening = False
        self._iface: Any = None
        self._my_node = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._state = RadioState(False, "nog niet gestart", "stopped")
        self._listeners: tuple[Callable[..., None], ...] = ()
        self._last_heartbeat = 0.0
        # frames not yet at the radio, FLASH first, released as the pacing allows (radio_pacing.py); `pace`
        # False only for tests of queue order and reconnects against a stand-in radio
        self._outbox = RadioOutbox(profile.modem_preset if profile is not None else "LONG_FAST", pace=pace)
        self._pacer = self._outbox.pacer
        self._dm_sent: OrderedDict[int, tuple[int, int]] = OrderedDict()  # packet id -> (node, precedence)
        self._exchange_due: dict[int, int] = {}  # node -> precedence of the refused frame: NodeInfo to send
        self._exchanged_at: dict[int, float] = {}  # node -> monotonic time of our last NodeInfo to it

    @classmethod
    def from_config(cls, cfg: Config, sink: EventSink, **kw: Any) -> MeshtasticRadio:
        """The box's radio as its configuration describes it: target, role profile, channel index, and the
        network's channel key from `<state_dir>/keys/radio-channel.psk` when present (else the adapter only
        refuses the placeholder key)."""
        key_path = cfg.keys_dir / CHANNEL_KEY
        psk = read_channel_key(key_path) if key_path.exists() else None
        target = RadioTarget.parse(port=cfg.radio.port, host=cfg.radio.host)
        profile = profiles.load_profile(cfg.radio.profile or cfg.role)
        return cls(target, sink, profile=profile, nspgw_psk=psk, channel_index=cfg.radio.channel_index, **kw)

    # ---- public API (any thread) -------------------------------------------------------------------------

    @property
    def state(self) -> RadioState:
        return self._state

    def queued(self) -> int:
        with self._cond:
            return len(self._outbox)

    def send(self, hop_dst_addr: int, data: bytes, precedence: int = 3, *, ref: object = None,
             want_ack: bool = False, hops: int | None = None) -> None:
        """Queue a frame for node number `hop_dst_addr` (0xFFFFFFFF = broadcast). Never blocks.

        `ref` comes back in the "delivered" event (RadioSent) once the radio took the frame. A direct message
        is limited to MAX_DIRECT_FRAME_BYTES (219), a broadcast to MAX_FRAME_BYTES (231). `want_ack` (direct
        messages only) lets the firmware retransmit and report MAX_RETRANSMIT when the destination never acks.
        `hops`: the hop limit the core asks for (0: the radios in reach only, e.g. a beacon; None: ours, see
        `RadioOutbox.hop_limit`)."""
        if not 0 < hop_dst_addr <= 0xFFFFFFFF:
            raise UsageError(f"ongeldig radio-adres {hop_dst_addr}")
        limit = MAX_FRAME_BYTES if hop_dst_addr == BROADCAST_NODE else MAX_DIRECT_FRAME_BYTES
        if not data or len(data) > limit:
            kind = "broadcast" if hop_dst_addr == BROADCAST_NODE else "direct bericht"
            raise UsageError(f"radioframe ({kind}) moet 1..{limit} bytes zijn, niet {len(data)}")
        with self._cond:
            self._outbox.push(hop_dst_addr, data, precedence, ref=ref, want_ack=want_ack, hops=hops)
            self._cond.notify_all()

    def start(self) -> None:
        from pubsub import pub

        if self._thread is not None:
            return
        self._listeners = (self._on_receive, self._on_established, self._on_lost)
        pub.subscribe(self._listeners[0], "meshtastic.receive")
        pub.subscribe(self._listeners[1], "meshtastic.connection.established")
        pub.subscribe(self._listeners[2], "meshtastic.connection.lost")
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="nspgw-radio", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        from pubsub import pub

        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        for fn, topic in zip(self._listeners, ("meshtastic.receive", "meshtastic.connection.established",
                                                "meshtastic.connection.lost"), strict=False):
            try:
                pub.unsubscribe(fn, topic)
            except Exception:  # already gone (pubsub raises if the topic was never created)
                log.debug("unsubscribe %s failed", topic, exc_info=True)
        self._listeners = ()

    # ---- pubsub bridge (library publishing thread): append, notify, nothing else --------------------------

    # While an interface is being opened its identity is not known yet, so events of any interface are kept
    # then and filtered on the worker thread (a frame received during the handshake is not dropped).

    def _on_receive(self, packet: dict[str, Any], interface: Any) -> None:
        if (interface is self._iface or self._opening) and packet.get("raw") is not None:
            self._post("packet", packet["raw"], interface)

    def _on_established(self, interface: Any) -> None:
        if interface is self._iface or self._opening:
            self._post("established", None, interface)

    def _on_lost(self, interface: Any) -> None:
        if interface is self._iface or self._opening:
            self._post("lost", None, interface)

    def _post(self, kind: str, item: Any, interface: Any) -> None:
        with self._cond:
            self._inbox.append((kind, item, interface))
            self._cond.notify_all()

    # ---- worker thread ------------------------------------------------------------------------------------

    def _set_state(self, status: str, detail: str) -> None:
        node = node_id_str(self._my_node) if self._my_node else ""
        new = RadioState(status == "connected", detail, status, node)
        if new != self._state:
            self._state = new
            log.info("radio %s: %s", status, detail)
            self._emit(new)

    def _emit(self, event: RadioEvent) -> None:
        try:
            self._sink(_KINDS[type(event)], event)
        except Exception:  # the daemon's callback must not kill the radio thread
            log.exception("radio event handler failed")

    def _run(self) -> None:
        backoff = self._backoff_initial_s
        next_try = 0.0
        while True:
            with self._cond:
                if self._stopping:
                    break
            if self._iface is None:
                now = time.monotonic()
                if now < next_try:
                    self._wait(next_try - now)
                    continue
                if self._connect():
                    backoff = self._backoff_initial_s
                else:
                    next_try = time.monotonic() + backoff
                    backoff = min(backoff * 2, self._backoff_max_s)
                continue
            self._serve()
        self._drop("gestopt", status="stopped")

    def _wait(self, timeout_s: float) -> None:
        with self._cond:
            self._inbox.clear()  # nothing to bridge while there is no interface
            if not self._stopping:
                self._cond.wait(timeout_s)

    def _connect(self) -> bool:
        self._set_state("connecting", f"verbinden met {self.target.describe()}")
        with self._cond:
            self._inbox.clear()  # events of an earlier interface
            self._opening = True
        try:
            iface = self._opener(self.target, self._connect_timeout_s)
        except RadioError as exc:
            self._set_state("disconnected", str(exc))
            return False
        finally:
            self._opening = False
        with self._cond:
            self._iface = iface
        self._last_heartbeat = time.monotonic()
        return self._apply_check(iface)

    def _apply_check(self, iface: Any) -> bool:
        try:
            self._my_node = int(iface.myInfo.my_node_num) if iface.myInfo else 0
            problems = self._check_profile(iface)
        except (Exception, SystemExit) as exc:
            self._drop(f"radio gaf geen geldige configuratie: {exc}")
            return False
        self._pacer.reset()
        self._pacer.learn_nodes(getattr(iface, "nodesByNum", None))
        try:  # pace by the preset the radio really transmits with (radio_pacing.py)
            from meshtastic.protobuf import config_pb2

            lora = iface.localNode.localConfig.lora
            self._pacer.set_preset(config_pb2.Config.LoRaConfig.ModemPreset.Name(lora.modem_preset))
        except (AttributeError, ValueError):
            log.debug("modem preset of the radio unknown; pacing as %s", self._pacer.preset)
        if problems:
            self._set_state("misconfigured", "; ".join(problems))
        else:
            self._set_state("connected", f"verbonden met {self.target.describe()}")
        return True

    def _check_profile(self, iface: Any) -> list[str]:
        node = iface.localNode
        if self._profile is None:
            return []
        diffs = profiles.compare(self._profile, node.localConfig, None, list(node.channels or []),
                                 nspgw_psk=self._psk)
        problems = [d.message("nl") for d in profiles.critical(diffs)]
        if self._channel_index != profiles.NSPGW_CHANNEL_INDEX:
            ch = next((c for c in node.channels or [] if c.index == self._channel_index), None)
            if ch is None or ch.settings.name != profiles.NSPGW_CHANNEL_NAME:
                problems.append(f"kanaal {self._channel_index} is niet het nspgw-kanaal")
        return problems

    def _unstick(self, iface: Any) -> None:
        """Watchdog (timer thread) for a send that does not return. The library waits without limit
        (`while not _queueHasFreeSpace(): sleep(0.5)`) for a queueStatus a dead radio never sends. Forgetting the
        queue status ends that wait; marking the interface disconnected makes the worker requeue the frame
        and reconnect once sendData returns."""
        log.warning("radio send blocked for %.0f s; treating the radio as gone", self._send_timeout_s)
        try:
            iface.queueStatus = None
            iface.isConnected.clear()
        except Exception:
            log.debug("unsticking the interface failed", exc_info=True)

    def _drop(self, detail: str, status: str = "disconnected") -> None:
        iface, self._iface = self._iface, None
        if iface is not None:
            close_quietly(iface)
        with self._cond:
            self._inbox.clear()
        self._set_state(status, detail)

    def _serve(self) -> None:
        """One step while an interface exists: handle radio events, send one frame, or wait."""
        with self._cond:
            item = self._inbox.popleft() if self._inbox else None
        if item is not None:
            kind, payload, source = item
            if source is not self._iface:
                return  # another interface's event, kept only while ours was being opened
            if kind == "lost":
                self._drop("verbinding met de radio verbroken; opnieuw verbinden")
            elif kind == "established":
                # The library's own TCP retry re-ran the handshake on the same interface: the radio may
                # have been swapped or reconfigured meanwhile, so check it again.
                self._apply_check(self._iface)
            elif kind == "packet":
                event = packet_to_event(payload, self._my_node, self._channel_index)
                if isinstance(event, RadioAckNak):
                    self._pacer.answered(time.monotonic(), event.request_id)
                    if event.error_reason == PKI_SEND_FAIL:
                        self._key_unknown(event.request_id)
                    if not self._pacer.proves_loss(event.request_id, event.error_reason):
                        log.debug("MAX_RETRANSMIT for packet %d sent without want_ack: no proof of loss",
                                  event.request_id)
                        return
                if isinstance(event, RadioFrame):
                    self._pacer.heard(event.from_node, event.hop_start, event.hop_limit)
                if event is not None:
                    self._emit(event)
            return
        if not self._iface.isConnected.is_set():
            self._drop("radio reageert niet meer; opnieuw verbinden")
            return
        now = time.monotonic()
        if now - self._last_heartbeat >= self._heartbeat_s:
            self._last_heartbeat = now
            try:
                self._iface.sendHeartbeat()
            except (Exception, SystemExit) as exc:
                self._drop(f"hartslag naar de radio mislukt ({exc}); opnieuw verbinden")
            return
        with self._cond:
            # One frame in flight at the radio, with room for a relay (radio_pacing.py).
            paced = self._outbox.pace and self._pacer.ready_at() > now
            exchange = (next(iter(self._exchange_due.items()))
                        if self._exchange_due and self._state.connected and not paced else None)
            frame = self._outbox.pop_ready(now) if exchange is None and self._state.connected else None
            if frame is None and exchange is None:
                if not self._inbox and not self._stopping:
                    wait = self._heartbeat_s - (now - self._last_heartbeat)
                    if paced and self._state.connected and (len(self._outbox) or self._exchange_due):
                        wait = min(wait, self._pacer.ready_at() - now)
                    self._cond.wait(max(0.0, wait))
                return
        if exchange is not None:
            self._send_nodeinfo(*exchange)
        elif frame is not None:
            self._transmit(frame)

    def _key_unknown(self, packet_id: int) -> None:
        """The radio refused our DM `packet_id` for want of the destination's public key: plan a NodeInfo
        exchange with that node, unless one went out within KEY_EXCHANGE_INTERVAL_S."""
        sent = self._dm_sent.pop(packet_id, None)
        if sent is None:
            return
        node, precedence = sent
        last = self._exchanged_at.get(node)
        if last is not None and time.monotonic() - last < KEY_EXCHANGE_INTERVAL_S:
            log.debug("key of %s still unknown; NodeInfo exchange already done %.0f s ago",
                      node_id_str(node), time.monotonic() - last)
            return
        self._exchange_due[node] = min(precedence, self._exchange_due.get(node, precedence))

    def _own_user(self, iface: Any) -> Any:
        """Our radio's User (owner names, public key) as a protobuf, from the library's node DB."""
        from google.protobuf import json_format
        from meshtastic.protobuf import mesh_pb2

        user = iface.getMyUser()
        if not user:
            return None
        return json_format.ParseDict(user, mesh_pb2.User(), ignore_unknown_fields=True)

    def _send_nodeinfo(self, node: int, precedence: int) -> None:
        """Send our NodeInfo to `node` with want_response: it learns our key and answers with its own
        (NodeInfoModule), which teaches our radio the key it lacked. NODEINFO_APP is never PKI-encrypted
        (Router::perhapsEncode), so this DM goes out although the key is unknown."""
        del self._exchange_due[node]
        iface = self._iface
        self._exchanged_at[node] = time.monotonic()
        if len(self._exchanged_at) > _REMEMBER_SENT:
            self._exchanged_at.pop(next(iter(self._exchanged_at)))
        try:
            user = self._own_user(iface)
            if user is None:
                log.warning("eigen NodeInfo onbekend; geen sleuteluitwisseling met %s", node_id_str(node))
                return
            payload = user.SerializeToString()
            packet = iface.sendData(payload, destinationId=node, portNum=NODEINFO_PORTNUM,
                                    channelIndex=self._channel_index, wantResponse=True,
                                    hopLimit=self._pacer.hop_limit_for(node, want_ack=False),
                                    priority=mesh_priority(precedence))
        except (Exception, SystemExit) as exc:
            self._drop(f"verzenden mislukt ({exc}); opnieuw verbinden")
            return
        log.info("sleutel van %s onbekend bij de radio: NodeInfo gestuurd (uitwisseling)", node_id_str(node))
        self._pacer.sent(time.monotonic(), int(getattr(packet, "id", 0)), len(payload), direct=True,
                         want_ack=False, relayed=self._pacer.relayed(node))

    def _transmit(self, frame: OutFrame) -> None:
        node, data, want_ack = frame.node, frame.data, frame.want_ack
        iface = self._iface
        hop_limit = self._outbox.hop_limit(frame)  # 0 for a neighbour or a beacon (radio_pacing.py)
        watchdog = threading.Timer(self._send_timeout_s, self._unstick, args=(iface,))
        watchdog.daemon = True
        watchdog.start()
        try:
            # MeshInterface.sendData's `priority` becomes MeshPacket.priority (the library's default RELIABLE
            # otherwise); firmware only fills in a priority the client left UNSET (fixPriority).
            packet = iface.sendData(data, destinationId=node, portNum=NSPGW_PORTNUM,
                                    channelIndex=self._channel_index, wantAck=want_ack, hopLimit=hop_limit,
                                    priority=mesh_priority(frame.precedence))
        except (Exception, SystemExit) as exc:
            with self._cond:
                self._outbox.requeue(frame)  # same precedence and seq: back at its old place
            self._drop(f"verzenden mislukt ({exc}); opnieuw verbinden")
            return
        finally:
            watchdog.cancel()
        if not self._iface.isConnected.is_set():
            # The stream died while writing: the library ignores writes on a closed stream, so this frame may
            # not have reached the radio. Keep it (a duplicate is dropped by the receiver's replay window).
            with self._cond:
                self._outbox.requeue(frame)
            self._drop("verbinding verbroken tijdens verzenden; opnieuw verbinden")
            return
        packet_id = int(getattr(packet, "id", 0))
        self._outbox.sent(time.monotonic(), frame, packet_id)
        if node != BROADCAST_NODE and packet_id:
            self._dm_sent[packet_id] = (node, frame.precedence)
            if len(self._dm_sent) > _REMEMBER_SENT:
                self._dm_sent.popitem(last=False)
        self._emit(RadioSent(request_id=int(getattr(packet, "id", 0)), to_node=node, size=len(data),
                             precedence=frame.precedence, ref=frame.ref))
