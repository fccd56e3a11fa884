"""`nspgw bench scenarios --quick`: the issue-4 targets are measured, reported and met on short runs."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from nspgw.bench.scenarios import flash_behind_routine
from nspgw.cli.bench import app


def test_bench_scenarios_quick_json_meets_the_targets() -> None:
    res = CliRunner().invoke(app, ["scenarios", "--quick", "--json"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)
    assert [r["scenario"] for r in m["zero_loss"]] == ["loss-30", "cp-partition-6h", "power-cuts"]
    for r in [*m["zero_loss"], m["region"]]:
        assert r["sent"] > 0 and r["lost"] == 0 and r["duplicates_delivered"] == 0, r
    assert m["flash_behind_routine"]["target_met"]
    assert m["region"]["wall_s"] > 0 and len(m["region"]["airtime_s"]) == 56
    # Issue 12: the municipal-scale scenarios run and report; their targets are reported, not asserted (not
    # met yet). Every run carries the channel figures, and its frames by kind add up to its frames on air.
    assert [r["scenario"] for r in m["municipal"]] == ["mass-incident", "everything-at-once"]
    for r in [*m["zero_loss"], m["region"], *m["municipal"]]:
        u = r["channel_utilisation"]
        assert u["used"] > u["offered"] > 0 and 0 < r["airtime_efficiency"] < 1, r["scenario"]
        assert sum(k["frames"] for k in r["on_air_by_kind"].values()) == r["radio"]["on_air_frames"]
    assert m["municipal"][0]["flash_p95_target_s"] == 60.0 and m["municipal"][0]["latency_s"]["flash"]["n"] > 0
    # The 2-hop run asks the firmware for the acks the daemon asks for (one driver): nothing lost. Its
    # origin-frames target (≤ 1.3 per delivered) is reported, not asserted: with the daemon's firmware acks
    # it is not met (docs/benchmarks.md, scenario section).
    t = m["two_hop"]
    assert t["lost"] == 0 and t["duplicates_delivered"] == 0 and t["airtime_s_per_delivered"] > 0
    assert t["origin_transmissions_per_delivered"] >= 1.0 and t["target_met"] == (
        t["origin_transmissions_per_delivered"] <= 1.3)


def test_flash_overtakes_a_long_routine_queue() -> None:
    f = flash_behind_routine(n_routine=50)
    assert f["routine_queued_at_accept"] >= 45
    assert f["frames_before_flash"] == 0, "no ROUTINE frame went to the radio between the FLASH and its turn"
    assert 0 <= f["radio_free_to_flash_transmit_s"] <= max(f["frame_on_air_s"], f["neighbour_gap_s"]) + 0.01
    assert f["target_met"]


def test_bench_seeds_runs_one_scenario_over_other_seeds_and_judges_each() -> None:
    """`nspgw bench seeds`: other seeds are other days (traffic, faults) of the same scenario file; each run is
    judged by the issue-12 targets its file name selects, and the exit status says whether all held."""
    from nspgw.bench.seeds import parse_seeds, targets_for

    scenario = "docs/scenarios/mass-incident.toml"
    res = CliRunner().invoke(app, ["seeds", scenario, "--seeds", "3,5", "--duration", "30m", "--json"])
    m = json.loads(res.output)
    assert [r["seed"] for r in m["runs"]] == [3, 5] and m["targets"] == targets_for("mass-incident")
    a, b = m["runs"]
    assert a["sent"] > 0 and b["sent"] > 0 and (a["sent"], a["p95_s"]) != (b["sent"], b["p95_s"])  # other days
    for r in m["runs"]:
        flash = r["p95_s"].get("flash")
        over = flash is not None and flash > 60.0
        assert (("p95 flash" in r["missed"]) == over) and (("verloren/dubbel" in r["missed"]) == bool(
            r["lost"] or r["duplicates_delivered"]))
    assert res.exit_code == (0 if m["all_met"] else 1)
    text = CliRunner().invoke(app, ["seeds", scenario, "--seeds", "3", "--duration", "30m"]).output
    assert "mass-incident over 1 seeds" in text and "frames/afgeleverd: min" in text

    assert parse_seeds("15-17,3,16") == [15, 16, 17, 3]
    bad = CliRunner().invoke(app, ["seeds", scenario, "--seeds", "vijf"])
    assert bad.exit_code != 0 and "--seeds" in str(bad.exception or bad.output)
