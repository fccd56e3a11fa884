"""The daemon's driver on a virtual clock: real core, real SQLite store, two boxes joined by an in-test
radio that hands frames over at once (no threads, no sleeping). What `nspgw run` does between its adapters
and the core — persist then transmit, tx-reference mapping, firmware NAKs, pings, link state — checked
without real time."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from nspgw.core.actions import AdoptNetworkKeys, ProbeAnswered, Transmit
from nspgw.core.config import NodeConfig
from nspgw.core.events import RADIO
from nspgw.core.node import Node
from nspgw.crypto.enrol import demo_boxes, make_network
from nspgw.daemon.control import Pings
from nspgw.daemon.driver import MAX_TX_REFS, Driver
from nspgw.daemon.io import ControlRequest
from nspgw.daemon.trace import Trace, read
from nspgw.ids import BoxAddr
from nspgw.store.sqlite import Store
from nspgw.wire.frames import Precedence


class VirtualClock:
    def __init__(self) -> None:
        self.t = 100.0

    def now(self) -> float:
        return self.t


class Air:
    """Radio ports of all boxes: a frame sent is queued for its addressee (or everyone), and each port
    reports a packet id as the Meshtastic adapter's "delivered" event does."""

    def __init__(self) -> None:
        self.drivers: dict[int, Driver] = {}  # node number → driver
        self.queue: list[tuple[int, int, bytes]] = []  # (from node, to node, data)
        self.log: list[tuple[str, Any]] = []
        self.next_id = 500

    def port(self, node_num: int) -> Any:
        air = self

        class Port:
            def send(self, hop_dst_addr: int, data: bytes, precedence: int = 3, *, ref: object = None,
                     want_ack: bool = False, hops: int | None = None) -> None:
                air.next_id += 1
                air.log.append(("send", (node_num, hop_dst_addr, ref, want_ack, air.next_id)))
                air.queue.append((node_num, hop_dst_addr, data))
                air.drivers[node_num].radio_queued(air.next_id, ref)

        return Port()

    def deliver(self) -> int:
        n = 0
        while self.queue:
            src, dst, data = self.queue.pop(0)
            for num, d in self.drivers.items():
                if num != src and dst in (num, 0xFFFFFFFF):
                    d.radio_frame(src, data, 6.0, -90)
                    n += 1
        return n


@pytest.fixture
def boxes(tmp_path: Path) -> Any:
    specs = [b for b in demo_boxes() if b.addr in (1, 10)]
    net = make_network(specs, b"driver test keys")
    clock, air = VirtualClock(), Air()
    out: dict[int, Driver] = {}
    stores = []
    for spec in specs:
        store = Store.open(tmp_path / f"box{spec.addr}.db")
        stores.append(store)
        node = Node(NodeConfig(net.keyring(spec.addr), preset="LONG_FAST"), store.load_state(spec.addr),
                    random.Random(spec.addr))
        d = Driver(node, store, clock, radio=air.port(spec.node_num),
                   trace=Trace(tmp_path / "trace.jsonl"))
        air.drivers[spec.node_num] = d
        out[spec.addr] = d
    for d in out.values():
        d.link_state(RADIO, True, "test")
    yield out, clock, air, tmp_path
    for d in out.values():
        assert d.trace is not None
        d.trace.close()
    for s in stores:
        s.close()


def run(drivers: dict[int, Driver], clock: VirtualClock, air: Air, until: float) -> None:
    """The daemon loop on virtual time: deliver what is on air, then jump to the next core deadline."""
    while True:
        air.deliver()
        due = [d for d in (x.next_deadline() for x in drivers.values()) if d is not None]
        nxt = min(due, default=None)
        if nxt is None or nxt > until:
            clock.t = max(clock.t, until)
            return
        clock.t = max(clock.t, nxt)
        for d in drivers.values():
            dl = d.next_deadline()
            if dl is not None and dl <= clock.t:
                d.timer()


def test_store_commits_before_the_radio_gets_the_frame(boxes: Any) -> None:
    drivers, clock, air, _ = boxes
    d10 = drivers[10]
    order: list[str] = []
    real_apply = d10.store.apply

    def apply(acts: list[Any]) -> None:
        real_apply(acts)
        order.append("commit:" + ",".join(sorted({type(a).__name__ for a in acts})))

    d10.store.apply = apply
    real_send = d10.radio.send

    def send(*a: Any, **k: Any) -> None:
        order.append("send")
        real_send(*a, **k)

    d10.radio.send = send
    d10.store.accept_message(BoxAddr(10), BoxAddr(1), Precedence.ROUTINE, b"sitrep: alles rustig")
    assert d10.feed_outbox() == 1 and d10.feed_outbox() == 0  # the outbox is read once per row
    run(drivers, clock, air, clock.t + 120)
    first_send = order.index("send")
    assert first_send > 0 and "StoreFrameSent" in order[first_send - 1], order
    assert d10.sent_via.get(1) == RADIO  # the link of our message's last frame (`nspgw outbox`)
    assert [(int(r.origin), r.seq) for r in drivers[1].store.inbox()] == [(10, 1)]


def test_firmware_nak_reaches_the_core_under_its_tx_ref_and_unknown_ids_are_ignored(boxes: Any) -> None:
    drivers, _, air, tmp_path = boxes
    d10 = drivers[10]
    sent: list[Transmit] = []
    d10.observe(Transmit, sent.append)
    d10.store.accept_message(BoxAddr(10), BoxAddr(1), Precedence.ROUTINE, b"verzoek: water")
    d10.feed_outbox()
    assert sent, "the core sent nothing"
    request_id = next(pid for kind, (num, _, ref, _, pid) in air.log if kind == "send" and ref == sent[0].tx_ref)
    assert d10.tx_refs[request_id] == sent[0].tx_ref
    air.queue.clear()  # the frame is lost on air
    d10.radio_result(request_id, "MAX_RETRANSMIT")
    d10.radio_result(request_id, "MAX_RETRANSMIT")  # the same answer again: already forgotten
    d10.radio_result(123456, "NONE")  # not ours
    results = [r for r in read(tmp_path / "trace.jsonl") if r["type"] == "RadioSendResult"]
    assert [(r["box"], r["data"]) for r in results] == [
        (10, {"tx_ref": sent[0].tx_ref, "ok": False, "error_reason": "MAX_RETRANSMIT"})]
    for i in range(MAX_TX_REFS + 10):  # broadcasts never get an answer: the map stays bounded
        d10.radio_queued(10_000 + i, i)
    assert len(d10.tx_refs) == MAX_TX_REFS and 10_000 not in d10.tx_refs


def test_link_state_reaches_the_core_and_a_down_radio_sends_nothing(boxes: Any) -> None:
    drivers, clock, air, tmp_path = boxes
    d10 = drivers[10]
    d10.link_state(RADIO, False, "usb weg")
    d10.store.accept_message(BoxAddr(10), BoxAddr(1), Precedence.ROUTINE, b"bericht tijdens storing")
    d10.feed_outbox()
    run(drivers, clock, air, clock.t + 60)
    num10 = next(n for n, d in air.drivers.items() if d is d10)
    assert not [x for x in air.log if x[1][0] == num10]  # box 10 sent nothing while its radio was down
    d10.link_state(RADIO, True, "terug")
    run(drivers, clock, air, clock.t + 300)
    assert [r.seq for r in drivers[1].store.inbox()] == [1]
    states = [r["data"] for r in read(tmp_path / "trace.jsonl") if r["box"] == 10 and r["type"] == "LinkChanged"]
    assert [s["up"] for s in states] == [True, False, True]


def test_a_ping_goes_out_and_its_reply_is_answered_on_virtual_time(boxes: Any) -> None:
    drivers, clock, air, _tmp_path = boxes
    d10 = drivers[10]
    pings = Pings(random.Random(3))
    d10.observe(ProbeAnswered, lambda a: pings.reply(a, clock.now()))  # as the daemon wires it
    req = ControlRequest({"cmd": "ping", "to": 1, "timeout_s": 30})
    d10.apply(pings.request(d10.node, req, clock.now()))
    clock.t += 2.5
    run(drivers, clock, air, clock.t + 20)
    answer = req.reply.get_nowait()
    assert answer["ok"] is True and answer["link"] == RADIO and answer["via"] == 1, answer
    assert 0 <= answer["rtt_s"] <= 20


def test_trace_has_every_event_and_action_and_no_message_text(boxes: Any) -> None:
    drivers, clock, air, tmp_path = boxes
    drivers[10].store.accept_message(BoxAddr(10), BoxAddr(1), Precedence.FLASH, b"FLASH: brand in de bieb")
    drivers[10].feed_outbox()
    run(drivers, clock, air, clock.t + 120)
    text = (tmp_path / "trace.jsonl").read_text(encoding="utf-8")
    assert "brand" not in text  # bodies and frames appear as lengths only
    recs = read(tmp_path / "trace.jsonl")
    kinds = {(r["box"], r["dir"], r["type"]) for r in recs}
    assert {(10, "event", "MessageAccepted"), (10, "action", "Transmit"), (1, "event", "FrameIn"),
            (1, "action", "StoreInbox"), (10, "port", "RadioQueued")} <= kinds
    tx = next(r for r in recs if r["type"] == "Transmit")
    assert tx["data"]["data"] == {"bytes": tx["data"]["data"]["bytes"]} and tx["data"]["data"]["bytes"] > 0
    assert all(isinstance(r["t"], float) for r in recs) and [r["t"] for r in recs] == sorted(r["t"] for r in recs)
    assert any(r["type"] == "StoreFrameSent" for r in recs)


def test_a_key_rotation_is_sent_adopted_and_persisted_through_the_drivers(boxes: Any) -> None:
    """`nspgw roster rotate-key` on the GCT box: its driver sends the new network key; box 10's driver hands
    the core's AdoptNetworkKeys to the daemon's hook, which writes network.key before the key ring switches; a message
    sealed under the new key then gets through."""
    from nspgw.daemon.control import adopt_keys, key_command, record_key_floor

    drivers, clock, air, tmp_path = boxes
    d1, d10 = drivers[1], drivers[10]
    keys1, keys10 = tmp_path / "k1", tmp_path / "k10"
    keys1.mkdir()
    keys10.mkdir()
    noted: list[AdoptNetworkKeys] = []

    def adopt() -> None:  # the daemon's after-step hook (nspgw/daemon/service.py `_adopt_keys`)
        while noted:
            d10.apply(adopt_keys(d10.node, keys10, noted.pop(0), clock.now()))
            record_key_floor(d10.store, d10.node.cfg.keyring)

    d10.observe(AdoptNetworkKeys, noted.append)
    d10.after_step.append(adopt)
    before = d10.node.cfg.keyring.network_key_set[0].epoch
    req = ControlRequest({"cmd": "rotate_key"})
    d1.apply(key_command(d1.node, keys1, d1.store, req, clock.now(), lambda n: bytes(range(n))))
    answer = req.reply.get_nowait()
    assert answer["ok"] is True and 10 in answer["boxes"], answer
    run(drivers, clock, air, clock.t + 120)
    assert d10.node.cfg.keyring.network_key_set[0].epoch == answer["epoch"] == before + 1
    assert (keys10 / "network.key").exists()
    d10.store.accept_message(BoxAddr(10), BoxAddr(1), Precedence.PRIORITY, b"na de sleutelwissel")
    d10.feed_outbox()
    run(drivers, clock, air, clock.t + 300)
    assert [r.body for r in d1.store.inbox()] == [b"na de sleutelwissel"]
