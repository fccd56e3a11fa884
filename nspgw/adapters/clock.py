"""How sure this box is of its wall clock, for the journaal (a Raspberry Pi has no real-time clock).

Linux keeps the answer in the kernel: a time daemon that disciplines the clock (systemd-timesyncd, chrony,
ntpd; chrony also with a GPS reference) clears STA_UNSYNC and the kernel then reports TIME_OK from
adjtimex(2); until one does, or once its estimated error grows too large, adjtimex returns TIME_ERROR.
We read that state with adjtimex(modes=0), which changes nothing and needs no privileges.

What this cannot know: whether the daemon's source was an NTP server or a GPS receiver (both show as
synchronised: we report "ntp"), and anything on a system without adjtimex (we report "unsync" then:
honest, never optimistic). An operator who checked the clock against a known time records that with
`nspgw journaal clock --confirm` (source "operator", for the current boot only). "gps" and "mesh" are set
through `NSPGW_CLOCK_SOURCE` by a technician whose box gets its time that way outside the kernel's view.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
from functools import cache
from pathlib import Path

SOURCES = ("ntp", "gps", "mesh", "operator", "unsync", "sim")  # sim: the simulator's virtual time
TIME_ERROR = 5  # adjtimex(2) return value: clock not synchronised
STA_UNSYNC = 0x0040


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (Linux, 64-bit and 32-bit longs alike); trailing padding as glibc.
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
                ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
                ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
                ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("_pad", ctypes.c_int * 11)]


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True) if name else None
    except OSError:
        return None


def kernel_synchronised() -> bool | None:
    """True/False from adjtimex(2); None where the kernel cannot tell us (not Linux, no libc)."""
    libc = _libc()
    if libc is None or not hasattr(libc, "adjtimex"):
        return None
    tx = _Timex()
    state = int(libc.adjtimex(ctypes.byref(tx)))
    if state < 0:
        return None
    return state != TIME_ERROR and not tx.status & STA_UNSYNC


@cache
def boot_id() -> str:
    """This boot's id (monotonic time is comparable only within one boot)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()[:8]
    except OSError:
        return "unknown"


def time_source(operator_boot: str | None = None) -> str:
    """The current source of the wall clock: an override, the kernel's word, an operator's confirmation."""
    forced = os.environ.get("NSPGW_CLOCK_SOURCE", "").strip().lower()
    if forced in SOURCES:
        return forced
    if kernel_synchronised():
        return "ntp"
    if operator_boot is not None and operator_boot == boot_id():
        return "operator"
    return "unsync"


def now() -> tuple[float, float]:
    """(wall, monotonic) read together."""
    return time.time(), time.monotonic()
