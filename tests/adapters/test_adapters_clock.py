"""How sure the box is of its clock: the kernel's word (adjtimex), an override, an operator's confirmation."""

from __future__ import annotations

import pytest

from nspgw.adapters import clock


def test_kernel_state_is_read_without_changing_it() -> None:
    first = clock.kernel_synchronised()
    assert first in (True, False, None)
    assert clock.kernel_synchronised() == first  # modes=0: a read, not a write


def test_source_order_override_kernel_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NSPGW_CLOCK_SOURCE", "gps")
    assert clock.time_source() == "gps"
    monkeypatch.setenv("NSPGW_CLOCK_SOURCE", "nonsense")  # ignored, never trusted blindly
    monkeypatch.setattr(clock, "kernel_synchronised", lambda: False)
    assert clock.time_source() == "unsync"
    assert clock.time_source(clock.boot_id()) == "operator"  # confirmed in this boot
    assert clock.time_source("0ld-b00t") == "unsync"  # a confirmation from an earlier boot means nothing now
    monkeypatch.setattr(clock, "kernel_synchronised", lambda: True)
    assert clock.time_source() == "ntp"
    monkeypatch.setattr(clock, "kernel_synchronised", lambda: None)  # no adjtimex: honest, not optimistic
    assert clock.time_source() == "unsync"
