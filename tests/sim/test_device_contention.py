"""Contention (issue #10 item 3) through the official library against a real-time MeshServer.

Firmware v2.7.26.54e0d8d:
- `RadioInterface::getTxDelayMsecWeighted` (src/mesh/RadioInterface.cpp): a relay waits
  random(0, 2·CW) slots as ROUTER (`shouldRebroadcastEarlyLikeRouter`), 2·CWmax + random(0, 2^CW) slots
  otherwise, with CW = `getCWsize(rx_snr)` = map(SNR -20..10 dB -> CWmin 3..CWmax 8): weak SNR relays first.
- `FloodingRouter::perhapsCancelDupe` (src/mesh/FloodingRouter.cpp): a CLIENT that hears someone else relay
  the packet drops its own queued relay.
- `RadioLibInterface::onNotify` (src/mesh/RadioLibInterface.cpp): ISR_RX / ISR_TX start a fresh transmit
  timer (`startTransmitTimer` -> `setTransmitDelay`); when the timer fires while the radio is receiving or the
  channel is active, `setTransmitDelay` draws a fresh delay instead of transmitting.
- `RadioInterface::getTxDelayMsec`: an own packet waits random(0, 2^CW) slots, CW = map(channel utilisation
  0..100 % -> CWmin..CWmax) (`AirTime::channelUtilizationPercent`, src/mesh/airtime.cpp).

What the clients see: which relay's copy arrives (`relayNode`, the relayer's last byte, as firmware 2.7
fills `MeshPacket.relay_node`), whether a copy arrives at all, and lower bounds on host-side arrival times.
Wall-clock assertions are lower bounds only: the real-time driver never delivers a frame before its virtual
time, so a loaded machine can only make arrivals later, never earlier.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from meshtastic.tcp_interface import TCPInterface
from pubsub import pub

from nspgw.core.airtime import meshtastic_frame_len, preset, slot_time_ms, time_on_air_ms
from nspgw.sim import mesh_radio
from nspgw.sim.device import VirtualDevice
from nspgw.sim.server import MeshServer
from nspgw.sim.topology import LinkSpec, NodeSpec, Topology, derive_node_num

STRONG = 10.0  # dB: every link not named below
# Every text is sent with hop limit 1: the relay's copy arrives with hop limit 0 and goes no further, so the
# channel is quiet again as soon as the relays are done (a CLIENT at +10 dB waits up to 271 slots).


class TimedInbox:
    """Text packets one interface receives, with the host's monotonic time of reception."""

    def __init__(self, iface: TCPInterface) -> None:
        self.iface = iface
        self.got: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Lock()
        pub.subscribe(self.on_receive, "meshtastic.receive")

    def on_receive(self, packet: dict[str, Any], interface: Any) -> None:
        if interface is self.iface and "text" in packet.get("decoded", {}):
            with self.lock:
                self.got.append((time.monotonic(), packet))

    def find(self, text: str) -> tuple[float, dict[str, Any]] | None:
        with self.lock:
            return next(((t, p) for t, p in self.got if p["decoded"]["text"] == text), None)

    def arrival(self, text: str, wait_for: Callable[..., Any], where: str) -> tuple[float, dict[str, Any]]:
        found: tuple[float, dict[str, Any]] = wait_for(lambda: self.find(text), timeout_s=20,
                                                       what=f"{text!r} at {where}")
        return found

    def texts(self) -> list[str]:
        with self.lock:
            return [p["decoded"]["text"] for _, p in self.got]

    def close(self) -> None:
        pub.unsubscribe(self.on_receive, "meshtastic.receive")


def _mesh(preset_name: str, nodes: dict[str, str], links: list[tuple[str, str, float]], seed: int = 3) -> Topology:
    specs = tuple(NodeSpec(name, derive_node_num(seed, name), role=role) for name, role in nodes.items())
    low = [s.node_num & 0xFF for s in specs]
    assert len(set(low)) == len(low), "relay_node carries the last byte only: pick another seed"
    return Topology(preset=preset_name, seed=seed, nodes=specs,
                    links=tuple(LinkSpec(a, b, snr=snr) for a, b, snr in links))


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Topology], MeshServer]]:
    """Servers whose radios skip the boot NodeInfo broadcast: its answers and relays keep a 4-node mesh at
    MEDIUM_FAST busy for 20 s and more (relays re-arm on every frame), and broadcasts need no keys."""
    monkeypatch.setattr(VirtualDevice, "announce", lambda self, **kw: None)
    servers: list[MeshServer] = []

    def start(topo: Topology) -> MeshServer:
        server = MeshServer(topo, use_pty=False)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class Clients:
    def __init__(self, server: MeshServer) -> None:
        self.server = server
        self.ifaces: dict[str, TCPInterface] = {}
        self.inboxes: dict[str, TimedInbox] = {}

    def open(self, *names: str) -> None:
        for name in names:
            iface = TCPInterface("127.0.0.1", portNumber=self.server.endpoints[name].port, timeout=20)
            self.ifaces[name] = iface
            self.inboxes[name] = TimedInbox(iface)

    def close(self) -> None:
        for inbox in self.inboxes.values():
            inbox.close()
        for iface in self.ifaces.values():
            iface.close()


@pytest.fixture
def clients() -> Iterator[Callable[[MeshServer], Clients]]:
    opened: list[Clients] = []

    def open_for(server: MeshServer) -> Clients:
        c = Clients(server)
        opened.append(c)
        return c

    yield open_for
    for c in opened:
        c.close()


def _quiet(server: MeshServer) -> bool:
    """Nothing queued, on air, being received or awaiting a retransmission anywhere (the boot NodeInfo round
    and its answers are over)."""
    with server.lock:
        return all(not n.queue and n.tx is None and not n.active_rx and not n.pending_by_key
                   for n in server.mesh.nodes())


def _low(server: MeshServer, name: str) -> int:
    return server.devices[name].node_num & 0xFF


def _airtime_s(p: str, text: str) -> float:
    """Time on air of a broadcast text (16-byte header + Data{portnum, payload, bitfield}), as relayed too."""
    return time_on_air_ms(meshtastic_frame_len(len(text.encode()), 1), preset(p)) / 1000.0


# -- getTxDelayMsecWeighted: ROUTER early window, everyone else after 2·CWmax slots -------------------------


@pytest.mark.parametrize("router", ["relay1", "relay2"])
def test_router_relays_in_its_early_window_before_a_client(router: str, serve: Callable[[Topology], MeshServer],
                                                           clients: Callable[[MeshServer], Clients],
                                                           wait_for: Callable[..., Any]) -> None:
    """RadioInterface::getTxDelayMsecWeighted + shouldRebroadcastEarlyLikeRouter: src reaches two relays at
    the same SNR (-12 dB at MEDIUM_FAST: CW 4), both reach dst. The ROUTER draws random(0, 8) slots, the
    CLIENT 2·CWmax + random(0, 16) = 16..31 slots, so the ROUTER's copy reaches dst first, every time, whichever
    of the two it is. (The CLIENT hears it and drops its own copy, FloodingRouter::perhapsCancelDupe.)"""
    other = "relay2" if router == "relay1" else "relay1"
    server = serve(_mesh("MEDIUM_FAST", {"src": "CLIENT", router: "ROUTER", other: "CLIENT", "dst": "CLIENT"},
                         [("src", "relay1", -12.0), ("src", "relay2", -12.0), ("relay1", "relay2", STRONG),
                          ("relay1", "dst", STRONG), ("relay2", "dst", STRONG)]))
    c = clients(server)
    c.open("src", "dst")
    wait_for(lambda: _quiet(server), timeout_s=20, what="quiet channel after the boot NodeInfo round")
    for k in range(3):
        text = f"vroeg {k}"
        c.ifaces["src"].sendText(text, hopLimit=1)
        _, pkt = c.inboxes["dst"].arrival(text, wait_for, "dst")
        assert pkt["relayNode"] == _low(server, router), f"{text!r} relayed by the CLIENT, not the ROUTER"
        assert pkt["hopStart"] == 1 and pkt.get("hopLimit", 0) == 0
        wait_for(lambda: _quiet(server), timeout_s=20, what="quiet channel")
    assert c.inboxes["dst"].texts() == ["vroeg 0", "vroeg 1", "vroeg 2"]  # one copy each reaches the client
    with server.lock:
        assert server.mesh.node(other).stats.rebroadcasts == 0
        assert server.mesh.node(other).stats.rebroadcasts_cancelled == 3


# -- perhapsCancelDupe, and the client window's lower bound --------------------------------------------


def test_client_drops_its_relay_on_hearing_it_relayed_and_waits_two_cwmax_slots(
        serve: Callable[[Topology], MeshServer], clients: Callable[[MeshServer], Clients],
        wait_for: Callable[..., Any]) -> None:
    """FloodingRouter::perhapsCancelDupe: relay2 (CLIENT) hears relay1 (ROUTER, early window) relay src's
    broadcast before its own timer fires and drops its copy, so `far`, which hears only relay2, never gets it.
    With relay1 out of relay2's earshot relay2 relays, and `far` gets the text with relayNode = relay2 no
    earlier than src's frame + 2·CWmax slots + relay2's frame (getTxDelayMsecWeighted's client offset)."""
    p = "MEDIUM_FAST"
    server = serve(_mesh(p, {"src": "CLIENT", "relay1": "ROUTER", "relay2": "CLIENT", "far": "CLIENT"},
                         [("src", "relay1", -12.0), ("src", "relay2", -12.0), ("relay1", "relay2", STRONG),
                          ("relay2", "far", STRONG)]))
    c = clients(server)
    c.open("src", "far")
    wait_for(lambda: _quiet(server), timeout_s=20, what="quiet channel after the boot NodeInfo round")
    relay2 = server.mesh.node("relay2")

    c.ifaces["src"].sendText("afgevangen", hopLimit=1)
    wait_for(lambda: relay2.stats.rebroadcasts_cancelled == 1, timeout_s=20, what="relay2 cancels its relay")
    wait_for(lambda: _quiet(server), timeout_s=20, what="quiet channel")

    server.set_link_up("relay1", "relay2", False)
    text = "via relay2"
    t0 = time.monotonic()
    c.ifaces["src"].sendText(text, hopLimit=1)
    t_far, pkt = c.inboxes["far"].arrival(text, wait_for, "far")
    assert pkt["relayNode"] == _low(server, "relay2")
    # relays go FIFO: had relay2 kept the first text, far would have had it before this one
    assert c.inboxes["far"].texts() == [text]
    floor_s = 2 * _airtime_s(p, text) + 2 * mesh_radio.CW_MAX * slot_time_ms(p) / 1000.0
    assert t_far - t0 >= floor_s, f"relayed after {t_far - t0:.3f} s, before the client window ({floor_s:.3f} s)"
    with server.lock:
        assert relay2.stats.rebroadcasts == 1 and relay2.stats.rebroadcasts_cancelled == 1


# -- onNotify: a busy channel and every RX end re-arm the relay timer --------------------------------------


def test_relay_waits_while_the_channel_is_busy(serve: Callable[[Topology], MeshServer],
                                               clients: Callable[[MeshServer], Clients],
                                               wait_for: Callable[..., Any]) -> None:
    """RadioLibInterface::onNotify(TRANSMIT_DELAY_COMPLETED): while receiving, `setTransmitDelay` draws a fresh
    delay; ISR_RX re-arms it. src's client sends three long texts back to back: src keeps the channel busy
    (own delay 0..7 slots between frames at low utilisation, each frame ~0.5 s at MEDIUM_FAST), while mid's
    relay timer (CLIENT, SNR -12 dB: 16..31 slots) keeps firing on a busy channel or being re-armed. A mid that
    transmitted anyway would miss src's next frame (half duplex) and far would lack it; far gets all three,
    relayed by mid, in order, and mid's first relay only starts 2·CWmax slots after src's last frame."""
    p = "MEDIUM_FAST"
    server = serve(_mesh(p, {"src": "CLIENT", "mid": "CLIENT", "far": "CLIENT"},
                         [("src", "mid", -12.0), ("mid", "far", STRONG)]))
    c = clients(server)
    c.open("src", "mid", "far")
    wait_for(lambda: _quiet(server), timeout_s=20, what="quiet channel after the boot NodeInfo round")
    texts = [f"{k}:" + "x" * 190 for k in range(3)]
    t0 = time.monotonic()
    with server.lock:  # the three frames wait in the socket and reach src's queue together, however loaded
        for text in texts:
            c.ifaces["src"].sendText(text, hopLimit=1)
    wait_for(lambda: len(c.inboxes["far"].texts()) == 3, timeout_s=30, what="all three texts at far")
    assert c.inboxes["far"].texts() == texts
    assert all(pkt["relayNode"] == _low(server, "mid") for _, pkt in c.inboxes["far"].got)
    assert sorted(c.inboxes["mid"].texts()) == sorted(texts)  # mid heard every frame of src's burst
    # src's three frames went back to back (gaps of at most 7 slots); mid's first relay waited for the end of
    # the last one, then a full client delay (ISR_RX re-arms the timer: 2·CWmax slots at least).
    t_first = c.inboxes["far"].got[0][0]
    floor_s = 4 * _airtime_s(p, texts[0]) + 2 * mesh_radio.CW_MAX * slot_time_ms(p) / 1000.0
    assert t_first - t0 >= floor_s, f"first relay after {t_first - t0:.3f} s, floor {floor_s:.3f} s"
    with server.lock:
        mid = server.mesh.node("mid")
        assert mid.stats.rebroadcasts == 3 and mid.stats.collisions == 0


# -- getCWsize: weak SNR relays first ------------------------------------------------------------------


def test_weak_snr_relay_goes_first(serve: Callable[[Topology], MeshServer],
                                   clients: Callable[[MeshServer], Clients],
                                   wait_for: Callable[..., Any]) -> None:
    """RadioInterface::getCWsize / getTxDelayMsecWeighted: two CLIENT relays, `weak` hearing src at -15 dB
    (MEDIUM_SLOW, CW 3: 16..23 slots), `strong` at +10 dB (CW 8: 16..271 slots). dst hears both; each copy
    names its relayer. The weak one wins unless `strong` draws fewer slots (~1.8 % of packets): of 12 texts
    at least 9 must arrive via `weak` (chance of failing ~4e-5; a model without the SNR weighting passes
    with ~7 %, one that inverts it never)."""
    server = serve(_mesh("MEDIUM_SLOW", {"src": "CLIENT", "weak": "CLIENT", "strong": "CLIENT", "dst": "CLIENT"},
                         [("src", "weak", -15.0), ("src", "strong", STRONG), ("weak", "strong", STRONG),
                          ("weak", "dst", STRONG), ("strong", "dst", STRONG)]))
    c = clients(server)
    c.open("src", "dst")
    wait_for(lambda: _quiet(server), timeout_s=20, what="quiet channel after the boot NodeInfo round")
    relayers: list[int] = []
    for k in range(12):
        text = f"snr {k}"
        c.ifaces["src"].sendText(text, hopLimit=1)
        _, pkt = c.inboxes["dst"].arrival(text, wait_for, "dst")
        relayers.append(pkt["relayNode"])
        wait_for(lambda: _quiet(server), timeout_s=20, what="quiet channel")
    assert set(relayers) <= {_low(server, "weak"), _low(server, "strong")}
    assert relayers.count(_low(server, "weak")) >= 9, relayers


# -- getTxDelayMsec: the contention window grows with the channel utilisation ------------------------------


def test_own_packets_wait_longer_on_a_busy_channel(serve: Callable[[Topology], MeshServer],
                                                   clients: Callable[[MeshServer], Clients],
                                                   wait_for: Callable[..., Any]) -> None:
    """RadioInterface::getTxDelayMsec: an own packet waits random(0, 2^CW) slots, CW = map(channel utilisation
    of the last minute, 0..100 % -> CWmin 3..CWmax 8) (AirTime::channelUtilizationPercent, airtime.cpp). On a
    quiet channel that is at most 7 slots; src's radio is given a minute of channel activity (100 %: as if it
    had heard frames back to back; producing that on air would take the whole minute), so CW is 8 and each of
    six texts waits 0..255 slots. Their summed latency at dst's client is then at least 0.6·256 slots beyond
    their airtime, unless six uniform draws sum to less than 0.6 of one window (chance 0.6^6/6! ~ 7e-5); at
    CW 3 it would be 42 slots at most."""
    p = "SHORT_TURBO"
    server = serve(_mesh(p, {"src": "CLIENT", "dst": "CLIENT"}, [("src", "dst", STRONG)]))
    c = clients(server)
    c.open("src", "dst")
    wait_for(lambda: _quiet(server), timeout_s=20, what="quiet channel")
    src = server.mesh.node("src")
    with server.lock:
        src.busy.append((server.mesh.clock.now(), mesh_radio.UTIL_WINDOW_S))
        src.busy_sum += mesh_radio.UTIL_WINDOW_S
    total = 0.0
    texts = [f"druk {k}" for k in range(6)]
    for text in texts:
        t0 = time.monotonic()
        c.ifaces["src"].sendText(text, hopLimit=0)  # Router::sendLocal keeps 0: dst does not relay it
        t_dst, _ = c.inboxes["dst"].arrival(text, wait_for, "dst")
        total += t_dst - t0
    slot_s = slot_time_ms(p) / 1000.0
    floor_s = sum(_airtime_s(p, t) for t in texts) + 0.6 * (1 << mesh_radio.CW_MAX) * slot_s
    assert total >= floor_s, f"{total:.3f} s for six texts: CW did not grow with the utilisation"
