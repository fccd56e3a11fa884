"""The gateway daemon (`nspgw run`): one loop feeding events to the core and carrying out its actions.

    events: radio adapter, MQTT adapter, wake socket (`nspgw send`), control socket (`nspgw ping`), signals
        → queue.Queue → Driver (nspgw/daemon/driver.py, the same one `nspgw sim run` drives its boxes with)
        → node.handle(event, now) / node.handle_timer(now)
        → store.apply(actions)            ONE transaction: persist before acknowledging
        → Transmit → radio (BoxAddr → node number via the roster) or MQTT (topic by address)
        → Notice   → log (the store already recorded it as a notice for `nspgw status`)

The queue's `get(timeout=...)` is the loop's only wait; the timeout is the core's next deadline (or the
next heartbeat), never a polling interval. Time for the core is `time.monotonic()`: a Raspberry Pi without
RTC may jump its wall clock by years after NTP comes back, the monotonic clock never jumps.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import random
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from nspgw.cli.texts import notice_text
from nspgw.config import Config
from nspgw.core.actions import AdoptNetworkKeys, AdoptRoster, Notice, ProbeAnswered, StoreInbox, StorePeer
from nspgw.core.config import NodeConfig
from nspgw.core.events import IP, RADIO, PeerPresence
from nspgw.core.node import Node
from nspgw.daemon.control import (
    KEY_COMMANDS,
    Pings,
    adopt_keys,
    check_key_floor,
    key_command,
    record_key_floor,
    relay_alert,
)
from nspgw.daemon.driver import Driver, core_timing
from nspgw.daemon.io import ControlRequest, ControlServer, Waker, control_path
from nspgw.daemon.presence import PresenceBook
from nspgw.daemon.status import HEARTBEAT_S, STATUS_KEY, STUCK_BACKOFF_S, LoopStats, build_record, stamp, summary_nl
from nspgw.daemon.trace import Trace
from nspgw.errors import NspgwError, SecurityError
from nspgw.ids import BoxAddr

log = logging.getLogger("nspgw.daemon")

OUTBOX_REREAD_S = 30.0  # the wake datagram is a hint: re-read the outbox this often anyway
_STATUS_MIN_INTERVAL_S = 1.0  # a busy link changes peers/airtime every frame: not a write each time
_MAX_QUEUED_FRAMES = 5000  # ≈ 1 MB of frames waiting for the loop; LoRa brings a few per second


class Daemon:
    """One box's driver. `run()` blocks until SIGTERM/SIGINT (or `request_stop()`), then returns 0."""

    def __init__(self, cfg: Config, *, handle_signals: bool = True, notifier: Any = None,
                 trace_path: Path | None = None) -> None:
        self.cfg = cfg
        self._trace_path = trace_path  # `nspgw run --trace FILE`: one JSON line per event/action
        self.q: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._frames_dropped = 0
        self._handle_signals = handle_signals
        self._notifier = notifier
        self._stopping = False
        self.store: Any = None
        self.node: Node | None = None
        self.driver: Driver | None = None
        self.radio: Any = None
        self.mqtt: Any = None
        self._waker: Waker | None = None
        self._control: ControlServer | None = None
        self._radio_state: dict[str, Any] = {"status": "disabled", "detail": "radio uitgeschakeld in config",
                                             "node_id": ""}
        self._mqtt_state: dict[str, Any] = {"status": "disabled", "detail": "MQTT uitgeschakeld in config"}
        self._telemetry: dict[str, Any] = {}
        self._console: Any = None  # nspgw.console.server.ConsoleServer when [console] enabled
        self._flash_hook: Any = None  # nspgw.alerts.FlashHook when [alerts] on_flash is set
        self._peers: dict[int, dict[str, Any]] = {}
        self._last_status: dict[str, Any] | None = None
        self._last_status_at = 0.0
        self._status_built_at = -math.inf  # the record (and its backlog estimate) is built at most once a second
        # Loop accounting (`nspgw bench daemon`, the status record's "loop"): every return from the one wait
        # is a wake-up; a timer run that produced nothing is an empty wake-up. A healthy loop has a handful
        # per minute idle; hundreds per second would be a spin.
        self.loop = LoopStats()
        self._presence = PresenceBook(cfg.network.lower())
        self._started_wall = time.time()
        self._journal: Any = None  # ServiceJournal, once the store is open
        self._rng = random.Random(os.urandom(16))
        self._pings = Pings(self._rng)
        self._adopt: list[AdoptRoster | AdoptNetworkKeys] = []  # noted during a step, adopted after it

    # -------------------------------------------------------------------------------------- start/stop
    def start(self) -> None:
        """Open store and keys, build the node, start adapters and helper threads (errors: NspgwError)."""
        from nspgw.store.keyfiles import load_keyring
        from nspgw.store.sqlite import Store

        cfg = self.cfg
        keyring = load_keyring(cfg.keys_dir)
        if keyring.roster.get(keyring.me) is None:
            raise SecurityError(f"dit kastje ({keyring.me}) staat niet in de roster")
        self.store = Store.open(cfg.store_path, create=True)
        check_key_floor(self.store, keyring, cfg.keys_dir)
        me = keyring.me
        ncfg = NodeConfig(keyring, preset=cfg.radio.preset, region=cfg.radio.region)
        ncfg = replace(ncfg, **core_timing(cfg.radio.preset))  # type: ignore[arg-type]
        from nspgw import __version__
        from nspgw.daemon.journal import ServiceJournal

        self._journal = ServiceJournal(self.store, int(me), keyring.sign)
        self._journal.started(__version__, time.monotonic())
        self.node = Node(ncfg, self.store.load_state(me), self._rng)
        self.driver = self._make_driver(self.node)
        self.driver.timer()
        self.driver.feed_outbox()
        self._waker = Waker(cfg.store_path, self.q)
        self._waker.start(self._handle_signals)
        self._control = ControlServer(control_path(cfg.state_dir), self.q)
        self._control.start()
        if cfg.radio.enabled:
            self._start_radio()
        if cfg.mqtt.enabled:
            self._start_mqtt(me)
        self._start_operator_side(keyring)
        log.info("nspgw gestart: kastje %s (adres %d), %d in wachtrij", cfg.name, me, self.node.queued())

    def _make_driver(self, node: Node) -> Driver:
        """The driver with the daemon's observers; the links are plugged in as their adapters start."""
        d = Driver(node, self.store, _MonotonicClock(),
                   trace=Trace(self._trace_path) if self._trace_path is not None else None)
        d.observe(Notice, self._on_notice)
        d.observe(StoreInbox, self._on_inbox)
        d.observe(StorePeer, self._on_peer)
        d.observe(ProbeAnswered, lambda a: self._pings.reply(a, time.monotonic()))
        d.observe(AdoptRoster, self._adopt.append)
        d.observe(AdoptNetworkKeys, self._adopt.append)
        d.after_step.append(self._adopt_keys)
        return d

    def _start_operator_side(self, keyring: Any) -> None:
        """The on_flash hook and the web console: imported only when configured (a plain box loads neither)."""
        if self.cfg.alerts.on_flash:
            from nspgw.alerts import FlashHook

            self._flash_hook = FlashHook(self.cfg.alerts.on_flash,
                                         lambda a: getattr(keyring.roster.get(a), "name", f"#{a}"))
        if self.cfg.console.enabled:
            from nspgw.cli.texts import default_lang
            from nspgw.console.server import ConsoleServer

            console = ConsoleServer(self.cfg, default_lang())
            try:
                console.start()
                self._console = console
            except NspgwError as exc:  # the radio matters more than the web page: log and go on
                log.error("%s", exc)

    def _start_radio(self) -> None:
        from nspgw.adapters.meshtastic_radio import MeshtasticRadio

        self._radio_state = {"status": "connecting", "detail": "starten", "node_id": ""}
        # Try to reconnect at least every 5 s: a replugged USB radio should be back before an operator wonders
        # (one port scan or TCP connect per try costs next to nothing; the adapter's default is 60 s).
        self.radio = MeshtasticRadio.from_config(self.cfg, self._sink("radio"), backoff_max_s=5.0)
        assert self.driver is not None
        self.driver.radio = self.radio
        self.radio.start()

    def _start_mqtt(self, me: int) -> None:
        from nspgw.adapters.mqtt_link import MqttLink, MqttSettings

        m = self.cfg.mqtt
        password = None
        if m.password_file:
            from nspgw.store.keyfiles import read_secret

            password = read_secret(m.password_file).decode("utf-8").strip()
        settings = MqttSettings(
            host=m.host, port=m.port, network=self.cfg.network.lower(), own_addr=me,
            username=m.username or None, password=password, ca_file=_path(m.ca_file) if m.tls else None,
            cert_file=_path(m.cert_file) if m.tls else None, key_file=_path(m.key_file) if m.tls else None,
            keepalive_s=m.keepalive_s, tls=m.tls)
        self._mqtt_state = {"status": "connecting", "detail": "starten"}
        assert self.node is not None
        signer = self._presence.signer(self.store, self.node.cfg.keyring)  # reserves sequence numbers first
        self.mqtt = MqttLink(settings, self._sink("mqtt"), presence=signer)
        assert self.driver is not None
        self.driver.ip = self.mqtt
        self.mqtt.start()

    def _sink(self, source: str) -> Any:
        def sink(kind: str, payload: object) -> None:
            # Received frames are the one input a peer controls (a flood over MQTT, a jammed loop): past the
            # cap they are dropped like frames lost on air (senders retry); state changes always go in.
            if kind == "frame" and self.q.qsize() >= _MAX_QUEUED_FRAMES:
                self._frames_dropped += 1
                if self._frames_dropped in (1, 100) or self._frames_dropped % 10_000 == 0:
                    log.warning("ontvangen frames komen sneller binnen dan verwerkt; %d weggegooid",
                                self._frames_dropped)
                return
            self.q.put((source, (kind, payload)))
        return sink

    def request_stop(self) -> None:
        self._stopping = True
        self.q.put(("stop", None))

    def close(self) -> None:
        if self._console is not None:
            self._console.stop()
            self._console = None
        for name in ("radio", "mqtt"):
            link = getattr(self, name)
            if link is not None:
                try:
                    link.stop()
                except Exception:  # stopping must go on: the store still has to be closed cleanly
                    log.exception("%s stoppen mislukt", name)
                setattr(self, name, None)
        if self.driver is not None:
            self.driver.radio = self.driver.ip = None
        if self._radio_state.get("status") != "disabled":
            self._radio_state = dict(self._radio_state, status="stopped", detail="dienst gestopt")
        if self._mqtt_state.get("status") != "disabled":
            self._mqtt_state = dict(self._mqtt_state, status="stopped", detail="dienst gestopt")
        for helper in (self._control, self._waker):
            if helper is not None:
                helper.close()
        self._control = self._waker = None
        self._pings.close()
        if self.store is not None:
            if self._journal is not None:
                self._journal.stopped(time.monotonic())
            try:
                self._write_status(force=True, running=False)
            except NspgwError:
                log.warning("laatste status niet opgeslagen")
            self.store.close()
            self.store = None
        if self.driver is not None and self.driver.trace is not None:
            self.driver.trace.close()

    # ----------------------------------------------------------------------------------------- the loop
    def run(self) -> int:
        from nspgw.adapters.systemd import Notifier, watchdog_interval_s

        notifier = self._notifier if self._notifier is not None else Notifier()  # non-blocking socket
        try:
            self.start()
            assert self.node is not None and self.driver is not None
            driver = self.driver
            self._write_status(force=True)
            notifier.ready(self._summary())
            log.info("klaar (READY)")
            watchdog = watchdog_interval_s()
            next_watchdog = time.monotonic()
            next_reread = time.monotonic() + OUTBOX_REREAD_S
            while not self._stopping:
                now = time.monotonic()
                deadline = self.node.next_deadline()
                wake_at = min(self._last_status_at + HEARTBEAT_S, next_reread)
                if watchdog is not None:
                    wake_at = min(wake_at, next_watchdog)
                if deadline is not None:
                    wake_at = min(wake_at, deadline)
                ping_at = self._pings.next_deadline()
                if ping_at is not None:
                    wake_at = min(wake_at, ping_at)
                if deadline is not None and deadline <= now and self.loop.stuck_at == deadline:
                    # The core promises a deadline in the future or one handle_timer consumes; if a defect
                    # broke that promise, wait a second instead of spinning a core (and say so once).
                    wake_at = max(wake_at, now + STUCK_BACKOFF_S)
                try:
                    item = self.q.get(timeout=max(0.0, wake_at - now))
                except queue.Empty:
                    item = None
                self.loop.wakeups += 1
                while item is not None:  # a burst of events is handled before the timers
                    self._dispatch(*item)
                    try:
                        item = self.q.get_nowait()
                    except queue.Empty:
                        item = None
                now = time.monotonic()
                deadline = self.node.next_deadline()
                if deadline is not None and deadline <= now:
                    acts = driver.timer()
                    self.loop.timer_runs += 1
                    self.loop.empty_timer_runs += not acts
                    after = self.node.next_deadline()
                    if after is not None and after <= now and not acts:
                        if self.loop.stuck_at is None:
                            log.error("kerntimer schuift niet op (deadline %.3f, nu %.3f): defect, 1 s pauze",
                                      after, now)
                        self.loop.stuck_at = after
                    else:
                        self.loop.stuck_at = None
                if now >= next_reread:
                    next_reread = now + OUTBOX_REREAD_S
                    driver.feed_outbox()
                driver.apply(self._pings.resend(self.node, now))
                self._pings.expire(now)
                if watchdog is not None and now >= next_watchdog:
                    notifier.watchdog()
                    next_watchdog = now + watchdog
                if self._write_status():
                    notifier.status(self._summary())
                self._journal.tick(now)
            notifier.stopping()
            log.info("gestopt op verzoek")
            return 0
        finally:
            self.close()

    def _dispatch(self, source: str, payload: Any) -> None:
        if source == "radio":
            self._radio_event(*payload)
        elif source == "mqtt":
            self._mqtt_event(*payload)
        elif source == "wake":
            assert self.driver is not None
            self.driver.feed_outbox()
        elif source == "control":
            self._control_request(payload)
        elif source in ("signal", "stop"):
            if source == "signal":
                log.info("signaal %s ontvangen: stoppen", signal.Signals(payload).name)
            self._stopping = True

    # -------------------------------------------------------------------- what the daemon adds to a step
    def _on_notice(self, a: Notice) -> bool:
        text = notice_text(a)
        log.warning("melding (%s): %s", a.kind, text)
        assert self.node is not None
        return relay_alert(self.store, self.node, a.kind, text)  # True: an alert joined the outbox

    def _adopt_keys(self) -> None:
        """Key material the core verified: the key files first, then the node adopts it, then the floor."""
        assert self.node is not None and self.driver is not None
        while self._adopt:
            self.driver.apply(adopt_keys(self.node, self.cfg.keys_dir, self._adopt.pop(0), time.monotonic()))
            record_key_floor(self.store, self.node.cfg.keyring)

    def _on_inbox(self, a: StoreInbox) -> None:
        if self._flash_hook is not None:
            self._flash_hook.delivered(a.frame)

    def _on_peer(self, a: StorePeer) -> None:
        self._peers[int(a.addr)] = {"link": a.link, "snr": a.snr, "rssi": a.rssi,
                                    "wall": time.time(), "mono": time.monotonic()}

    # ------------------------------------------------------------------------------------ adapter events
    def _radio_event(self, kind: str, ev: Any) -> None:
        d = self.driver
        assert d is not None
        if kind == "frame":
            d.radio_frame(ev.from_node, ev.data, ev.rx_snr, ev.rx_rssi, max(0, ev.hop_start - ev.hop_limit))
        elif kind == "state":
            before = self._radio_state.get("status")
            self._radio_state = {"status": ev.status, "detail": ev.detail, "node_id": ev.node_id}
            if ev.status == "misconfigured":
                log.error("radio weigert te zenden: %s", ev.detail)
            elif ev.status != before:
                log.info("radio %s: %s", ev.status, ev.detail)
            self._journal.link(RADIO, ev.connected, ev.detail)
            d.link_state(RADIO, ev.connected, ev.detail)
        elif kind == "delivered":
            d.radio_queued(ev.request_id, ev.ref)
        elif kind == "acknak":
            d.radio_result(ev.request_id, ev.error_reason)
        elif kind == "telemetry":
            self._telemetry = {"battery": ev.battery, "channel_util": ev.channel_util,
                               "air_util_tx": ev.air_util_tx}

    def _mqtt_event(self, kind: str, ev: Any) -> None:
        d = self.driver
        assert d is not None and self.node is not None
        if kind == "presence":
            p = self._presence.accept(self.node.cfg.keyring, ev, self.store)
            if p is not None:
                d.handle(PeerPresence(BoxAddr(p.addr), p.online))
        elif kind == "frame":
            d.frame_in(IP, ev.data, BoxAddr(ev.src_addr))
        elif kind == "state":
            self._mqtt_state = {"status": ev.status, "detail": ev.detail}
            log.info("MQTT %s: %s", ev.status, ev.detail)
            self._journal.link(IP, ev.connected, ev.detail)
            d.link_state(IP, ev.connected, ev.detail)
        elif kind == "delivered" and not ev.ok:
            log.warning("MQTT-broker nam frame niet aan: %s", ev.detail)

    # ---------------------------------------------------------------------------------------------- ping
    def _control_request(self, req: ControlRequest) -> None:
        assert self.node is not None and self.driver is not None
        if req.body.get("cmd") in KEY_COMMANDS:
            self.driver.apply(key_command(self.node, self.cfg.keys_dir, self.store, req, time.monotonic(),
                                          os.urandom))
            return
        self.driver.apply(self._pings.request(self.node, req, time.monotonic()))


    # -------------------------------------------------------------------------------------------- status
    def _summary(self) -> str:
        assert self.node is not None
        return summary_nl(self._radio_state, self.node.queued())

    def status_record(self, running: bool = True) -> dict[str, Any]:
        assert self.node is not None and self.driver is not None
        self.driver.forget_sent()  # delivered or expired: the outbox row says so itself
        return build_record(self.node, time.monotonic(), running=running, box=self.cfg.name,
                            started_wall=self._started_wall, radio=dict(self._radio_state, telemetry=self._telemetry),
                            mqtt=dict(self._mqtt_state), preset=self.cfg.radio.preset, region=self.cfg.radio.region,
                            peers=self._peers, sent_via=self.driver.sent_via, presence=self._presence.view())

    def _write_status(self, *, force: bool = False, running: bool = True) -> bool:
        """Write the status record when it changed or the heartbeat is due; True when it changed."""
        if self.node is None or self.store is None:
            return False
        now = time.monotonic()
        since = now - self._last_status_at
        # Built at most once a second between heartbeats, not at every wake-up (its backlog estimate costs).
        fresh = min(since, now - self._status_built_at) < _STATUS_MIN_INTERVAL_S
        if not (force or since >= HEARTBEAT_S or not fresh):
            return False
        self._status_built_at = now
        record = self.status_record(running)
        changed = record != self._last_status
        if not (force or (changed and since >= _STATUS_MIN_INTERVAL_S) or since >= HEARTBEAT_S):
            return False
        self._last_status, self._last_status_at = record, now
        # The loop counters ride with the heartbeat, outside the compared record (they change every wake-up).
        self.store.set_status(STATUS_KEY, dict(record, **stamp(), loop=self.loop.snapshot()))
        return changed


class _MonotonicClock:
    """The daemon's clock: monotonic seconds (never the wall clock, which may jump after NTP returns)."""

    def now(self) -> float:
        return time.monotonic()


def _path(text: str) -> Any:
    from pathlib import Path

    return Path(text) if text else None


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr (journald adds time and unit); never secrets: only ids, addresses, states, reasons."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
