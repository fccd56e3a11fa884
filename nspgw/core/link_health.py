"""Up/down state per link kind ("radio", "ip") from adapter events.

IP is preferred while healthy (no airtime); the radio is the link that is always there. A link is healthy
when its adapter says it is up. (Whether one box answers is a per-peer question: core/peer_links.py.)
"""

from __future__ import annotations

from dataclasses import dataclass

from nspgw.core.events import IP, LINKS, RADIO


@dataclass(slots=True)
class _Link:
    up: bool = False
    detail: str = ""


class LinkHealth:
    def __init__(self, radio_up: bool = True) -> None:
        self._links = {name: _Link() for name in LINKS}
        self._links[RADIO].up = radio_up

    def set_state(self, link: str, up: bool, detail: str, now: float) -> bool:
        """Record an adapter report; True when the usable state changed."""
        before = self.healthy(link)
        entry = self._links.setdefault(link, _Link())
        entry.up, entry.detail = up, detail
        return before != self.healthy(link)

    def healthy(self, link: str) -> bool:
        entry = self._links.get(link)
        return entry is not None and entry.up

    @property
    def ip_up(self) -> bool:
        return self.healthy(IP)

    def snapshot(self) -> dict[str, dict[str, object]]:
        return {k: {"up": self.healthy(k), "detail": v.detail} for k, v in self._links.items()}
