"""What the daemon does beside driving the core: pings for `nspgw ping`, and key material received over the
air (roster updates, network-key rotations), which the core leaves to the driver because it must be
persisted with the key files (store/keyfiles.py) before the key ring adopts it.

The core decodes the frames: a ping's answer leaves it as a `ProbeAnswered` action, verified key material
as `AdoptRoster`/`AdoptNetworkKeys`, which the driver persists before the node adopts it
(`RosterChanged`/`NetworkKeysChanged` events).
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

from nspgw.core.actions import Action, AdoptNetworkKeys, AdoptRoster, ProbeAnswered
from nspgw.core.events import BroadcastRoster, NetworkKeysChanged, ProbeRequested, RosterChanged, SendNetworkKey
from nspgw.core.node import Node
from nspgw.daemon.io import ControlRequest
from nspgw.errors import NspgwError
from nspgw.ids import BoxAddr
from nspgw.wire.frames import Precedence

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
        acts: list[Action] = []
        for key, (at, left) in list(self._retry.items()):
            if at > now or key not in self._pending:
                continue
            t0, _, until = self._pending[key]
            if left <= 1:
                del self._retry[key]
            else:
                self._retry[key] = (now + (until - t0) / PING_TRIES, left - 1)
            acts += node.handle(ProbeRequested(BoxAddr(key[0]), key[1]), now)
        return acts

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
        return node.handle(ProbeRequested(entry.addr, nonce), now)

    def reply(self, a: ProbeAnswered, now: float) -> None:
        hit = self._pending.pop((int(a.src), a.nonce), None)
        self._retry.pop((int(a.src), a.nonce), None)
        if hit is not None:
            t0, req, _ = hit
            req.reply.put({"ok": True, "rtt_s": round(now - t0, 3), "link": a.link, "snr": a.snr, "rssi": a.rssi,
                           "via": int(a.hop)})

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


def adopt_keys(node: Node, keys_dir: Path, a: AdoptRoster | AdoptNetworkKeys, now: float) -> list[Action]:
    """Persist key material the core verified (the key files first), then let the node adopt it; the node's
    actions. The driver then raises the key floor (`record_key_floor`)."""
    from nspgw.store.keyfiles import NETWORK_KEY, save_network_keys, save_roster

    try:
        if isinstance(a, AdoptRoster):
            save_roster(keys_dir, a.roster)
        else:
            save_network_keys(Path(keys_dir) / NETWORK_KEY, a.keys)
    except NspgwError as exc:  # not written: keep the keys we have (the sender repeats), say why
        log.error("sleutelwijziging geweigerd: %s", exc)
        return []
    if isinstance(a, AdoptRoster):
        acts = node.handle(RosterChanged(a.roster), now)
        revoked = [e.name for e in a.roster.entries if e.revoked]
        log.warning("roster bijgewerkt naar versie %d (ingetrokken: %s)", a.roster.version,
                    ", ".join(revoked) or "geen")
        return acts
    acts = node.handle(NetworkKeysChanged(a.keys), now)
    log.warning("nieuwe netwerksleutel (epoch %d) van kastje %d overgenomen", a.keys[0].epoch, a.src)
    return acts


# ------------------------------------------------------------------------------------------ key floor
# The newest roster (with its proof) and network-key epoch this box has used live in the store, not only in
# the key files: restoring an old roster.json (a backup, the recovery path) would otherwise un-revoke a
# stolen box, and an old network.key would hand back the key the rotation took away.

ROSTER_FLOOR = "roster"
EPOCH_FLOOR = "network_epoch"


def check_key_floor(store: Any, keyring: Any, keys_dir: Path) -> None:
    """At start: a roster.json older than the newest this box used is replaced by that one (and said so);
    a network.key older than the newest epoch stops the daemon (it cannot be rebuilt here)."""
    from nspgw.crypto.roster import Roster
    from nspgw.errors import SecurityError
    from nspgw.store.keyfiles import save_roster

    floor = store.key_floor()
    version, text = floor.get(ROSTER_FLOOR, (-1, ""))
    if version > keyring.roster.version:
        old = keyring.roster.version
        newer = Roster.from_json(text, keyring.authority_public)  # verified again: the store is not trusted
        save_roster(keys_dir, newer)
        keyring.set_roster(newer)
        log.warning("roster.json (versie %d) is ouder dan de roster die dit kastje al gebruikte (versie %d): "
                    "die is teruggezet; een teruggezette back-up maakt geen intrekking ongedaan",
                    old, version)
    epoch, _ = floor.get(EPOCH_FLOOR, (-1, ""))
    current = keyring.network_key_set[0].epoch
    if current < epoch:
        raise SecurityError(f"network.key (epoch {current}) is ouder dan de netwerksleutel die dit kastje al "
                            f"gebruikte (epoch {epoch}): teruggezette back-up? Importeer een nieuwe bundel "
                            "(nspgw roster import)")
    record_key_floor(store, keyring)


def record_key_floor(store: Any, keyring: Any) -> None:
    store.raise_key_floor(ROSTER_FLOOR, keyring.roster.version, keyring.roster.to_json())
    store.raise_key_floor(EPOCH_FLOOR, keyring.network_key_set[0].epoch)


# ------------------------------------------------------------------------------------ GCT key commands
KEY_COMMANDS = ("roster_update", "rotate_key")
BROADCAST_REPEATS_S = (0.0, 20.0, 60.0)
"""A roster update is a broadcast nobody acknowledges: sent again after these delays (a box that missed all
three gets it from its bundle, or from the next repeat the operator asks for)."""


KEY_REPEATS_S = (0.0, 10.0, 30.0)
"""A NetworkKeyFrame is not acknowledged either; a box ignores an epoch it already holds."""


def key_command(node: Node, keys_dir: Path, store: Any, req: ControlRequest, now: float,
                random_bytes: Any) -> list[Action]:
    """`nspgw roster broadcast` (a signed roster delta: adopt it here, then broadcast it) and
    `nspgw roster rotate-key` (GCT only: a new network key to every unrevoked box, sealed to each)."""
    from nspgw.crypto.keys import NetworkKey
    from nspgw.crypto.roster import Role, RosterDelta
    from nspgw.store.keyfiles import NETWORK_KEY, save_network_keys, save_roster

    keyring = node.cfg.keyring
    body = req.body
    try:
        if body.get("cmd") == "roster_update":
            blob = bytes.fromhex(str(body.get("delta", "")))
            delta = RosterDelta.from_bytes(blob)
            delta.verify(keyring.authority_public)
            roster = keyring.roster_after(delta)  # None: applied already (broadcast again all the same)
            acts: list[Action] = []
            if roster is not None:
                save_roster(keys_dir, roster)  # persist first, then the node adopts it
                acts += node.handle(RosterChanged(roster), now)
            acts += node.handle(BroadcastRoster(blob, BROADCAST_REPEATS_S), now)
            record_key_floor(store, keyring)
            log.warning("rosterwijziging naar versie %d wordt uitgezonden (ingetrokken: %s)", delta.new_version,
                        ", ".join(str(a) for a in delta.revoked) or "geen")
            req.reply.put({"ok": True, "version": keyring.roster.version,
                           "revoked": [int(a) for a in delta.revoked]})
            return acts
        if keyring.sender(node.me).role != Role.GCT:
            raise NspgwError("alleen het crisisteam (gct) kan de netwerksleutel vernieuwen")
        new = NetworkKey(keyring.network_key_set[0].epoch + 1, random_bytes(32))
        boxes = [e.addr for e in keyring.roster.entries if not e.revoked and e.addr != node.me]
        acts = node.handle(SendNetworkKey(new, tuple(boxes), KEY_REPEATS_S), now)
        keys = keyring.network_keys_after(new)
        assert keys is not None  # one epoch past ours
        save_network_keys(Path(keys_dir) / NETWORK_KEY, keys)  # persist first, then the node adopts it
        acts += node.handle(NetworkKeysChanged(keys), now)
        record_key_floor(store, keyring)
        log.warning("nieuwe netwerksleutel (epoch %d) wordt naar %d kastjes gestuurd", new.epoch, len(boxes))
        req.reply.put({"ok": True, "epoch": new.epoch, "boxes": [int(a) for a in boxes]})
        return acts
    except (NspgwError, ValueError) as exc:
        req.reply.put({"ok": False, "error": str(exc)})
        return []


# ---------------------------------------------------------------------------------------- alerts to the GCT
ALERT_KINDS = ("clone_suspected",)


def relay_alert(store: Any, node: Node, kind: str, text: str) -> bool:
    """A security alert the crisis team must hear of too (a box seen running twice): accepted as a FLASH text
    message to the GCT box, so it travels, is stored and confirmed like any message. False on the GCT itself
    (its operator sees the notice) or when the roster has no GCT."""
    from nspgw.crypto.roster import Role
    from nspgw.wire.content import encode_content
    from nspgw.wire.frames import ContentType

    if kind not in ALERT_KINDS:
        return False
    gct = next((e.addr for e in node.cfg.keyring.roster.entries if e.role == Role.GCT and not e.revoked), None)
    if gct is None or gct == node.me:
        return False
    body = encode_content(ContentType.TEXT, f"BEVEILIGING: {text}"[:500])
    store.accept_message(node.me, gct, Precedence.FLASH, body, content_type=int(ContentType.TEXT))
    return True
