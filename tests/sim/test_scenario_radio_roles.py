"""Each simulated box's radio takes role, rebroadcast mode and hop limit from its post type's firmware profile;
a scenario may override the device role per box or per post type, under firmware's own rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nspgw.adapters import radio_profile as profiles
from nspgw.crypto.roster import Role
from nspgw.errors import ConfigError
from nspgw.sim.box_radio import box_radio
from nspgw.sim.scenario import parse_scenario, set_radio_roles
from nspgw.sim.scenario_net import SimNet

_DEVICE_ROLE = profiles.config_pb2.Config.DeviceConfig.Role
_MODE = profiles.config_pb2.Config.DeviceConfig.RebroadcastMode


@pytest.mark.parametrize("post", list(Role))
def test_box_radio_is_what_the_profile_provisions(post: Role) -> None:
    p = profiles.load_profile(post.value)
    radio = box_radio(post)
    assert radio.role == _DEVICE_ROLE.Name(p.config.device.role)
    assert radio.rebroadcast_mode == _MODE.Name(p.config.device.rebroadcast_mode)
    assert radio.hop_limit == p.config.lora.hop_limit


def test_router_override_keeps_the_profiles_mode_and_deprecated_roles_become_client() -> None:
    # provision writes the device section twice, so installRoleDefaults' CORE_PORTNUMS_ONLY does not stay
    assert box_radio(Role.CP, "ROUTER").role == "ROUTER"
    assert box_radio(Role.CP, "router").rebroadcast_mode == box_radio(Role.CP).rebroadcast_mode != "CORE_PORTNUMS_ONLY"
    assert box_radio(Role.NSP, "REPEATER").role == "CLIENT"  # AdminModule stores deprecated roles as CLIENT
    assert box_radio(Role.NSP, "ROUTER_CLIENT").role == "CLIENT"


def _net_doc(**network: Any) -> dict[str, Any]:
    return {"scenario": {"duration": "10m"},
            "network": {"cps": 2, "nsps_per_cp": 2, "cp_links": "star", **network}}


def test_network_radio_roles_cover_every_box_of_the_post_type() -> None:
    sc = parse_scenario(_net_doc(nsp_radio_role="client_mute", cp_radio_role="ROUTER_LATE"))
    roles = dict(sc.radio_roles)
    assert roles == {101: "CLIENT_MUTE", 102: "CLIENT_MUTE", 201: "CLIENT_MUTE", 202: "CLIENT_MUTE",
                     10: "ROUTER_LATE", 11: "ROUTER_LATE"}
    assert sc.with_duration(300).radio_roles == sc.radio_roles


def test_box_radio_role_overrides_its_profile() -> None:
    doc = {"box": [{"addr": 1, "role": "gct"}, {"addr": 10, "role": "cp", "radio_role": "ROUTER"},
                   {"addr": 101, "role": "nsp", "parent": 10}]}
    assert parse_scenario(doc).radio_roles == ((10, "ROUTER"),)


@pytest.mark.parametrize(("doc", "field"), [
    (_net_doc(nsp_radio_role="MUTE"), "network.nsp_radio_role"),
    (_net_doc(cp_radio_role=3), "network.cp_radio_role"),
    ({"box": [{"addr": 1, "role": "gct", "radio_role": ["ROUTER"]}]}, "box[0].radio_role"),
])
def test_bad_radio_role_names_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(doc)


def test_simnet_nodes_get_profile_then_override(tmp_path: Path) -> None:
    sc = parse_scenario(_net_doc(nsp_radio_role="CLIENT_MUTE", cp_radio_role="REPEATER"))
    net = SimNet(list(sc.boxes), tmp_path)
    try:
        assert {n.name: n.role for n in net.mesh.nodes()} == {
            f"box{b.addr}": box_radio(b.role).role for b in sc.boxes}
        set_radio_roles(net, dict(sc.radio_roles))
        nodes = {n.name: n for n in net.mesh.nodes()}
        assert nodes["box101"].role == "CLIENT_MUTE"
        assert nodes["box10"].role == "CLIENT"  # REPEATER: deprecated, stored as CLIENT
        assert nodes["box1"].role == box_radio(Role.GCT).role
        assert {n.rebroadcast_mode for n in nodes.values()} == {"LOCAL_ONLY"}
    finally:
        net.close()


def test_verify_accepts_a_leaf_profile_but_not_a_radio_left_mute() -> None:
    """relay.port_311: CLIENT_MUTE is right where the profile asks for a leaf, wrong anywhere else;
    CORE_PORTNUMS_ONLY is always wrong (the box itself no longer gets port 311)."""
    cfg = profiles.LocalConfig()
    cfg.device.role = _DEVICE_ROLE.CLIENT_MUTE
    cfg.device.rebroadcast_mode = _MODE.LOCAL_ONLY
    relay = profiles.load_profile("cp")
    assert relay.config.device.role != _DEVICE_ROLE.CLIENT_MUTE
    assert profiles.port_311_dropped(cfg, relay) == "CLIENT_MUTE (no relaying)"
    assert profiles.port_311_dropped(cfg) == "CLIENT_MUTE (no relaying)"
    leaf = profiles.parse_profile(_with_role(relay, "CLIENT_MUTE"), Path("leaf.yaml"))
    assert profiles.relays_nothing(leaf) and not profiles.relays_nothing(relay)
    assert profiles.port_311_dropped(cfg, leaf) is None
    cfg.device.rebroadcast_mode = _MODE.CORE_PORTNUMS_ONLY
    assert profiles.port_311_dropped(cfg, leaf) == "CORE_PORTNUMS_ONLY"


def _with_role(p: profiles.FirmwareProfile, role: str) -> dict[str, Any]:
    raw = dict(p.raw)
    raw["config"] = {**raw["config"], "device": {**raw["config"]["device"], "role": role}}
    return raw


def test_simnet_follows_a_changed_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The box-creation line reads the profile, not a constant: a profile directory whose nsp.yaml says
    CLIENT_MUTE and hop limit 5 gives every NSP's mesh node exactly that."""
    import shutil

    import yaml

    profiles_dir = tmp_path / "profiles"
    shutil.copytree(profiles.profile_dir(), profiles_dir)
    raw = yaml.safe_load((profiles_dir / "nsp.yaml").read_text(encoding="utf-8"))
    raw["config"]["device"]["role"] = "CLIENT_MUTE"
    raw["config"]["lora"]["hopLimit"] = 5
    (profiles_dir / "nsp.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    monkeypatch.setenv("NSPGW_PROFILE_DIR", str(profiles_dir))
    sc = parse_scenario(_net_doc())
    net = SimNet(list(sc.boxes), tmp_path)
    try:
        nodes = {n.name: n for n in net.mesh.nodes()}
        assert (nodes["box101"].role, nodes["box101"].hop_limit) == ("CLIENT_MUTE", 5)
        assert (nodes["box10"].role, nodes["box10"].hop_limit) == ("CLIENT", 3)
    finally:
        net.close()
