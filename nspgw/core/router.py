"""Next hop by roster: the destination itself when reachable, else a coordinatiepunt that takes custody.

NSP → CP → GCT and GCT → CP → NSP (the NSP's own CP). A CP holding custody pushes when the destination is
heard again; it hands over to the destination's CP when that is another one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nspgw.core.events import IP, RADIO
from nspgw.crypto.roster import Role, Roster
from nspgw.ids import BoxAddr


@dataclass(frozen=True, slots=True)
class Route:
    link: str
    hop: BoxAddr
    custody: bool  # the hop is a relay that takes custody (not the destination)


def relay_for(roster: Roster, me: BoxAddr, dst: BoxAddr, exclude: BoxAddr | None = None) -> BoxAddr | None:
    """The CP to hand a frame for `dst` to, if any: ours (an NSP's parent) or the destination's."""
    mine = roster.get(me)
    theirs = roster.get(dst)
    candidates: list[BoxAddr | None] = []
    if mine is not None and mine.role == Role.NSP:
        candidates.append(mine.parent)
    if theirs is not None:
        candidates.append(theirs.parent)
    for c in candidates:
        if c is None or c in (me, dst, exclude):
            continue
        entry = roster.get(c)
        if entry is not None and not entry.revoked:
            return c
    return None


def route(
    roster: Roster,
    me: BoxAddr,
    dst: BoxAddr,
    *,
    heard_fresh: bool,
    ip_up: bool,
    direct_failures: int,
    direct_limit: int,
    holding: bool = False,
    exclude: BoxAddr | None = None,
    relay_on_ip: Callable[[BoxAddr], bool] | None = None,
    via_mesh_relay: bool = False,
) -> Route | None:
    """Where the next attempt goes; None = hold (a custodian waits until the destination is heard).

    Over IP the broker reaches every box that is online, so IP goes to the destination directly; after
    `direct_limit` unanswered rounds over IP the radio rules apply (the destination's uplink may be down).
    """
    if ip_up and direct_failures < direct_limit:
        return Route(IP, dst, False)
    if ip_up:  # the destination does not answer over IP (its uplink is down): count only radio failures now
        direct_failures -= direct_limit
    relay = relay_for(roster, me, dst, exclude)
    if via_mesh_relay and relay is not None:
        # Heard only through a Meshtastic relay: a DM sent straight waits for that radio's rebroadcast, which
        # firmware 2.7 delays by 2*CWmax + random(0, 2^CW) slots and restarts on every reception
        # (RadioInterface::getTxDelayMsecWeighted, RadioLibInterface::onNotify), so a burst crawls at about one
        # frame per second at SHORT_TURBO. Our relay's own packets take the short delay: hand it custody.
        heard_fresh = False
    if heard_fresh and (direct_failures < direct_limit or relay is None):
        return Route(RADIO, dst, False)
    if relay is not None:
        # The destination is off the broker but its CP is on it (fibre at the town hall, 4G gone at the
        # sports hall): hand over with custody by IP, the CP spends its own radio on the last hop.
        return Route(IP if relay_on_ip is not None and relay_on_ip(relay) else RADIO, relay, True)
    if holding and not heard_fresh and direct_failures >= direct_limit:
        # Tried `direct_limit` times without having heard it: now wait until it is heard (saves airtime).
        # Not after one try: on a 10 % loss hop one lost frame is common, and a box that has just started
        # has simply not heard the other's beacon yet (every 15 min); holding then cost a whole re-probe
        # interval (30 min) for a single loss.
        return None
    return Route(RADIO, dst, False)  # no relay to hand to: try directly, the mesh may still carry it
