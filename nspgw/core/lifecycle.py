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


class LifecycleError(Exception):
    """A programming error: the core tried a move the table does not allow."""


S = MsgState
TRANSITIONS: dict[tuple[MsgState, str], MsgState] = {
    (S.ACCEPTED, "enqueue"): S.QUEUED,
    (S.QUEUED, "transmit"): S.IN_FLIGHT,
    (S.IN_FLIGHT, "transmit"): S.IN_FLIGHT,  # next fragment of the same round
    (S.IN_FLIGHT, "retry"): S.QUEUED,
    (S.IN_FLIGHT, "custody_ack"): S.HELD_BY_RELAY,
    (S.QUEUED, "custody_ack"): S.HELD_BY_RELAY,  # ack of an earlier attempt arriving late
    (S.HELD_BY_RELAY, "fragment_request"): S.QUEUED,  # reader asks for fragments the relay never had
    (S.HELD_BY_RELAY, "recheck"): S.QUEUED,  # no receipt for long: send once more end to end (receipt lost?)
    (S.ACCEPTED, "receipt"): S.DELIVERED,
    (S.QUEUED, "receipt"): S.DELIVERED,
    (S.IN_FLIGHT, "receipt"): S.DELIVERED,
    (S.HELD_BY_RELAY, "receipt"): S.DELIVERED,
    (S.ACCEPTED, "expire"): S.EXPIRED,
    (S.QUEUED, "expire"): S.EXPIRED,
    (S.IN_FLIGHT, "expire"): S.EXPIRED,
    (S.HELD_BY_RELAY, "expire"): S.EXPIRED,
    # A custodian that was switched off counts its TTL down later, so the destination may still get the
    # message after we gave up; its receipt then corrects the operator's view (who was told VERLOPEN).
    (S.EXPIRED, "late_receipt"): S.DELIVERED,
}
FINAL = frozenset({S.DELIVERED, S.EXPIRED})


def advance(state: MsgState, event: str) -> MsgState:
    """The state after `event`; LifecycleError when the table has no such move."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise LifecycleError(f"illegal lifecycle move: {state.value} --{event}-->") from None


def render_mermaid() -> str:
    lines = ["stateDiagram-v2", "    [*] --> accepted"]
    for (src, event), dst in TRANSITIONS.items():
        lines.append(f"    {src.value} --> {dst.value}: {event}")
    lines += ["    delivered --> [*]", "    expired --> [*]"]
    return "\n".join(lines)


def render_table() -> str:
    rows = ["| from | event | to |", "|---|---|---|"]
    rows += [f"| {s.value} | {e} | {d.value} |" for (s, e), d in TRANSITIONS.items()]
    return "\n".join(rows)
