"""The MQTT IP link: sealed nspgw frames through the crisis team's broker while telecom works.

Topics (docs/broker.md): a box publishes on `nspgw/v1/<network>/<src>/<dst>` and subscribes to
`nspgw/v1/<network>/+/<own>` and `nspgw/v1/<network>/+/all`; addresses are 12-bit roster addresses written as
3 lowercase hex digits, `all` is the broadcast (0xFFF). The broker's ACL lets a box write only under its own
address. The topic's `src` is only a claim: the codec verifies the end-to-end tag (or, on a custody hop, the
hop tag keyed for that `src`), so a frame whose authenticated sender differs is either rejected or treated as
relayed by `src`, never as sent by it.

Protocol: MQTT v5. It gives CONNACK reason codes for "bad user name or password" (0x86) and "not authorised"
(0x87; Mosquitto 2.0 sends it for a wrong password too), so a refused login is told apart from a dead broker;
an explicit session expiry interval, so a
persistent session (clean_start False) has a bounded life on the broker instead of living forever; and PUBACK
reason codes, so a refused publish is visible. Mosquitto 2.x speaks v5 and bridges to 3.1.1 brokers.

Threading: all paho work happens on paho's network thread (`loop_start`). Callbacks only parse a topic and
call the daemon's sink; `send` calls paho's `publish`, which only queues the packet (QoS 1) and returns.

Dead broker detection: keepalive K = 10 s. paho sends PINGREQ after K s without outgoing traffic and closes the
connection when nothing came back within K s of that, so a silently dead broker is noticed within about 2K
plus paho's 1 s select tick: < 22 s, inside the 30 s budget. A killed broker on a live host is noticed at once
(the kernel resets the TCP connection).
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from nspgw.adapters.mqtt_presence import LinkPresence, PresenceSigner, presence_topic
from nspgw.adapters.mqtt_settings import (
    MAX_PAYLOAD,
    TOPIC_ROOT,
    MqttSettings,
    addr_level,
    parse_addr_level,
    username_for,
)
from nspgw.adapters.ports import (
    AUTH_FAILED,
    CONNECTED,
    CONNECTING,
    DISCONNECTED,
    STOPPED,
    TLS_ERROR,
    EventSink,
    LinkDelivered,
    LinkFrame,
    LinkState,
)
from nspgw.errors import UsageError
from nspgw.ids import BROADCAST_ADDR

__all__ = ["MAX_PAYLOAD", "MqttLink", "MqttSettings", "MqttStats", "addr_level", "parse_addr_level",
           "queue_sink", "username_for"]

log = logging.getLogger("nspgw.mqtt")

# CONNACK reason codes (MQTT 5.0 section 3.2.2.2) and their v3.1.1 return-code equivalents (4, 5).
_BAD_CREDENTIALS = {134, 4}
_NOT_AUTHORISED = {135, 5}

@dataclass
class MqttStats:
    """Counters for `nspgw status`; written on paho's thread, read anywhere (ints: no torn reads)."""

    received: int = 0
    dropped_oversize: int = 0
    dropped_bad_topic: int = 0
    dropped_queue_full: int = 0
    dropped_rate_limited: int = 0
    published: int = 0
    acked: int = 0
    refused: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class _Client(mqtt.Client):
    """paho's client, remembering why the last connection attempt failed (paho swallows the OSError)."""

    last_connect_error: OSError | None = None
    connect_attempts = 0
    before_connect: Callable[[], None] | None = None  # presence: a fresh will for every connection
    _armed = False

    def reconnect(self) -> MQTTErrorCode:
        self.connect_attempts += 1
        # A new will (two presence numbers) only when the last CONNECT may have reached a broker: an attempt
        # that failed at TCP level sent nothing, so a broker that is down for days uses up no numbers.
        if self.before_connect is not None and (self.last_connect_error is None or not self._armed):
            self.before_connect()
            self._armed = True
        try:
            rc = super().reconnect()
        except OSError as exc:
            self.last_connect_error = exc
            raise
        self.last_connect_error = None
        return rc


class MqttLink:
    """One box's MQTT link. Implements `nspgw.adapters.ports.Link`."""

    name = "mqtt"

    def __init__(self, settings: MqttSettings, sink: EventSink, presence: PresenceSigner | None = None) -> None:
        self.settings = settings
        self._presence = presence
        self._online: bytes | None = None  # this connection's signed "online" (its will is the "offline")
        self._offline: bytes | None = None
        self._sink = sink
        self.stats = MqttStats()
        self._lock = threading.Lock()
        self._pending: dict[int, object] = {}  # mid -> ref, until PUBACK
        self._early: dict[int, tuple[bool, str]] = {}  # PUBACKs that beat publish() returning its mid
        self._state = LinkState(self.name, STOPPED, "nog niet gestart")
        self._auth_backoff = False
        self._started = False
        self._buckets: dict[int, list[float]] = {}  # src addr -> [tokens, last monotonic time]
        net, own = settings.network, addr_level(settings.own_addr)
        self._prefix = f"{TOPIC_ROOT}/{net}/"
        self._subscriptions = [(f"{TOPIC_ROOT}/{net}/+/{own}", 1), (f"{TOPIC_ROOT}/{net}/+/all", 1)]
        if presence is not None:
            self._subscriptions.append((f"{self._prefix}presence/+", 1))
        self._client = self._make_client()
        if presence is not None:
            self._client.before_connect = self._arm_presence

    # ---- public API (any thread) -------------------------------------------------------------------------

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def connect_attempts(self) -> int:
        """TCP connection attempts so far (first connect and every reconnect)."""
        return self._client.connect_attempts

    def pending(self) -> int:
        """Frames published but not yet acknowledged by the broker."""
        with self._lock:
            return len(self._pending)

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        s = self.settings
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = s.session_expiry_s
        self._set_state(CONNECTING, f"verbinden met MQTT-broker {s.host}:{s.port}")
        # connect_async: DNS and TCP happen on paho's thread, so start() never blocks; loop_start retries
        # the first connection too (retry_first_connection=True).
        self._client.connect_async(s.host, s.port, keepalive=s.keepalive_s, clean_start=False,
                                   properties=props)
        self._client.loop_start()

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self._publish_offline()
        self._client.disconnect()
        self._client.loop_stop()
        self._set_state(STOPPED, "gestopt")

    def send(self, hop_dst_addr: int, data: bytes, precedence: int = 3, *, ref: object = None) -> None:
        """Publish a sealed frame for box `hop_dst_addr` (0xFFF = all) with QoS 1. Never blocks.

        MQTT has no priorities: frames leave in the order handed over, and the core's scheduler decides
        that order. While disconnected paho keeps QoS 1 publishes (up to `max_outbound`) and sends them on
        reconnect; a full queue reports `LinkDelivered(ok=False)` and the core retries later."""
        del precedence  # ordering is the core's job; MQTT moves frames in hand-over order
        if not data or len(data) > MAX_PAYLOAD:
            raise UsageError(f"MQTT-frame moet 1..{MAX_PAYLOAD} bytes zijn, niet {len(data)}")
        topic = self._prefix + f"{addr_level(self.settings.own_addr)}/{addr_level(hop_dst_addr)}"
        info = self._client.publish(topic, bytes(data), qos=1, retain=False)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            # MQTT_ERR_NO_CONN still queues a QoS 1 message in paho 2.x; anything else did not queue it.
            self._emit("delivered", LinkDelivered(self.name, ref, False, f"niet in MQTT-wachtrij: {info.rc.name}"))
            return
        with self._lock:
            self.stats.published += 1
            early = self._early.pop(info.mid, None)
            if early is None:
                self._pending[info.mid] = ref
        if early is not None:
            self._emit("delivered", LinkDelivered(self.name, ref, *early))

    # ---- paho callbacks (paho's network thread) ----------------------------------------------------------

    def _make_client(self) -> _Client:
        s = self.settings
        c = _Client(CallbackAPIVersion.VERSION2, client_id=s.effective_client_id, protocol=mqtt.MQTTv5)
        if s.username is not None:
            c.username_pw_set(s.username, s.password)
        if s.uses_tls:  # without ca_file paho loads the system's CAs: `tls = true` never means plaintext
            c.tls_set(ca_certs=str(s.ca_file) if s.ca_file is not None else None,
                      certfile=str(s.cert_file) if s.cert_file else None,
                      keyfile=str(s.key_file) if s.key_file else None, cert_reqs=ssl.CERT_REQUIRED,
                      tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.max_queued_messages_set(s.max_outbound)
        c.reconnect_delay_set(s.backoff_min_s, s.backoff_max_s)
        c.on_connect = self._on_connect
        c.on_connect_fail = self._on_connect_fail
        c.on_subscribe = self._on_subscribe
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_publish = self._on_publish
        return c

    def _on_connect(self, client: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any) -> None:
        code = int(getattr(reason, "value", reason))
        if code == 0:
            if self._auth_backoff:
                self._auth_backoff = False
                client.reconnect_delay_set(self.settings.backoff_min_s, self.settings.backoff_max_s)
            # Always (re)subscribe: cheap, and correct even when the broker lost the session (no persistence).
            # The link reports `connected` on the SUBACK, when it can really receive.
            client.subscribe(self._subscriptions)
            self._publish_online()
            return
        if code in _BAD_CREDENTIALS:
            detail = "MQTT-broker weigert inlog (verkeerde gebruikersnaam/wachtwoord)"
        elif code in _NOT_AUTHORISED:
            # Mosquitto 2.0 answers a wrong password with 0x87 (not authorised), not 0x86.
            detail = "MQTT-broker weigert inlog (verkeerde gebruikersnaam/wachtwoord of geen toestemming)"
        else:
            self._set_state(DISCONNECTED, f"MQTT-broker weigert verbinding ({reason})")
            return
        if not self._auth_backoff:
            # Do not hammer the broker with a wrong password: retry, but slowly (and reset by success).
            self._auth_backoff = True
            client.reconnect_delay_set(self.settings.auth_backoff_min_s, self.settings.auth_backoff_max_s)
        self._set_state(AUTH_FAILED, detail)

    def _on_subscribe(self, _client: mqtt.Client, _ud: Any, _mid: int, reasons: Any, _props: Any) -> None:
        where = f"MQTT-broker {self.settings.host}:{self.settings.port}"
        refused = [r for r in reasons if int(getattr(r, "value", r)) >= 0x80]
        if refused:
            # Sending still works, so the link stays usable; the technician must fix the broker's ACL.
            self._set_state(CONNECTED, f"verbonden met {where}, maar abonnement geweigerd (ACL?): ontvangen werkt niet")
        else:
            self._set_state(CONNECTED, f"verbonden met {where}")

    def _on_connect_fail(self, client: mqtt.Client, _ud: Any) -> None:
        exc = getattr(client, "last_connect_error", None)
        if isinstance(exc, ssl.SSLError):
            self._set_state(TLS_ERROR, f"TLS-fout met MQTT-broker: {_ssl_reason(exc)}")
        else:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc or "onbekend")
            self._set_state(DISCONNECTED, f"MQTT-broker onbereikbaar ({why})")

    def _on_disconnect(self, _client: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if not self._started:
            return
        if self._state.status == AUTH_FAILED:
            return  # the refused CONNACK is the better explanation; keep it
        self._set_state(DISCONNECTED, f"verbinding met MQTT-broker verbroken ({reason})")

    def _on_message(self, _client: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        # paho re-raises callback exceptions on its network thread, which would end the link: never raise.
        try:
            self._handle_message(msg)
        except Exception:  # e.g. a topic that is not UTF-8 (paho decodes it lazily)
            self.stats.dropped_bad_topic += 1

    def _handle_message(self, msg: mqtt.MQTTMessage) -> None:
        # Everything here must be cheap: this runs once per message of any flood.
        payload = msg.payload
        if not payload or len(payload) > MAX_PAYLOAD:
            self.stats.dropped_oversize += 1
            return
        topic = msg.topic
        if not topic.startswith(self._prefix):
            self.stats.dropped_bad_topic += 1
            return
        parts = topic[len(self._prefix):].split("/")
        if parts[0] == "presence" and self._presence is not None:
            self._handle_presence(parts, bytes(payload))
            return
        if msg.retain:
            # Only presence is retained. A retained frame (a box may publish one under its own address now
            # that the broker keeps retained messages) would greet every new subscriber: drop it. It could
            # not be replayed anyway (replay windows); this keeps it from costing a decode.
            self.stats.extra["dropped_retained"] = self.stats.extra.get("dropped_retained", 0) + 1
            return
        src = parse_addr_level(parts[0]) if len(parts) == 2 else None
        dst = parse_addr_level(parts[1]) if len(parts) == 2 else None
        if src is None or dst is None or src == BROADCAST_ADDR or src == self.settings.own_addr:
            self.stats.dropped_bad_topic += 1
            return
        if not self._take_token(src):
            self.stats.dropped_rate_limited += 1
            return
        self.stats.received += 1
        self._emit("frame", LinkFrame(self.name, src, dst, bytes(payload)))

    def _on_publish(self, _client: mqtt.Client, _ud: Any, mid: int, reason: Any, _props: Any) -> None:
        code = int(getattr(reason, "value", reason or 0))
        result = (code < 0x80, "" if code < 0x80 else f"broker weigert frame ({reason})")
        with self._lock:
            if mid in self._pending:
                ref = self._pending.pop(mid)
            else:
                self._early[mid] = result
                return
            if result[0]:
                self.stats.acked += 1
            else:
                self.stats.refused += 1
        self._emit("delivered", LinkDelivered(self.name, ref, *result))

    def _take_token(self, src: int) -> bool:
        """Per-source token bucket. Over MQTT a forger can try far more tags per second than over LoRa
        (docs/security.md, 64-bit tag): capping each topic source at `inbound_rate_per_s` (50/s: far above
        any real box, whose traffic is radio-sized) bounds forgery attempts per source address, and one
        flooding source cannot starve the others of the bounded queue. At most 4094 buckets exist."""
        now = time.monotonic()
        rate, burst = self.settings.inbound_rate_per_s, float(self.settings.inbound_burst)
        bucket = self._buckets.setdefault(src, [burst, now])
        bucket[0] = min(burst, bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if bucket[0] < 1.0:
            return False
        bucket[0] -= 1.0
        return True

    # ---- presence (adapters/mqtt_presence.py; paho's thread except stop) -----------------------------------

    def _arm_presence(self) -> None:
        """Before every connection: two fresh sequence numbers, the "online" to publish once connected and the
        "offline" the broker publishes as our Last Will if we drop off without a clean disconnect."""
        assert self._presence is not None
        pair = self._presence.seqs.take_pair()
        topic = presence_topic(self._prefix, self.settings.own_addr)
        if pair is None:
            self._online = self._offline = None
            self._client.will_clear()
            return
        self._online = self._presence.payload(True, pair)
        self._offline = self._presence.payload(False, pair + 1)
        self._client.will_set(topic, self._offline, qos=1, retain=True)

    def _publish_online(self) -> None:
        if self._online is not None:
            topic = presence_topic(self._prefix, self.settings.own_addr)
            self._client.publish(topic, self._online, qos=1, retain=True)

    def _publish_offline(self) -> None:
        """A clean stop sends no will (MQTT 5.0 §3.14.4): say "offline" ourselves, briefly waiting for it."""
        self._online = None  # our own "offline" coming back must not be "healed" into "online" again
        if self._offline is None or self._state.status != CONNECTED:
            return
        info = self._client.publish(presence_topic(self._prefix, self.settings.own_addr), self._offline, qos=1,
                                    retain=True)
        with contextlib.suppress(RuntimeError, ValueError):
            info.wait_for_publish(timeout=2.0)

    def _handle_presence(self, parts: list[str], payload: bytes) -> None:
        addr = parse_addr_level(parts[1]) if len(parts) == 2 else None
        if addr is None or len(payload) > MAX_PAYLOAD:
            self.stats.dropped_bad_topic += 1
            return
        if addr == self.settings.own_addr:
            # Our own retained status. A will of an older connection that the broker published late (it
            # noticed the dead connection after we were back) would leave us "offline" for every box that
            # subscribes later: publish this connection's "online" again.
            if self._online is not None and payload != self._online and self._state.status == CONNECTED:
                self._publish_online()
            return
        self._emit("presence", LinkPresence(self.name, addr, payload))

    # ---- helpers -----------------------------------------------------------------------------------------

    def _set_state(self, status: str, detail: str) -> None:
        new = LinkState(self.name, status, detail)
        if new == self._state:
            return
        self._state = new
        log.info("mqtt link: %s (%s)", status, detail)
        self._emit("state", new)

    def _emit(self, kind: str, payload: object) -> None:
        try:
            self._sink(kind, payload)
        except Exception:  # a full queue (or a buggy sink) must never kill paho's network thread
            if kind == "frame":
                self.stats.dropped_queue_full += 1
            else:
                self.stats.extra[f"dropped_{kind}"] = self.stats.extra.get(f"dropped_{kind}", 0) + 1


def _ssl_reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificaat van broker niet vertrouwd ({exc.verify_message})"
    return exc.reason or str(exc)


def queue_sink(q: Any) -> EventSink:
    """A sink that puts `(kind, payload)` on a bounded `queue.Queue` without blocking (raises Full: counted)."""
    def sink(kind: str, payload: object) -> None:
        q.put_nowait((kind, payload))
    return sink
