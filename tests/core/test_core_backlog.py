"""`estimate_backlog`: radio work per precedence and when the radio can have sent it (pure, virtual time)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from nspgw.core.airtime import DutyCycleLedger
from nspgw.core.backlog import Pending, estimate_backlog
from nspgw.wire.frames import Precedence

F, IMM, PRI, R = Precedence.FLASH, Precedence.IMMEDIATE, Precedence.PRIORITY, Precedence.ROUTINE
FRAME_MS = 1500.0
MARGIN_S = 0.5
RESERVE_MS = 72_000.0  # 20 % of EU868's 360 s per hour, as NodeConfig.reserve_fraction


def _ledger(bookings: list[tuple[float, float]] = ()) -> DutyCycleLedger:  # type: ignore[assignment]
    led = DutyCycleLedger(3600.0, 0.10)
    for t, ms in bookings:
        led.record(t, ms)
    return led


def _est(work: list[Pending], led: DutyCycleLedger, now: float = 0.0, **kw: object):  # type: ignore[no-untyped-def]
    return estimate_backlog(work, led, now, margin_s=MARGIN_S, routine_reserve_ms=RESERVE_MS, **kw)  # type: ignore[arg-type]


def test_an_idle_radio_sends_the_backlog_back_to_back() -> None:
    work = [Pending(("r", i), R, (FRAME_MS,), 0.0, i) for i in range(4)]
    b = _est(work, _ledger())
    r = b.lines[R]
    assert (r.messages, r.frames, r.airtime_ms) == (4, 4, 4 * FRAME_MS)
    assert not r.duty_bound
    step = FRAME_MS / 1000 + MARGIN_S
    assert [b.items[("r", i)].delay_s for i in range(4)] == [0.0, step, 2 * step, 3 * step]
    assert r.expected_delay_s == 3 * step
    assert b.lines[F].frames == 0 and b.lines[F].expected_delay_s == 0.0


def test_flash_waits_only_for_the_frame_on_air_not_for_the_routine_queue() -> None:
    work = [Pending(("r", i), R, (FRAME_MS,), 0.0, i) for i in range(200)]
    work.append(Pending("flash", F, (FRAME_MS,), 0.0, 999))
    b = _est(work, _ledger(), radio_free_at=1.2)
    assert b.items["flash"].delay_s == 1.2
    assert b.lines[F].expected_delay_s == 1.2
    assert b.lines[R].expected_delay_s > 200 * FRAME_MS / 1000  # and the routine queue waits behind it


def test_routine_waits_for_the_window_and_leaves_the_reserve_for_flash() -> None:
    # 300 s spent over the first five minutes: 60 s left of 360, less than the 72 s reserve ROUTINE must keep.
    led = _ledger([(float(t), 1000.0) for t in range(300)])
    work = [Pending("routine", R, (FRAME_MS,), 400.0), Pending("flash", F, (FRAME_MS,), 400.0)]
    b = _est(work, led, now=400.0)
    assert b.items["flash"].delay_s == 0.0 and not b.items["flash"].duty_bound
    routine = b.items["routine"]
    assert routine.duty_bound
    # The oldest bookings must age out first: 13.5 s more (the frame + the reserve − what is left) ≈ second 13.
    assert 3600 + 13 - 400 <= routine.delay_s <= 3600 + 16 - 400
    assert led.used_ms(400.0) == 300_000.0  # the caller's ledger is untouched


def test_the_estimate_waits_for_ready_times_and_lets_urgent_work_arriving_later_go_first() -> None:
    work = [Pending("later-flash", F, (FRAME_MS,), 10.0), Pending("now-routine", R, (FRAME_MS,) * 3, 0.0)]
    b = _est(work, _ledger())
    assert b.items["later-flash"].delay_s == 10.0
    assert b.items["now-routine"].delay_s == 2 * (FRAME_MS / 1000 + MARGIN_S)  # all three before t=10


def test_radio_down_means_unknown_delay_and_a_frame_that_never_fits_is_flagged() -> None:
    work = [Pending("m", IMM, (FRAME_MS,), 0.0)]
    b = _est(work, _ledger(), radio_up=False)
    assert math.isinf(b.lines[IMM].expected_delay_s) and b.lines[IMM].messages == 1
    tiny = DutyCycleLedger(10.0, 0.10)  # one second per window: a 1.5 s frame never fits
    b = _est(work, tiny)
    assert math.isinf(b.items["m"].delay_s) and b.items["m"].duty_bound


def test_control_frames_count_as_frames_not_messages() -> None:
    b = _est([Pending("beacon", R, (400.0,), 0.0, message=False), Pending("m", R, (FRAME_MS, FRAME_MS), 0.0, 1)],
             _ledger())
    assert (b.lines[R].messages, b.lines[R].frames, b.lines[R].airtime_ms) == (1, 3, 400.0 + 2 * FRAME_MS)


# ---------------------------------------------------------------------------------------------- properties
_frames = st.lists(st.sampled_from([300.0, 900.0, 1500.0, 2100.0]), min_size=1, max_size=3)
_pending = st.tuples(st.sampled_from(list(Precedence)), _frames, st.sampled_from([0.0, 0.0, 5.0, 60.0, 900.0]))
_bookings = st.lists(st.tuples(st.floats(0.0, 3599.0), st.sampled_from([500.0, 1500.0, 20_000.0])), max_size=30)


NOW = 3600.0


def _work(spec: list[tuple[Precedence, list[float], float]], start: int = 0) -> list[Pending]:
    """Work from (precedence, frames, ready in s from NOW)."""
    return [Pending(start + i, p, tuple(fr), NOW + ready, start + i) for i, (p, fr, ready) in enumerate(spec)]


@settings(max_examples=300, deadline=None)
@given(st.lists(_pending, max_size=25), _pending, _bookings, st.floats(0.0, 5.0))
def test_more_backlog_never_lowers_an_expected_delay(spec: list[tuple[Precedence, list[float], float]],
                                                     extra: tuple[Precedence, list[float], float],
                                                     bookings: list[tuple[float, float]], busy_s: float) -> None:
    now = NOW
    led = _ledger(sorted(bookings))
    base = _est(_work(spec), led, now=now, radio_free_at=now + busy_s)
    more = _est(_work(spec) + _work([extra], start=len(spec)), led, now=now, radio_free_at=now + busy_s)
    for p in Precedence:
        assert more.lines[p].expected_delay_s >= base.lines[p].expected_delay_s - 1e-6, p


@settings(max_examples=300, deadline=None)
@given(st.lists(_pending, max_size=20), st.lists(_pending, max_size=20), _bookings)
def test_flash_delay_does_not_depend_on_lower_precedence_backlog(
        spec: list[tuple[Precedence, list[float], float]], lower: list[tuple[Precedence, list[float], float]],
        bookings: list[tuple[float, float]]) -> None:
    now = NOW
    led = _ledger(sorted(bookings))
    flash = [s for s in spec if s[0] == F]
    others = [s for s in lower if s[0] != F]
    alone = _est(_work(flash), led, now=now)
    crowded = _est(_work(flash) + _work(others, start=len(flash)), led, now=now)
    assert crowded.lines[F] == alone.lines[F]
    for k in range(len(flash)):
        assert crowded.items[k] == alone.items[k]


@settings(max_examples=200, deadline=None)
@given(st.lists(_pending, min_size=1, max_size=20), _bookings, st.floats(0.0, 20_000.0))
def test_spent_airtime_never_lowers_an_expected_delay(spec: list[tuple[Precedence, list[float], float]],
                                                     bookings: list[tuple[float, float]], more_ms: float) -> None:
    now = NOW
    led, fuller = _ledger(sorted(bookings)), _ledger(sorted(bookings))
    fuller.record(now - 1.0, more_ms)
    base, after = _est(_work(spec), led, now=now), _est(_work(spec), fuller, now=now)
    for p in Precedence:
        assert after.lines[p].expected_delay_s >= base.lines[p].expected_delay_s - 1e-6, p


def test_ledger_copy_is_independent() -> None:
    led = _ledger([(0.0, 1000.0)])
    twin = led.copy()
    twin.record(1.0, 5000.0)
    assert led.used_ms(2.0) == 1000.0 and twin.used_ms(2.0) == 6000.0
    assert twin.window_s == led.window_s and twin.limit_fraction == led.limit_fraction


def test_work_whose_time_to_live_runs_out_first_is_flagged() -> None:
    led = _ledger([(float(t), 1000.0) for t in range(300)])  # ROUTINE is out of budget until ≈ t=3613
    work = [Pending("short", R, (FRAME_MS,), 400.0, 0, deadline=1000.0),
            Pending("long", R, (FRAME_MS,), 400.0, 1, deadline=50_000.0),
            Pending("beacon", R, (400.0,), 400.0, 2, message=False, deadline=500.0)]
    b = _est(work, led, now=400.0)
    assert b.items["short"].expires_first and not b.items["long"].expires_first
    assert b.lines[R].expiring == 1  # control frames are not messages
