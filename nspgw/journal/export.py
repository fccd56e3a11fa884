"""Exported journals: the JSON file `verify` and `merge` read, and the CSV for spreadsheets. Pure.

JSON layout (one entry per line, so an altered, removed or moved line is named by its position):
    {"journaal": {header},
     "signatures": [{n, hash, signature}, ...],
     "entries": [
    {entry 1},
    ...
    ]}
The header names the box, its signing key, the period and the entries' range, and carries
`export_signature`: the box's signature over the header itself, so cutting entries at either end of an
excerpt (and fixing the range to match) breaks it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

from nspgw.crypto.keys import verify_signature
from nspgw.journal.chain import SIGN_DOMAIN, JournalError, Problem, Report, verify
from nspgw.journal.entry import Entry

FORMAT = "nspgw-journaal/1"


def header_message(header: dict[str, Any]) -> bytes:
    body = {k: v for k, v in header.items() if k != "export_signature"}
    return SIGN_DOMAIN + b"|export|" + json.dumps(body, sort_keys=True, separators=(",", ":"),
                                                  ensure_ascii=False).encode("utf-8")


def to_json(header: dict[str, Any], entries: Sequence[Entry], signatures: Sequence[dict[str, Any]]) -> str:
    lines = ['{"journaal": ' + json.dumps(header, ensure_ascii=False, sort_keys=True) + ",",
             ' "signatures": ' + json.dumps([{k: s[k] for k in ("n", "hash", "signature")} for s in signatures])
             + ",", ' "entries": [']
    body = [json.dumps(e.fields(), ensure_ascii=False, sort_keys=True) for e in entries]
    lines += [b + ("," if i < len(body) - 1 else "") for i, b in enumerate(body)]
    lines.append("]}")
    return "\n".join(lines) + "\n"


def read_json(text: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """(header, entries, signatures) of an exported file; JournalError when it is not one."""
    try:
        doc = json.loads(text)
        header, entries, sigs = doc["journaal"], doc["entries"], doc["signatures"]
    except (ValueError, KeyError, TypeError) as exc:
        raise JournalError(f"geen journaal-export ({exc}) / not a journal export") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT or not isinstance(entries, list):
        raise JournalError("onbekend formaat / unknown format (expected " + FORMAT + ")")
    sigs = sigs if isinstance(sigs, list) else []
    return header, [e if isinstance(e, dict) else {} for e in entries], [s for s in sigs if isinstance(s, dict)]


def verify_export(header: dict[str, Any], entries: list[dict[str, Any]], sigs: list[dict[str, Any]],
                  sign_public: bytes | None) -> Report:
    """The chain of an exported excerpt, its signatures, and its header's own signature and range."""
    box = int(header.get("addr", -1))
    start_prev = header.get("start_prev")
    report = verify(box, entries, sigs, sign_public, start_prev=start_prev if isinstance(start_prev, str) else None)
    extra: list[Problem] = []
    sig = header.get("export_signature")
    if not sig:
        extra.append(Problem(None, None, "unsigned", "the export itself is not signed"))
    elif sign_public is None or not verify_signature(sign_public, bytes.fromhex(str(sig)), header_message(header)):
        extra.append(Problem(None, None, "signature", "export header signature invalid (header altered?)"))
    first, last = header.get("first_n"), header.get("last_n")
    if entries and (report.first_n != first or report.last_n != last):
        extra.append(Problem(report.first_n, 1, "gap", f"the header says entries {first}–{last}, the file has "
                             f"{report.first_n}–{report.last_n} (entries removed at an end)"))
    if isinstance(first, int) and isinstance(last, int) and report.entries != last - first + 1:
        extra.append(Problem(None, None, "gap", f"{last - first + 1} entries expected, {report.entries} present"))
    problems = report.problems
    if sig and not any(p.code == "signature" for p in extra):
        # a valid export signature covers the last entry too: no "unsigned tail" left
        problems = tuple(p for p in problems if p.code != "unsigned")
        signed = last if isinstance(last, int) and report.last_n == last else report.signed_n
        report = Report(report.entries, report.first_n, report.last_n, signed, problems)
    return Report(report.entries, report.first_n, report.last_n, report.signed_n, problems + tuple(extra))


def to_csv(entries: Sequence[Entry], describe: Callable[[Entry], str], when: Callable[[Entry], tuple[str, str]],
           kind_name: Callable[[str], str]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["n", "time", "clock", "wall_as_written", "kind", "kind_name", "actor", "description", "precedence",
                "message", "hash"])
    for e in entries:
        tm, clock = when(e)
        d = e.data
        msg = f"{d['origin']}/{d['seq']}" if "origin" in d and "seq" in d else (str(d["seq"]) if "seq" in d else "")
        w.writerow([e.n, tm, clock, e.wall, e.kind, kind_name(e.kind), e.actor, describe(e), d.get("precedence", ""),
                    msg, e.hash])
    return out.getvalue()


def entry_from(d: dict[str, Any]) -> Entry:
    """An Entry from an exported line (for merge and views of a file)."""
    return Entry(int(d["n"]), str(d["kind"]), float(d["wall"]), str(d["clock"]), str(d["boot"]), float(d["mono"]),
                 str(d["actor"]), dict(d["data"]), str(d["prev"]), str(d["hash"]), float(d["wall"]))
