from __future__ import annotations

import pytest

from nspgw.core.lifecycle import (
    CUSTODY_TRANSITIONS,
    FINAL,
    TRANSITIONS,
    CustodyEvent,
    CustodyState,
    LifecycleError,
    MsgEvent,
    MsgState,
    advance,
    advance_custody,
    render_mermaid,
    render_table,
)

E = MsgEvent


def test_happy_paths() -> None:
    s = advance(MsgState.ACCEPTED, E.ENQUEUE)
    s = advance(s, E.TRANSMIT)
    assert advance(s, E.RECEIPT) == MsgState.DELIVERED
    assert advance(advance(s, E.CUSTODY_ACK), E.RECEIPT) == MsgState.DELIVERED
    assert advance(advance(s, E.RETRY), E.EXPIRE) == MsgState.EXPIRED


@pytest.mark.parametrize("state", sorted(FINAL))
@pytest.mark.parametrize("event", sorted({e for _, e in TRANSITIONS}))
def test_final_states_have_no_way_out(state: MsgState, event: MsgEvent) -> None:
    if (state, event) == (MsgState.EXPIRED, E.LATE_RECEIPT):  # the one correction: it did arrive after all
        assert advance(state, event) == MsgState.DELIVERED
        return
    with pytest.raises(LifecycleError):
        advance(state, event)


def test_illegal_moves_raise() -> None:
    with pytest.raises(LifecycleError):
        advance(MsgState.ACCEPTED, E.CUSTODY_ACK)
    with pytest.raises(LifecycleError):
        advance(MsgState.QUEUED, E.RETRY)


def test_every_state_is_reachable_and_the_diagram_shows_every_move() -> None:
    reached = {MsgState.ACCEPTED} | set(TRANSITIONS.values())
    assert reached == set(MsgState)
    diagram, table = render_mermaid(), render_table()
    for (src, event), dst in TRANSITIONS.items():
        assert f"{src.value} --> {dst.value}: {event.value}" in diagram
        assert f"| {src.value} | {event.value} | {dst.value} |" in table


def test_custody_leaves_only_by_an_ack_or_expiry_and_never_comes_back() -> None:
    assert advance_custody(CustodyState.HELD, CustodyEvent.CUSTODY_ACK) == CustodyState.HANDED_OVER
    assert advance_custody(CustodyState.HELD, CustodyEvent.EXPIRE) == CustodyState.EXPIRED
    for (src, _), _dst in CUSTODY_TRANSITIONS.items():
        assert src == CustodyState.HELD
    for state in (CustodyState.HANDED_OVER, CustodyState.EXPIRED):
        for event in CustodyEvent:
            with pytest.raises(LifecycleError):
                advance_custody(state, event)
