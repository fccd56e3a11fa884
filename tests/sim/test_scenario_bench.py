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
    # The 2-hop figure (target <= 1.3 origin frames per delivered) is reported as measured: on the firmware
    # 2.7.26 mesh model it is above the target (docs/benchmarks.md), and the verdict must match the figure.
    two = m["two_hop"]
    assert two["target_met"] == (two["origin_transmissions_per_delivered"] <= 1.3)
    assert two["lost"] == 0 and two["duplicates_delivered"] == 0
    assert m["flash_behind_routine"]["target_met"]
    assert m["region"]["wall_s"] > 0 and len(m["region"]["airtime_s"]) == 56
    # The same 2-hop run with only the firmware acks the daemon asks for: nothing lost, and less air in all
    # (firmware acks and retransmissions on every frame cost more than nspgw's own retries).
    d = m["two_hop_daemon_acks"]
    assert d["lost"] == 0 and d["duplicates_delivered"] == 0
    assert 0 < d["airtime_s_per_delivered"] < d["airtime_s_per_delivered_all_acks"]


def test_flash_overtakes_a_long_routine_queue() -> None:
    f = flash_behind_routine(n_routine=50)
    assert f["routine_queued_at_accept"] >= 45
    assert 0 <= f["radio_free_to_flash_transmit_s"] <= f["frame_on_air_s"]
