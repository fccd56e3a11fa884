"""Issue #12 on the radio, through the real meshtastic library against virtual radios (`nspgw sim mesh`, two
radios that hear each other, LONG_FAST so that frames queue up in the radio as they do on air):
- precedence becomes MeshPacket.priority, so a FLASH frame overtakes ROUTINE frames waiting in the radio's own
  transmit queue (firmware MeshPacketQueue);
- a direct message the radio refuses for want of the destination's key (PKI_SEND_FAIL_PUBLIC_KEY) makes the
  adapter exchange NodeInfo with that node, after which the re-sent frame goes through."""

from __future__ import annotations

import queue
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sim_mesh import start_mesh, stop_mesh, to_queue, wait_event

from nspgw.adapters import radio_profile as profiles
from nspgw.adapters.meshtastic_radio import MeshtasticRadio
from nspgw.adapters.radio_admin import connected, provision_checked
from nspgw.adapters.radio_connect import RadioTarget
from nspgw.adapters.radio_events import RadioAckNak, RadioFrame, RadioSent
from nspgw.errors import RadioError
from nspgw.ids import parse_node_id

pytestmark = pytest.mark.system

KEY = bytes(range(1, 33))
NSPGW = [sys.executable, "-c", "from nspgw.cli import main\nmain()"]


def wait_state(radio: MeshtasticRadio, status: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while radio.state.status != status:
        if time.monotonic() > deadline:
            raise AssertionError(f"radio state {radio.state} never became {status}")
        time.sleep(0.02)  # polling a condition with a deadline


@pytest.fixture(scope="module")
def pair() -> Iterator[dict[str, Any]]:
    proc, nodes, _ = start_mesh(2, "--full", "--preset", "LONG_FAST")
    prof = profiles.load_profile("nsp")  # LONG_FAST, as the mesh runs
    for n in nodes:
        provision_checked(RadioTarget.parse(host=n["tcp"]), prof, KEY)
    yield {"nodes": nodes, "profile": prof}
    stop_mesh(proc)


@pytest.fixture
def adapters(pair: dict[str, Any]) -> Iterator[Callable[..., tuple[MeshtasticRadio, queue.Queue[Any]]]]:
    made: list[MeshtasticRadio] = []

    def make(index: int, **kw: Any) -> tuple[MeshtasticRadio, queue.Queue[Any]]:
        events: queue.Queue[Any] = queue.Queue()
        radio = MeshtasticRadio(RadioTarget.parse(host=pair["nodes"][index]["tcp"]), to_queue(events),
                                profile=pair["profile"], nspgw_psk=KEY, connect_timeout_s=10, heartbeat_s=5.0, **kw)
        made.append(radio)
        radio.start()
        wait_state(radio, "connected")
        return radio, events

    yield make
    for r in made:
        r.stop()


def num(pair: dict[str, Any], index: int) -> int:
    return int(parse_node_id(pair["nodes"][index]["node_id"]))


def knows_key(pair: dict[str, Any], index: int, other: int) -> bool:
    with connected(RadioTarget.parse(host=pair["nodes"][index]["tcp"]), 10) as iface:
        return bool((iface.nodesByNum or {}).get(other, {}).get("user", {}).get("publicKey"))


def _knows_key_now(pair: dict[str, Any], index: int, other: int) -> bool:
    """`knows_key`, or False when a second client could not connect in time (a loaded machine): ask again."""
    try:
        return knows_key(pair, index, other)
    except RadioError:
        return False


def deliver(sender: MeshtasticRadio, events: queue.Queue[Any], dst: int, payload: bytes, precedence: int,
            tries: int = 8) -> RadioFrame:
    """Hand `payload` over and re-send after a silence, as nspgw's core does, until the other side has it."""
    for _ in range(tries):
        sender.send(dst, payload, precedence)
        try:
            frame: RadioFrame = wait_event(events, lambda e: isinstance(e, RadioFrame) and e.data == payload,
                                           timeout_s=8.0)
            return frame
        except AssertionError:
            continue
    raise AssertionError(f"{payload!r} never arrived")


def test_flash_overtakes_routine_frames_waiting_in_the_radio_queue(pair: dict[str, Any], adapters) -> None:  # type: ignore[no-untyped-def]
    a, a_events = adapters(0, pace=False)  # unpaced: the frames pile up in the radio's own queue
    _b, b_events = adapters(1)
    deliver(a, b_events, num(pair, 1), b"sleutels bekend?", 3)  # keys known (NodeInfo after provisioning)
    routine = [b"routine-%d-" % i + bytes(180) for i in range(1, 7)]  # ~1.5 s on air each at LONG_FAST
    while not a_events.empty():
        a_events.get()
    for payload in routine:
        a.send(num(pair, 1), payload, 3)
    for _ in routine:  # all six are in the radio (the adapter's own queue would put FLASH first anyway)
        wait_event(a_events, lambda e: isinstance(e, RadioSent) and e.precedence == 3)
    a.send(num(pair, 1), b"FLASH", 0)
    wait_event(a_events, lambda e: isinstance(e, RadioSent) and e.precedence == 0)
    expected = {*routine, b"FLASH"}
    arrived: list[bytes] = []
    while len(arrived) < 7:  # the receiving radio hears one transmitter: no collisions, no loss
        frame = wait_event(b_events, lambda e: isinstance(e, RadioFrame) and e.data in expected, timeout_s=30.0)
        if frame.data not in arrived:
            arrived.append(frame.data)
    flash_at = arrived.index(b"FLASH")
    # ALERT before DEFAULT (MeshPacketQueue): the radio sends FLASH as soon as the frame on air is done.
    # With one priority for all (the library's default) it would have been last, after routine-6.
    assert flash_at <= 2, [d[:10] for d in arrived]
    assert arrived.index(routine[-1]) > flash_at and arrived.index(routine[-2]) > flash_at


def test_unknown_key_refusal_exchanges_nodeinfo_and_the_resent_frame_goes_through(pair: dict[str, Any],
                                                                                    adapters) -> None:  # type: ignore[no-untyped-def]
    # Both radios forget each other (as after `meshtastic --remove-node`, or a node DB reset): a DM is refused
    # for want of the key, and the other radio's 12-hour NodeInfo reply suppression is gone with the entry.
    for index, other in ((0, num(pair, 1)), (1, num(pair, 0))):
        with connected(RadioTarget.parse(host=pair["nodes"][index]["tcp"]), 10) as iface:
            iface.localNode.removeNode(other)
    deadline = time.monotonic() + 20
    while knows_key(pair, 0, num(pair, 1)) or knows_key(pair, 1, num(pair, 0)):
        assert time.monotonic() < deadline, "the radios did not forget each other"
        time.sleep(0.2)  # polling a condition with a deadline
    a, a_events = adapters(0)
    _b, b_events = adapters(1)
    a.send(num(pair, 1), b"FLASH zonder sleutel", 0, ref=1)
    sent = wait_event(a_events, lambda e: isinstance(e, RadioSent) and e.ref == 1)
    nak = wait_event(a_events, lambda e: isinstance(e, RadioAckNak) and e.request_id == sent.request_id)
    assert nak.error_reason == "PKI_SEND_FAIL_PUBLIC_KEY"  # the core gets the NAK and re-sends later
    # The adapter sent our NodeInfo with want_response; the other radio learnt our key and answered with its
    # own, which teaches ours the key it lacked (waited for here: on a loaded machine the exchange can take
    # longer than the core's re-send). The re-send then goes out PKI-encrypted and is decrypted at the other end.
    deadline = time.monotonic() + 90
    while not _knows_key_now(pair, 0, num(pair, 1)):
        assert time.monotonic() < deadline, "the NodeInfo exchange did not teach our radio the key"
        time.sleep(0.5)  # polling a condition with a deadline
    frame = deliver(a, b_events, num(pair, 1), b"FLASH zonder sleutel", 0)
    assert frame.channel == 0 and frame.from_node == num(pair, 0)  # a PKI DM: decrypted with the node key
    refusals = [e for e in list(a_events.queue) if isinstance(e, RadioAckNak)
                and e.error_reason == "PKI_SEND_FAIL_PUBLIC_KEY"]
    assert refusals == [], "a re-send after the exchange was refused again"
