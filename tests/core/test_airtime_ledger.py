"""DutyCycleLedger: rolling-hour airtime accounting with bounded memory."""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nspgw.core.airtime import DutyCycleLedger


def test_eu868_limit_is_six_minutes_per_hour() -> None:
    ledger = DutyCycleLedger.for_region("EU_868")
    assert ledger.limit_ms == pytest.approx(360_000)
    assert DutyCycleLedger.for_region("US").limit_fraction == 1.0


def test_airtime_ages_out_after_the_window() -> None:
    ledger = DutyCycleLedger()
    ledger.record(10.2, 2000.0)
    ledger.record(10.9, 1000.0)
    ledger.record(20.0, 500.0)
    assert ledger.used_ms(100.0) == pytest.approx(3500.0)
    assert ledger.used_ms(3610.9) == pytest.approx(3500.0)  # the 10 s bucket leaves one window after second 11
    assert ledger.used_ms(3611.0) == pytest.approx(500.0)
    assert ledger.used_ms(3621.0) == 0.0


def test_can_send_respects_limit_and_reserve() -> None:
    ledger = DutyCycleLedger()
    ledger.record(0.0, 359_000.0)
    assert ledger.can_send(1.0, 1000.0)
    assert not ledger.can_send(1.0, 1001.0)
    assert not ledger.can_send(1.0, 500.0, reserve_ms=600.0)
    assert ledger.available_ms(1.0) == pytest.approx(1000.0)


def test_next_time_available() -> None:
    ledger = DutyCycleLedger()
    ledger.record(0.0, 200_000.0)
    ledger.record(100.0, 160_000.0)
    assert ledger.next_time_available(200.0, 0.0) == 200.0
    assert ledger.next_time_available(200.0, 1.0) == pytest.approx(3601.0)
    assert ledger.next_time_available(200.0, 200_001.0) == pytest.approx(3701.0)
    assert math.isinf(ledger.next_time_available(200.0, 400_000.0))


def test_memory_is_bounded_by_the_window() -> None:
    ledger = DutyCycleLedger(limit_fraction=1.0)
    t = 0.0
    for _ in range(50_000):
        ledger.record(t, 1.0)
        t += 0.25
    assert len(ledger._buckets) <= 3601


@given(st.lists(st.tuples(st.floats(0, 500), st.floats(0, 50_000)), max_size=30),
       st.floats(0, 400_000), st.floats(0, 100))
def test_next_time_available_is_the_earliest_time_it_fits(frames: list[tuple[float, float]], need: float,
                                                          gap: float) -> None:
    ledger = DutyCycleLedger()
    t = 0.0
    for dt, ms in frames:
        t += dt
        ledger.record(t, ms)
    now = t + gap
    when = ledger.next_time_available(now, need)
    if math.isinf(when):
        assert need > ledger.limit_ms
        return
    assert when >= now
    assert copy.deepcopy(ledger).can_send(when, need)
    if when > now:
        assert not copy.deepcopy(ledger).can_send(when - 1e-3, need)
