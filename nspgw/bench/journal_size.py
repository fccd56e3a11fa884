"""How much disk a year of the journaal takes on one busy CP: measured, not estimated.

    python -m nspgw.bench.journal_size [--scenario docs/scenarios/region-24h.toml] [--days 365] [--out DIR]

1. Runs the scenario (default: the region's day, 1 GCT, 5 CPs, 50 NSPs at LONG_FAST, 10 % loss, an
   afternoon without IP) on real stores; every store writes its journal as the daemon's would.
2. Takes the CP whose journal grew most that day, and writes that day's entries again, day after day with
   times shifted by 24 h, into a fresh store on disk through the same `journal.record` the store uses:
   `--days` days of that CP's real traffic, each entry hashed and chained as on a box, the head signed
   every SIGN_INTERVAL_S (5 min) while entries come in, as the daemon does.
3. Prints entries per day, the store's size after one day and after all days, bytes per entry, and the size
   of the year's JSON export. The store file is SQLite with its indexes (`PRAGMA page_count * page_size`
   after a checkpoint): what the SD card holds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from nspgw.crypto.keys import Identity
from nspgw.daemon.journal import SIGN_INTERVAL_S
from nspgw.sim.scenario import fast_tmp, load_scenario, run_scenario
from nspgw.store import journal
from nspgw.store.sqlite import Store

SCENARIO = Path(__file__).resolve().parents[2] / "docs" / "scenarios" / "region-24h.toml"
DAY_S = 86_400.0


def busiest_cp(workdir: Path, cps: list[int]) -> tuple[int, list[journal.Entry]]:
    best: tuple[int, list[journal.Entry]] = (0, [])
    for addr in cps:
        with Store.open(workdir / f"box{addr}.db", create=False) as s:
            es = s.journal_entries()
        if len(es) > len(best[1]):
            best = (addr, es)
    return best


def store_bytes(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, size = con.execute("PRAGMA page_count").fetchone()[0], con.execute("PRAGMA page_size").fetchone()[0]
        return int(pages) * int(size)
    finally:
        con.close()


def _stamp(wall: float, mono: float) -> tuple[float, float, str, str]:
    return wall, mono, "year", "ntp"


def replay(day: list[journal.Entry], days: int, path: Path) -> dict[str, Any]:
    """Write `day` `days` times into a fresh store at `path`; sizes after the first day and at the end."""
    out: dict[str, Any] = {}
    with Store.open(path) as s:
        db = s._db  # the bench writes the journal directly, as Store.apply does inside its transaction
        key = Identity(os.urandom(32), os.urandom(32))
        next_sign = 0.0
        for d in range(days):
            db.execute("BEGIN IMMEDIATE")
            for e in day:
                if e.kind in ("clock", "correction"):
                    continue
                wall = e.wall + d * DAY_S
                journal.record(db, [(e.kind, e.data)], e.actor, partial(_stamp, wall, e.mono + d * DAY_S))
                if wall >= next_sign:  # the daemon signs a moved head at most every SIGN_INTERVAL_S
                    journal.sign_head(db, 10, key.sign, wall)
                    next_sign = wall + SIGN_INTERVAL_S
            db.execute("COMMIT")
            if d == 0:
                out["store_bytes_after_1_day"] = store_bytes(path)
        out["entries"] = int(db.execute("SELECT count(*) FROM journal").fetchone()[0])
        out["signed_heads"] = int(db.execute("SELECT count(*) FROM journal_heads").fetchone()[0])
        export = sum(len(json.dumps(e.fields(), ensure_ascii=False)) + 2 for e in s.journal_entries(limit=5000))
        out["json_export_bytes_per_entry"] = round(export / min(out["entries"], 5000), 1)
    out["store_bytes"] = store_bytes(path)
    return out


def measure(scenario: Path, days: int, out_dir: Path | None) -> dict[str, Any]:
    sc = load_scenario(scenario)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nspgw-journal-size-", dir=fast_tmp()) as tmp:
        run_scenario(sc, Path(tmp))
        cps = [int(b.addr) for b in sc.boxes if b.role.value == "cp"]
        addr, day = busiest_cp(Path(tmp), cps)
    t_sim = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="nspgw-journal-year-") as tmp2:
        target = (out_dir or Path(tmp2)) / f"cp{addr}-{days}d.db"
        target.unlink(missing_ok=True)
        sizes = replay(day, days, target)
    per_day = sum(1 for e in day if e.kind not in ("clock", "correction"))
    kinds: dict[str, int] = {}
    for e in day:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    return {
        "scenario": sc.name, "box": addr, "entries_per_day": per_day, "kinds_per_day": kinds, "days": days,
        **sizes, "bytes_per_entry": round(sizes["store_bytes"] / max(sizes["entries"], 1), 1),
        "json_export_bytes_year": int(sizes["json_export_bytes_per_entry"] * sizes["entries"]),
        "wall_s": {"scenario": round(t_sim, 1), "total": round(time.perf_counter() - t0, 1)},
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=SCENARIO)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--out", type=Path, default=None, help="keep the year's store in this directory")
    args = ap.parse_args(argv)
    print(json.dumps(measure(args.scenario, args.days, args.out), indent=2))


if __name__ == "__main__":
    main()
