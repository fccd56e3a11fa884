"""A structured trace: one JSON line per event the driver feeds the core and per action it carries out.

The idea is qlog's (the QUIC event log aioquic writes): a machine-readable record of what a box saw and did,
read back with `jq` or a few lines of Python when diagnosing a field problem (why was this frame sent twice,
when did the radio NAK it, which link was up). `nspgw run --trace FILE` and `nspgw sim run --trace FILE`.

Never a secret and never a message text: every `bytes` field is written as its length only ({"bytes": n}),
so a trace can be mailed to a technician. Records: {"t": monotonic/virtual seconds, "box": roster address,
"dir": "event" | "action" | "port", "type": class or port-event name, "data": {its fields}}.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from pathlib import Path
from typing import IO, Any

from nspgw.errors import ConfigError

_MAX_DEPTH = 4


def plain(value: Any, depth: int = 0) -> Any:
    """A JSON-able summary of an event/action field: bytes as their length, enums by value, dataclasses as
    dicts (nested a few levels), anything else as its text."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes": len(value)}
    if isinstance(value, enum.Enum):
        return value.value if isinstance(value.value, (int, str)) else value.name
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth >= _MAX_DEPTH:
        return type(value).__name__
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    return str(value)


class Trace:
    """Appends trace lines to one file (several boxes of a simulation may share it: each line names its box)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # Line-buffered: after kill -9 the trace holds every line up to the last complete one.
        try:
            self._fh: IO[str] | None = self.path.open("a", encoding="utf-8", buffering=1)
        except OSError as exc:
            raise ConfigError(f"sporenbestand {self.path} niet te openen: {exc.strerror}") from None

    def write(self, t: float, box: int, kind: str, obj: Any, **extra: Any) -> None:
        if self._fh is None:
            return
        name = obj if isinstance(obj, str) else type(obj).__name__
        data = plain(obj) if not isinstance(obj, str) else {}
        if not isinstance(data, dict):
            data = {"value": data}
        data.update({k: plain(v) for k, v in extra.items()})
        rec = {"t": round(t, 6), "box": box, "dir": kind, "type": name, "data": data}
        self._fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read(path: Path) -> list[dict[str, Any]]:
    """Every record of a trace file, in order (a torn last line after a crash is skipped)."""
    out: list[dict[str, Any]] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
