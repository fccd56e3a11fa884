"""Scheduled topology events run at their virtual time; node_down also takes the radio's TCP port away."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from nspgw.sim import topology
from nspgw.sim.server import MeshServer

TOPO = {
    "mesh": {"preset": "SHORT_TURBO", "seed": 4},
    "node": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
    "link": [{"a": "a", "b": "b"}, {"a": "b", "b": "c", "loss": 0.1}],
    "event": [{"at_s": 0.3, "action": "link_down", "a": "a", "b": "b"},
              {"at_s": 0.6, "action": "node_down", "node": "c"},
              {"at_s": 6.0, "action": "node_up", "node": "c"}],
}


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_events_apply_in_order(wait_for: Callable[..., Any]) -> None:
    lines: list[dict[str, Any]] = []
    server = MeshServer(topology.parse(TOPO), use_pty=False, emit=lines.append)
    server.start()
    try:
        port_c = server.endpoints["c"].port
        assert server.mesh.link("a", "b").up  # type: ignore[union-attr]
        wait_for(lambda: not server.mesh.link("a", "b").up, what="link a-b down")  # type: ignore[union-attr]
        wait_for(lambda: not server.mesh.node("c").up, what="node c down")
        wait_for(lambda: not _accepts(port_c), what="node c's TCP port closed while it is down")
        wait_for(lambda: server.mesh.node("c").up and _accepts(port_c), what="node c back on the same port")
        wait_for(lambda: lines, what="a new JSON line for node c")
        assert lines[-1]["name"] == "c" and lines[-1]["tcp"] == f"127.0.0.1:{port_c}"
        status = server.status()
        assert [n["name"] for n in status["nodes"]] == ["a", "b", "c"] and all(n["up"] for n in status["nodes"])
    finally:
        server.stop()
