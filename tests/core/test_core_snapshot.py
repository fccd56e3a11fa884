"""`Node.snapshot()`: what status pages and drills read instead of the node's own tables."""

from __future__ import annotations

import dataclasses

import pytest
from core_boxes import CP, NSP, node

from nspgw.core.events import LinkChanged, MessageAccepted
from nspgw.wire.frames import MsgId, Precedence


def test_snapshot_shows_the_outbox_per_precedence_and_cannot_change_the_node() -> None:
    n = node(NSP)
    n.handle(LinkChanged("radio", False, "usb weg"), 0.0)  # nothing leaves: the messages stay queued
    n.handle(MessageAccepted(MsgId(NSP, 1), CP, Precedence.FLASH, b"a"), 0.0)
    n.handle(MessageAccepted(MsgId(NSP, 2), CP, Precedence.ROUTINE, b"b"), 0.0)
    s = n.snapshot(1.0)
    assert s.me == NSP and s.outbox == frozenset({1, 2}) and s.queued == 2 and s.custody == 0
    assert dict(s.queue) == {Precedence.FLASH: 1, Precedence.IMMEDIATE: 0, Precedence.PRIORITY: 0,
                             Precedence.ROUTINE: 1}
    assert s.links["radio"]["up"] is False and s.jobs == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.custody = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.queue[Precedence.FLASH] = 0  # type: ignore[index]
    assert n.queued() == 2  # the node's own state is untouched


def test_snapshot_backlog_counts_radio_work_only_not_messages_waiting_for_an_answer() -> None:
    from nspgw.core.work import OutKey

    n = node(NSP)
    n.handle(LinkChanged("radio", True, ""), 0.0)
    n.handle(MessageAccepted(MsgId(NSP, 1), CP, Precedence.ROUTINE, b"a" * 120), 0.0)  # on air at once
    n.handle(MessageAccepted(MsgId(NSP, 2), CP, Precedence.ROUTINE, b"b" * 120), 0.0)  # behind it
    s = n.snapshot(0.1)
    assert set(s.backlog.items) == {OutKey(2)}  # 1 is on air, waiting for its receipt: no radio work
    routine = s.backlog.lines[Precedence.ROUTINE]
    assert (routine.messages, routine.frames) == (1, 1) and routine.expected_delay_s > 0
    assert s.backlog.items[OutKey(2)].delay_s == routine.expected_delay_s  # when the radio is free again
    n.handle(LinkChanged("ip", True, "broker"), 0.2)  # IP up: the queued message goes that way, no airtime
    assert n.snapshot(0.2).backlog.lines[Precedence.ROUTINE].frames == 0
    n.handle(LinkChanged("ip", False, "weg"), 0.3)
    n.handle(LinkChanged("radio", False, "usb weg"), 0.3)
    n.handle(MessageAccepted(MsgId(NSP, 3), CP, Precedence.FLASH, b"c"), 0.3)  # no link: it waits
    down = n.snapshot(0.4).backlog.lines
    assert down[Precedence.FLASH].messages == 1 and down[Precedence.FLASH].expected_delay_s == float("inf")
