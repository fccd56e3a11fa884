"""Message lifecycle at the originator, as a transition table (h11 `_state.py` style).

Illegal moves raise `LifecycleError`; `docs/store-and-forward.md` embeds `render_mermaid()` of this table,
so the diagram cannot drift from the code.
"""

from __future__ import annotations

import enum


class MsgState(enum.StrEnum):
    ACCEPTED = "accepted"  # committed by `nspgw send`
    QUEUED = "queued"  # waiting for its turn on a link (or for a retry)
    IN_FLIGHT = "in_flight"  # on air, awaiting a receipt or custody ack
    HELD_BY_RELAY = "held_by_relay"  # a CP acknowledged custody of every fragment; awaiting the receipt
    DELIVERED = "delivered"  # end-to-end receipt (from every box, for a bulletin)
    EXPIRED = "expired"  # time to live ran out here or at a relay; reported to the operator


class MsgEvent(enum.StrEnum):
    """What happens to one of our messages (the events of `TRANSITIONS`)."""

    ENQUEUE = "enqueue"
    TRANSMIT = "transmit"
    RETRY = "retry"
    CUSTODY_ACK = "custody_ack"
    FRAGMENT_REQUEST = "fragment_request"
    RECHECK = "recheck"
    RECEIPT = "receipt"
    EXPIRE = "expire"
    LATE_RECEIPT = "late_receipt"


class CustodyState(enum.StrEnum):
    """A frame in our custody (we are a relay, `core.work.Held`)."""

    HELD = "held"  # stored; forwarded until the next hop or the destination acknowledges custody
    HANDED_OVER = "handed_over"  # the next hop (or the destination) acknowledged custody: dropped here
    EXPIRED = "expired"  # its time to live ran out here (or it cannot be sealed any more): reported back


class CustodyEvent(enum.StrEnum):
    CUSTODY_ACK = "custody_ack"
    EXPIRE = "expire"


class LifecycleError(Exception):
    """A programming error: the core tried a move the table does not allow."""


S = MsgState
E = MsgEvent
TRANSITIONS: dict[tuple[MsgState, MsgEvent], MsgState] = {
    (S.ACCEPTED, E.ENQUEUE): S.QUEUED,
    (S.QUEUED, E.TRANSMIT): S.IN_FLIGHT,
    (S.IN_FLIGHT, E.TRANSMIT): S.IN_FLIGHT,  # next fragment of the same round
    (S.IN_FLIGHT, E.RETRY): S.QUEUED,
    (S.IN_FLIGHT, E.CUSTODY_ACK): S.HELD_BY_RELAY,
    (S.QUEUED, E.CUSTODY_ACK): S.HELD_BY_RELAY,  # ack of an earlier attempt arriving late
    (S.HELD_BY_RELAY, E.FRAGMENT_REQUEST): S.QUEUED,  # reader asks for fragments the relay never had
    (S.HELD_BY_RELAY, E.RECHECK): S.QUEUED,  # no receipt for long: send once more end to end (receipt lost?)
    (S.ACCEPTED, E.RECEIPT): S.DELIVERED,
    (S.QUEUED, E.RECEIPT): S.DELIVERED,
    (S.IN_FLIGHT, E.RECEIPT): S.DELIVERED,
    (S.HELD_BY_RELAY, E.RECEIPT): S.DELIVERED,
    (S.ACCEPTED, E.EXPIRE): S.EXPIRED,
    (S.QUEUED, E.EXPIRE): S.EXPIRED,
    (S.IN_FLIGHT, E.EXPIRE): S.EXPIRED,
    (S.HELD_BY_RELAY, E.EXPIRE): S.EXPIRED,
    # A custodian that was switched off counts its TTL down later, so the destination may still get the
    # message after we gave up; its receipt then corrects the operator's view (who was told VERLOPEN).
    (S.EXPIRED, E.LATE_RECEIPT): S.DELIVERED,
}
FINAL = frozenset({S.DELIVERED, S.EXPIRED})

# Custody at a relay: a held frame leaves only by a custody acknowledgement or by expiring.
CUSTODY_TRANSITIONS: dict[tuple[CustodyState, CustodyEvent], CustodyState] = {
    (CustodyState.HELD, CustodyEvent.CUSTODY_ACK): CustodyState.HANDED_OVER,
    (CustodyState.HELD, CustodyEvent.EXPIRE): CustodyState.EXPIRED,
}


def advance(state: MsgState, event: MsgEvent) -> MsgState:
    """The state after `event`; LifecycleError when the table has no such move."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise LifecycleError(f"illegal lifecycle move: {state.value} --{event.value}-->") from None


def advance_custody(state: CustodyState, event: CustodyEvent) -> CustodyState:
    """The custody state after `event`; LifecycleError when the table has no such move."""
    try:
        return CUSTODY_TRANSITIONS[(state, event)]
    except KeyError:
        raise LifecycleError(f"illegal custody move: {state.value} --{event.value}-->") from None


def render_mermaid() -> str:
    lines = ["stateDiagram-v2", "    [*] --> accepted"]
    for (src, event), dst in TRANSITIONS.items():
        lines.append(f"    {src.value} --> {dst.value}: {event.value}")
    lines += ["    delivered --> [*]", "    expired --> [*]"]
    return "\n".join(lines)


def render_table() -> str:
    rows = ["| from | event | to |", "|---|---|---|"]
    rows += [f"| {s.value} | {e.value} | {d.value} |" for (s, e), d in TRANSITIONS.items()]
    return "\n".join(rows)
