"""One node in isolation: action ordering, counter reservation, airtime reserve, sync hints."""

from __future__ import annotations

from core_boxes import CP, GCT, NET, NSP, node

from nspgw.core.actions import (
    StoreCounter,
    StoreCustody,
    StoreInbox,
    Transmit,
)
from nspgw.core.config import NodeState
from nspgw.core.events import FrameIn, MessageAccepted, RadioSendResult
from nspgw.ids import BoxAddr
from nspgw.wire.codec import FrameCodec
from nspgw.wire.frames import CustodyAckFrame, MessageFrame, MsgId, Precedence, ReceiptFrame, SyncFrame


def accepted(seq: int, prec: Precedence = Precedence.ROUTINE, body: bytes = b"bericht") -> MessageAccepted:
    return MessageAccepted(MsgId(NSP, seq), GCT, prec, body)


def test_counter_is_reserved_before_any_frame_uses_it() -> None:
    n = node(NSP, NodeState(counter_reserved=1000), counter_block=4)
    reserved = 0
    for seq in range(1, 30):
        for a in n.handle(accepted(seq), float(seq * 10)):
            if isinstance(a, StoreCounter):
                reserved = max(reserved, a.reserved)
            if isinstance(a, Transmit):
                counter = int.from_bytes(a.data[4:8], "big")
                assert 1000 <= counter < reserved
    assert reserved > 1000


def test_restart_never_reuses_a_counter() -> None:
    n = node(NSP, NodeState(counter_reserved=50))
    acts = n.handle(accepted(1), 0.0)
    used = {int.from_bytes(a.data[4:8], "big") for a in acts if isinstance(a, Transmit)}
    reserved = max(a.reserved for a in acts if isinstance(a, StoreCounter))
    n2 = node(NSP, NodeState(counter_reserved=reserved))
    acts2 = n2.handle(accepted(2), 0.0)
    used2 = {int.from_bytes(a.data[4:8], "big") for a in acts2 if isinstance(a, Transmit)}
    assert used2 and min(used2) > max(used)


def test_custody_ack_is_only_sent_after_the_custody_row_in_an_earlier_or_same_step() -> None:
    cp = node(CP)
    sealed = FrameCodec(NET.keyring(NSP)).encode(
        MessageFrame(NSP, GCT, MsgId(NSP, 1), Precedence.FLASH, 600, b"x"), 7, custody_to=CP, ttl_s=600)
    acts = cp.handle(FrameIn("radio", sealed, NSP), 0.0)
    assert any(isinstance(a, StoreCustody) for a in acts)
    t = 0.0
    seen_ack = False
    while not seen_ack and t < 30:
        t = max(cp.next_deadline() or t + 1, t + 0.01)
        for a in cp.handle_timer(t):
            if isinstance(a, Transmit) and a.hop_dst == NSP:
                seen_ack = (FrameCodec(NET.keyring(NSP)).decode(a.data, CP).frame is not None)
    assert seen_ack


def test_inbox_commit_and_receipt_ordering() -> None:
    gct = node(GCT)
    data = FrameCodec(NET.keyring(NSP)).encode(
        MessageFrame(NSP, GCT, MsgId(NSP, 3), Precedence.FLASH, 600, b"brand"), 9)
    acts = gct.handle(FrameIn("radio", data, NSP), 0.0)
    assert any(isinstance(a, StoreInbox) for a in acts)
    assert not any(isinstance(a, Transmit) and a.hop_dst == NSP for a in acts)  # receipt is batched, later
    receipts = []
    t = 0.0
    while not receipts and t < 30:
        t = max(gct.next_deadline() or t + 1, t + 0.01)
        receipts = [a for a in gct.handle_timer(t) if isinstance(a, Transmit) and a.hop_dst is not None]
    frame = FrameCodec(NET.keyring(NSP)).decode(receipts[0].data, GCT).frame
    assert isinstance(frame, ReceiptFrame) and frame.seqs == (3,)
    # the same frame again (other link, or a replay): no second inbox row
    again = gct.handle(FrameIn("ip", data, NSP), t + 1)
    assert not any(isinstance(a, StoreInbox) for a in again)


def test_routine_cannot_spend_the_reserve_but_flash_can() -> None:
    n = node(NSP, duty_window_s=3600.0, reserve_fraction=0.2)
    limit = n.ledger.limit_ms
    n.ledger.record(0.0, limit * 0.8 - 500)  # less than the reserve left
    t = 1.0
    acts = n.handle(accepted(1, Precedence.ROUTINE, b"r" * 200), t)
    assert not any(isinstance(a, Transmit) for a in acts)
    acts = n.handle(accepted(2, Precedence.FLASH, b"f" * 50), t + 0.1)
    tx = [a for a in acts if isinstance(a, Transmit)]
    assert tx and tx[0].precedence == Precedence.FLASH
    assert n.next_deadline() is not None


def test_duty_cycle_refusal_backs_off_the_radio() -> None:
    n = node(NSP)
    tx = [a for a in n.handle(accepted(1), 0.0) if isinstance(a, Transmit)]
    acts = n.handle(RadioSendResult(tx[0].tx_ref, False, "DUTY_CYCLE_LIMIT"), 3.0)
    assert not any(isinstance(a, Transmit) for a in acts)
    t = 3.0
    while t < 62.0:  # nothing goes to the radio for a minute, whatever timers fire meanwhile
        t = max(n.next_deadline() or 62.0, t + 0.01)
        if t < 62.0:
            assert not any(isinstance(a, Transmit) and a.link == "radio" for a in n.handle_timer(t))
    later = n.handle_timer(3.0 + 61)
    assert any(isinstance(a, Transmit) for a in later)


def test_sync_hint_raises_counter_and_second_hint_flags_a_clone() -> None:
    n = node(NSP)
    n.handle(accepted(1), 0.0)
    gct_codec = FrameCodec(NET.keyring(GCT))
    hint = gct_codec.encode(SyncFrame(GCT, NSP, 5000), 1)
    acts = n.handle(FrameIn("radio", hint, GCT), 1.0)
    assert n.counter > 5000
    assert any(isinstance(a, StoreCounter) and a.reserved > 5000 for a in acts)
    # A hint below our counter is stale (or caused by a replay): no alarm. One naming counters above the
    # ones we jumped to means another box sends with our identity.
    stale = gct_codec.encode(SyncFrame(GCT, NSP, 100), 2)
    assert not [a for a in n.handle(FrameIn("radio", stale, GCT), 2.0) if getattr(a, "kind", "")]
    again = gct_codec.encode(SyncFrame(GCT, NSP, n.counter + 10), 3)
    acts = n.handle(FrameIn("radio", again, GCT), 3.0)
    assert any(getattr(a, "kind", "") == "clone_suspected" for a in acts)


def test_forged_and_garbage_frames_are_counted_not_raised() -> None:
    n = node(GCT)
    for junk in (b"", b"\x00" * 7, bytes(range(60)), b"\xff" * 233):
        n.handle(FrameIn("radio", junk, NSP), 0.0)
    assert n.stats["rejected"] == 4
    ack = FrameCodec(NET.keyring(NSP)).encode(CustodyAckFrame(NSP, GCT, ()), 1)
    tampered = ack[:-1] + bytes([ack[-1] ^ 1])
    n.handle(FrameIn("radio", tampered, NSP), 0.0)
    assert n.stats["rejected"] == 5


def test_unsendable_message_is_reported_not_raised() -> None:
    n = node(NSP)
    acts = n.handle(MessageAccepted(MsgId(NSP, 1), BoxAddr(999), Precedence.FLASH, b"aan niemand"), 0.0)
    acts += n.handle_timer(1.0)
    notes = [a for a in acts if getattr(a, "kind", "") == "expired"]
    assert notes and notes[0].params["reason"] == "unsendable"
    assert n.out == {}


def is_flash(a: object) -> bool:
    """The FLASH message's own frame on air (not a beacon or a control frame)."""
    return isinstance(a, Transmit) and a.link == "radio" and a.precedence == Precedence.FLASH and a.hop_dst is not None


def test_unknown_key_refusal_resends_after_the_key_exchange_without_spending_an_attempt() -> None:
    """PKI_SEND_FAIL_PUBLIC_KEY: the radio sent nothing (it lacks the destination's key) and its adapter is
    exchanging NodeInfo. The same frame goes to the same hop once the exchange has had its time, and the
    refusal counts neither as an attempt nor as a direct failure (which would move the route to the relay)."""
    from nspgw.core.outbound import _KEY_EXCHANGE_S

    n = node(NSP)
    tx = [a for a in n.handle(accepted(1, Precedence.FLASH), 0.0) if is_flash(a)]
    assert tx
    o = n.out[1]
    before = (o.attempts, o.direct_failures)
    acts = n.handle(RadioSendResult(tx[0].tx_ref, False, "PKI_SEND_FAIL_PUBLIC_KEY"), 1.0)
    assert not any(is_flash(a) for a in acts)
    t, again = 1.0, []
    while not again and t < 1.0 + _KEY_EXCHANGE_S + 1.0:
        t = max(n.next_deadline() or t + 1.0, t + 0.01)
        again = [a for a in n.handle_timer(t) if is_flash(a)]
    assert again and t >= 1.0 + _KEY_EXCHANGE_S  # not before the exchange had its time
    assert again[0].hop_dst == tx[0].hop_dst and again[0].data != b""
    assert (o.attempts, o.direct_failures) == before


def test_repeated_unknown_key_refusals_fall_back_to_the_normal_nak_handling() -> None:
    """An exchange that gets no answer (the other radio answered us within 12 h, NodeInfoModule) must not keep
    the message waiting for ever: after a few refusals they count like any other NAK."""
    from nspgw.core.outbound import _KEY_EXCHANGE_S, _QUICK_RETRIES

    n = node(NSP)
    t = 0.0
    tx = [a for a in n.handle(accepted(1, Precedence.FLASH), t) if is_flash(a)]
    waits = []
    for _ in range(_QUICK_RETRIES + 1):
        t += 0.5
        n.handle(RadioSendResult(tx[0].tx_ref, False, "PKI_SEND_FAIL_PUBLIC_KEY"), t)
        refused_at, tx = t, []
        while not tx and t < refused_at + 4 * 3600:
            t = max(n.next_deadline() or t + 1.0, t + 0.01)
            tx = [a for a in n.handle_timer(t) if is_flash(a)]
        assert tx
        waits.append(t - refused_at)
    assert all(abs(w - _KEY_EXCHANGE_S) < 0.05 for w in waits[:_QUICK_RETRIES])
    assert abs(waits[-1] - _KEY_EXCHANGE_S) > 0.05  # the last one followed the ordinary retry timer
