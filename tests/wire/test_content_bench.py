"""The compression benchmark the `nspgw bench` command calls: real measurements on the held-out set."""

from __future__ import annotations

import json
from pathlib import Path

from nspgw.bench.compression import bench_compression, format_report


def test_bench_reports_heldout_and_a_given_corpus(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    texts = ["Graag 20 dekens naar NSP Noord.", "ok", "Brand in schuur, Molenweg 3, geen gewonden."]
    corpus.write_text("\n".join(json.dumps({"text": t}) for t in texts) + "\n", encoding="utf-8")
    report = bench_compression(corpus, extra=[("empty and emoji", ["", "🔥"])])
    held, corp, extra = report.results
    assert held.messages >= 40 and held.ratio < 0.5 and held.methods.get("PPM_V1", 0) > 30
    assert corp.messages == 3 and corp.raw_bytes == sum(len(t.encode()) for t in texts)
    assert corp.encoded_bytes < corp.raw_bytes
    assert extra.messages == 2
    table = format_report(report)
    assert "held-out" in table and "c.jsonl" in table
    assert report.to_dict()["results"]
