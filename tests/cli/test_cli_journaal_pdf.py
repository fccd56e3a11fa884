"""The printable journal of a simulated day: rendered to PNG with pdftoppm, read back with pdftotext, and
checked for its header on every page, its page count and its number of entries."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from nspgw.sim.boxes import SimBox
from nspgw.sim.scenario import parse_scenario, run_scenario
from nspgw.store.sqlite import Store

Run = Callable[..., tuple[int, str, str]]

# One CP with three NSPs for 24 simulated hours: sitreps, GCT instructions to the posts, a FLASH or two.
DAY = {"scenario": {"name": "dag", "seed": 3, "preset": "LONG_FAST", "duration": "24h", "drain": "1h"},
       "network": {"gct": 1, "cps": 1, "nsps_per_cp": 3, "cp_links": "star", "loss": 0.1},
       "traffic": [
           {"from_role": "nsp", "kind": "sitrep", "precedence": "routine", "per_hour": 1, "to": "parent", "size": 90},
           {"from_role": "nsp", "kind": "emergency", "precedence": "flash", "per_hour": 0.05, "to": "gct",
            "size": 60},
           {"from_role": "gct", "kind": "instruction", "precedence": "immediate", "per_hour": 1, "to": "nsp",
            "size": 100}]}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} (poppler-utils) is missing on CI")
        pytest.skip(f"{name} (poppler-utils) not installed")
    return path


def simulated_day(workdir: Path, box: int) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    run_scenario(parse_scenario(DAY), workdir)
    return workdir / f"box{box}.db"


def test_pdf_of_a_simulated_day(run: Run, boxes: dict[str, SimBox], tmp_path: Path) -> None:
    pdftoppm, pdftotext = _tool("pdftoppm"), _tool("pdftotext")
    nsp = boxes["nsp1"]  # address 101, as the simulated network's first NSP
    day = simulated_day(tmp_path / "sim", int(nsp.addr))
    with sqlite3.connect(day) as src, sqlite3.connect(nsp.store_path) as dst:
        src.backup(dst)  # that box's day, journal and all, becomes this provisioned box's store
    cfg = str(nsp.config_path)
    pdf, js = tmp_path / "dag.pdf", tmp_path / "dag.json"
    assert run("journaal", "export", "--format", "json", "-o", str(js), "-c", cfg)[0] == 0
    code, out, _ = run("journaal", "export", "--format", "pdf", "-o", str(pdf), "-c", cfg)
    assert code == 0 and "ondertekend" in out, out
    entries = json.loads(js.read_text(encoding="utf-8"))["entries"]
    with Store.open(nsp.store_path) as s:
        assert len(entries) == len(s.journal_entries()) - 2 >= 80  # minus the two exports' own entries
    subprocess.run([pdftoppm, "-r", "50", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=60)
    pngs = sorted(tmp_path.glob("page-*.png"))
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], check=True, timeout=60, capture_output=True,
                          text=True).stdout
    pages = text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")
    assert len(pngs) == len(pages) >= 2
    assert all(p.stat().st_size > 5000 for p in pngs)  # something drawn on every page
    for i, page in enumerate(pages, start=1):
        assert "Journaal (verbindingslogboek) - Post nsp1 (adres 101, NSP)" in page, page[:300]
        assert f"Pagina {i} van {len(pages)}" in page
        assert "Nr" in page and "Omschrijving" in page  # column heads repeated
        assert f"Kop: regel {len(entries) + 1}" in page
    numbers = [int(m) for m in re.findall(r"^\s*(\d+)\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", text, re.M)]
    assert numbers == list(range(1, len(entries) + 2))  # every entry once, in order (+ the json export's)
    assert f"Totaal {len(entries) + 1} regels" in text
