from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from nspgw.core.router import relay_for, route
from nspgw.core.scheduler import Scheduler, backoff_s
from nspgw.crypto.enrol import demo_boxes, make_network
from nspgw.ids import BoxAddr
from nspgw.wire.frames import Precedence

ROSTER = make_network(demo_boxes(), b"s" * 32).roster


def test_precedence_then_readiness_then_age() -> None:
    s = Scheduler()
    for i in range(200):
        s.put(("r", i), Precedence.ROUTINE, 0.0)
    s.put("later-flash", Precedence.FLASH, 10.0)
    s.put("prio", Precedence.PRIORITY, 1.0)
    assert s.pick(0.5) == ("r", 0)
    assert s.pick(5.0) == "prio"
    assert s.pick(10.0) == "later-flash"
    s.remove("later-flash")
    s.remove("prio")
    assert s.pick(10.0) == ("r", 0)
    assert s.next_ready() == 0.0


def test_a_job_that_does_not_fit_is_skipped_not_blocking() -> None:
    s = Scheduler()
    s.put("big-routine", Precedence.ROUTINE, 0.0)
    s.put("small-routine", Precedence.ROUTINE, 0.0)
    assert s.pick(0.0, lambda k, p: k != "big-routine") == "small-routine"
    assert s.pick(0.0, lambda k, p: False) is None


@given(st.integers(1, 30), st.integers(0, 2**32))
def test_backoff_grows_is_capped_and_jittered(attempt: int, seed: int) -> None:
    rng = random.Random(seed)
    b = backoff_s(attempt, 45.0, 1800.0, rng)
    nominal = min(45.0 * 2 ** (attempt - 1), 1800.0)
    assert 0.5 * nominal <= b <= 1.5 * nominal


def test_routes_by_roster() -> None:
    nsp, cp, gct, other_nsp = BoxAddr(101), BoxAddr(10), BoxAddr(1), BoxAddr(201)
    assert relay_for(ROSTER, nsp, gct) == cp
    assert relay_for(ROSTER, gct, other_nsp) == BoxAddr(11)
    assert relay_for(ROSTER, cp, nsp) is None  # the CP is the NSP's own relay: it holds
    kw = {"ip_up": False, "direct_failures": 0, "direct_limit": 2}
    assert route(ROSTER, nsp, gct, heard_fresh=True, **kw).hop == gct  # type: ignore[arg-type, union-attr]
    r = route(ROSTER, nsp, gct, heard_fresh=False, **kw)  # type: ignore[arg-type]
    assert r is not None and r.hop == cp and r.custody
    r = route(ROSTER, nsp, gct, heard_fresh=True, ip_up=False, direct_failures=2, direct_limit=2)
    assert r is not None and r.hop == cp  # direct failed twice: hand it to the CP
    r = route(ROSTER, cp, nsp, heard_fresh=False, holding=True, **kw)  # type: ignore[arg-type]
    assert r is not None and r.hop == nsp  # a custodian tries even when it has not heard the box
    again = route(ROSTER, cp, nsp, heard_fresh=False, holding=True, ip_up=False, direct_failures=1, direct_limit=2)
    assert again is not None and again.hop == nsp  # one lost frame is no reason to hold for 30 min
    held = route(ROSTER, cp, nsp, heard_fresh=False, holding=True, ip_up=False, direct_failures=2, direct_limit=2)
    assert held is None  # `direct_limit` unanswered tries: it holds until the box is heard
    r = route(ROSTER, nsp, gct, heard_fresh=False, ip_up=True, direct_failures=0, direct_limit=2)
    assert r is not None and r.link == "ip" and r.hop == gct


def test_ip_first_then_radio_when_the_destination_does_not_answer_over_ip() -> None:
    nsp, cp, gct = BoxAddr(101), BoxAddr(10), BoxAddr(1)
    r = route(ROSTER, nsp, gct, heard_fresh=False, ip_up=True, direct_failures=1, direct_limit=2)
    assert r is not None and r.link == "ip"
    r = route(ROSTER, nsp, gct, heard_fresh=False, ip_up=True, direct_failures=2, direct_limit=2)
    assert r is not None and r.link == "radio" and r.hop == cp and r.custody


def test_heard_only_through_a_mesh_relay_goes_by_custody_when_a_relay_exists() -> None:
    # Firmware 2.7 delays a client's rebroadcast by 2*CWmax + random(0, 2^CW) slots and restarts the delay on
    # every reception: a DM that needs one crawls, the CP's own packets do not.
    nsp, cp, gct = BoxAddr(101), BoxAddr(10), BoxAddr(1)
    r = route(ROSTER, nsp, gct, heard_fresh=True, ip_up=False, direct_failures=0, direct_limit=2,
              via_mesh_relay=True)
    assert r is not None and r.hop == cp and r.custody
    # A custodian with no relay of its own still tries the box it heard through the mesh (masts).
    r = route(ROSTER, cp, nsp, heard_fresh=True, holding=True, ip_up=False, direct_failures=1, direct_limit=2,
              via_mesh_relay=True)
    assert r is not None and r.hop == nsp and not r.custody
