"""Per peer: which links reached it lately, and what the broker's presence says about it.

The node's own link health (`link_health.py`) says whether *we* have IP; this says whether IP reaches *that
peer*. A box whose 4G died is still in the roster and the broker still accepts frames for its topic, but
nobody reads them: without this the sender waits a whole receipt timeout per message before trying the
radio. Evidence, newest wins:

- an authenticated fresh frame from the peer over a link (a receipt, custody ack, beacon, message) says
  that link reaches it (links are symmetric enough at this level: the broker or the mesh carried it);
- a presence report (`PeerPresence`, from the broker's retained status or the peer's Last Will) says
  whether the peer is on the broker right now.

Sans-IO: times are the caller's monotonic `now`; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from nspgw.core.events import IP, LINKS
from nspgw.ids import BoxAddr


@dataclass(slots=True)
class _Peer:
    heard: dict[str, float]  # link → last time a fresh authenticated frame from the peer came over it
    online: bool | None = None  # broker presence: None = never reported
    presence_at: float = 0.0


class PeerLinks:
    def __init__(self) -> None:
        self._peers: dict[BoxAddr, _Peer] = {}

    def _peer(self, addr: BoxAddr) -> _Peer:
        p = self._peers.get(addr)
        if p is None:
            p = self._peers[addr] = _Peer({})
        return p

    def heard(self, addr: BoxAddr, link: str, now: float) -> None:
        self._peer(addr).heard[link] = now

    def presence(self, addr: BoxAddr, online: bool, now: float) -> bool:
        """Record a presence report; True when it changes whether IP reaches the peer."""
        p = self._peer(addr)
        before = self.ip_reaches(addr)
        p.online, p.presence_at = online, now
        return before != self.ip_reaches(addr)

    def ip_reaches(self, addr: BoxAddr) -> bool:
        """False only when the broker said the peer left and no frame came from it over IP since: unknown
        peers are tried over IP as before (an older box publishes no presence)."""
        p = self._peers.get(addr)
        if p is None or p.online is None or p.online:
            return True
        return p.heard.get(IP, -1.0) > p.presence_at

    def ip_confirmed(self, addr: BoxAddr) -> bool:
        """The broker said the peer is on it (and did not say since that it left): positive evidence, needed
        before custody goes to a relay over IP (a custody hand-over never counts as a failed direct round,
        so a relay unreachable by IP would otherwise be tried over IP for ever)."""
        p = self._peers.get(addr)
        return p is not None and p.online is True

    def snapshot(self, now: float) -> dict[int, dict[str, object]]:
        """For the status record and `nspgw peers`: seconds since each link last reached the peer."""
        out: dict[int, dict[str, object]] = {}
        for addr, p in sorted(self._peers.items()):
            out[int(addr)] = {
                "presence": None if p.online is None else ("online" if p.online else "offline"),
                **{f"{link}_age_s": round(now - p.heard[link], 1) for link in LINKS if link in p.heard},
            }
        return out
