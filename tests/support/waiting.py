"""The one poll-until-true helper of the tests: a condition with a deadline, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


def wait_for(predicate: Callable[[], Any], timeout_s: float = 10.0, interval_s: float = 0.02,
             what: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy and return that; fail the test at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)  # a poll interval on a deadline, not a fixed wait
