"""The demo's parts without processes: the summary arithmetic, the traffic plan, the topology, the throwaway
broker helper (against a real Mosquitto where it needs one)."""

from __future__ import annotations

import io
import os
import socket
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from nspgw.sim.demo import FULL, KINDS, QUICK, load_corpus, plan_traffic
from nspgw.sim.demo_net import DEMO_BOXES, topology_toml
from nspgw.sim.demo_summary import BROADCAST, Delivery, Sent, by_phase, percentile, summarize, table
from nspgw.sim.mosquitto import BrokerError, Mosquitto, find_mosquitto, password_line

BOXES = [b.name for b in DEMO_BOXES]


def _sent(origin: str, seq: int, dst: str, t: float = 100.0, phase: str = "a") -> Sent:
    return Sent(origin, seq, dst, "routine", "x", t, phase)


def test_summary_counts_each_recipient_of_a_bulletin_and_the_link_of_the_first_copy() -> None:
    sent = [_sent("gct", 1, BROADCAST), _sent("nsp-bieb", 1, "cp-noord", t=200.0)]
    deliveries = [Delivery(b, "gct", 1, "ip", 100.5) for b in BOXES if b != "gct"]
    deliveries += [Delivery("cp-noord", "nsp-bieb", 1, "radio", 203.0),
                   Delivery("cp-noord", "nsp-bieb", 1, "ip", 204.0)]  # a second copy: counted as duplicate
    s = summarize(sent, deliveries, BOXES, confirmed=[("gct", 1)])
    assert (s.sent, s.expected, s.delivered) == (2, 7, 7)
    assert (s.via_ip, s.via_radio) == (6, 1)  # the radio copy came first
    assert s.duplicates == 1 and s.lost == 0 and s.unexpected == 0 and not s.ok
    assert s.latency_p50_s == pytest.approx(0.5) and s.latency_max_s == pytest.approx(3.0)
    assert s.confirmed == 1


def test_summary_lost_and_misdelivered() -> None:
    sent = [_sent("nsp-kerk", 1, "cp-zuid"), _sent("nsp-kerk", 2, "gct")]
    s = summarize(sent, [Delivery("cp-noord", "nsp-kerk", 1, "ip", 101.0)], BOXES)
    assert s.lost == 2 and s.unexpected == 1 and s.delivered == 0 and not s.ok
    assert s.latency_p50_s is None


@given(st.lists(st.tuples(st.sampled_from(BOXES), st.sampled_from([*BOXES, BROADCAST])), max_size=12),
       st.data())
def test_summary_delivered_plus_lost_is_expected(msgs: list[tuple[str, str]], data: st.DataObject) -> None:
    sent = [_sent(o, i, d if d != o else BROADCAST) for i, (o, d) in enumerate(msgs)]
    pairs = [(r, m) for m in sent for r in BOXES if r != m.origin]
    chosen = data.draw(st.lists(st.sampled_from(pairs), max_size=40)) if pairs else []
    deliveries = [Delivery(r, m.origin, m.seq, "radio", 101.0) for r, m in chosen]
    s = summarize(sent, deliveries, BOXES)
    unique = {(d.box, d.origin, d.seq) for d in deliveries}
    assert s.delivered + s.lost == s.expected
    assert s.delivered + s.unexpected == len(unique)
    assert s.duplicates == len(deliveries) - len(unique)
    assert s.via_ip + s.via_radio == s.delivered


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0


def test_table_per_phase_marks_losses() -> None:
    sent = [_sent("gct", 1, "cp-zuid", phase="telecom"), _sent("gct", 2, "cp-zuid", phase="storing")]
    parts = by_phase(sent, [Delivery("cp-zuid", "gct", 1, "ip", 100.1)], BOXES, [("gct", 1)],
                     ["telecom", "storing"])
    assert [n for n, _ in parts] == ["telecom", "storing", "totaal"]
    assert parts[0][1].ok and parts[1][1].lost == 1 and parts[2][1].lost == 1
    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(table(parts))
    text = out.getvalue()
    assert "verloren / lost" in text and "via IP" in text and "1/1" in text and "0/1" in text


def test_traffic_plan_uses_every_kind_and_only_valid_routes() -> None:
    corpus = load_corpus()
    phases = plan_traffic(corpus, FULL)
    assert [len(p) for p in phases] == [FULL.per_phase] * 3
    steps = [s for p in phases for s in p]
    assert {s.kind for s in steps} == set(KINDS)
    assert all(s.priority == "flash" for s in steps if s.kind == "emergency")
    names = {b.name: b for b in DEMO_BOXES}
    for s in steps:
        assert s.sender in names
        assert s.to in names or s.to in ("cp", "gct", "alle")
        if s.to == "alle":
            assert s.sender == "gct"  # only the crisis team broadcasts
        if s.to == "cp":
            assert names[s.sender].role.value == "nsp"
    for p, length in zip(phases, FULL.phase_s, strict=True):
        assert all(0 <= s.at_s < length for s in p)
    assert plan_traffic(corpus, QUICK) == plan_traffic(corpus, QUICK)  # deterministic


def test_topology_links_each_box_to_its_uplink() -> None:
    topo = tomllib.loads(topology_toml("SHORT_TURBO", 7))
    assert topo["mesh"]["preset"] == "SHORT_TURBO"
    assert {n["name"] for n in topo["node"]} == set(BOXES)
    links = {(lk["a"], lk["b"]) for lk in topo["link"]}
    assert links == {(b.uplink, b.name) for b in DEMO_BOXES if b.uplink}
    assert any(lk["loss"] > 0.1 for lk in topo["link"])  # some radio links are lossy
    for b in DEMO_BOXES:
        if b.role.value == "nsp":
            assert b.parent == b.uplink  # an NSP belongs to the CP it hears


# ------------------------------------------------------------------------------------ the broker helper
def _need_mosquitto() -> None:
    if find_mosquitto() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but mosquitto is not installed (apt-get install mosquitto)")
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")


def _login(port: int, user: str, password: str) -> str:
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.username_pw_set(user, password)
    done = threading.Event()
    result: list[str] = []

    def on_connect(_c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        result.append(str(reason))
        done.set()

    c.on_connect = on_connect
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        assert done.wait(10), "no CONNACK"
    finally:
        c.disconnect()
        c.loop_stop()
    return result[0]


def test_broker_logins_kill_and_restart_on_the_same_port(tmp_path: Path) -> None:
    _need_mosquitto()
    broker = Mosquitto.create(tmp_path / "b", users={"0a1": "juist"})
    assert oct((tmp_path / "b" / "passwd").stat().st_mode & 0o777) == "0o600"
    try:
        broker.start()
        assert _login(broker.port, "0a1", "juist") == "Success"
        assert _login(broker.port, "0a1", "fout") != "Success"
        broker.kill()
        assert not broker.running
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", broker.port), timeout=1).close()
        broker.start()
        assert broker.running and _login(broker.port, "0a1", "juist") == "Success"
    finally:
        broker.stop()
    assert not broker.running


def test_password_line_format_is_deterministic_for_a_salt() -> None:
    line = password_line("gct-001", "pw", salt=b"\x00" * 12)
    user, rest = line.split(":", 1)
    assert user == "gct-001" and rest.startswith("$7$101$AAAAAAAAAAAAAAAA$")
    assert line == password_line("gct-001", "pw", salt=b"\x00" * 12) != password_line("gct-001", "pw")


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    broker = Mosquitto.create(tmp_path / "b", binary=str(tmp_path / "no-such-mosquitto"))
    with pytest.raises(BrokerError, match="start niet"):
        broker.start()
