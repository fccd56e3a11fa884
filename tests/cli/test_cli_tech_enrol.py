"""Technician commands through the real entry point (`nspgw.cli.main`, the one error boundary):
`nspgw init`, `nspgw keys`, `nspgw roster` — success, and every refusal with its documented exit code, a
clear message, no traceback and nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nspgw.cli import main
from nspgw.crypto.bundle import EnrolRequest
from nspgw.errors import ConfigError, NspgwError, SecurityError, UsageError
from nspgw.store.enrolment_files import load_request
from nspgw.store.keyfiles import load_keyring

USAGE, CONFIG, SECURITY = UsageError.exit_code, ConfigError.exit_code, SecurityError.exit_code


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def nspgw(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Run `nspgw ARGS` in-process through `main()` (exit code as the shell sees it)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NSPGW_AUTHORITY_DIR", str(tmp_path / "auth"))
    monkeypatch.setenv("NSPGW_LANG", "nl")
    monkeypatch.delenv("NSPGW_CONFIG", raising=False)

    def run(*args: str) -> Result:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["nspgw", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return Result(code, out, err)

    return run


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(root)): (p.stat().st_mode, p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file()}


def box_init(nspgw, tmp: Path, name: str, role: str, *extra: str) -> Result:
    r = nspgw("init", "--role", role, "--name", name, "--network", "elst", "--config",
              str(tmp / name / "nspgw.toml"), "--no-radio", "--no-qr", *extra)
    assert r.code == 0, r.err
    return r


def enrolled_pair(nspgw, tmp: Path) -> None:
    """Authority + cp1 + nsp1 (parent cp1), signed roster v1, both bundles imported."""
    assert nspgw("roster", "init", "--network", "elst").code == 0
    box_init(nspgw, tmp, "cp1", "cp", "--node-id", "!0000000a")
    box_init(nspgw, tmp, "nsp1", "nsp", "--parent", "cp1", "--node-id", "!00000065")
    for name in ("cp1", "nsp1"):
        r = nspgw("roster", "add", str(tmp / name / "state" / f"enrol-request-{name}.json"))
        assert r.code == 0, r.err
    assert nspgw("roster", "sign").code == 0
    for name in ("cp1", "nsp1"):
        assert nspgw("roster", "bundle", name).code == 0
        r = nspgw("roster", "import", f"bundle-{name}.json", "--config", str(tmp / name / "nspgw.toml"))
        assert r.code == 0, r.err


# ------------------------------------------------------------------------------------------------ init
def test_init_writes_config_private_identity_and_signed_request(nspgw, tmp_path: Path) -> None:
    r = nspgw("init", "--role", "nsp", "--name", "nsp-bieb", "--parent", "cp-noord", "--network", "elst",
              "--config", str(tmp_path / "box" / "nspgw.toml"), "--radio-host", "127.0.0.1:4403",
              "--node-id", "!9b8eb8d4")
    assert r.code == 0, r.err
    state = tmp_path / "box" / "state"
    assert (state / "keys" / "identity.key").stat().st_mode & 0o777 == 0o600
    assert (state / "keys").stat().st_mode & 0o777 == 0o700
    req = load_request(state / "enrol-request-nsp-bieb.json")  # verifies its self-signature
    assert (req.name, req.role, req.parent, req.node_num) == ("nsp-bieb", "nsp", "cp-noord", 0x9B8EB8D4)
    assert req.fingerprint in r.out
    assert "█" in r.out or "▀" in r.out  # the QR code
    text = (tmp_path / "box" / "nspgw.toml").read_text()
    assert 'role = "nsp"' in text and 'host = "127.0.0.1:4403"' in text and 'parent = "cp-noord"' in text
    secret = json.loads((state / "keys" / "identity.key").read_text())["sign_secret"]
    assert secret not in r.out + (state / "enrol-request-nsp-bieb.json").read_text()


@pytest.mark.parametrize(("args", "needle"), [
    (["--role", "brandweer", "--name", "x"], "onbekende rol"),
    (["--role", "nsp", "--name", "x"], "--parent"),
    (["--role", "cp", "--name", "x", "--parent", "y"], "alleen bij een NSP"),
    (["--role", "cp", "--name", "met spatie"], "box.name"),
    (["--role", "cp", "--name", "x", "--network", "el st"], "box.network"),
    (["--role", "cp", "--name", "x", "--node-id", "!zz"], "node-id"),
])
def test_init_bad_input_is_a_usage_error_and_writes_nothing(nspgw, tmp_path: Path, args: list[str],
                                                           needle: str) -> None:
    before = snapshot(tmp_path)
    r = nspgw("init", *args, "--config", str(tmp_path / "box" / "nspgw.toml"), "--no-qr")
    assert r.code == USAGE
    assert needle in r.err and r.err.startswith("fout: ")
    assert snapshot(tmp_path) == before and not (tmp_path / "box").exists()


def test_init_refuses_existing_keys_and_force_keeps_the_old_ones(nspgw, tmp_path: Path) -> None:
    first = box_init(nspgw, tmp_path, "cp1", "cp")
    before = snapshot(tmp_path)
    r = nspgw("init", "--role", "cp", "--name", "cp1", "--network", "elst", "--config",
              str(tmp_path / "cp1" / "nspgw.toml"), "--no-qr")
    assert r.code == USAGE and "--force" in r.err
    assert snapshot(tmp_path) == before
    # Keys without a config (config deleted by hand): still refused.
    (tmp_path / "cp1" / "nspgw.toml").unlink()
    before = snapshot(tmp_path)
    r = nspgw("init", "--role", "cp", "--name", "cp1", "--network", "elst", "--config",
              str(tmp_path / "cp1" / "nspgw.toml"), "--no-qr")
    assert r.code == USAGE and "sleutels" in r.err
    assert snapshot(tmp_path) == before

    old = (tmp_path / "cp1" / "state" / "keys" / "identity.key").read_bytes()
    r = nspgw("init", "--role", "cp", "--name", "cp1", "--network", "elst", "--config",
              str(tmp_path / "cp1" / "nspgw.toml"), "--no-qr", "--force")
    assert r.code == 0, r.err
    retired = tmp_path / "cp1" / "state" / "keys" / "retired-1"
    assert (retired / "identity.key").read_bytes() == old
    assert "retired-1" in r.err and "LET OP" in r.err
    old_fp = first.out.split("Vingerafdruk van deze box: ")[1].split()[0]
    assert old_fp in r.err and old_fp not in r.out


# ------------------------------------------------------------------------------------------------ keys
def test_keys_show_is_public_only(nspgw, tmp_path: Path) -> None:
    enrolled_pair(nspgw, tmp_path)
    cfg = str(tmp_path / "nsp1" / "nspgw.toml")
    r = nspgw("keys", "show", "--config", cfg, "--json")
    assert r.code == 0, r.err
    info = json.loads(r.out)
    assert info["enrolled"] and info["addr"] == 100 and info["roster_version"] == 1
    keys = tmp_path / "nsp1" / "state" / "keys"
    for f in ("box.key", "network.key"):
        for value in json.dumps(json.loads((keys / f).read_text())).split('"'):
            if len(value) == 64:
                assert value not in r.out, f"secret of {f} printed"
    assert nspgw("keys", "fingerprint", "--config", cfg).out.strip() == info["fingerprint"]


def test_missing_and_broken_config_exit_3(nspgw, tmp_path: Path) -> None:
    r = nspgw("keys", "show", "--config", str(tmp_path / "nope.toml"))
    assert r.code == CONFIG and "bestaat niet" in r.err
    bad = tmp_path / "bad.toml"
    bad.write_text("[box\nname = ")
    before = snapshot(tmp_path)
    for args in (["keys", "show"], ["roster", "import", "x.json"], ["roster", "show"]):
        r = nspgw(*args, "--config", str(bad))
        assert r.code == CONFIG and "TOML" in r.err, args
    assert snapshot(tmp_path) == before


def test_key_file_readable_by_others_is_refused(nspgw, tmp_path: Path) -> None:
    enrolled_pair(nspgw, tmp_path)
    key = tmp_path / "nsp1" / "state" / "keys" / "box.key"
    os.chmod(key, 0o644)
    before = snapshot(tmp_path)
    r = nspgw("keys", "show", "--config", str(tmp_path / "nsp1" / "nspgw.toml"))
    assert r.code == SECURITY and "chmod 600" in r.err
    r = nspgw("roster", "import", "auth/roster.json", "--config", str(tmp_path / "nsp1" / "nspgw.toml"))
    assert r.code == SECURITY
    assert snapshot(tmp_path) == before


# ---------------------------------------------------------------------------------------------- roster
def test_enrolment_flow_gives_each_box_a_working_key_ring(nspgw, tmp_path: Path) -> None:
    enrolled_pair(nspgw, tmp_path)
    cp = load_keyring(tmp_path / "cp1" / "state" / "keys")
    nsp = load_keyring(tmp_path / "nsp1" / "state" / "keys")
    assert (cp.me, nsp.me) == (10, 100)
    assert nsp.roster.get(100).parent == 10
    assert cp.pair_keys(10, 100).k_enc == nsp.pair_keys(10, 100).k_enc  # both ends agree
    assert not (tmp_path / "nsp1" / "state" / "keys" / "identity.key").exists()
    # The bundle on the USB stick carries no key in the clear.
    net = json.loads((tmp_path / "auth" / "network.key").read_text())["keys"][0]["secret"]
    assert net not in (tmp_path / "bundle-nsp1.json").read_text()
    psk = (tmp_path / "nsp1" / "state" / "keys" / "radio-channel.psk")
    assert psk.read_bytes() == (tmp_path / "auth" / "radio-channel.psk").read_bytes()
    assert psk.stat().st_mode & 0o777 == 0o600
    r = nspgw("roster", "show", "--json", "--config", str(tmp_path / "cp1" / "nspgw.toml"))
    assert [e["name"] for e in json.loads(r.out)["entries"]] == ["cp1", "nsp1"]
    # Importing the same bundle again changes nothing and is fine (a technician repeating a step).
    r = nspgw("roster", "import", "auth/roster.json", "--config", str(tmp_path / "cp1" / "nspgw.toml"))
    assert r.code == 0 and "al geïnstalleerd" in r.out


def test_authority_refusals(nspgw, tmp_path: Path) -> None:
    r = nspgw("roster", "sign")
    assert r.code == CONFIG and "roster init" in r.err
    assert nspgw("roster", "init", "--network", "elst").code == 0
    before = snapshot(tmp_path)
    r = nspgw("roster", "init", "--network", "elst")
    assert r.code == USAGE and "al een netwerkautoriteit" in r.err
    assert snapshot(tmp_path) == before
    box_init(nspgw, tmp_path, "nsp1", "nsp", "--parent", "cp1")
    req = tmp_path / "nsp1" / "state" / "enrol-request-nsp1.json"
    r = nspgw("roster", "add", str(req), "--node-id", "!00000065")
    assert r.code == USAGE and "coördinatiepunt 'cp1'" in r.err
    r = nspgw("roster", "add", str(req))
    assert r.code == USAGE and "--node-id" in r.err
    doc = json.loads(req.read_text())
    doc["name"] = "nsp2"  # altered on the way: the self-signature no longer matches
    (tmp_path / "forged.json").write_text(json.dumps(doc))
    r = nspgw("roster", "add", "forged.json", "--node-id", "!00000065")
    assert r.code == SECURITY and "handtekening" in r.err
    box_init(nspgw, tmp_path, "cp1", "cp", "--node-id", "!0000000a")
    assert nspgw("roster", "add", str(tmp_path / "cp1" / "state" / "enrol-request-cp1.json")).code == 0
    r = nspgw("roster", "bundle", "cp1")
    assert r.code == USAGE and "roster sign" in r.err
    r = nspgw("roster", "add", str(tmp_path / "cp1" / "state" / "enrol-request-cp1.json"))
    assert r.code == USAGE and "al in de roster" in r.err


def test_tampered_bundle_and_roster_are_refused_untouched(nspgw, tmp_path: Path) -> None:
    enrolled_pair(nspgw, tmp_path)
    cfg = str(tmp_path / "nsp1" / "nspgw.toml")
    bundle = json.loads((tmp_path / "bundle-nsp1.json").read_text())
    bundle["roster"]["entries"][0]["name"] = "cp-evil"
    (tmp_path / "t1.json").write_text(json.dumps(bundle))
    roster = json.loads((tmp_path / "auth" / "roster.json").read_text())
    roster["entries"][1]["parent"] = None
    (tmp_path / "t2.json").write_text(json.dumps(roster))
    before = snapshot(tmp_path)
    r = nspgw("roster", "import", "t1.json", "--config", cfg)
    assert r.code == SECURITY and "handtekening" in r.err
    r = nspgw("roster", "import", "t2.json", "--config", cfg)
    assert r.code == SECURITY and "signature" in r.err
    r = nspgw("roster", "import", "bundle-cp1.json", "--config", cfg)
    assert r.code == SECURITY and "andere box" in r.err
    r = nspgw("roster", "import", "missing.json", "--config", cfg)
    assert r.code == CONFIG and "bestaat niet" in r.err
    assert snapshot(tmp_path) == before


def test_revocation_older_roster_and_key_rotation(nspgw, tmp_path: Path) -> None:
    enrolled_pair(nspgw, tmp_path)
    v1 = (tmp_path / "auth" / "roster.json").read_bytes()
    (tmp_path / "roster-v1.json").write_bytes(v1)
    r = nspgw("roster", "revoke", "nsp1")
    assert r.code == 0 and "ingetrokken" in r.out
    r = nspgw("roster", "show", "--json", "-A", "auth")
    assert json.loads(r.out)["pending"] == ["- 100 nsp1 ingetrokken"]
    r = nspgw("roster", "sign")
    assert r.code == 0 and "versie 2" in r.out and "epoch 1" in r.out
    r = nspgw("roster", "bundle", "nsp1")
    assert r.code == SECURITY and "ingetrokken" in r.err

    # The revoked box refuses the roster that revokes it (it cannot run in that network any more).
    nsp_before = snapshot(tmp_path / "nsp1")
    r = nspgw("roster", "import", "auth/roster.json", "--config", str(tmp_path / "nsp1" / "nspgw.toml"))
    assert r.code == SECURITY and "INGETROKKEN" in r.err
    assert snapshot(tmp_path / "nsp1") == nsp_before

    cp = str(tmp_path / "cp1" / "nspgw.toml")
    r = nspgw("roster", "import", "auth/roster.json", "--config", cp)
    assert r.code == 0 and "versie 2" in r.out
    cp_before = snapshot(tmp_path / "cp1")
    r = nspgw("roster", "import", "roster-v1.json", "--config", cp)
    assert r.code == SECURITY and "OUDER" in r.err
    assert snapshot(tmp_path / "cp1") == cp_before
    # A fresh bundle brings the rotated network key (new first, old kept for opening).
    assert nspgw("roster", "bundle", "cp1", "--out", "cp1-v2.json").code == 0
    assert nspgw("roster", "import", "cp1-v2.json", "--config", cp).code == 0
    ring = load_keyring(tmp_path / "cp1" / "state" / "keys")
    assert ring.roster.version == 2 and ring.roster.get(100).revoked
    epochs = [k["epoch"] for k in json.loads((tmp_path / "cp1" / "state" / "keys" / "network.key").read_text())
              ["keys"]]
    assert epochs == [1, 0]
    # The replacement box may take the same name; it gets a new address (never a revoked one's).
    box_init(nspgw, tmp_path / "new", "nsp1", "nsp", "--parent", "cp1", "--node-id", "!00000066")
    r = nspgw("roster", "add", str(tmp_path / "new" / "nsp1" / "state" / "enrol-request-nsp1.json"))
    assert r.code == 0 and "adres 101" in r.out


def test_bundle_from_another_authority_is_refused(nspgw, tmp_path: Path) -> None:
    enrolled_pair(nspgw, tmp_path)
    assert nspgw("roster", "init", "--network", "elst", "-A", "other").code == 0
    req = tmp_path / "cp1" / "state" / "enrol-request-cp1.json"
    # identity.key is gone after enrolment; re-export the request from box.key
    assert nspgw("keys", "export-request", "--config", str(tmp_path / "cp1" / "nspgw.toml"), "--node-id",
                 "!0000000a").code == 0
    assert nspgw("roster", "add", str(req), "-A", "other").code == 0
    assert nspgw("roster", "sign", "-A", "other").code == 0
    assert nspgw("roster", "bundle", "cp1", "-A", "other", "--out", "rogue.json").code == 0
    before = snapshot(tmp_path / "cp1")
    r = nspgw("roster", "import", "rogue.json", "--config", str(tmp_path / "cp1" / "nspgw.toml"))
    assert r.code == SECURITY and "ANDERE netwerkautoriteit" in r.err
    assert snapshot(tmp_path / "cp1") == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_altered_bundle_byte_is_refused_cleanly(nspgw, tmp_path: Path, data: st.DataObject) -> None:
    if not (tmp_path / "bundle-nsp1.json").exists():
        enrolled_pair(nspgw, tmp_path)
        # A box that has keys but no enrolment yet: the first import is the one to attack.
        import shutil

        keys = tmp_path / "nsp1" / "state" / "keys"
        shutil.copy(keys / "box.key", tmp_path / "box.key.saved")
        for f in keys.iterdir():
            f.unlink()
        doc = json.loads((tmp_path / "box.key.saved").read_text())
        from nspgw.store.enrolment_files import save_pending_identity
        from nspgw.store.keyfiles import load_identity

        save_pending_identity(keys / "identity.key", load_identity(tmp_path / "box.key.saved")[1])
        assert doc["addr"] == 100
    raw = bytearray((tmp_path / "bundle-nsp1.json").read_bytes())
    i = data.draw(st.integers(0, len(raw) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[i]))
    raw[i] = new
    (tmp_path / "mut.json").write_bytes(bytes(raw))
    before = snapshot(tmp_path / "nsp1")
    r = nspgw("roster", "import", "mut.json", "--config", str(tmp_path / "nsp1" / "nspgw.toml"))
    if r.code == 0:
        # Only whitespace/formatting outside the signed content may change (json re-parsed canonically).
        assert json.loads(bytes(raw)) == json.loads((tmp_path / "bundle-nsp1.json").read_bytes())
        return
    assert r.code in (CONFIG, SECURITY), r.err
    assert snapshot(tmp_path / "nsp1") == before


def test_real_console_script_error_has_no_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "nspgw"
    p = subprocess.run([str(exe), "init", "--role", "nsp", "--name", "x", "--config", str(tmp_path / "c.toml"),
                        "--no-qr"], capture_output=True, text=True, timeout=60, env=dict(os.environ, NSPGW_LANG="nl"))
    assert p.returncode == USAGE
    assert "--parent" in p.stderr and "Traceback" not in p.stderr + p.stdout
    assert list(tmp_path.iterdir()) == []


def test_errors_are_nspgw_errors() -> None:
    assert issubclass(UsageError, NspgwError) and USAGE == 2 and CONFIG == 3 and SECURITY == 7


def test_init_where_it_cannot_write_is_a_config_error(nspgw, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    before = snapshot(tmp_path)
    r = nspgw("init", "--role", "cp", "--name", "cp1", "--config", str(tmp_path / "a-file" / "nspgw.toml"),
              "--no-qr")
    assert r.code == CONFIG and "kan niet schrijven" in r.err
    assert snapshot(tmp_path) == before


_REQUEST: list[bytes] = []  # one signed request, made on first use (key generation is the slow part)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_altered_request_byte_is_refused_cleanly(data: st.DataObject) -> None:
    import tempfile

    from nspgw.store.keyfiles import generate_identity

    if not _REQUEST:
        req = EnrolRequest.create(generate_identity(), network="elst", name="nsp-bieb", role="nsp",
                                  parent="cp-noord", node_num=0x9B8EB8D4)
        _REQUEST.append(req.to_json().encode())
    raw = bytearray(_REQUEST[0])
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[i]))
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "req.json"
        p.write_bytes(bytes(raw))
        try:
            load_request(p)
        except NspgwError as exc:
            assert exc.exit_code in (CONFIG, SECURITY)
            return
    assert json.loads(bytes(raw)) == json.loads(_REQUEST[0])  # only formatting outside the signed fields


def test_request_with_a_key_in_another_spelling_is_refused(tmp_path: Path) -> None:
    """Found by the fuzz test above: uppercase hex decoded to the same key, so an edited request was read
    as if untouched. Key material is accepted only as nspgw writes it."""
    from nspgw.store.keyfiles import generate_identity

    req = EnrolRequest.create(generate_identity(), network="elst", name="nsp-bieb", role="nsp",
                              parent="cp-noord", node_num=0x9B8EB8D4)
    doc = json.loads(req.to_json())
    for spelled in (doc["dh_public"].upper(), " ".join([doc["dh_public"][:2], doc["dh_public"][2:]])):
        p = tmp_path / "req.json"
        p.write_text(json.dumps(dict(doc, dh_public=spelled)))
        with pytest.raises(NspgwError) as exc:
            load_request(p)
        assert exc.value.exit_code == CONFIG and "dh_public" in str(exc.value)


def test_revoke_sign_writes_a_signed_delta_that_applies_on_a_box(nspgw, tmp_path: Path) -> None:
    """Issue 15, finding 4: `roster revoke --sign` gives the one-frame delta the GCT box broadcasts."""
    from nspgw.crypto.roster import RosterDelta
    from nspgw.store.keyfiles import apply_roster_update

    enrolled_pair(nspgw, tmp_path)
    r = nspgw("roster", "revoke", "nsp1", "--sign")
    assert r.code == 0 and "versie 2" in r.out and "roster-delta-v2.hex" in r.out, r.out
    blob = bytes.fromhex((tmp_path / "auth" / "roster-delta-v2.hex").read_text().strip())
    delta = RosterDelta.from_bytes(blob)
    assert (delta.base_version, delta.new_version, delta.revoked) == (1, 2, (100,))
    keys = tmp_path / "cp1" / "state" / "keys"
    ring = load_keyring(keys)
    assert apply_roster_update(keys, ring, blob) and load_keyring(keys).roster.get(100).revoked
    # handing it to a daemon that does not run: a clear error, no traceback
    r = nspgw("roster", "broadcast", "auth/roster-delta-v2.hex", "--config", str(tmp_path / "cp1" / "nspgw.toml"))
    assert r.code != 0 and "Traceback" not in r.err and r.err.strip()
