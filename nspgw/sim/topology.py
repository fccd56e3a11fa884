"""Topology files (TOML) for `nspgw sim mesh --topology`: nodes, links, scheduled link/node events.

```toml
[mesh]
preset = "LONG_FAST"      # Meshtastic modem preset
seed = 1
region = "EU_868"

[[node]]
name = "nsp-a"
node_id = "!a1b2c3d4"     # optional; derived from seed and name otherwise
role = "CLIENT"           # Config.DeviceConfig.Role name
position = [0.0, 0.0]     # optional, metres

[[link]]
a = "nsp-a"
b = "cp-1"
loss = 0.1                # packet loss probability 0..1
snr = 6.0
rssi = -100

[[event]]
at_s = 30.0
action = "link_down"      # link_down | link_up | node_down | node_up
a = "nsp-a"
b = "cp-1"
```
Every error is a `ConfigError` that names the field (`link[2].loss: must be between 0 and 1`).
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshtastic.protobuf import config_pb2

from nspgw.errors import ConfigError

PRESETS = set(config_pb2.Config.LoRaConfig.ModemPreset.keys())
REGIONS = set(config_pb2.Config.LoRaConfig.RegionCode.keys()) - {"UNSET"}
ROLES = set(config_pb2.Config.DeviceConfig.Role.keys())
ACTIONS = {"link_down", "link_up", "node_down", "node_up"}


@dataclass(frozen=True)
class NodeSpec:
    name: str
    node_num: int
    role: str = "CLIENT"
    position: tuple[float, float] | None = None


@dataclass(frozen=True)
class LinkSpec:
    a: str
    b: str
    loss: float = 0.0
    snr: float = 10.0
    rssi: int = -80


@dataclass(frozen=True)
class TopologyEventSpec:
    at_s: float
    action: str
    a: str
    b: str | None = None


@dataclass(frozen=True)
class Topology:
    preset: str = "LONG_FAST"
    seed: int = 0
    region: str = "EU_868"
    nodes: tuple[NodeSpec, ...] = ()
    links: tuple[LinkSpec, ...] = ()
    events: tuple[TopologyEventSpec, ...] = field(default_factory=tuple)


def derive_node_num(seed: int, name: str) -> int:
    """Stable, random-looking 32-bit node numbers (firmware derives them from the MAC address)."""
    num = int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:4], "big")
    return num if 4 <= num < 0xFFFFFFFF else 0x10000000 + len(name)


def chain(n: int, *, preset: str = "LONG_FAST", seed: int = 0, full: bool = False) -> Topology:
    """`--chain`: node0 - node1 - ... each hearing only its neighbours; `--full`: everyone hears everyone."""
    if n < 1:
        raise ConfigError("--nodes: must be at least 1")
    _check_choice("mesh.preset", preset, PRESETS)
    nodes = tuple(NodeSpec(f"node{k}", derive_node_num(seed, f"node{k}")) for k in range(n))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)] if full else [(k, k + 1) for k in range(n - 1)]
    links = tuple(LinkSpec(nodes[i].name, nodes[j].name) for i, j in pairs)
    return Topology(preset=preset, seed=seed, nodes=nodes, links=links)


def load(path: Path) -> Topology:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read topology file: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return parse(doc)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _unknown(where: str, table: dict[str, Any], allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}.{key}: unknown field (allowed: {', '.join(sorted(allowed))})")


def _table(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a table")
    return value


def _str(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: must be a non-empty string")
    return value


def _num(where: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: must be a number")
    if not lo <= value <= hi:
        raise ConfigError(f"{where}: must be between {lo:g} and {hi:g}")
    return float(value)


def _check_choice(where: str, value: Any, choices: set[str]) -> str:
    if value not in choices:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(sorted(choices))}")
    return str(value)


def _node_num(where: str, value: Any) -> int:
    text = _str(where, value)
    try:
        num = int(text[1:], 16) if text.startswith("!") else -1
    except ValueError:
        num = -1
    if len(text) != 9 or not 4 <= num < 0xFFFFFFFF:
        raise ConfigError(f"{where}: must look like '!a1b2c3d4' (8 hex digits, not broadcast)")
    return num


def parse(doc: dict[str, Any]) -> Topology:
    _unknown("topology", doc, {"mesh", "node", "link", "event"})
    mesh = _table("mesh", doc.get("mesh", {}))
    _unknown("mesh", mesh, {"preset", "seed", "region"})
    preset = _check_choice("mesh.preset", mesh.get("preset", "LONG_FAST"), PRESETS)
    region = _check_choice("mesh.region", mesh.get("region", "EU_868"), REGIONS)
    seed = mesh.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError("mesh.seed: must be an integer")
    raw_nodes = doc.get("node", [])
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise ConfigError("node: at least one [[node]] is required")
    nodes: list[NodeSpec] = []
    names: set[str] = set()
    nums: set[int] = set()
    for i, raw in enumerate(raw_nodes):
        where = f"node[{i}]"
        t = _table(where, raw)
        _unknown(where, t, {"name", "node_id", "role", "position"})
        name = _str(f"{where}.name", t.get("name"))
        if name in names:
            raise ConfigError(f"{where}.name: duplicate node name {name!r}")
        num = _node_num(f"{where}.node_id", t["node_id"]) if "node_id" in t else derive_node_num(seed, name)
        if num in nums:
            raise ConfigError(f"{where}.node_id: duplicate node id")
        role = _check_choice(f"{where}.role", t.get("role", "CLIENT"), ROLES)
        pos = t.get("position")
        if pos is not None:
            if not isinstance(pos, list) or len(pos) != 2:
                raise ConfigError(f"{where}.position: must be [x_m, y_m]")
            pos = (_num(f"{where}.position[0]", pos[0], -1e7, 1e7), _num(f"{where}.position[1]", pos[1], -1e7, 1e7))
        names.add(name)
        nums.add(num)
        nodes.append(NodeSpec(name, num, role, pos))
    links: list[LinkSpec] = []
    for i, raw in enumerate(doc.get("link", [])):
        where = f"link[{i}]"
        t = _table(where, raw)
        _unknown(where, t, {"a", "b", "loss", "snr", "rssi"})
        a, b = (_known(f"{where}.{k}", t.get(k), names) for k in ("a", "b"))
        if a == b:
            raise ConfigError(f"{where}.b: a link needs two different nodes")
        rssi = t.get("rssi", -80)
        if isinstance(rssi, bool) or not isinstance(rssi, int):
            raise ConfigError(f"{where}.rssi: must be an integer (dBm)")
        links.append(LinkSpec(a, b, _num(f"{where}.loss", t.get("loss", 0.0), 0, 1),
                              _num(f"{where}.snr", t.get("snr", 10.0), -30, 30), rssi))
    events: list[TopologyEventSpec] = []
    for i, raw in enumerate(doc.get("event", [])):
        where = f"event[{i}]"
        t = _table(where, raw)
        _unknown(where, t, {"at_s", "action", "a", "b", "node"})
        at_s = _num(f"{where}.at_s", t.get("at_s"), 0, 1e9)
        action = _check_choice(f"{where}.action", t.get("action"), ACTIONS)
        if action.startswith("link"):
            a, b = (_known(f"{where}.{k}", t.get(k), names) for k in ("a", "b"))
            events.append(TopologyEventSpec(at_s, action, a, b))
        else:
            node = t.get("node", t.get("a"))
            events.append(TopologyEventSpec(at_s, action, _known(f"{where}.node", node, names)))
    return Topology(preset, seed, region, tuple(nodes), tuple(links), tuple(sorted(events, key=lambda e: e.at_s)))


def _known(where: str, value: Any, names: set[str]) -> str:
    name = _str(where, value)
    if name not in names:
        raise ConfigError(f"{where}: unknown node {name!r}")
    return name
