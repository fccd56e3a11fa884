"""An unplugged radio is expected: the library's reader line is not logged as an ERROR."""

from __future__ import annotations

import logging

import pytest

import nspgw.adapters.meshtastic_radio  # noqa: F401  (installs the filter)


def test_reader_oserror_is_demoted_to_info(caplog: pytest.LogCaptureFixture) -> None:
    lib = logging.getLogger("meshtastic.stream_interface")
    with caplog.at_level(logging.DEBUG):
        lib.error("Unexpected OSError, terminating meshtastic reader... [Errno 5] Input/output error")
        lib.error("Unexpected exception, terminating meshtastic reader... boom")
    levels = {r.getMessage().split(",")[0]: r.levelname for r in caplog.records}
    assert levels == {"Unexpected OSError": "INFO", "Unexpected exception": "ERROR"}
