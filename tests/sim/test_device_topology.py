"""Topology files: good files load, every bad field is named in a ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from nspgw.errors import ConfigError
from nspgw.sim import topology

GOOD = """
[mesh]
preset = "SHORT_TURBO"
seed = 7

[[node]]
name = "nsp-a"
node_id = "!a1b2c3d4"
role = "CLIENT"
position = [0.0, 10.5]

[[node]]
name = "cp-1"
role = "ROUTER"

[[link]]
a = "nsp-a"
b = "cp-1"
loss = 0.25
snr = 4.5
rssi = -110

[[event]]
at_s = 20
action = "link_down"
a = "nsp-a"
b = "cp-1"

[[event]]
at_s = 5
action = "node_down"
node = "cp-1"
"""


def test_good_file_loads(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text(GOOD)
    t = topology.load(f)
    assert t.preset == "SHORT_TURBO" and t.seed == 7 and t.region == "EU_868"
    assert [n.name for n in t.nodes] == ["nsp-a", "cp-1"]
    assert t.nodes[0].node_num == 0xA1B2C3D4 and t.nodes[0].position == (0.0, 10.5)
    assert t.nodes[1].node_num == topology.derive_node_num(7, "cp-1")
    assert t.links[0].loss == 0.25 and t.links[0].rssi == -110
    assert [(e.at_s, e.action) for e in t.events] == [(5.0, "node_down"), (20.0, "link_down")]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("loss = 0.25", "loss = 1.5", "link[0].loss: must be between 0 and 1"),
        ("loss = 0.25", 'loss = "x"', "link[0].loss: must be a number"),
        ('b = "cp-1"\nloss', 'b = "nowhere"\nloss', "link[0].b: unknown node 'nowhere'"),
        ('preset = "SHORT_TURBO"', 'preset = "FAST_AS_LIGHT"', "mesh.preset: 'FAST_AS_LIGHT' is not one of"),
        ('role = "ROUTER"', 'role = "KING"', "node[1].role"),
        ('node_id = "!a1b2c3d4"', 'node_id = "12"', "node[0].node_id: must look like"),
        ("rssi = -110", "rssi = -110\ncolour = 1", "link[0].colour: unknown field"),
        ('action = "link_down"', 'action = "explode"', "event[0].action"),
        ("seed = 7", "seed = 7.5", "mesh.seed: must be an integer"),
    ],
)
def test_bad_field_is_named(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    f = tmp_path / "bad.toml"
    f.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        topology.load(f)
    assert message in str(err.value)
    assert str(f) in str(err.value)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "x.toml"
    f.write_text("[mesh\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        topology.load(f)
    with pytest.raises(ConfigError, match="cannot read"):
        topology.load(tmp_path / "missing.toml")


def test_chain_and_full() -> None:
    c = topology.chain(4, seed=1)
    assert [(lk.a, lk.b) for lk in c.links] == [("node0", "node1"), ("node1", "node2"), ("node2", "node3")]
    f = topology.chain(4, seed=1, full=True)
    assert len(f.links) == 6
    assert len({n.node_num for n in c.nodes}) == 4
    with pytest.raises(ConfigError, match=r"mesh\.preset"):
        topology.chain(2, preset="NOPE")
