"""`nspgw sim demo` / `make demo`: three virtual radios in a chain, two official meshtastic clients.

A small, honest first demo: operator messages from the shared corpus go as private-port (311) packets
with want_ack from the radio at one end to the radio at the other, relayed by the middle one. It prints
each delivery, its ack and the airtime the mesh spent, then a summary. Everything runs in-process on
127.0.0.1 and is torn down at the end.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from nspgw.errors import NspgwError
from nspgw.sim import topology
from nspgw.sim.server import MeshServer

PORTNUM = 311  # nspgw's private Meshtastic app port (docs/architecture.md)
CORPUS_PATHS = (
    Path(__file__).resolve().parents[2] / "tests" / "data" / "messages-sample.jsonl",
    Path("/work/shared/corpus/messages-sample.jsonl"),
)
FALLBACK = ["NSP Dorpshuis: stroom uit sinds 14:10, aggregaat draait.", "CP Noord: 3 bedden vrij.",
            "GCT: drinkwater vanaf 12:00 op het Marktplein.", "NSP Bieb: EHBO-koffer nodig."]
DEADLINE_S = 20.0


def _corpus_texts(n: int) -> list[str]:
    for path in CORPUS_PATHS:
        if path.exists():
            texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line]
            # One packet each (<= 233 bytes), spread from short to long so airtime visibly grows.
            fits = sorted((t for t in texts if len(t.encode("utf-8")) <= 233), key=len)
            if len(fits) >= n:
                return [fits[round(k * (len(fits) - 1) / max(n - 1, 1))] for k in range(n)]
    return FALLBACK[:n]


def _airtime_s(server: MeshServer) -> float:
    """Total time on air over all radios so far, as the mesh model accounts it."""
    total = 0.0
    with server.lock:
        for node in server.mesh.nodes():
            value = getattr(node, "airtime_tx_s", 0.0)
            if isinstance(value, int | float):
                total += float(value)
            else:
                total += sum(float(x[-1]) if isinstance(x, tuple) else float(x) for x in value)
    return total


def run_demo(messages: int = 4, preset: str = "SHORT_FAST", console: Console | None = None) -> dict[str, Any]:
    from meshtastic.tcp_interface import TCPInterface
    from pubsub import pub

    console = console or Console()
    spec = topology.chain(3, preset=preset, seed=2026)
    console.rule(f"[bold]nspgw demo[/]: 3 virtuele radio's in een keten ({preset}), node0 → node1 → node2")
    results: list[dict[str, Any]] = []
    received: dict[bytes, float] = {}
    cond = threading.Condition()
    with MeshServer(spec, use_pty=False) as server:
        a = TCPInterface("127.0.0.1", portNumber=server.endpoints["node0"].port, timeout=30)
        b = TCPInterface("127.0.0.1", portNumber=server.endpoints["node2"].port, timeout=30)

        def on_receive(packet: dict[str, Any], interface: Any) -> None:
            decoded = packet.get("decoded", {})
            if interface is b and str(decoded.get("portnum")) == str(PORTNUM):
                with cond:
                    received[bytes(decoded["payload"])] = time.monotonic()
                    cond.notify_all()

        pub.subscribe(on_receive, "meshtastic.receive")  # we hold `on_receive` strongly until the end
        try:
            dest = server.devices["node2"].node_num
            # Let the boot-time NODEINFO exchange finish first: until then the chain ends are hidden
            # terminals for each other and our first packet would mostly collide with announcements.
            src = server.devices["node0"].node_num
            settle = time.monotonic() + DEADLINE_S
            while time.monotonic() < settle and not (dest in (a.nodesByNum or {}) and src in (b.nodesByNum or {})):
                with cond:
                    cond.wait(0.1)
            console.print(f"[dim]radio's gehoord na {time.monotonic() - (settle - DEADLINE_S):.1f} s[/]")
            for k, text in enumerate(_corpus_texts(messages), 1):
                payload = text.encode("utf-8")[:233]
                acks: list[dict[str, Any]] = []

                def on_ack(packet: dict[str, Any], acks: list[dict[str, Any]] = acks) -> None:
                    with cond:
                        acks.append(packet)
                        cond.notify_all()

                air0, t0 = _airtime_s(server), time.monotonic()
                a.sendData(payload, destinationId=dest, portNum=PORTNUM, wantAck=True, onResponse=on_ack,
                           onResponseAckPermitted=True)
                with cond:
                    cond.wait_for(lambda p=payload, acks=acks: p in received and acks, DEADLINE_S)
                got = received.get(payload)
                reason = acks[0]["decoded"].get("routing", {}).get("errorReason", "NONE") if acks else "geen ack"
                row = {"n": k, "bytes": len(payload), "delivered_s": None if got is None else got - t0,
                       "ack_s": time.monotonic() - t0 if acks else None, "ack": reason,
                       "airtime_s": _airtime_s(server) - air0, "text": text}
                results.append(row)
                shown = text if len(text) <= 60 else text[:57] + "..."
                status = "[green]afgeleverd[/]" if got is not None else "[red]niet aangekomen[/]"
                console.print(f"[bold]#{k}[/] {len(payload):3d} B  {status}"
                              + (f" na {row['delivered_s']:.2f} s" if got is not None else "")
                              + f"  ack: {reason}" + (f" na {row['ack_s']:.2f} s" if acks else "")
                              + f"  luchttijd {row['airtime_s'] * 1000:.0f} ms  [dim]{shown}[/]")
        finally:
            pub.unsubscribe(on_receive, "meshtastic.receive")
            a.close()
            b.close()
    table = Table(title="Samenvatting / summary")
    for col in ("#", "bytes", "afgeleverd (s)", "ack", "luchttijd (ms)"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(str(r["n"]), str(r["bytes"]), "-" if r["delivered_s"] is None else f"{r['delivered_s']:.2f}",
                      r["ack"], f"{r['airtime_s'] * 1000:.0f}")
    console.print(table)
    ok = sum(r["delivered_s"] is not None and r["ack"] == "NONE" for r in results)
    console.print(f"{ok} van {len(results)} berichten afgeleverd en bevestigd; "
                  f"totale luchttijd {sum(r['airtime_s'] for r in results):.2f} s.")
    if not any(r["delivered_s"] is not None for r in results):
        # A lost ack now and then is radio life (nspgw retries end to end); nothing arriving is a fault.
        raise NspgwError("demo: geen enkel bericht afgeleverd / no message delivered")
    return {"results": results}
