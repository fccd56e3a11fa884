"""Geographic scenarios: who hears whom, and at what SNR, follows from distance, the path-loss model and the
preset's demodulation limit (nspgw/sim/propagation.py; docs/simulation-model.md, geographic topology).

Models named here: log-distance, PL(d) = 31.2 dB (Friis at 1 m, 869.525 MHz) + 10 * 3.5 * log10(d)
(Rappaport, Wireless Communications 2nd ed., Table 4.2); Okumura-Hata suburban (Hata 1980); noise
-174 dBm/Hz + 10 log10(BW) + 6 dB NF; SX1262 datasheet SNR limits SF7 -7.5 ... SF12 -20 dB.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from nspgw.errors import ConfigError
from nspgw.sim.scenario import load_scenario, parse_scenario, run_scenario

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scenarios"


def _pair(far_m: float, preset: str, **extra: object) -> dict[str, object]:
    return {"scenario": {"duration": "30m", "seed": 5, "preset": preset},
            "box": [{"addr": 1, "role": "gct", "pos": [0, 0]}, {"addr": 10, "role": "cp", "pos": [far_m, 0]}],
            "event": [{"at": "1m", "send": {"id": "m", "from": 10, "to": 1, "text": "hoort u mij?"}}], **extra}


def _snr(d_m: float, bw_hz: float) -> float:
    """The link budget by hand: 27 dBm - log-distance loss - thermal noise with a 6 dB noise figure."""
    pl = 20 * math.log10(4 * math.pi * 869.525e6 / 299_792_458.0) + 35 * math.log10(d_m)
    return 27 - pl - (-174 + 10 * math.log10(bw_hz) + 6)


def test_link_appears_and_disappears_with_distance_and_preset() -> None:
    """3 km: SNR about -11.9 dB. LONG_FAST (SF11, limit -17.5 dB) hears it, SHORT_FAST (SF7, -7.5 dB) does not;
    at 1 km SHORT_FAST hears it too. LONG_FAST stops between 4.3 and 4.4 km."""
    (a, b, loss, snr), = parse_scenario(_pair(3000, "LONG_FAST")).links
    assert (a, b) == (1, 10) and snr == pytest.approx(_snr(3000, 250e3), abs=0.01) and -12.0 < snr < -11.8
    assert loss < 0.01  # 5.6 dB above the SF11 limit
    assert parse_scenario(_pair(3000, "SHORT_FAST")).links == ()
    (*_, snr_near), = parse_scenario(_pair(1000, "SHORT_FAST")).links
    assert snr_near == pytest.approx(_snr(1000, 250e3), abs=0.01)
    assert len(parse_scenario(_pair(4300, "LONG_FAST")).links) == 1
    assert parse_scenario(_pair(4400, "LONG_FAST")).links == ()
    # Half the bandwidth, 3 dB less noise: LONG_MODERATE (SF11, 125 kHz) still hears 4.4 km, weakly.
    (*_, loss_lm, snr_lm), = parse_scenario(_pair(4400, "LONG_MODERATE")).links
    assert snr_lm == pytest.approx(_snr(4400, 125e3), abs=0.01) and 0.1 < loss_lm < 0.5


def test_scenario_runner_delivers_over_a_link_only_the_slow_preset_has() -> None:
    assert run_scenario(parse_scenario(_pair(3000, "LONG_FAST"))).figures["delivered"] == 1
    r = run_scenario(parse_scenario(_pair(3000, "SHORT_FAST")))
    assert r.figures["delivered"] == 0 and r.figures["lost"] == 1


def test_hata_suburban_reaches_further_with_a_30_m_mast() -> None:
    """Okumura-Hata suburban, 869.525 MHz, h_b 30 m, h_m 1.5 m: 116.2 dB at 1 km and 35.2 dB per decade, so
    LONG_FAST reaches about 16 km; log-distance with ground-level antennas loses 8 km."""
    hata = {"propagation": {"model": "hata-suburban", "base_height_m": 30, "mobile_height_m": 1.5}}
    assert parse_scenario(_pair(8000, "LONG_FAST")).links == ()
    (*_, snr), = parse_scenario(_pair(8000, "LONG_FAST", **hata)).links
    lf = math.log10(869.525)
    a_hm = (1.1 * lf - 0.7) * 1.5 - (1.56 * lf - 0.8)
    pl = (69.55 + 26.16 * lf - 13.82 * math.log10(30) - a_hm + (44.9 - 6.55 * math.log10(30)) * math.log10(8)
          - 2 * math.log10(869.525 / 28) ** 2 - 5.4)
    assert snr == pytest.approx(27 - pl - (-174 + 10 * math.log10(250e3) + 6), abs=0.01)
    assert parse_scenario(_pair(17_000, "LONG_FAST", **hata)).links == ()
    with pytest.raises(ConfigError, match=r"propagation.model"):
        parse_scenario(_pair(1000, "LONG_FAST", propagation={"model": "itu"}))
    with pytest.raises(ConfigError, match=r"propagation.exponent"):
        parse_scenario(_pair(1000, "LONG_FAST", propagation={"exponent": 9}))


def test_hand_written_link_wins_over_the_computed_one() -> None:
    sc = parse_scenario(_pair(500_000, "LONG_FAST", link=[{"a": 1, "b": 10, "loss": 0.2, "snr": 3.0}]))
    assert sc.links == ((1, 10, 0.2, 3.0),)
    with pytest.raises(ConfigError, match="1-10: these boxes have no radio link"):  # out of reach: nothing to cut
        parse_scenario(_pair(500_000, "LONG_FAST", fault=[{"link": [1, 10], "at": "1m"}]))


def test_generated_municipality_places_gct_central_cps_round_it_nsps_near_their_cp() -> None:
    net = {"cps": 5, "nsps_per_cp": 10, "placement": "geo", "cp_distance_m": 3000, "nsp_distance_m": 1500}
    sc = parse_scenario({"scenario": {"seed": 15}, "network": net})
    pos = dict(sc.positions)
    assert pos[1] == (0.0, 0.0) and len(pos) == 56
    parent = {int(b.addr): int(b.parent) for b in sc.boxes if b.parent is not None}
    for cp in range(10, 15):
        assert 2400 - 1 <= math.dist(pos[cp], pos[1]) <= 3600 + 1
    for nsp, cp in parent.items():
        assert math.dist(pos[nsp], pos[cp]) <= 1500 + 1
    linked = {(a, b) for a, b, _, _ in sc.links}
    for a in pos:  # neighbours hear each other exactly when they are close enough for LONG_FAST
        for b in pos:
            if a < b:
                assert ((a, b) in linked) == (math.dist(pos[a], pos[b]) < 4333), (a, b)
    assert all((min(n, c), max(n, c)) in linked for n, c in parent.items())  # every NSP hears its CP
    assert parse_scenario({"scenario": {"seed": 15}, "network": net}).positions == sc.positions  # seeded
    assert parse_scenario({"scenario": {"seed": 16}, "network": net}).positions != sc.positions
    # The tier loss of [network] stays, as extra loss on top of the model's.
    lossy = parse_scenario({"scenario": {"seed": 15}, "network": {**net, "loss": 0.3}})
    assert all(lo >= 0.3 for _, _, lo, _ in lossy.links)
    with pytest.raises(ConfigError, match=r"network.placement"):
        parse_scenario({"network": {**net, "placement": "map"}})
    with pytest.raises(ConfigError, match=r"network.cp_distance_m"):
        parse_scenario({"network": {**net, "cp_distance_m": -1}})


def test_every_shipped_scenario_has_a_geographic_variant() -> None:
    plain = {p.stem for p in DOCS.glob("*.toml") if not p.stem.endswith("-geo")}
    assert {f"{s}-geo" for s in plain} <= {p.stem for p in DOCS.glob("*-geo.toml")}
    for stem in plain:
        geo = load_scenario(DOCS / f"{stem}-geo.toml")
        assert geo.positions and len(geo.boxes) == len(load_scenario(DOCS / f"{stem}.toml").boxes)


def test_partition_of_a_placed_cp_cuts_its_computed_links() -> None:
    sc = load_scenario(DOCS / "cp-partition-6h-geo.toml")
    cut = {e.link for e in sc.events if e.action == "link_down"}
    assert cut and all(10 in pair for pair in cut)
    assert cut == {(a, b) for a, b, _, _ in sc.links if (a == 10) != (b == 10)}
