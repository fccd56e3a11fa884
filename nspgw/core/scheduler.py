"""Precedence queue of transmission jobs and retry backoff.

One frame at a time goes to the radio; whenever the radio is free the ready job of highest precedence
(FLASH > IMMEDIATE > PRIORITY > ROUTINE, then earliest ready, then oldest) is served. A FLASH accepted
behind 200 ROUTINE jobs therefore waits at most for the frame already on air: lower traffic that is merely
queued is pre-empted simply by not being chosen. A job whose frame does not fit the duty-cycle budget is
skipped, so a cheap urgent frame is not blocked by an expensive routine one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from nspgw.wire.frames import Precedence


class Rng(Protocol):
    def random(self) -> float: ...


@dataclass(slots=True)
class _Job:
    precedence: Precedence
    ready_at: float
    order: int


K = TypeVar("K", bound=Hashable)


class Scheduler(Generic[K]):
    def __init__(self) -> None:
        self._jobs: dict[K, _Job] = {}
        self._order = 0

    def __len__(self) -> int:
        return len(self._jobs)

    def __contains__(self, key: K) -> bool:
        return key in self._jobs

    def put(self, key: K, precedence: Precedence, ready_at: float) -> None:
        """Add or re-time a job (keeps its place among equals when it already exists)."""
        job = self._jobs.get(key)
        if job is None:
            self._order += 1
            self._jobs[key] = _Job(precedence, ready_at, self._order)
        else:
            job.precedence, job.ready_at = precedence, ready_at

    def remove(self, key: K) -> None:
        self._jobs.pop(key, None)

    def ready_at(self, key: K) -> float | None:
        job = self._jobs.get(key)
        return None if job is None else job.ready_at

    def pick(self, now: float, fits: Callable[[K, Precedence], bool] | None = None) -> K | None:
        """The ready job to serve now (not removed), or None."""
        ready = sorted(
            (j.precedence, j.ready_at, j.order, k) for k, j in self._jobs.items() if j.ready_at <= now
        )
        for prec, _t, _o, key in ready:
            if fits is None or fits(key, prec):
                return key
        return None

    def next_ready(self) -> float | None:
        return min((j.ready_at for j in self._jobs.values()), default=None)

    def items(self) -> list[tuple[K, float]]:
        """(key, ready time) of every job."""
        return [(k, j.ready_at) for k, j in self._jobs.items()]

    def job_keys(self) -> list[K]:
        return list(self._jobs)


def backoff_s(attempt: int, base_s: float, max_s: float, rng: Rng, growth: float = 2.0, low: float = 0.5) -> float:
    """Exponential backoff with jitter from `low` to 1.5 times the step (so boxes that lost the same frame do not
    retry in step); the default ±50 %."""
    raw = min(base_s * math.pow(growth, max(attempt - 1, 0)), max_s)
    return raw * (low + (1.5 - low) * rng.random())
