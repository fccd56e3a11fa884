"""Provision whole nspgw boxes (config, keys, store location) for tests, benches and the demo.

    radios = [{"name": "node0", "node_id": "!9b8eb8d4", "tcp": "127.0.0.1:4403"}, ...]  # `nspgw sim mesh` lines
    boxes = provision_chain(root, radios, preset="SHORT_TURBO")     # nsp ← cp ← gct, one box per radio
    configure_radios(boxes)                                        # profile + channel key onto each radio

Each box gets `root/<name>/nspgw.toml` and a state directory with its enrolment bundle (from
`crypto.enrol.make_network`, deterministic for a seed: never use these keys outside a simulation), the
radio channel key, and a firmware profile derived from its role profile with the simulated mesh's preset (the
daemon's profile gate compares the radio with exactly this file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nspgw.config import Config, MqttConfig, RadioConfig, render_config
from nspgw.crypto.enrol import BoxSpec, Network, make_network
from nspgw.crypto.roster import Role
from nspgw.ids import BoxAddr, parse_node_id
from nspgw.store.keyfiles import CHANNEL_KEY, write_bundle, write_channel_key

SIM_KEY_SEED = b"nspgw simulated boxes - not for real use"
NETWORK = "sim"

# The standard chain of the system tests and the demo: radio k carries box k.
CHAIN: tuple[tuple[str, Role, int], ...] = (("nsp1", Role.NSP, 101), ("cp1", Role.CP, 10), ("gct", Role.GCT, 1))


@dataclass(frozen=True)
class SimBox:
    """One provisioned box: where its config is and which virtual radio it drives."""

    name: str
    addr: BoxAddr
    role: Role
    config_path: Path
    state_dir: Path
    node_num: int
    radio_host: str
    radio_name: str
    profile_path: Path

    @property
    def store_path(self) -> Path:
        return self.state_dir / "nspgw.db"


def sim_psk(seed: bytes = SIM_KEY_SEED) -> bytes:
    """The simulated network's nspgw channel key (32 bytes, derived from the seed)."""
    import hashlib

    return hashlib.sha256(b"radio-channel/" + seed).digest()


def write_profile(role: Role, preset: str, path: Path) -> Path:
    """The role's firmware profile with `preset` instead of LONG_FAST (the simulated mesh's preset)."""
    from meshtastic.protobuf import config_pb2

    from nspgw.adapters import radio_profile as profiles

    raw = yaml.safe_load(profiles.load_profile(role.value).path.read_text(encoding="utf-8"))
    raw["config"]["lora"]["modemPreset"] = preset
    settings, lora = profiles.parse_channel_url(raw["channel_url"])
    lora.modem_preset = config_pb2.Config.LoRaConfig.ModemPreset.Value(preset)
    raw["channel_url"] = profiles.make_channel_url(settings, lora)
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def chain_specs(radios: list[dict[str, Any]],
                layout: tuple[tuple[str, Role, int], ...] = CHAIN) -> list[BoxSpec]:
    """One box per radio line (in order), roles and addresses from `layout`; NSPs get the first CP as parent."""
    if len(radios) < len(layout):
        raise ValueError(f"need {len(layout)} radios, got {len(radios)}")
    cp_addr = next((a for _, r, a in layout if r == Role.CP), None)
    return [BoxSpec(BoxAddr(addr), name, role, int(parse_node_id(radio["node_id"])),
                    BoxAddr(cp_addr) if role == Role.NSP and cp_addr is not None else None)
            for (name, role, addr), radio in zip(layout, radios, strict=False)]


def chain_network(radios: list[dict[str, Any]], *, seed: bytes = SIM_KEY_SEED,
                  layout: tuple[tuple[str, Role, int], ...] = CHAIN) -> tuple[list[BoxSpec], Network]:
    """The enrolled network `provision_chain` writes (tests use it to act as the authority or another box)."""
    specs = chain_specs(radios, layout)
    return specs, make_network(specs, seed)


def provision_chain(root: Path, radios: list[dict[str, Any]], *, preset: str = "LONG_FAST",
                    mqtt: tuple[str, int] | None = None, seed: bytes = SIM_KEY_SEED,
                    layout: tuple[tuple[str, Role, int], ...] = CHAIN) -> list[SimBox]:
    """One box per radio line (in order), roles and addresses from `layout`; NSPs get the first CP as parent."""
    specs = chain_specs(radios, layout)
    return provision_specs(root, specs, dict(zip([s.name for s in specs], radios, strict=False)), preset=preset,
                           mqtt=mqtt, seed=seed)


def provision_specs(root: Path, specs: list[BoxSpec], radios: dict[str, dict[str, Any]], *, preset: str,
                    mqtt: tuple[str, int] | None, seed: bytes = SIM_KEY_SEED) -> list[SimBox]:
    """Config, keys, channel key and firmware profile for every box, each on the radio `radios[name]`
    (an `nspgw sim mesh` line: `tcp`, `node_id`, optional `name`); the roster is made from `specs`."""
    net = make_network(specs, seed)
    psk = sim_psk(seed)
    name_of = {s.addr: s.name for s in specs}
    boxes: list[SimBox] = []
    for spec in specs:
        radio = radios[spec.name]
        box_dir = root / spec.name
        state = box_dir / "state"
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        keys = state / "keys"
        write_bundle(keys, spec.addr, net.identities[spec.addr], net.roster, net.authority.public,
                     (net.network_key,))
        write_channel_key(keys / CHANNEL_KEY, psk)
        profile = write_profile(spec.role, preset, box_dir / f"profile-{spec.role.value}.yaml")
        host = str(radio["tcp"])
        cfg = Config(
            path=box_dir / "nspgw.toml", name=spec.name, role=spec.role.value, network=NETWORK, state_dir=state,
            parent=name_of.get(spec.parent, "") if spec.parent is not None else "",
            radio=RadioConfig(enabled=True, port="auto", host=host, profile=str(profile), preset=preset),
            mqtt=MqttConfig(enabled=mqtt is not None, host=mqtt[0] if mqtt else "127.0.0.1",
                            port=mqtt[1] if mqtt else 1883),
        )
        cfg.path.write_text(render_config(cfg), encoding="utf-8")
        boxes.append(SimBox(spec.name, spec.addr, spec.role, cfg.path, state, spec.node_num, host,
                            str(radio.get("name", "")), profile))
    return boxes


def configure_radios(boxes: list[SimBox], seed: bytes = SIM_KEY_SEED, timeout_s: float = 30.0,
                     tries: int = 3) -> int:
    """Apply each box's profile and the channel key to its virtual radio as `nspgw radio provision` does (read
    back and re-applied: `radio_admin.provision_checked`), then wait until the radios know each other's keys.
    Returns how many profiles had to be applied again."""
    from nspgw.adapters import radio_profile as profiles
    from nspgw.adapters.radio_admin import provision_checked
    from nspgw.adapters.radio_connect import RadioTarget

    psk = sim_psk(seed)
    redone = sum(provision_checked(RadioTarget.parse(host=box.radio_host), profiles.load_profile(box.profile_path),
                                   psk, owner=box.name, timeout_s=timeout_s, tries=tries) for box in boxes)
    _wait_for_keys(boxes, timeout_s)
    return redone


def _wait_for_keys(boxes: list[SimBox], timeout_s: float) -> None:
    """Firmware 2.7 refuses a DM to a node whose public key it has not heard (PKI_SEND_FAIL_PUBLIC_KEY); real
    radios have exchanged NodeInfo long before a box goes live. Wait (bounded) until every radio of this set
    knows every other one's key, as after the announcements the provisioning reboot triggers."""
    import time

    from nspgw.adapters.radio_admin import connected
    from nspgw.adapters.radio_connect import RadioTarget

    nums = {box.node_num for box in boxes}
    deadline = time.monotonic() + timeout_s
    for box in boxes:
        while time.monotonic() < deadline:
            with connected(RadioTarget.parse(host=box.radio_host), timeout_s) as iface:
                have = {num for num, n in (iface.nodesByNum or {}).items()
                        if n.get("user", {}).get("publicKey")}
            if nums - {box.node_num} <= have:
                break
            time.sleep(0.5)
