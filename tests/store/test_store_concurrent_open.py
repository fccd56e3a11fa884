"""Several processes opening a brand-new store at once (the daemon creating it while `nspgw status` and
`nspgw send` open it) all succeed: each migration step is re-checked under the write lock."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from nspgw.store.schema import SCHEMA_VERSION
from nspgw.store.sqlite import Store


def _open(path: Path, results: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        with Store.open(path) as store:
            results.put(("ok", store.schema_version))
    except Exception as exc:  # the assertion below shows what went wrong
        results.put(("error", repr(exc)))


def test_concurrent_first_opens_all_succeed(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    for round_ in range(8):
        path = tmp_path / f"box{round_}.db"
        results = ctx.Queue()
        procs = [ctx.Process(target=_open, args=(path, results)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=60)
        outcomes = [results.get(timeout=10) for _ in procs]
        assert outcomes == [("ok", SCHEMA_VERSION)] * 4, outcomes
