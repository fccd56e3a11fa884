"""The hash chain and head signatures (pure): any edit, removal or reordering is found and named."""

from __future__ import annotations

import copy
import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nspgw.crypto.keys import Identity
from nspgw.journal.chain import GENESIS, entry_hash, head_message, verify

BOX = 10
ID = Identity(os.urandom(32), os.urandom(32))


def chain(n: int) -> list[dict[str, Any]]:
    out, prev = [], GENESIS
    for i in range(1, n + 1):
        e = {"n": i, "kind": "msg_in", "wall": 1_800_000_000.0 + i, "clock": "ntp", "boot": "b", "mono": float(i),
             "actor": "nspgw", "data": {"origin": 101, "seq": i, "text": f"bericht {i}"}, "prev": prev}
        e["hash"] = prev = entry_hash(e)
        out.append(e)
    return out


def signed(entries: list[dict[str, Any]], n: int) -> dict[str, Any]:
    h = entries[n - 1]["hash"]
    return {"n": n, "hash": h, "signature": ID.sign(head_message(BOX, n, h)).hex()}


def test_intact_chain_verifies_and_is_signed_to_the_head() -> None:
    es = chain(20)
    r = verify(BOX, es, [signed(es, 10), signed(es, 20)], ID.sign_public, start_prev=GENESIS)
    assert r.ok and r.signed_n == 20 and r.entries == 20 and not r.problems


def test_unsigned_tail_is_reported_but_not_a_break() -> None:
    es = chain(5)
    r = verify(BOX, es, [signed(es, 3)], ID.sign_public, start_prev=GENESIS)
    assert r.ok and r.signed_n == 3 and [p.code for p in r.problems] == ["unsigned"]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.sampled_from(["wall", "actor", "data", "kind", "clock", "mono"]))
def test_any_edit_is_named(i: int, field: str) -> None:
    es = chain(12)
    bad = copy.deepcopy(es)
    bad[i - 1][field] = {"x": 1} if field == "data" else ("y" if isinstance(es[0][field], str) else 1.5)
    r = verify(BOX, bad, [signed(es, 12)], ID.sign_public, start_prev=GENESIS)
    assert not r.ok
    assert (i, i, "hash") in {(p.n, p.position, p.code) for p in r.problems}


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12))
def test_any_removal_is_named(i: int) -> None:
    es = chain(12)
    bad = es[: i - 1] + es[i:]
    r = verify(BOX, bad, [signed(es, 12)], ID.sign_public, start_prev=GENESIS)
    assert not r.ok
    if i == 12:  # the signed head is gone: entries were cut from the end
        assert any(p.code == "missing_head" and p.n == 12 for p in r.problems)
    else:
        assert any(p.n == i + 1 and p.code in ("gap", "prev") for p in r.problems)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 11))
def test_any_swap_of_neighbours_is_named(i: int) -> None:
    es = chain(12)
    bad = list(es)
    bad[i - 1], bad[i] = bad[i], bad[i - 1]
    r = verify(BOX, bad, [signed(es, 12)], ID.sign_public, start_prev=GENESIS)
    assert not r.ok
    assert any(p.position == i and p.code in ("prev", "gap") for p in r.problems)
    assert any(p.position == i + 1 and p.code in ("order", "prev") for p in r.problems)


def test_forged_or_foreign_signatures_fail() -> None:
    es = chain(4)
    other = Identity(os.urandom(32), os.urandom(32))
    r = verify(BOX, es, [signed(es, 4)], other.sign_public, start_prev=GENESIS)
    assert not r.ok and any(p.code == "signature" for p in r.problems)
    s = signed(es, 4)
    r = verify(BOX + 1, es, [s], ID.sign_public, start_prev=GENESIS)  # signature of another box's journal
    assert not r.ok


def test_rehashed_forgery_is_caught_by_the_signature() -> None:
    """Someone who edits an entry and recomputes every hash after it still cannot match the signed head."""
    es = chain(6)
    sig = signed(es, 6)
    forged = copy.deepcopy(es)
    forged[2]["data"]["text"] = "ander bericht"
    prev = forged[1]["hash"]
    for e in forged[2:]:
        e["prev"] = prev
        e["hash"] = prev = entry_hash(e)
    r = verify(BOX, forged, [sig], ID.sign_public, start_prev=GENESIS)
    assert not r.ok and [p.code for p in r.problems if p.code != "unsigned"] == ["signature_hash"]
