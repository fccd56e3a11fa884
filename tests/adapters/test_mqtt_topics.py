"""Topic levels and settings of the MQTT link (no broker needed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nspgw.adapters.mqtt_link import MqttSettings, addr_level, parse_addr_level, username_for
from nspgw.errors import ConfigError, UsageError


@given(st.integers(min_value=1, max_value=0xFFF))
def test_mqtt_addr_level_round_trips(addr: int) -> None:
    level = addr_level(addr)
    assert parse_addr_level(level) == addr
    assert level == ("all" if addr == 0xFFF else f"{addr:03x}")
    assert "/" not in level and "+" not in level and "#" not in level


@given(st.text(max_size=6))
def test_mqtt_parse_addr_level_accepts_only_canonical_levels(text: str) -> None:
    value = parse_addr_level(text)
    if value is not None:
        assert addr_level(value) == text  # one spelling per address: no "0A1", "00a1", "000"


@pytest.mark.parametrize("bad", [0, -1, 0x1000, 1 << 32])
def test_mqtt_addr_level_refuses_out_of_range(bad: int) -> None:
    with pytest.raises(UsageError):
        addr_level(bad)


def test_mqtt_username_mapping() -> None:
    assert username_for(0x0A1) == "0a1"
    assert username_for(0x001, crisis_team=True) == "gct-001"


@pytest.mark.parametrize("kw", [
    {"network": "a/b"}, {"network": "net+"}, {"network": "#"}, {"network": ""}, {"network": "Net"},
    {"own_addr": 0}, {"own_addr": 0xFFF}, {"port": 0}, {"port": 70000},
    {"cert_file": "/x.crt"},
])
def test_mqtt_settings_refuse_bad_values_with_config_error(kw: dict) -> None:
    base = {"host": "127.0.0.1", "port": 1883, "network": "net", "own_addr": 0x0A1} | kw
    with pytest.raises(ConfigError):
        MqttSettings(**base)


def test_mqtt_client_id_is_stable_per_box() -> None:
    s = MqttSettings("127.0.0.1", 1883, "gemeente-x", 0x0A1)
    assert s.effective_client_id == "nspgw-gemeente-x-0a1"
    assert MqttSettings("127.0.0.1", 1883, "gemeente-x", 0x0A1, client_id="x").effective_client_id == "x"


@given(st.binary(max_size=40), st.binary(max_size=1100))
def test_mqtt_any_incoming_message_is_dropped_or_delivered_never_raises(topic: bytes, payload: bytes) -> None:
    # paho re-raises callback exceptions on its network thread (ending the link), so the message callback
    # must survive any topic bytes (paho decodes them lazily) and any payload.
    import paho.mqtt.client as mqtt

    from nspgw.adapters.mqtt_link import MqttLink

    events: list[tuple[str, object]] = []
    link = MqttLink(MqttSettings("127.0.0.1", 1883, "net", 0x0A1), lambda k, p: events.append((k, p)))
    msg = mqtt.MQTTMessage(topic=topic)
    msg.payload = payload
    link._on_message(None, None, msg)  # type: ignore[arg-type]
    frames = [p for k, p in events if k == "frame"]
    valid = (topic.startswith(b"nspgw/v1/net/") and 0 < len(payload) <= 1024)
    if frames:
        assert valid and frames[0].data == payload  # type: ignore[attr-defined]
    st_ = link.stats
    assert st_.received + st_.dropped_bad_topic + st_.dropped_oversize + st_.dropped_rate_limited == 1


def test_mqtt_message_callback_survives_non_utf8_topic() -> None:
    import paho.mqtt.client as mqtt

    from nspgw.adapters.mqtt_link import MqttLink

    link = MqttLink(MqttSettings("127.0.0.1", 1883, "net", 0x0A1), lambda k, p: None)
    msg = mqtt.MQTTMessage(topic=b"nspgw/v1/net/\xff\xfe/0a1")
    msg.payload = b"x"
    link._on_message(None, None, msg)  # type: ignore[arg-type]
    assert link.stats.dropped_bad_topic == 1 and link.stats.received == 0
    good = mqtt.MQTTMessage(topic=b"nspgw/v1/net/0b2/0a1")
    good.payload = b"x"
    link._on_message(None, None, good)  # type: ignore[arg-type]
    assert link.stats.received == 1
