"""Firmware profiles against virtual radios, with the official `meshtastic` CLI and with `nspgw radio`.

Starts `nspgw sim mesh` as a subprocess; every radio is reached over TCP on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sim_mesh
import yaml
from sim_mesh import stop_mesh

from nspgw.adapters import radio_profile as profiles

pytestmark = pytest.mark.system

VENV_BIN = Path(sys.executable).parent
MESHTASTIC = str(VENV_BIN / "meshtastic")
# The `nspgw` entry point, with the radio group added if nspgw/cli/__init__.py does not register it yet.
NSPGW = [sys.executable, "-c",
         "from nspgw.cli import app, main, radio\n"
         "if not any(g.name == 'radio' for g in app.registered_groups): app.add_typer(radio.app, name='radio')\n"
         "main()"]
KEY = bytes(range(1, 33))


def start_mesh(nodes: int, *args: str) -> tuple[subprocess.Popen[str], list[dict[str, str]], str]:
    return sim_mesh.start_mesh(nodes, *args, cmd=NSPGW)


@pytest.fixture(scope="module")
def mesh() -> Iterator[list[dict[str, str]]]:
    proc, nodes, _control = start_mesh(4, "--full", "--preset", "SHORT_TURBO")
    yield nodes
    stop_mesh(proc)


@pytest.fixture
def psk_file(tmp_path: Path) -> Path:
    f = tmp_path / "radio-channel.psk"
    f.write_text(base64.b64encode(KEY).decode())
    os.chmod(f, 0o600)
    return f


def run(cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def export_config(host: str) -> dict:  # type: ignore[type-arg]
    r = run([MESHTASTIC, "--host", host, "--export-config"])
    assert r.returncode == 0, r.stderr
    text = r.stdout[r.stdout.index("# start of Meshtastic configure yaml"):]
    return yaml.safe_load(text)


ROLE_NODE = {"nsp": 0, "cp": 1, "gct": 2, "repeater": 3}


@pytest.mark.parametrize("role", [
    "nsp",
    pytest.param("cp", marks=pytest.mark.slow),
    pytest.param("gct", marks=pytest.mark.slow),
    pytest.param("repeater", marks=pytest.mark.slow),
])
def test_official_configure_applies_every_field(mesh: list[dict[str, str]], role: str) -> None:
    """`meshtastic --configure` applies the profile; read back with --export-config, only the key differs."""
    host = mesh[ROLE_NODE[role]]["tcp"]
    prof = profiles.load_profile(role)
    r = run([MESHTASTIC, "--host", host, "--configure", str(prof.path)])
    assert r.returncode == 0, r.stdout + r.stderr
    exported = export_config(host)
    back = profiles.parse_profile(exported, Path(f"{role}-exported.yaml"))
    chans = []
    from meshtastic.protobuf import channel_pb2

    for spec in back.channels:
        ch = channel_pb2.Channel(index=spec.index, role=channel_pb2.Channel.Role.Value(spec.role))
        ch.settings.name = spec.name
        ch.settings.psk = spec.psk
        chans.append(ch)
    diffs = {d.field: d for d in profiles.compare(prof, back.config, back.module_config, chans)}
    # Everything matches except the nspgw key, which the official CLI leaves at the placeholder on purpose.
    assert "voorbeeldsleutel" in diffs.pop("channel[1].psk").actual
    if role == "repeater":
        # The field bug, reproduced: --configure writes role ROUTER and LOCAL_ONLY in one set_config;
        # AdminModule::handleSetConfig then runs NodeDB::installRoleDefaults (src/mesh/NodeDB.cpp) for the
        # new role, which sets CORE_PORTNUMS_ONLY, and Router::handleReceived drops port 311.
        assert diffs.pop("device.rebroadcast_mode").actual == "CORE_PORTNUMS_ONLY"
        assert diffs.pop(profiles.PORT_311_FIELD).actual == "CORE_PORTNUMS_ONLY"
    assert diffs == {}


def test_provision_then_verify_then_wrong_region(mesh: list[dict[str, str]], psk_file: Path) -> None:
    host = mesh[0]["tcp"]
    r = run([*NSPGW, "radio", "provision", "--profile", "nsp", "--host", host, "--psk-file", str(psk_file)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Profiel nsp (preset LONG_FAST) toegepast" in r.stdout

    r = run([*NSPGW, "radio", "verify", "--profile", "nsp", "--host", host, "--psk-file", str(psk_file), "--json"])
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] and report["differences"] == [] and report["checked"] > 20

    r = run([MESHTASTIC, "--host", host, "--set", "lora.region", "US"])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([*NSPGW, "radio", "verify", "--profile", "nsp", "--host", host, "--psk-file", str(psk_file)])
    assert r.returncode == 6
    assert "regio is US, verwacht EU_868" in r.stderr
    assert "Traceback" not in r.stderr
    assert "AFWIJKEND" in r.stdout and "lora.region" in r.stdout

    r = run([*NSPGW, "radio", "verify", "--profile", "nsp", "--host", host, "--lang", "en"])
    assert r.returncode == 6 and "lora.region is US, expected EU_868" in r.stderr


@pytest.mark.slow
def test_provision_repeater_keeps_local_only_and_relays_port_311(mesh: list[dict[str, str]],
                                                                psk_file: Path) -> None:
    """`nspgw radio provision --profile repeater` on a CLIENT radio: the device section is written twice, so
    NodeDB::installRoleDefaults (run by AdminModule::handleSetConfig on the role change) cannot leave
    CORE_PORTNUMS_ONLY behind; verify checks the live config relays port 311 and prints both values."""
    host = mesh[3]["tcp"]
    r = run([MESHTASTIC, "--host", host, "--set", "device.role", "CLIENT"])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([*NSPGW, "radio", "provision", "--profile", "repeater", "--host", host, "--psk-file", str(psk_file)])
    assert r.returncode == 0, r.stdout + r.stderr
    got = run([MESHTASTIC, "--host", host, "--get", "device.rebroadcast_mode", "--get", "device.role"])
    # 2 = LOCAL_ONLY (RebroadcastMode), 2 = ROUTER (Role)
    assert "device.rebroadcast_mode: 2" in got.stdout and "device.role: 2" in got.stdout, got.stdout
    r = run([*NSPGW, "radio", "verify", "--profile", "repeater", "--host", host, "--psk-file", str(psk_file),
             "--lang", "en"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "relay.port_311" in r.stdout and "LOCAL_ONLY" in r.stdout and "EU_868" in r.stdout  # both columns

    # A technician "fixes" the mode after the fact in one command with the role: the firmware overrides it.
    r = run([MESHTASTIC, "--host", host, "--set", "device.role", "CLIENT"])
    r = run([MESHTASTIC, "--host", host, "--set", "device.role", "ROUTER", "--set", "device.rebroadcast_mode",
             "LOCAL_ONLY"])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([*NSPGW, "radio", "verify", "--profile", "repeater", "--host", host, "--psk-file", str(psk_file),
             "--json"])
    assert r.returncode == 6
    fields = {d["field"]: d for d in json.loads(r.stdout)["differences"]}
    assert fields[profiles.PORT_311_FIELD]["actual"] == "CORE_PORTNUMS_ONLY"
    r = run([*NSPGW, "radio", "verify", "--profile", "repeater", "--host", host])
    assert "poort 311" in r.stderr and "Traceback" not in r.stderr


def test_provision_leaf_nsp_passes_verify_and_is_caught_under_the_relaying_profile(
        mesh: list[dict[str, str]], psk_file: Path) -> None:
    """`nsp-leaf` (CLIENT_MUTE) provisions and verifies; the same radio verified as a relaying `nsp` fails on
    the role and on relay.port_311, so a radio left mute by mistake is still found. Back to `nsp` after."""
    host = mesh[0]["tcp"]
    r = run([*NSPGW, "radio", "provision", "--profile", "nsp-leaf", "--host", host, "--psk-file", str(psk_file)])
    assert r.returncode == 0, r.stdout + r.stderr
    got = run([MESHTASTIC, "--host", host, "--get", "device.role"])
    assert "device.role: 1" in got.stdout, got.stdout  # 1 = CLIENT_MUTE
    r = run([*NSPGW, "radio", "verify", "--profile", "nsp-leaf", "--host", host, "--psk-file", str(psk_file)])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([*NSPGW, "radio", "verify", "--profile", "nsp", "--host", host, "--psk-file", str(psk_file), "--json"])
    assert r.returncode == 6
    fields = {d["field"]: d for d in json.loads(r.stdout)["differences"]}
    assert set(fields) == {"device.role", profiles.PORT_311_FIELD}
    assert fields[profiles.PORT_311_FIELD]["actual"] == "CLIENT_MUTE (no relaying)"
    r = run([*NSPGW, "radio", "provision", "--profile", "nsp", "--host", host, "--psk-file", str(psk_file)])
    assert r.returncode == 0, r.stdout + r.stderr


def test_verify_without_key_rejects_placeholder(mesh: list[dict[str, str]]) -> None:
    """The profile's own channel URL (placeholder key) set with the official CLI: verify refuses it."""
    host = mesh[1]["tcp"]
    prof = profiles.load_profile("cp")
    r = run([MESHTASTIC, "--host", host, "--seturl", prof.channel_url])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([*NSPGW, "radio", "verify", "--profile", "cp", "--host", host, "--json"])
    assert r.returncode == 6
    fields = [d["field"] for d in json.loads(r.stdout)["differences"]]
    assert "channel[1].psk" in fields and "lora.region" not in fields


def test_detect_over_tcp(mesh: list[dict[str, str]]) -> None:
    host = mesh[2]["tcp"]
    r = run([*NSPGW, "radio", "detect", "--host", host, "--json"])
    assert r.returncode == 0, r.stderr
    (info,) = json.loads(r.stdout)
    assert info["node_id"] == mesh[2]["node_id"] and info["region"] == "EU_868"


def test_absent_radio_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for cmd in (["radio", "detect", "--host", f"127.0.0.1:{port}"],
                ["radio", "verify", "--profile", "nsp", "--host", f"127.0.0.1:{port}"]):
        r = run([*NSPGW, *cmd])
        assert r.returncode == 6, r.stderr
        assert "radio niet bereikbaar" in r.stderr and "Traceback" not in r.stderr
    r = run([*NSPGW, "radio", "verify", "--profile", "brandweer", "--host", "127.0.0.1:1"])
    assert r.returncode == 3 and "onbekend profiel" in r.stderr
