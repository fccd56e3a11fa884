"""Compression benchmark of message content: sizes per method and encode/decode speed.

`bench_compression()` measures the shipped held-out set and, when given, the shared sample corpus
(JSON lines with a `text` field). `nspgw bench` prints the result; docs/content-encoding.md quotes it.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

from nspgw.wire.compress import TextMethod, ppm_model_v1
from nspgw.wire.content import decode_content, encode_content
from nspgw.wire.frames import ContentType


@dataclass(frozen=True)
class CompressionResult:
    """One message set: total sizes (content bytes incl. the 1-byte content header) and timings."""

    name: str
    messages: int
    raw_bytes: int  # UTF-8
    encoded_bytes: int  # what travels: header byte + smallest encoding
    ratio: float  # encoded / raw
    median_ratio: float  # median of per-message ratios
    methods: dict[str, int] = field(default_factory=dict)  # how often each method won
    encode_ms_median: float = 0.0
    decode_ms_median: float = 0.0
    encode_decode_ms_max: float = 0.0  # worst single message, encode + decode


@dataclass(frozen=True)
class CompressionReport:
    model_build_ms: float  # first-use cost of building the PPM model in this process
    results: tuple[CompressionResult, ...]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def heldout_texts() -> list[str]:
    """The held-out evaluation set shipped with the dictionary (never used for training)."""
    text = resources.files("nspgw.wire.dictionary").joinpath("heldout_v1.txt").read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line]


def load_corpus(path: str | Path) -> list[str]:
    """Texts of a JSON-lines corpus (`text` field per line)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def measure(name: str, texts: Sequence[str]) -> CompressionResult:
    """Encode and decode every text as ContentType.TEXT; sizes and wall-clock timings."""
    raw = enc = 0
    ratios: list[float] = []
    enc_ms: list[float] = []
    dec_ms: list[float] = []
    worst = 0.0
    methods: Counter[str] = Counter()
    for text in texts:
        t0 = time.perf_counter()
        data = encode_content(ContentType.TEXT, text)
        t1 = time.perf_counter()
        _, back = decode_content(data)
        t2 = time.perf_counter()
        if back != text:
            raise AssertionError(f"round trip failed for {text[:40]!r}")
        n = len(text.encode("utf-8"))
        raw += n
        enc += len(data)
        if n:
            ratios.append(len(data) / n)
        methods[TextMethod(data[0] & 0x1F).name] += 1
        enc_ms.append((t1 - t0) * 1000)
        dec_ms.append((t2 - t1) * 1000)
        worst = max(worst, (t2 - t0) * 1000)
    return CompressionResult(
        name=name,
        messages=len(texts),
        raw_bytes=raw,
        encoded_bytes=enc,
        ratio=enc / raw if raw else 1.0,
        median_ratio=statistics.median(ratios) if ratios else 1.0,
        methods=dict(methods),
        encode_ms_median=statistics.median(enc_ms) if enc_ms else 0.0,
        decode_ms_median=statistics.median(dec_ms) if dec_ms else 0.0,
        encode_decode_ms_max=worst,
    )


def bench_compression(
    corpus_path: str | Path | None = None, extra: Iterable[tuple[str, Sequence[str]]] = ()
) -> CompressionReport:
    """Measure the held-out set, the corpus at `corpus_path` (if given) and any `extra` (name, texts) sets."""
    t0 = time.perf_counter()
    ppm_model_v1()
    build_ms = (time.perf_counter() - t0) * 1000
    results = [measure("held-out (nspgw/wire/dictionary/heldout_v1.txt)", heldout_texts())]
    if corpus_path is not None:
        results.append(measure(f"corpus ({Path(corpus_path).name})", load_corpus(corpus_path)))
    results += [measure(name, list(texts)) for name, texts in extra]
    return CompressionReport(model_build_ms=build_ms, results=tuple(results))


def format_report(report: CompressionReport) -> str:
    """Plain-text table for the terminal and docs."""
    lines = [f"PPM model build: {report.model_build_ms:.0f} ms (once per process)"]
    lines.append(f"{'set':52} {'msgs':>5} {'raw B':>7} {'enc B':>7} {'ratio':>6} {'median':>6} {'enc ms':>7} "
                 f"{'dec ms':>7} {'max ms':>7}  methods")
    for r in report.results:
        methods = ", ".join(f"{k}={v}" for k, v in sorted(r.methods.items()))
        lines.append(f"{r.name[:52]:52} {r.messages:5d} {r.raw_bytes:7d} {r.encoded_bytes:7d} {r.ratio:6.3f} "
                     f"{r.median_ratio:6.3f} {r.encode_ms_median:7.2f} {r.decode_ms_median:7.2f} "
                     f"{r.encode_decode_ms_max:7.2f}  {methods}")
    return "\n".join(lines)
