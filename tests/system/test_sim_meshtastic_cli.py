"""The official `meshtastic` CLI against `nspgw sim mesh`: what a technician does with a real radio works.

Runs real processes: the simulator and the venv's `meshtastic` executable, over TCP and over the pty.
SHORT_TURBO keeps the real-time mesh quick; the preset itself is checked in --info.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.system, pytest.mark.slow]
MESHTASTIC = str(Path(sys.executable).parent / "meshtastic")


def mt(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MESHTASTIC, *args], capture_output=True, text=True, timeout=timeout_s)


def _run_all(target: list[str], sim: Any, wait_for: Callable[..., Any]) -> None:
    node0, node1, node2 = (sim.nodes[f"node{k}"] for k in range(3))

    info = mt(*target, "--info")
    assert info.returncode == 0, info.stderr
    assert node0["node_id"] in info.stdout
    assert '"region": "EU_868"' in info.stdout
    assert '"modemPreset": "SHORT_TURBO"' in info.stdout

    def both_listed() -> bool:
        out = mt(*target, "--nodes").stdout
        return node1["node_id"] in out and node2["node_id"] in out

    wait_for(both_listed, timeout_s=30, interval_s=0.2, what="--nodes to list node1 and node2")

    sent = mt(*target, "--sendtext", "hi", "--dest", node2["node_id"], "--ack")
    assert sent.returncode == 0, sent.stderr
    # node0 hears node1 relay its DM first: ReliableRouter::shouldFilterReceived (src/mesh/ReliableRouter.cpp)
    # turns that into an implicit ack, which the CLI reports as such, as with a real 2.7 radio.
    assert "Received an implicit ACK." in sent.stdout, sent.stdout + sent.stderr


@pytest.fixture
def three_chain(sim_mesh: Callable[..., Any], free_port_block: Callable[[int], int]) -> tuple[Any, int]:
    base = free_port_block(3)
    sim = sim_mesh("--nodes", "3", "--chain", "--base-port", str(base), "--preset", "SHORT_TURBO", "--seed", "3")
    return sim, base


def test_cli_over_tcp(three_chain: tuple[Any, int], tmp_path: Path, wait_for: Callable[..., Any]) -> None:
    sim, base = three_chain
    assert sim.nodes["node0"]["tcp"] == f"127.0.0.1:{base}"
    target = ["--host", f"127.0.0.1:{base}"]
    _run_all(target, sim, wait_for)

    assert mt(*target, "--set", "lora.hop_limit", "5").returncode == 0
    got = mt(*target, "--get", "lora.hop_limit")
    assert "lora.hop_limit: 5" in got.stdout, got.stdout + got.stderr

    cfg = tmp_path / "export.yaml"
    exported = mt(*target, "--export-config", str(cfg))
    assert exported.returncode == 0, exported.stderr
    assert "hopLimit: 5" in cfg.read_text()
    configured = mt(*target, "--configure", str(cfg), timeout_s=120)
    assert configured.returncode == 0, configured.stderr
    assert "Writing modified configuration to device" in configured.stdout


def test_cli_over_pty(three_chain: tuple[Any, int], wait_for: Callable[..., Any]) -> None:
    sim, _ = three_chain
    _run_all(["--port", sim.nodes["node0"]["pty"]], sim, wait_for)


def test_role_and_rebroadcast_mode_as_firmware_stores_them(three_chain: tuple[Any, int]) -> None:
    """AdminModule::handleSetConfig (src/modules/AdminModule.cpp) with NodeDB::installRoleDefaults
    (src/mesh/NodeDB.cpp), through the official CLI: the acceptance round trip of the repeater field bug."""
    _, base = three_chain
    target = ["--host", f"127.0.0.1:{base + 1}"]

    def get(field: str) -> str:
        out = mt(*target, "--get", field)
        assert out.returncode == 0, out.stderr
        line = next(ln for ln in out.stdout.splitlines() if ln.startswith(f"{field}:"))
        return line.split(":", 1)[1].strip()

    from meshtastic.protobuf import config_pb2

    mode = config_pb2.Config.DeviceConfig.RebroadcastMode
    role = config_pb2.Config.DeviceConfig.Role
    # One set_config with both fields: the role change installs ROUTER's defaults after the copy.
    assert mt(*target, "--set", "device.role", "ROUTER", "--set", "device.rebroadcast_mode",
              "LOCAL_ONLY").returncode == 0
    assert mode.Name(int(get("device.rebroadcast_mode"))) == "CORE_PORTNUMS_ONLY"
    # The same mode again with the role unchanged: no defaults, the mode stays.
    assert mt(*target, "--set", "device.rebroadcast_mode", "LOCAL_ONLY").returncode == 0
    assert mode.Name(int(get("device.rebroadcast_mode"))) == "LOCAL_ONLY"
    # NONE is refused for a router role (stored as ALL).
    assert mt(*target, "--set", "device.rebroadcast_mode", "NONE").returncode == 0
    assert mode.Name(int(get("device.rebroadcast_mode"))) == "ALL"
    # Deprecated roles are stored as CLIENT.
    for deprecated in ("ROUTER_CLIENT", "REPEATER"):
        assert mt(*target, "--set", "device.role", deprecated).returncode == 0
        assert role.Name(int(get("device.role"))) == "CLIENT"
