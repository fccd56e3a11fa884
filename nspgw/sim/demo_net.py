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

from dataclasses import dataclass
from pathlib import Path

from nspgw.crypto.enrol import BoxSpec
from nspgw.crypto.roster import Role
from nspgw.ids import BoxAddr, parse_node_id
from nspgw.sim.boxes import SIM_KEY_SEED, SimBox, provision_specs


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


def provision(root: Path, radios: dict[str, dict[str, object]], *, preset: str,
              mqtt: tuple[str, int] | None, seed: bytes = SIM_KEY_SEED,
              boxes: tuple[DemoBox, ...] = DEMO_BOXES) -> list[SimBox]:
    """Config, keys and profile for every box; `radios` are the `nspgw sim mesh` lines by radio name."""
    addr_of = {b.name: b.addr for b in boxes}
    specs = [BoxSpec(BoxAddr(b.addr), b.name, b.role, int(parse_node_id(str(radios[b.name]["node_id"]))),
                     BoxAddr(addr_of[b.parent]) if b.parent else None) for b in boxes]
    named = {b.name: dict(radios[b.name], name=b.name) for b in boxes}  # the demo names radios after boxes
    return provision_specs(root, specs, named, preset=preset, mqtt=mqtt, seed=seed)
