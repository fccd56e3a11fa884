"""What the daemon does beside driving the core: pings for `nspgw ping`, and key material received over the
air (roster updates, network-key rotations), which the core leaves to the driver because it must be
persisted with the key files (store/keyfiles.py) before the key ring adopts it.

Both look at decoded frames. The codec's decode is pure (the replay window is the core's), so decoding a
frame here before the core sees it changes nothing; frames that do not decode are the core's to count.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

from nspgw.core.actions import Action
from nspgw.core.node import Ctl, Node
from nspgw.daemon_io import ControlRequest
from nspgw.errors import NspgwError
from nspgw.ids import BoxAddr
from nspgw.wire.frames import NetworkKeyFrame, Precedence, ProbeFrame, RosterUpdateFrame

log = logging.getLogger("nspgw.daemon")

MAX_PING_TIMEOUT_S = 300.0


PING_TRIES = 3
"""Probes per ping within its timeout: one probe lost on the air must not make the box look unreachable."""


class Pings:
    """Pending pings: (box, nonce) → (sent at, request, give up at); monotonic seconds."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._pending: dict[tuple[int, int], tuple[float, ControlRequest, float]] = {}
        self._retry: dict[tuple[int, int], tuple[float, int]] = {}  # → (next probe at, probes left)

    def __bool__(self) -> bool:
        return bool(self._pending)

    def next_deadline(self) -> float | None:
        times = [t for _, _, t in self._pending.values()] + [t for t, _ in self._retry.values()]
        return min(times, default=None)

    def resend(self, node: Node, now: float) -> list[Action]:
        """Send the next probe of every ping still unanswered at its retry time (same nonce: any reply counts)."""
        due = False
        for key, (at, left) in list(self._retry.items()):
            if at > now or key not in self._pending:
                continue
            t0, _, until = self._pending[key]
            if left <= 1:
                del self._retry[key]
            else:
                self._retry[key] = (now + (until - t0) / PING_TRIES, left - 1)
            node.add_ctl(Ctl(ProbeFrame(node.me, BoxAddr(key[0]), key[1]), Precedence.PRIORITY), now)
            due = True
        return node.handle_timer(now) if due else []

    def request(self, node: Node, req: ControlRequest, now: float) -> list[Action]:
        """Start a ping (the core's actions to carry out), or answer the request with an error at once."""
        body = req.body
        if body.get("cmd") != "ping":
            req.reply.put({"ok": False, "error": f"onbekend commando {body.get('cmd')!r}"})
            return []
        to = body.get("to")
        entry = node.cfg.keyring.roster.get(to) if isinstance(to, int) else None
        if entry is None or entry.revoked or entry.addr == node.me:
            req.reply.put({"ok": False, "error": f"onbekende bestemming {to!r}"})
            return []
        nonce = self._rng.getrandbits(32)
        timeout = min(float(body.get("timeout_s", 30.0)), MAX_PING_TIMEOUT_S)
        self._pending[(int(entry.addr), nonce)] = (now, req, now + timeout)
        self._retry[(int(entry.addr), nonce)] = (now + timeout / PING_TRIES, PING_TRIES - 1)
        # The core has no probe API yet: queue the probe as a control frame, as its own link checks do.
        node.add_ctl(Ctl(ProbeFrame(node.me, entry.addr, nonce), Precedence.PRIORITY), now)
        return node.handle_timer(now)

    def reply(self, f: ProbeFrame, link: str, hop: BoxAddr, snr: float | None, rssi: int | None,
              now: float) -> None:
        hit = self._pending.pop((int(f.src), f.nonce), None)
        self._retry.pop((int(f.src), f.nonce), None)
        if hit is not None:
            t0, req, _ = hit
            req.reply.put({"ok": True, "rtt_s": round(now - t0, 3), "link": link, "snr": snr, "rssi": rssi,
                           "via": int(hop)})

    def expire(self, now: float) -> None:
        for key, (_, req, until) in list(self._pending.items()):
            if until <= now:
                del self._pending[key]
                self._retry.pop(key, None)
                req.reply.put({"ok": False, "error": "geen antwoord binnen de wachttijd", "timeout": True})

    def close(self) -> None:
        for _, req, _ in self._pending.values():
            req.reply.put({"ok": False, "error": "de dienst stopt"})
        self._pending.clear()
        self._retry.clear()


def inspect(node: Node, keys_dir: Path, pings: Pings, link: str, data: bytes, hop: BoxAddr,
            snr: float | None, rssi: int | None, now: float) -> None:
    """Act on the frames the core leaves to the driver: key material and replies to our pings."""
    try:
        rec = node.codec.decode(data, hop)
    except NspgwError:
        return
    f: Any = rec.frame
    if isinstance(f, RosterUpdateFrame | NetworkKeyFrame):
        adopt_keys(node, keys_dir, f)
    elif isinstance(f, ProbeFrame) and f.reply and f.dst == node.me and pings:
        pings.reply(f, link, hop, snr, rssi, now)


def adopt_keys(node: Node, keys_dir: Path, f: RosterUpdateFrame | NetworkKeyFrame) -> None:
    from nspgw.store.keyfiles import apply_network_key, apply_roster_update

    keyring = node.cfg.keyring
    try:
        if isinstance(f, RosterUpdateFrame):
            if apply_roster_update(keys_dir, keyring, f.blob):
                revoked = [e.name for e in keyring.roster.entries if e.revoked]
                log.warning("roster bijgewerkt naar versie %d (ingetrokken: %s)", keyring.roster.version,
                            ", ".join(revoked) or "geen")
        elif f.dst == node.me and apply_network_key(keys_dir, keyring, f.key):
            log.warning("nieuwe netwerksleutel (epoch %d) van kastje %d overgenomen", f.key.epoch, f.src)
    except NspgwError as exc:  # a forged, skipped or unreadable update: keep the keys we have, say why
        log.error("sleutelwijziging geweigerd: %s", exc)
