"""`nspgw bench airtime`: the targets of the wire-format issue, measured on the shared corpus, and clean errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nspgw.bench.airtime import load_corpus, measure, text_chunk_limit
from nspgw.core.airtime import MAX_LORA_PAYLOAD_LEN, meshtastic_frame_len
from nspgw.errors import ConfigError
from nspgw.wire.frames import MAX_BROADCAST_FRAME, MAX_UNICAST_FRAME, NSPGW_PORTNUM, PKC_OVERHEAD

CORPUS = Path(__file__).resolve().parents[1] / "data" / "messages-sample.jsonl"
NSPGW = shutil.which("nspgw", path=str(Path(sys.executable).parent))


def test_targets_on_the_corpus() -> None:
    totals = measure(load_corpus(CORPUS)).totals()
    assert totals["messages"] == 80
    assert totals["ratio"] <= 0.75  # issue target: ≤ 0.75 × plain Meshtastic text
    assert totals["frame_overhead_bytes"] <= 20 and totals["custody_frame_overhead_bytes"] <= 20
    assert totals["short_messages_single_frame_pct"] >= 80


def test_worst_case_receipts_still_beat_plain_text() -> None:
    assert measure(load_corpus(CORPUS), receipt_batch=1).totals()["ratio"] < 1.0


def test_frame_limits_fit_the_firmware_size_check() -> None:
    assert meshtastic_frame_len(MAX_BROADCAST_FRAME, NSPGW_PORTNUM) == MAX_LORA_PAYLOAD_LEN
    assert meshtastic_frame_len(MAX_UNICAST_FRAME, NSPGW_PORTNUM) + PKC_OVERHEAD == MAX_LORA_PAYLOAD_LEN
    assert meshtastic_frame_len(text_chunk_limit(pkc=False), 1) == MAX_LORA_PAYLOAD_LEN


def test_every_row_is_consistent() -> None:
    report = measure(load_corpus(CORPUS))
    for r in report.rows:
        assert r.frames >= 1 and r.meshtastic_frames >= 1
        assert r.nspgw_bytes_on_air <= r.frames * MAX_LORA_PAYLOAD_LEN
        assert r.content_bytes < r.utf8_bytes + 2


@pytest.mark.parametrize(
    ("content", "needle"),
    [("{not json\n", "regel 1"), ('{"text": "a"}\n{"id": 2}\n', "regel 2"), ('{"text": "a"}\n[1]\n', "regel 2"),
     ('{"text": "x", "priority": "urgent"}\n', "prioriteit"), ("", "geen berichten")],
)
def test_bad_corpus_is_a_config_error_with_line(tmp_path: Path, content: str, needle: str) -> None:
    f = tmp_path / "c.jsonl"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=needle):
        load_corpus(f)


@pytest.mark.skipif(NSPGW is None, reason="console script not installed")
def test_cli_json_and_errors(tmp_path: Path) -> None:
    assert NSPGW is not None
    out = subprocess.run([NSPGW, "bench", "airtime", "--corpus", str(CORPUS), "--json"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {"nspgw_airtime_ms", "meshtastic_text_airtime_ms", "ratio", "frame_overhead_bytes"} <= set(doc["totals"])
    assert len(doc["messages"]) == 80
    human = subprocess.run([NSPGW, "bench", "airtime", "--corpus", str(CORPUS)], capture_output=True, text=True,
                           timeout=60)
    assert human.returncode == 0 and "verhouding" in human.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"kind": "chat"}\n', encoding="utf-8")
    for args in (["--corpus", str(bad)], ["--corpus", str(tmp_path / "missing.jsonl")],
                 ["--corpus", str(CORPUS), "--preset", "NOPE"]):
        res = subprocess.run([NSPGW, "bench", "airtime", *args], capture_output=True, text=True, timeout=60)
        assert res.returncode == 3, res.stderr
        assert "Traceback" not in res.stderr and res.stderr.startswith("fout:")
