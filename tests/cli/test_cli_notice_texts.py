"""Core notices carry a kind and facts; the catalogue words them, in Dutch and in English."""

from __future__ import annotations

import pytest

from nspgw.cli.texts import EN, NL, detail_text, notice_text
from nspgw.core.actions import Detail, DetailKind, Notice, NoticeKind

SAMPLES = [
    Notice(NoticeKind.EXPIRED, {"seq": 7, "prec": "FLASH", "to": "nsp-1 (101)"}),
    Notice(NoticeKind.EXPIRED, {"seq": 7, "prec": "FLASH", "to": "", "reason": "ttl"}),
    Notice(NoticeKind.DELIVERED_LATE, {"seq": 7, "to": "nsp-1 (101)"}),
    Notice(NoticeKind.CLONE_SUSPECTED, {"box": "nsp-1 (101)", "counter": 100}),
    Notice(NoticeKind.CLONE_SUSPECTED, {"box": "nsp-1 (101)"}, variant="sync"),
    Notice(NoticeKind.ROSTER_NEWER, {"box": "cp-1 (10)", "version": 4, "mine": 3}),
    Notice(NoticeKind.SEQ_CONFLICT, {"box": "nsp-1 (101)", "seq": 7}),
    Notice(NoticeKind.COUNTER_RESYNC, {"box": "cp-1 (10)"}),
]


def test_every_notice_kind_has_a_sample() -> None:
    assert {n.kind for n in SAMPLES} == set(NoticeKind)


@pytest.mark.parametrize("notice", SAMPLES, ids=lambda n: f"{n.kind.value}{n.variant}")
def test_every_notice_is_worded_in_both_languages_with_its_facts(notice: Notice) -> None:
    nl, en = notice_text(notice, "nl"), notice_text(notice, "en")
    assert nl != en and "{" not in nl + en
    for value in notice.params.values():
        if value not in ("", "ttl"):  # the empty box (every box) and the reason code are worded, not shown
            assert str(value) in nl and str(value) in en


def test_expired_names_the_box_or_every_box_and_the_reason() -> None:
    one, every = SAMPLES[0], SAMPLES[1]
    assert notice_text(one, "nl") == "Bericht 7 (FLASH) aan post nsp-1 (101) is VERLOPEN zonder bevestiging"
    assert notice_text(every, "nl").endswith("aan alle posten is VERLOPEN zonder bevestiging: tijd verstreken")
    assert notice_text(every, "en").endswith("to all posts EXPIRED without confirmation: time ran out")


def test_the_operator_language_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NSPGW_LANG", "en")
    assert notice_text(SAMPLES[2]).startswith("Message 7 to post")
    monkeypatch.setenv("NSPGW_LANG", "nl")
    assert notice_text(SAMPLES[2]).startswith("Bericht 7 aan post")


def test_catalogue_has_the_same_notice_keys_in_both_languages() -> None:
    assert {k for k in NL if k.startswith("notice.")} == {k for k in EN if k.startswith("notice.")}


@pytest.mark.parametrize("kind", list(DetailKind))
def test_every_detail_is_worded_in_both_languages(kind: DetailKind) -> None:
    d = Detail(kind, {"by": "cp-1 (10)", "error": "ingetrokken", "to": 10})
    nl, en = detail_text(d, "nl"), detail_text(d, "en")
    assert nl and en and nl != en and "{" not in nl + en
    assert detail_text("vrije tekst", "en") == "vrije tekst"  # stored text passes unchanged


def test_an_expiry_reason_with_facts_is_worded_in_the_notice() -> None:
    n = Notice(NoticeKind.EXPIRED, {"seq": 3, "prec": "ROUTINE", "to": "gct (1)", "reason": "given_up",
                                    "by": "cp-1 (10)"})
    assert notice_text(n, "nl").endswith("VERLOPEN zonder bevestiging: opgegeven door cp-1 (10)")
    assert notice_text(n, "en").endswith("EXPIRED without confirmation: given up by cp-1 (10)")
