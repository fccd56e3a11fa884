"""`nspgw selftest` through the real entry point: a failing check gives exit 1 and names itself; warnings
do not fail; a box without radio says "niet getest"; it never writes into the box it inspects."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from nspgw.cli import main
from nspgw.cli.selftest import BUILD_DATE, _clock
from nspgw.store.enrolment_files import Authority


@pytest.fixture
def nspgw(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NSPGW_AUTHORITY_DIR", str(tmp_path / "auth"))
    monkeypatch.setenv("NSPGW_LANG", "nl")

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["nspgw", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    return run


def _enrol_cp(nspgw, tmp: Path) -> Path:
    assert nspgw("roster", "init", "--network", "elst")[0] == 0
    cfg = tmp / "cp1" / "nspgw.toml"
    assert nspgw("init", "--role", "cp", "--name", "cp1", "--network", "elst", "--config", str(cfg), "--no-radio",
                 "--no-qr", "--node-id", "!0000000a")[0] == 0
    assert nspgw("roster", "add", str(tmp / "cp1" / "state" / "enrol-request-cp1.json"))[0] == 0
    assert nspgw("roster", "sign")[0] == 0
    assert nspgw("roster", "bundle", "cp1")[0] == 0
    assert nspgw("roster", "import", "bundle-cp1.json", "--config", str(cfg))[0] == 0
    return cfg


def _checks(out: str) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in json.loads(out)["checks"]}


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_missing_config_fails_and_skips_the_rest(nspgw, tmp_path: Path) -> None:
    code, out, _ = nspgw("selftest", "--json", "--config", str(tmp_path / "nope.toml"))
    assert code == 1
    checks = _checks(out)
    assert checks["config"]["status"] == "fail" and "bestaat niet" in checks["config"]["detail"]
    assert checks["keys"]["status"] == "skip" and checks["clock"]["status"] in ("ok", "warn")


def test_enrolled_box_without_service(nspgw, tmp_path: Path) -> None:
    cfg = _enrol_cp(nspgw, tmp_path)
    before = _tree(tmp_path)
    code, out, _ = nspgw("selftest", "--json", "--config", str(cfg))
    assert code == 1  # the service never ran
    c = _checks(out)
    assert {k: v["status"] for k, v in c.items()} == {
        "config": "ok", "keys": "ok", "roster": "ok", "store": "warn", "daemon": "fail", "radio": "skip",
        "disk": "ok", "clock": "ok"}
    assert "niet getest" in c["radio"]["detail"]
    assert _tree(tmp_path) == before  # a check does not create the store
    code, out, _ = nspgw("selftest", "--config", str(cfg))
    assert code == 1 and "FOUT" in out and "niet getest" in out and "1 controle(s) mislukt" in out


def test_store_present_and_intact_then_corrupt(nspgw, tmp_path: Path) -> None:
    from nspgw.store.sqlite import Store

    cfg = _enrol_cp(nspgw, tmp_path)
    db = tmp_path / "cp1" / "state" / "nspgw.db"
    Store.open(db, create=True).close()
    c = _checks(nspgw("selftest", "--json", "--config", str(cfg))[1])
    assert c["store"]["status"] == "ok"
    db.write_bytes(b"this is not sqlite at all" * 100)
    code, out, _ = nspgw("selftest", "--json", "--config", str(cfg))
    c = _checks(out)
    assert code == 1 and c["store"]["status"] == "fail" and "SQLite" in c["store"]["detail"]
    assert db.read_bytes() == b"this is not sqlite at all" * 100


def test_unsafe_key_file_and_revoked_roster_fail(nspgw, tmp_path: Path) -> None:
    cfg = _enrol_cp(nspgw, tmp_path)
    keys = tmp_path / "cp1" / "state" / "keys"
    os.chmod(keys / "network.key", 0o644)
    c = _checks(nspgw("selftest", "--json", "--config", str(cfg))[1])
    assert c["keys"]["status"] == "fail" and "chmod 600" in c["keys"]["detail"]
    os.chmod(keys / "network.key", 0o600)
    # A roster in which this box is revoked (written in place, as a stale copy or an attacker could).
    auth = Authority(tmp_path / "auth")
    auth.revoke("cp1")
    roster, _ = auth.sign()
    (keys / "roster.json").write_text(roster.to_json())
    c = _checks(nspgw("selftest", "--json", "--config", str(cfg))[1])
    assert c["roster"]["status"] == "fail" and "INGETROKKEN" in c["roster"]["detail"]
    # Tampered roster: signature check fails.
    doc = json.loads(roster.to_json())
    doc["entries"][0]["revoked"] = False
    (keys / "roster.json").write_text(json.dumps(doc))
    c = _checks(nspgw("selftest", "--json", "--config", str(cfg))[1])
    assert c["roster"]["status"] == "fail" and "signature" in c["roster"]["detail"]


def test_clock_before_release_is_a_warning_not_a_failure() -> None:
    assert _clock(now_wall=0.0).status == "warn"  # 1970: a Pi that booted without RTC or NTP
    assert "RTC" in _clock(now_wall=0.0).detail
    import calendar

    floor = calendar.timegm((*BUILD_DATE, 0, 0, 0, 0, 0, 0))
    assert _clock(now_wall=floor + 60).status == "ok"


def test_radio_checked_directly_against_the_profile_when_the_service_is_down(nspgw, tmp_path: Path,
                                                                             sim_mesh) -> None:
    sim = sim_mesh("--nodes", "1", "--no-pty")
    radio = sim.nodes["node0"]
    assert nspgw("roster", "init", "--network", "elst")[0] == 0
    cfg = tmp_path / "cp1" / "nspgw.toml"
    code, out, _ = nspgw("init", "--role", "cp", "--name", "cp1", "--network", "elst", "--config", str(cfg),
                         "--no-qr", "--radio-host", radio["tcp"])  # no --node-id: init reads it from the radio
    assert code == 0 and f"uitgelezen: {radio['node_id']}" in out
    assert nspgw("roster", "add", str(tmp_path / "cp1" / "state" / "enrol-request-cp1.json"))[0] == 0
    assert nspgw("roster", "sign")[0] == 0
    assert nspgw("roster", "bundle", "cp1")[0] == 0
    assert nspgw("roster", "import", "bundle-cp1.json", "--config", str(cfg))[0] == 0
    c = _checks(nspgw("selftest", "--json", "--config", str(cfg))[1])
    assert c["radio"]["status"] == "fail" and "radio provision" in c["radio"]["detail"]  # factory settings
    code, _out, err = nspgw("radio", "provision", "--config", str(cfg))
    assert code == 0, err
    c = _checks(nspgw("selftest", "--json", "--config", str(cfg))[1])
    assert c["radio"]["status"] == "ok" and radio["node_id"] in c["radio"]["detail"], c["radio"]
