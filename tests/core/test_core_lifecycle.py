from __future__ import annotations

import pytest

from nspgw.core.lifecycle import FINAL, TRANSITIONS, LifecycleError, MsgState, advance, render_mermaid, render_table


def test_happy_paths() -> None:
    s = advance(MsgState.ACCEPTED, "enqueue")
    s = advance(s, "transmit")
    assert advance(s, "receipt") == MsgState.DELIVERED
    assert advance(advance(s, "custody_ack"), "receipt") == MsgState.DELIVERED
    assert advance(advance(s, "retry"), "expire") == MsgState.EXPIRED


@pytest.mark.parametrize("state", sorted(FINAL))
@pytest.mark.parametrize("event", sorted({e for _, e in TRANSITIONS}))
def test_final_states_have_no_way_out(state: MsgState, event: str) -> None:
    if (state, event) == (MsgState.EXPIRED, "late_receipt"):  # the one correction: it did arrive after all
        assert advance(state, event) == MsgState.DELIVERED
        return
    with pytest.raises(LifecycleError):
        advance(state, event)


def test_illegal_moves_raise() -> None:
    with pytest.raises(LifecycleError):
        advance(MsgState.ACCEPTED, "custody_ack")
    with pytest.raises(LifecycleError):
        advance(MsgState.QUEUED, "retry")


def test_every_state_is_reachable_and_the_diagram_shows_every_move() -> None:
    reached = {MsgState.ACCEPTED} | set(TRANSITIONS.values())
    assert reached == set(MsgState)
    diagram, table = render_mermaid(), render_table()
    for (src, event), dst in TRANSITIONS.items():
        assert f"{src.value} --> {dst.value}: {event}" in diagram
        assert f"| {src.value} | {event} | {dst.value} |" in table
