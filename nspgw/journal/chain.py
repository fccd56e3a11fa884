"""Canonical form, hash chain and head signatures of journal entries. Pure: no I/O, no clock reads.

Each entry's hash is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of all its fields but
`hash`, and that includes `prev`, the hash of the entry before it. Changing, removing or reordering any entry
therefore changes every hash after it. A signature by the box's Ed25519 key over (box address, n, hash of
entry n) vouches for entries 1..n at once; only a tail after the last signed head can be cut unnoticed,
which is why the daemon signs at intervals and every export signs its own last entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nspgw.crypto.keys import verify_signature
from nspgw.errors import JournalError

GENESIS = "0" * 64  # `prev` of entry 1
SIGN_DOMAIN = b"nspgw/journaal/v1"
FIELDS = ("n", "kind", "wall", "clock", "boot", "mono", "actor", "data", "prev")

# Kinds of entry. Message: msg_out (we accepted one to send), msg_in (one reached our inbox), state (our
# message moved: queued, in_flight = on air, held_by_relay, delivered, expired), receipt (a reader confirmed),
# custody_in / custody_out (a relay took or passed on someone's message). People: operator (read, note,
# ping, export). Box: service (start, stop, link lost/back), notice (the core's warnings), clock (time
# source changed), correction (earlier entries re-dated).
__all__ = ["FIELDS", "GENESIS", "KINDS", "JournalError", "Problem", "Report", "canonical", "entry_hash",
           "head_message", "verify"]

KINDS = ("msg_out", "msg_in", "state", "receipt", "custody_in", "custody_out", "operator", "service", "notice",
         "clock", "correction")


def canonical(fields: Mapping[str, Any]) -> bytes:
    return json.dumps({k: fields[k] for k in FIELDS}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False).encode("utf-8")


def entry_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()


def head_message(box: int, n: int, head_hash: str) -> bytes:
    """The bytes a head signature covers: domain, box address, entry number and that entry's hash."""
    return SIGN_DOMAIN + b"|" + f"{box}|{n}|{head_hash}".encode("ascii")


@dataclass(frozen=True, slots=True)
class Problem:
    """Where the journal breaks: entry `n` (the file position `position`, 1-based, when it came from a file)."""

    n: int | None
    position: int | None
    code: str  # hash, prev, order, gap, signature, signature_hash, missing_head, unsigned, key
    detail: str


@dataclass(frozen=True, slots=True)
class Report:
    entries: int
    first_n: int | None
    last_n: int | None
    signed_n: int | None  # the highest entry a valid signature vouches for
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not any(p.code != "unsigned" for p in self.problems)


def verify(box: int, entries: Iterable[Mapping[str, Any]], signatures: Iterable[Mapping[str, Any]],
           sign_public: bytes | None, *, start_prev: str | None = None) -> Report:
    """Check the chain (each hash, each link to the one before, consecutive numbers) and every signature.

    `entries` in the order given (a file's order: reordering shows as a break); `start_prev` is the `prev`
    the first entry must carry (GENESIS for a whole journal; None for an excerpt, which starts anywhere).
    Signatures are dicts {n, hash, signature}; each must match the entry n it names when that entry is here.
    """
    problems: list[Problem] = []
    by_n: dict[int, str] = {}
    prev_hash: str | None = start_prev
    prev_n: int | None = None
    first_n: int | None = None
    count = 0
    for pos, e in enumerate(entries, start=1):
        count += 1
        try:
            n = int(e["n"])
            stated = str(e["hash"])
            actual = entry_hash(e)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(Problem(None, pos, "hash", f"entry unreadable ({exc})"))
            prev_hash, prev_n = None, None
            continue
        first_n = n if first_n is None else first_n
        if prev_n is not None and n != prev_n + 1:
            code = "order" if n <= prev_n else "gap"
            problems.append(Problem(n, pos, code, f"follows entry {prev_n}"))
        elif prev_n is None and start_prev == GENESIS and n != 1:
            problems.append(Problem(n, pos, "gap", "the journal does not start at entry 1"))
        if actual != stated:
            problems.append(Problem(n, pos, "hash", "content does not match its hash (altered)"))
        if prev_hash is not None and e.get("prev") != prev_hash:
            problems.append(Problem(n, pos, "prev", "does not link to the entry before it"))
        by_n[n] = stated
        prev_hash, prev_n = stated, n
    signed_n: int | None = None
    for s in signatures:
        try:
            n, h, sig = int(s["n"]), str(s["hash"]), bytes.fromhex(str(s["signature"]))
        except (KeyError, TypeError, ValueError):
            problems.append(Problem(None, None, "signature", "signature record unreadable"))
            continue
        if sign_public is None:
            problems.append(Problem(n, None, "key", "no public key to check the signature with"))
            continue
        if not verify_signature(sign_public, sig, head_message(box, n, h)):
            problems.append(Problem(n, None, "signature", "head signature invalid (not made by this box's key)"))
            continue
        if n in by_n:
            if by_n[n] != h:
                problems.append(Problem(n, None, "signature_hash", "signed hash differs from this entry's hash"))
                continue
        elif prev_n is not None and first_n is not None and n > prev_n:
            problems.append(Problem(n, None, "missing_head",
                                    f"a signature covers entry {n} but the journal ends at {prev_n} "
                                    "(entries removed from the end)"))
            continue
        elif first_n is not None and n < first_n:
            continue  # an older head, before this excerpt
        signed_n = n if signed_n is None else max(signed_n, n)
    if prev_n is not None and (signed_n is None or signed_n < prev_n):
        problems.append(Problem(prev_n, None, "unsigned",
                                f"entries after {signed_n or 0} are not yet covered by a signature"))
    return Report(count, first_n, prev_n, signed_n, tuple(problems))
