"""What the daemon itself writes to the journaal: service start/stop, a link lost or back, and the signed
head (every SIGN_INTERVAL_S while entries come in, and at stop). Message entries are written by the store
with each core step (nspgw/store/journal.py); this covers the events that change no other state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from nspgw.errors import NspgwError

log = logging.getLogger(__name__)

# How much of the journal may be unsigned at any time: a tail after the last signed head could be cut
# unnoticed (nspgw/journal/chain.py), so the daemon signs a moved head at most this long after it moved.
SIGN_INTERVAL_S = 300.0


class ServiceJournal:
    def __init__(self, store: Any, box: int, sign: Callable[[bytes], bytes]) -> None:
        self._store = store
        self._box = box
        self._sign = sign
        self._links: dict[str, bool] = {}
        self._next_sign = 0.0

    def started(self, version: str, now: float) -> None:
        self._store.journal_record("service", {"event": "start", "box": self._box, "version": version})
        self.sign(now)

    def link(self, link: str, connected: bool, detail: str) -> None:
        """Note a link coming up or going down (the first report only when it is up: "connecting" is not news)."""
        before = self._links.get(link)
        if before == connected or (before is None and not connected):
            return
        self._links[link] = connected
        self._store.journal_record("service", {"event": "link_up" if connected else "link_down", "link": link,
                                               "detail": detail})

    def tick(self, now: float) -> None:
        if now >= self._next_sign:
            self.sign(now)

    def sign(self, now: float) -> None:
        self._next_sign = now + SIGN_INTERVAL_S
        self._store.journal_sign(self._box, self._sign)

    def stopped(self, now: float) -> None:
        """Last words: a stop entry and its signature (best effort; the store must still be closed)."""
        try:
            self._store.journal_record("service", {"event": "stop", "box": self._box})
            self.sign(now)
        except NspgwError as exc:
            log.warning("journaal: stop niet vastgelegd (%s)", exc)
