"""The operator guides, quick reference and troubleshooting page stay true to the code: every command they
show exists, every `nspgw send` example with its fields is accepted by a real (enrolled, daemon-less) box,
documented defaults and exit codes match the code."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest
import typer

from nspgw import errors
from nspgw.cli import app, main
from nspgw.config import Config, MqttConfig, RadioConfig, render_config
from nspgw.crypto.enrol import BoxSpec, make_network
from nspgw.crypto.roster import Role
from nspgw.ids import BoxAddr
from nspgw.store.keyfiles import write_bundle

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDES = ("operator-guide.nl.md", "operator-guide.en.md", "quick-reference.md", "troubleshooting.md",
          "technician-guide.md")


def _commands(text: str) -> list[str]:
    """`nspgw …` command lines from code blocks and inline code."""
    found = [ln for block in re.findall(r"```sh\n(.*?)```", text, re.S)
             for ln in re.findall(r"^(?:sudo )?(nspgw [^\n#]*?)\s*(?:#.*)?$", block, re.M)]
    found += re.findall(r"`(nspgw [^`]+)`", text)
    return [c.strip() for c in found]


@pytest.mark.parametrize("doc", GUIDES)
def test_every_documented_command_exists(doc: str) -> None:
    root = typer.main.get_command(app)
    for cmd in _commands((DOCS / doc).read_text(encoding="utf-8")):
        words = cmd.split()[1:]
        group = root
        for w in words:
            if w.startswith("-") or not hasattr(group, "commands"):
                break
            assert w in group.commands, f"{doc}: `{cmd}`: no command {w!r}"
            group = group.commands[w]
            if not hasattr(group, "commands"):
                break


@pytest.mark.parametrize("doc", ["operator-guide.nl.md", "operator-guide.en.md", "technician-guide.md"])
def test_exit_code_tables_match_errors(doc: str) -> None:
    text = (DOCS / doc).read_text(encoding="utf-8")
    table = text[text.index("xitcode") if "xitcode" in text else text.index("xit code"):]
    rows = dict(re.findall(r"^\| (\d+) \| ([^|]+)\|", table, re.M))
    codes = {c.exit_code for c in vars(errors).values()
             if isinstance(c, type) and issubclass(c, errors.NspgwError)}
    assert {int(k) for k in rows} == codes | {0}
    assert "radio" in rows[str(errors.RadioError.exit_code)].lower()
    assert re.search("beveilig|security", rows[str(errors.SecurityError.exit_code)].lower())


def test_documented_defaults_match_the_code() -> None:
    from nspgw.cli.send import DEFAULT_PRECEDENCE
    from nspgw.core.config import DEFAULT_TTL_S
    from nspgw.wire.frames import Precedence

    nl = (DOCS / "operator-guide.nl.md").read_text(encoding="utf-8")
    words = {"FLASH": "FLASH", "IMMEDIATE": "SPOED", "PRIORITY": "VOORRANG", "ROUTINE": "ROUTINE"}
    for form, prec in DEFAULT_PRECEDENCE.items():
        if form == "TEXT":
            continue
        assert re.search(rf"\| `{form.lower()}`[^|]*\| {words[prec]} \|", nl), form
    hours = {p: DEFAULT_TTL_S[p] // 3600 for p in Precedence}
    flat = re.sub(r"\s+", " ", nl)
    assert (f"FLASH {hours[Precedence.FLASH]} uur, SPOED {hours[Precedence.IMMEDIATE]} uur, VOORRANG "
            f"{hours[Precedence.PRIORITY]} uur, ROUTINE {hours[Precedence.ROUTINE]} uur") in flat


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """An enrolled NSP box (no daemon): its config path. Sending only needs the store to commit."""
    specs = [BoxSpec(BoxAddr(1), "gct", Role.GCT, 0x10000001), BoxSpec(BoxAddr(10), "cp-noord", Role.CP, 0x1000000A),
             BoxSpec(BoxAddr(101), "nsp-bieb", Role.NSP, 0x10000065, BoxAddr(10)),
             BoxSpec(BoxAddr(102), "nsp-kerk", Role.NSP, 0x10000066, BoxAddr(10))]
    net = make_network(specs, b"operator guide test seed, not for use")
    state = tmp_path / "state"
    write_bundle(state / "keys", 102, net.identities[102], net.roster, net.authority.public, (net.network_key,))
    cfg = Config(path=tmp_path / "nspgw.toml", name="nsp-kerk", role="nsp", network="elst", state_dir=state,
                 parent="cp-noord", radio=RadioConfig(enabled=False), mqtt=MqttConfig())
    cfg.path.write_text(render_config(cfg), encoding="utf-8")
    return cfg.path


@pytest.mark.parametrize("doc", ["operator-guide.nl.md", "operator-guide.en.md", "quick-reference.md"])
def test_send_examples_are_accepted(doc: str, box: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    examples = [c for c in _commands((DOCS / doc).read_text(encoding="utf-8")) if c.startswith("nspgw send ")
                and "…" not in c and ("--form" not in c or "--veld" in c)]
    assert examples, doc
    for cmd in examples:
        argv = [*shlex.split(cmd)[1:], "--config", str(box)]
        monkeypatch.setattr(sys, "argv", ["nspgw", *argv])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main()
        out, err = capsys.readouterr()
        assert exc.value.code in (0, None), f"{doc}: `{cmd}` → {err}"
        assert "geaccepteerd" in out, out
