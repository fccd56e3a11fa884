"""Fixtures of the console tests: provisioned boxes (no radios) whose console runs in this process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from console_client import FAKE_RADIOS, Client, enable_console

from nspgw.config import load_config
from nspgw.sim.boxes import SimBox, provision_chain


@pytest.fixture
def boxes(tmp_path: Path) -> dict[str, SimBox]:
    return {b.name: b for b in provision_chain(tmp_path / "boxes", FAKE_RADIOS, preset="SHORT_TURBO")}


@pytest.fixture
def console(boxes: dict[str, SimBox], free_port_block: Callable[[int], int]) -> Iterator[Callable[..., Client]]:
    """Factory: start the console of `boxes[name]` in this process; returns a new Client for it."""
    from nspgw.console.server import ConsoleServer

    servers: list[ConsoleServer] = []

    def start(name: str) -> Client:
        port = free_port_block(1)
        enable_console(boxes[name], port)
        server = ConsoleServer(load_config(boxes[name].config_path))
        server.start()
        servers.append(server)
        return Client(port)

    yield start
    for s in servers:
        s.stop()
