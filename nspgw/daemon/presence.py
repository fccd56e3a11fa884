"""The daemon's side of broker presence (adapters/mqtt_presence.py): sequence numbers, verification, memory.

One owner for presence state, on the daemon thread: the MQTT link gets a `PresenceSigner` (its own signed
statuses, numbered from a block reserved in the store before the link starts) and hands back raw payloads;
this book verifies them with the key ring, keeps only newer ones than it ever accepted from that box
(persisted in the store, so a restart does not make an old replayed "online" acceptable again), and keeps
what `nspgw peers` shows.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from nspgw.adapters.mqtt_presence import (
    SEQ_BLOCK,
    LinkPresence,
    Presence,
    PresenceSigner,
    SeenSeqs,
    SeqBlock,
    decode,
    encode,
)
from nspgw.crypto.keyring import KeyRing
from nspgw.errors import AuthError, DecodeError

log = logging.getLogger("nspgw.presence")

SEQ_KEY = "presence_seq"  # store status: the next sequence number not yet reserved
SEEN_KEY = "presence_seen"  # store status: per box, the highest sequence number accepted


class PresenceBook:
    def __init__(self, network: str) -> None:
        self.network = network
        self._seen = SeenSeqs()
        self._view: dict[int, dict[str, Any]] = {}
        self.rejected = 0
        self.stale = 0

    def signer(self, store: Any, keyring: KeyRing) -> PresenceSigner:
        """Reserve a block of sequence numbers (committed before any is used: a crash skips numbers, never
        reuses one) and load what was accepted before."""
        status = store.status()
        start = int(status.get(SEQ_KEY) or 0)
        store.set_status(SEQ_KEY, start + SEQ_BLOCK)
        self._seen = SeenSeqs({int(k): int(v) for k, v in dict(status.get(SEEN_KEY) or {}).items()})
        me, network = int(keyring.me), self.network

        def payload(online: bool, seq: int) -> bytes:
            return encode(keyring, network, Presence(me, online, seq))

        return PresenceSigner(payload, SeqBlock(start, start + SEQ_BLOCK))

    def accept(self, keyring: KeyRing, ev: LinkPresence, store: Any) -> Presence | None:
        """A verified status newer than any before from that box, or None (ignored: forged, malformed, a
        revoked or unknown box, or a replay of an older status)."""
        try:
            p = decode(keyring, self.network, ev.addr, ev.payload)
        except (DecodeError, AuthError) as exc:
            self.rejected += 1
            log.debug("aanwezigheid van %03x genegeerd: %s", ev.addr, exc)
            return None
        changed = self._seen.newer(p)
        if not self._seen.fresh(p):
            self.stale += 1
            return None
        if changed:
            store.set_status(SEEN_KEY, self._seen.snapshot())
        self._view[p.addr] = {"online": p.online, "seq": p.seq, "wall": time.time(), "mono": time.monotonic()}
        log.info("kastje %03x %s op de MQTT-broker", p.addr, "aanwezig" if p.online else "AFWEZIG")
        return p

    def view(self) -> dict[str, dict[str, Any]]:
        """For the status record and `nspgw peers`: per box, what the broker last said and when."""
        return {str(k): dict(v) for k, v in sorted(self._view.items())}
