"""`nspgw bench seeds`: one scenario file over several random seeds, each run judged by the issue-12 targets.

A figure from one seed says little: region-24h has 18 FLASH messages a day, so its FLASH p95 is the
second-slowest of them, and one seed's bulletins can be twice another's. The seed decides the generated
traffic, the faults and (placement = "geo") the map, so other seeds are other days and other
municipalities of the same kind, none of them in the repository. Every figure comes from a run.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from nspgw.sim.scenario import load_scenario, run_scenario

# Issue 12's targets: frames on air per delivered message, and p95 latency (s) per precedence.
REGION_TARGETS: dict[str, Any] = {"on_air_frames_per_delivered": 6.0,
                                  "p95_s": {"flash": 30.0, "immediate": 120.0, "priority": 600.0, "routine": 1800.0}}
FLASH_ONLY = {"p95_s": {"flash": 60.0}}  # the mass incident


def targets_for(name: str) -> dict[str, Any]:
    """The issue-12 targets a scenario file is judged by, from its file name; 0 lost and 0 duplicates always."""
    if name.startswith("region-24h"):
        return REGION_TARGETS
    if name.startswith("mass-incident"):
        return FLASH_ONLY
    return {}


def one_run(path: str, seed: int, duration_s: float | None = None) -> dict[str, Any]:
    sc = load_scenario(Path(path)).with_seed(seed)
    if duration_s is not None:
        sc = sc.with_duration(duration_s)
    r = run_scenario(sc).to_json(messages=False)
    tg = targets_for(Path(path).stem)
    missed = []
    if r["lost"] or r["duplicates_delivered"]:
        missed.append("verloren/dubbel")
    limit = tg.get("on_air_frames_per_delivered")
    if limit is not None and (r["on_air_frames_per_delivered"] or 0) > limit:
        missed.append("frames")
    for prec, lim in tg.get("p95_s", {}).items():
        p95 = r["latency_s"].get(prec, {}).get("p95")
        if p95 is not None and p95 > lim:
            missed.append(f"p95 {prec}")
    return {"seed": seed, "sent": r["sent"], "delivered": r["delivered"], "lost": r["lost"],
            "expired": r["expired"], "duplicates_delivered": r["duplicates_delivered"],
            "on_air_frames_per_delivered": r["on_air_frames_per_delivered"],
            "airtime_efficiency": r.get("airtime_efficiency"),
            "p95_s": {p: v["p95"] for p, v in r["latency_s"].items()}, "wall_s": r["wall_s"],
            "missed": missed}


def measure(scenario: Path, seeds: list[int], jobs: int = 1, duration_s: float | None = None) -> dict[str, Any]:
    """`duration_s`: shorten (or stretch) every run, as `nspgw sim run --duration`."""
    load_scenario(scenario)  # a bad file fails here, once, with its ConfigError
    t0 = time.perf_counter()
    n = len(seeds)
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            runs = list(pool.map(one_run, [str(scenario)] * n, seeds, [duration_s] * n))
    else:
        runs = [one_run(str(scenario), s, duration_s) for s in seeds]
    return {"scenario": scenario.stem, "targets": targets_for(scenario.stem), "runs": runs,
            "all_met": all(not r["missed"] for r in runs), "wall_s": round(time.perf_counter() - t0, 1)}


def parse_seeds(text: str) -> list[int]:
    """"15-20", "3,5,9" or a mix: the seeds to run, in order, each once."""
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(part)
        for s in range(int(lo), int(hi if sep else lo) + 1):
            if s not in out:
                out.append(s)
    if not out:
        raise ValueError(text)
    return out


def report(m: dict[str, Any]) -> str:
    precs = ("flash", "immediate", "priority", "routine")
    lines = [f"{m['scenario']} over {len(m['runs'])} seeds (doelen issue 12: {m['targets'] or '0 verloren, 0 dubbel'})",
             "  seed  afgeleverd  verloren  dubbel  frames/afgeleverd  p95 FLASH/SPOED/PRIORITEIT/ROUTINE (s)  wand"]
    for r in m["runs"]:
        p95 = " / ".join("—" if r["p95_s"].get(p) is None else f"{r['p95_s'][p]:g}" for p in precs)
        verdict = "ok" if not r["missed"] else "NIET: " + ", ".join(r["missed"])
        lines.append(f"  {r['seed']:>4}  {r['delivered']:>5}/{r['sent']:<5} {r['lost']:>7}  "
                     f"{r['duplicates_delivered']:>6}  {r['on_air_frames_per_delivered']:>17}  {p95:<38} "
                     f"{r['wall_s']:>5} s  {verdict}")
    frames = [r["on_air_frames_per_delivered"] for r in m["runs"] if r["on_air_frames_per_delivered"] is not None]
    if frames:
        lines.append(f"  frames/afgeleverd: min {min(frames)}, max {max(frames)}; "
                     f"alle doelen {'gehaald' if m['all_met'] else 'NIET gehaald'} ({m['wall_s']} s)")
    return "\n".join(lines)
