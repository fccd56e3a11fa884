"""The demo's deployment: 1 crisis team (GCT), 2 coordination points (CP), 4 support points (NSP).

    gct ─── cp-noord ─┬─ nsp-dorpshuis            radio links as in a village: each NSP hears only its own
       │              └─ nsp-bieb   (lossy)       CP, the CPs hear the GCT; two links lose frames, so the
       └─── cp-zuid ──┬─ nsp-kerk                 radio path needs the core's retries and custody
                      └─ nsp-sporthal (lossy)

`topology_toml` writes the `nspgw sim mesh --topology` file; `provision` writes each box's config, keys
(`crypto.enrol.make_network`, deterministic for the simulation's seed: never outside a simulation) and its
role profile with the simulation's preset. `nspgw.sim.boxes.provision_chain` gives every NSP the first CP as
parent; here each NSP belongs to the CP it hears.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from nspgw.config import Config, MqttConfig, RadioConfig, render_config
from nspgw.crypto.enrol import BoxSpec, make_network
from nspgw.crypto.roster import Role
from nspgw.ids import BoxAddr, parse_node_id
from nspgw.sim.boxes import NETWORK, PSK_FILE_NAME, SIM_KEY_SEED, SimBox, sim_psk, write_profile
from nspgw.store.keyfiles import write_atomic, write_bundle


@dataclass(frozen=True)
class DemoBox:
    name: str
    role: Role
    addr: int
    parent: str = ""   # the CP an NSP belongs to
    uplink: str = ""   # the radio it hears (its parent, or the GCT for a CP)
    loss: float = 0.0  # frame loss on that radio link


# Addresses: the GCT 1, CPs 10/20, NSPs 1xx/2xx under their CP (readable in `nspgw status` and logs).
DEMO_BOXES: tuple[DemoBox, ...] = (
    DemoBox("gct", Role.GCT, 1),
    DemoBox("cp-noord", Role.CP, 10, uplink="gct", loss=0.05),
    DemoBox("cp-zuid", Role.CP, 20, uplink="gct", loss=0.05),
    DemoBox("nsp-dorpshuis", Role.NSP, 101, parent="cp-noord", uplink="cp-noord"),
    DemoBox("nsp-bieb", Role.NSP, 102, parent="cp-noord", uplink="cp-noord", loss=0.2),
    DemoBox("nsp-kerk", Role.NSP, 201, parent="cp-zuid", uplink="cp-zuid"),
    DemoBox("nsp-sporthal", Role.NSP, 202, parent="cp-zuid", uplink="cp-zuid", loss=0.15),
)


def topology_toml(preset: str, seed: int, boxes: tuple[DemoBox, ...] = DEMO_BOXES) -> str:
    """The simulated mesh: one radio per box, a radio link from each box to its uplink."""
    lines = ["[mesh]", f'preset = "{preset}"', f"seed = {seed}", 'region = "EU_868"', ""]
    for b in boxes:
        lines += ["[[node]]", f'name = "{b.name}"', 'role = "CLIENT"', ""]
    for b in boxes:
        if b.uplink:
            # SNR/RSSI are shown by `nspgw peers`; a lossy link is also a weak one.
            snr, rssi = (-4.0, -117) if b.loss >= 0.1 else (6.0, -98)
            lines += ["[[link]]", f'a = "{b.uplink}"', f'b = "{b.name}"', f"loss = {b.loss}", f"snr = {snr}",
                      f"rssi = {rssi}", ""]
    return "\n".join(lines)


def configure_verified(boxes: list[SimBox], tries: int = 3, seed: bytes = SIM_KEY_SEED) -> int:
    """`boxes.configure_radios`, then read each radio back and re-apply its profile while a difference that
    stops transmission remains (the daemon's profile gate would refuse the radio). Returns the re-applies.

    Why: now and then a profile written over TCP does not fully land on a virtual radio (seen: the nspgw
    channel still DISABLED), and one misconfigured radio would keep its whole box off the air."""
    from nspgw import profiles
    from nspgw.adapters.radio_admin import apply_profile, compare_radio, connected
    from nspgw.adapters.radio_connect import RadioTarget
    from nspgw.sim.boxes import configure_radios
    from nspgw.sim.demo_procs import DemoError

    configure_radios(boxes, seed)
    psk = sim_psk(seed)
    redone = 0
    for box in boxes:
        profile = profiles.load_profile(box.profile_path)
        for _ in range(tries):
            with connected(RadioTarget.parse(host=box.radio_host), 30.0) as iface:
                bad = profiles.critical(compare_radio(iface, profile, psk))
                if not bad:
                    break
                redone += 1
                apply_profile(iface, profile, psk, owner=box.name)
        else:
            raise DemoError(f"radio van {box.name} blijft verkeerd ingesteld: {bad}")
    return redone


def provision(root: Path, radios: dict[str, dict[str, object]], *, preset: str,
              mqtt: tuple[str, int] | None, seed: bytes = SIM_KEY_SEED,
              boxes: tuple[DemoBox, ...] = DEMO_BOXES) -> list[SimBox]:
    """Config, keys and profile for every box; `radios` are the `nspgw sim mesh` lines by radio name."""
    addr_of = {b.name: b.addr for b in boxes}
    specs = [BoxSpec(BoxAddr(b.addr), b.name, b.role, int(parse_node_id(str(radios[b.name]["node_id"]))),
                     BoxAddr(addr_of[b.parent]) if b.parent else None) for b in boxes]
    net = make_network(specs, seed)
    psk = sim_psk(seed)
    out: list[SimBox] = []
    for b, spec in zip(boxes, specs, strict=True):
        box_dir = root / b.name
        state = box_dir / "state"
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        keys = state / "keys"
        write_bundle(keys, spec.addr, net.identities[spec.addr], net.roster, net.authority.public,
                     (net.network_key,))
        write_atomic(keys / PSK_FILE_NAME, base64.b64encode(psk) + b"\n")
        profile = write_profile(b.role, preset, box_dir / f"profile-{b.role.value}.yaml")
        host = str(radios[b.name]["tcp"])
        cfg = Config(
            path=box_dir / "nspgw.toml", name=b.name, role=b.role.value, network=NETWORK, state_dir=state,
            parent=b.parent,
            radio=RadioConfig(enabled=True, port="auto", host=host, profile=str(profile), preset=preset),
            mqtt=MqttConfig(enabled=mqtt is not None, host=mqtt[0] if mqtt else "127.0.0.1",
                            port=mqtt[1] if mqtt else 1883),
        )
        cfg.path.write_text(render_config(cfg), encoding="utf-8")
        out.append(SimBox(b.name, spec.addr, b.role, cfg.path, state, spec.node_num, host, b.name, profile))
    return out
