"""Scenario files: the shipped drills hold their expectations; bad files give errors that name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from nspgw.cli.sim_run import run
from nspgw.errors import ConfigError
from nspgw.sim.scenario import load_scenario, parse_duration, parse_scenario, run_scenario

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scenarios"


@pytest.mark.parametrize("name", ["cp-outage.toml", "bulletin.toml"])
def test_shipped_scenarios_meet_their_expectations(name: str, tmp_path: Path) -> None:
    result = run_scenario(load_scenario(DOCS / name), tmp_path)
    assert result.expectations
    assert result.ok, result.expectations


_SHORT = """
[scenario]
name = "korte test"
duration = "20m"
[[link]]
a = 1
b = 10
[[link]]
a = 10
b = 101
[[event]]
at = "1m"
send = { id = "a", from = 101, to = 1, text = "hallo", precedence = "immediate" }
"""


def test_cli_json_report_and_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = tmp_path / "s.toml"
    sc.write_text(_SHORT + """[[expect]]
message = "a"
state = "delivered"
within = "5m"
""", encoding="utf-8")
    run(sc, True)
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["messages"][0]["state"] == "delivered"
    impossible = sc.read_text(encoding="utf-8").replace('within = "5m"', 'within = "0s"')
    sc.write_text(impossible, encoding="utf-8")
    with pytest.raises(typer.Exit) as exc:
        run(sc, False)
    assert exc.value.exit_code == 1
    assert "NIET GEHAALD" in capsys.readouterr().out


@pytest.mark.parametrize(("data", "field"), [
    ({"link": [{"a": 1, "b": 99}]}, "link[0].b: unknown box 99"),
    ({"link": [{"a": 1, "b": 10, "loss": 2}]}, "link[0].loss"),
    ({"event": [{"at": "soon", "box_down": 10}]}, "event[0].at"),
    ({"event": [{"at": "1m"}]}, "event[0]: needs exactly one"),
    ({"event": [{"send": {"from": 101, "to": 1, "text": "x", "precedence": "urgent"}}]}, "event[0].send.precedence"),
    ({"event": [{"send": {"from": 101, "to": 5, "text": "x"}}]}, "event[0].send.to: unknown box 5"),
    ({"expect": [{"message": "nope"}]}, "expect[0].message"),
    ({"box": [{"addr": 1, "role": "king"}]}, "box[0].role"),
    ({"scenario": {"preset": "WARP_SPEED"}}, "scenario.preset"),
])
def test_bad_scenarios_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(data)


def test_unreadable_or_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario\nname=", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_scenario(bad)


def test_durations() -> None:
    assert parse_duration("3h10m", "x") == 3 * 3600 + 600
    assert parse_duration(90, "x") == 90.0
    assert parse_duration("2d", "x") == 172800.0
    with pytest.raises(ConfigError):
        parse_duration("-5m", "x")




def test_internal_error_is_one_line_with_time_box_and_state(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A defect in a box during a drill: one line (scenario time, box, its state), exit status 10."""
    from nspgw.core.node import Node

    sc = tmp_path / "s.toml"
    sc.write_text(_SHORT, encoding="utf-8")
    real = Node.handle_timer

    def broken(self: Node, now: float) -> list[object]:
        if self.me == 10 and now > 120.0:
            raise KeyError(("out", 7))
        return real(self, now)  # type: ignore[return-value]

    monkeypatch.setattr(Node, "handle_timer", broken)
    monkeypatch.setenv("NSPGW_LANG", "nl")
    with pytest.raises(typer.Exit) as exc:
        run(sc, False)
    assert exc.value.exit_code == 10
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "post 10" in err and "KeyError" in err and "outbox" in err and "radio" in err
    t = float(err.split("t=")[1].split(" ")[0])
    assert t > 120.0


def test_timers_that_do_not_advance_are_reported_not_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from nspgw.core.node import Node

    sc = tmp_path / "s.toml"
    sc.write_text(_SHORT, encoding="utf-8")
    real = Node.next_deadline

    def stuck(self: Node) -> float | None:
        return 300.0 if self.me == 101 and self.pumped_at >= 300.0 else real(self)

    monkeypatch.setattr(Node, "next_deadline", stuck)
    monkeypatch.setenv("NSPGW_LANG", "en")
    with pytest.raises(typer.Exit) as exc:
        run(sc, False)
    assert exc.value.exit_code == 10
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "internal error in the drill at t=300 s on box 101: node timers do not advance" in err


def test_sim_run_trace_reads_back_and_unknown_scenario_keys_are_ignored_with_a_note(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`nspgw sim run --trace FILE`: one JSON line per event/action of every box, through the daemon's driver;
    a [scenario] key the runner no longer knows (older files set one for the former ack model) is named on
    stderr and the file still runs."""
    from nspgw.daemon.trace import read

    sc = tmp_path / "s.toml"
    sc.write_text(_SHORT.replace("[scenario]", '[scenario]\nold_setting = "all"'), encoding="utf-8")
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv("NSPGW_LANG", "en")
    run(sc, True, None, trace)
    out = capsys.readouterr()
    assert json.loads(out.out)["messages"][0]["state"] == "delivered"
    assert "scenario.old_setting is unknown and ignored" in out.err
    recs = read(trace)
    accepted = [r for r in recs if r["dir"] == "event" and r["type"] == "MessageAccepted"]
    assert [r["box"] for r in accepted] == [101] and accepted[0]["data"]["body"] == {"bytes": 5}
    inbox = [r for r in recs if r["type"] == "StoreInbox"]
    assert [r["box"] for r in inbox] == [1]
    assert {r["box"] for r in recs if r["type"] == "Transmit"} >= {101, 10}
    assert "hallo" not in trace.read_text(encoding="utf-8")
