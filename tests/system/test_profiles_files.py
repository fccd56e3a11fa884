"""The firmware profiles themselves: loadable, legal, consistent, and readable by the official CLI's parser."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from meshtastic.protobuf import channel_pb2, config_pb2, localonly_pb2

from nspgw.adapters import radio_profile as profiles
from nspgw.errors import ConfigError, SecurityError
from nspgw.store.keyfiles import read_channel_key

ROLES = ["nsp", "nsp-leaf", "cp", "gct", "repeater"]
Role = config_pb2.Config.DeviceConfig.Role


@pytest.mark.parametrize("role", ROLES)
def test_profile_basics(role: str) -> None:
    p = profiles.load_profile(role)
    assert p.region == "EU_868"
    assert p.modem_preset == "LONG_FAST"
    assert p.config.lora.use_preset and p.config.lora.tx_enabled
    assert not p.config.lora.override_duty_cycle  # the 10 % duty cycle of g3 is the law, not a setting
    # ETSI EN 300 220, 869.4-869.65 MHz: 27 dBm ERP. 0 = firmware's legal maximum for the region.
    assert 0 <= p.config.lora.tx_power <= 27
    assert 1 <= p.config.lora.hop_limit <= 7
    assert p.config.position.position_broadcast_secs >= 6 * 3600
    assert not p.config.position.position_broadcast_smart_enabled
    assert p.config.device.node_info_broadcast_secs >= 3 * 3600
    assert not p.module_config.mqtt.enabled
    assert not p.module_config.telemetry.device_telemetry_enabled
    assert p.module_config.telemetry.device_update_interval >= 3 * 3600
    assert p.config.security.serial_enabled
    nspgw = p.channels[profiles.NSPGW_CHANNEL_INDEX]
    assert (nspgw.name, nspgw.psk, nspgw.role) == ("nspgw", profiles.PLACEHOLDER_PSK, "SECONDARY")
    assert p.channels[0].role == "PRIMARY"


def test_roles_per_profile() -> None:
    want = {"nsp": Role.CLIENT, "nsp-leaf": Role.CLIENT_MUTE, "cp": Role.CLIENT, "gct": Role.CLIENT,
            "repeater": Role.ROUTER}
    assert {r: profiles.load_profile(r).config.device.role for r in ROLES} == want


@pytest.mark.parametrize("role", ROLES)
def test_every_profile_carries_port_311(role: str) -> None:
    """No profile may ask for a mode that drops port 311; only the leaf profile may ask for no relaying."""
    p = profiles.load_profile(role)
    mode = config_pb2.Config.DeviceConfig.RebroadcastMode
    assert p.config.device.rebroadcast_mode not in (mode.CORE_PORTNUMS_ONLY, mode.NONE)
    assert profiles.relays_nothing(p) == (role == "nsp-leaf")


def test_leaf_profile_differs_from_nsp_only_in_role() -> None:
    nsp, leaf = profiles.load_profile("nsp"), profiles.load_profile("nsp-leaf")
    assert leaf.config_fields == nsp.config_fields and leaf.module_config == nsp.module_config
    assert leaf.channel_url == nsp.channel_url
    cfg, mod, chans = _live_from(leaf, KEY)
    assert profiles.compare(leaf, cfg, mod, chans, nspgw_psk=KEY) == []  # a mute leaf passes verify
    assert {d.field for d in profiles.compare(nsp, cfg, mod, chans, nspgw_psk=KEY)} == {
        "device.role", profiles.PORT_311_FIELD}  # ... but not against the relaying NSP profile
    cfg.device.role = Role.CLIENT
    assert [d.field for d in profiles.compare(leaf, cfg, mod, chans, nspgw_psk=KEY)] == ["device.role"]


@pytest.mark.parametrize("role", ROLES)
def test_channel_url_lora_matches_config(role: str) -> None:
    """`--configure` applies the URL's LoRa settings before config.lora; they must not disagree."""
    p = profiles.load_profile(role)
    _settings, lora = profiles.parse_channel_url(p.channel_url)
    for name in p.config_fields["lora"]:
        assert getattr(lora, name) == getattr(p.config.lora, name), name


@pytest.mark.parametrize("role", ROLES)
def test_official_cli_parser_reads_profile_identically(role: str) -> None:
    """meshtastic's own --configure parser yields the same values as ours (format compatibility)."""
    from meshtastic.__main__ import _profile_from_yaml

    p = profiles.load_profile(role)
    official = _profile_from_yaml(yaml.safe_load(p.path.read_text()))
    assert official.channel_url == p.channel_url
    for section, names in p.config_fields.items():
        for n in names:
            assert getattr(getattr(official.config, section), n) == getattr(getattr(p.config, section), n)
    for section, names in p.module_fields.items():
        for n in names:
            got = getattr(getattr(official.module_config, section), n)
            assert got == getattr(getattr(p.module_config, section), n)


def _live_from(p: profiles.FirmwareProfile, psk: bytes) -> tuple[localonly_pb2.LocalConfig,
                                                                   localonly_pb2.LocalModuleConfig,
                                                                   list[channel_pb2.Channel]]:
    cfg = localonly_pb2.LocalConfig()
    cfg.CopyFrom(p.config)
    mod = localonly_pb2.LocalModuleConfig()
    mod.CopyFrom(p.module_config)
    chans = []
    for spec in p.channels:
        ch = channel_pb2.Channel(index=spec.index, role=channel_pb2.Channel.Role.Value(spec.role))
        ch.settings.name = spec.name
        ch.settings.psk = psk if spec.name == "nspgw" else spec.psk
        chans.append(ch)
    return cfg, mod, chans


KEY = bytes(range(32))


def test_compare_matching_radio_has_no_differences() -> None:
    p = profiles.load_profile("nsp")
    cfg, mod, chans = _live_from(p, KEY)
    assert profiles.compare(p, cfg, mod, chans, nspgw_psk=KEY) == []
    assert profiles.compare(p, cfg, mod, chans) == []  # without the key file any real key passes


def test_compare_names_region_in_dutch() -> None:
    p = profiles.load_profile("nsp")
    cfg, mod, chans = _live_from(p, KEY)
    cfg.lora.region = config_pb2.Config.LoRaConfig.RegionCode.US
    cfg.lora.hop_limit = 5
    diffs = profiles.compare(p, cfg, mod, chans, nspgw_psk=KEY)
    assert [d.field for d in diffs] == ["lora.region", "lora.hop_limit"]
    assert diffs[0].message() == "regio is US, verwacht EU_868"
    assert diffs[0].message("en") == "lora.region is US, expected EU_868"
    assert [d.field for d in profiles.critical(diffs)] == ["lora.region"]


def test_compare_channel_problems() -> None:
    p = profiles.load_profile("cp")
    cfg, mod, chans = _live_from(p, profiles.PLACEHOLDER_PSK)
    d = profiles.compare(p, cfg, mod, chans)
    assert [x.field for x in d] == ["channel[1].psk"] and "voorbeeldsleutel" in d[0].actual
    _, _, chans = _live_from(p, b"\x07" * 32)
    assert [x.field for x in profiles.compare(p, cfg, mod, chans, nspgw_psk=KEY)] == ["channel[1].psk"]
    chans[1].role = channel_pb2.Channel.Role.DISABLED
    d = profiles.compare(p, cfg, mod, chans, nspgw_psk=KEY)
    assert [x.field for x in d] == ["channel[1].role"] and profiles.critical(d) == d
    mod.mqtt.enabled = True
    assert "module.mqtt.enabled" in [x.field for x in profiles.compare(p, cfg, mod, chans)]


def test_channel_url_with_psk_replaces_only_the_nspgw_key() -> None:
    p = profiles.load_profile("gct")
    settings, lora = profiles.parse_channel_url(p.channel_url_with_psk(KEY))
    assert [(s.name, bytes(s.psk)) for s in settings] == [("", b"\x01"), ("nspgw", KEY)]
    assert lora.region == config_pb2.Config.LoRaConfig.RegionCode.EU_868
    with pytest.raises(ConfigError):
        p.channel_url_with_psk(profiles.PLACEHOLDER_PSK)
    with pytest.raises(ConfigError):
        p.channel_url_with_psk(b"short")


@given(names=st.lists(st.text(max_size=11), min_size=1, max_size=8),
       psks=st.lists(st.binary(max_size=32), min_size=8, max_size=8), hop=st.integers(0, 7))
def test_channel_url_round_trip(names: list[str], psks: list[bytes], hop: int) -> None:
    settings = [channel_pb2.ChannelSettings(name=n, psk=k) for n, k in zip(names, psks, strict=False)]
    lora = config_pb2.Config.LoRaConfig(hop_limit=hop, region=config_pb2.Config.LoRaConfig.RegionCode.EU_868)
    back, lora2 = profiles.parse_channel_url(profiles.make_channel_url(settings, lora))
    assert back == settings and lora2 == lora


@pytest.mark.parametrize("url", ["nope", "https://meshtastic.org/e/#", "https://meshtastic.org/e/#!!!!",
                                 "https://meshtastic.org/e/#CgMSAQ"])
def test_bad_channel_url_is_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        profiles.parse_channel_url(url)


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda d: d["config"].update(nonsense={"a": 1}), "config.nonsense"),
    (lambda d: d["config"]["lora"].update(region="MARS"), "config.lora"),
    (lambda d: d["config"]["lora"].update(hopLimit="veel"), "config.lora"),
    (lambda d: d.pop("channel_url"), "channel_url"),
    (lambda d: d.update(channel_url="https://meshtastic.org/e/#CgMSAQE"), "channel_url"),
])
def test_bad_profile_names_the_field(tmp_path: Path, mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(profiles.load_profile("nsp").path.read_text())
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=field.replace(".", r"\.").replace("[", r"\[")):
        profiles.load_profile(path)


def test_unknown_profile_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="onbekend profiel"):
        profiles.load_profile("brandweer")
    with pytest.raises(ConfigError, match="bestaat niet"):
        profiles.load_profile(tmp_path / "x.yaml")
    (tmp_path / "y.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        profiles.load_profile(tmp_path / "y.yaml")


def test_psk_file(tmp_path: Path) -> None:
    """One channel-key reader refuses everything the two former readers (profiles.read_psk_file,
    enrolment.read_psk) refused: readable by others, a symbolic link, not base64, a wrong length, the
    profiles' placeholder, a missing file."""
    f = tmp_path / "radio-channel.psk"
    f.write_text(base64.b64encode(KEY).decode() + "\n")
    os.chmod(f, 0o600)
    assert read_channel_key(f) == KEY
    f.write_text("base64:" + base64.b64encode(KEY).decode())
    assert read_channel_key(f) == KEY
    for mode in (0o644, 0o640, 0o620, 0o604):
        os.chmod(f, mode)
        with pytest.raises(SecurityError):
            read_channel_key(f)
    os.chmod(f, 0o600)
    link = tmp_path / "link.psk"
    link.symlink_to(f)
    with pytest.raises(SecurityError):
        read_channel_key(link)
    f.write_text("niet base64 !!")
    with pytest.raises(ConfigError, match="base64"):
        read_channel_key(f)
    f.write_text(base64.b64encode(KEY[:20]).decode())
    with pytest.raises(ConfigError, match="16 of 32 bytes"):
        read_channel_key(f)
    f.write_text(base64.b64encode(profiles.PLACEHOLDER_PSK).decode())
    with pytest.raises(ConfigError, match="voorbeeldsleutel"):
        read_channel_key(f)
    with pytest.raises(ConfigError, match="ontbreekt"):
        read_channel_key(tmp_path / "none")
