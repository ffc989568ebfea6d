"""Callback data: what a button carries comes back as it went out, and nothing else does."""

from __future__ import annotations

import re

import pytest

from messages import callbacks
from messages.callbacks import (
    CHECKIN_CONFIRM,
    CHECKIN_CONSENT,
    CHECKIN_NEEDS,
    CHECKIN_WORK,
    CHECKIN_ZONE,
    ID,
    WORD,
    Action,
    CallbackDataTooLong,
    action,
)
from storage.models import MAX_ID, Consent, IdeaKind, RequestStatus, WorkSituation
from storage.places import district_key


def declared() -> list[Action[*tuple[object, ...]]]:
    return [value for value in vars(callbacks).values() if isinstance(value, Action)]


def test_buttons_already_in_members_chats_keep_their_bytes() -> None:
    # The strings the features wrote by hand before: old buttons must still be understood.
    assert CHECKIN_ZONE.pack(12, "Europe/Berlin") == "checkin:zone:12:Europe/Berlin"
    assert CHECKIN_ZONE.pack(12, "keep") == "checkin:zone:12:keep"
    assert CHECKIN_CONSENT.pack(Consent.GIVEN) == "checkin:consent:given"
    assert CHECKIN_WORK.pack(WorkSituation.CHANGED_JOB) == "checkin:work:changed_job"
    assert CHECKIN_NEEDS.pack(True) == "checkin:needs:yes"
    assert CHECKIN_CONFIRM.pack() == "checkin:confirm"
    assert callbacks.START_CONSENT.pack(Consent.GIVEN) == "start:accept"
    assert callbacks.START_CONSENT.pack(Consent.DECLINED) == "start:decline"
    assert callbacks.PRIVACY_CONSENT.pack(Consent.DECLINED) == "privacy:declined"
    assert callbacks.REQUEST_CATEGORY.pack(3) == "request:new:cat:3"
    assert callbacks.REQUEST_NOT_SURE.pack() == "request:new:measure:none"
    assert callbacks.REQUEST_ASSIGN_TO.pack(12, 4) == "request:to:12:4"
    assert callbacks.REQUEST_CLOSE.pack(12, RequestStatus.CANNOT_HELP) == (
        "request:close:12:cannot_help"
    )
    assert callbacks.REQUEST_SET.pack(12, RequestStatus.IN_PROGRESS) == (
        f"request:set:12:{RequestStatus.IN_PROGRESS.value}"
    )
    assert callbacks.REQUEST_TEXT_QUIT.pack() == "request:text:quit"
    assert callbacks.NOTICE_PICK.pack(3) == "notice:pick:3"
    assert callbacks.NOTICE_STOP.pack(3) == "notice:stop:3"
    assert callbacks.NOTICE_PREVIEW.pack() == "notice:show"
    assert callbacks.NOTICE_EVERYONE.pack() == "notice:all"
    assert callbacks.CERTIFICATE_ISSUED.pack(False) == "cert:new:issued:no"
    assert callbacks.CERTIFICATE_MONTHS.pack(12) == "cert:new:months:12"
    assert callbacks.CERTIFICATE_REJECT_QUIT.pack() == "cert:rq:quit"
    assert callbacks.CERTIFICATE_WITHDRAW.pack(4) == "cert:withdraw:4"
    assert callbacks.IDEA_KIND.pack(IdeaKind.OPINION) == "idea:new:opinion"
    assert callbacks.IDEA_SEND.pack() == "idea:new:send"
    assert callbacks.IDEAS_REPLY_SEND.pack() == "ideas:draft:send"
    assert callbacks.IDEAS_REPLY.pack(9) == "ideas:reply:9"
    assert callbacks.IDEAS_ADOPT.pack(9) == "ideas:adopt:9"
    assert callbacks.STUDY_STOP.pack(2) == "study:stop:2"
    assert callbacks.STUDY_SKIP.pack() == "study:new:skip"
    assert callbacks.GUIDE_MEASURE.pack(5, ("d", 12)) == "guide:m:5:d12"
    assert callbacks.GUIDE_MEASURE.pack(5, ("c", 3)) == "guide:m:5:c3"
    assert callbacks.GUIDE_DEPARTMENT.pack(12) == "guide:d:12"
    assert callbacks.GUIDE_DEPARTMENTS.pack() == "guide:deps"
    assert callbacks.PLACES_DISTRICT.pack(district_key("江汉区")) == (
        f"places:d:{district_key('江汉区')}"
    )
    assert callbacks.PLACES_PIN.pack(8) == "places:pin:8"
    assert callbacks.LANGUAGE.pack("zh_CN") == "lang:zh_CN"
    # Buttons of messages sent through the outbox (they wait in the deliveries' payloads).
    assert callbacks.STUDY_DONE.pack(2) == "study:done:2"
    assert callbacks.STUDY_OPEN.pack(2) == "study:open:2"
    assert callbacks.IDEA_SHOW.pack(9) == "idea:show:9"
    assert callbacks.IDEAS_CARD.pack(9) == "ideas:card:9"
    assert callbacks.CERTIFICATE_STEP.pack(4, "checked") == "cert:step:4:checked"
    assert callbacks.CERTIFICATE_REJECT.pack(4) == "cert:reject:4"
    assert callbacks.CERTIFICATE_LETTER.pack(4) == "cert:letter:4"
    assert callbacks.NOTICE_ACK.pack(7) == "notice:ack:7"
    assert callbacks.CYCLE_CHECKIN_NOW.pack() == "cycle:checkin"
    assert callbacks.STAFF_MEMBER_CARD.pack(3) == "staff:card:3"
    assert callbacks.CYCLE_SAME_AS_LAST.pack("2026-12") == "cycle:same:2026-12"
    assert callbacks.CYCLE_CONFIRM_LOST.pack(3) == "cycle:lost:3"
    assert callbacks.REQUEST_FROM_CHECKIN.pack(7) == "request:fromcheckin:7"
    assert callbacks.REQUEST_CARD.pack(7) == "request:card:7"
    assert callbacks.REQUEST_TAKE.pack(7) == "request:take:7"
    assert callbacks.REQUEST_SOLVED.pack(7, True) == "request:solved:7:yes"
    assert callbacks.REQUEST_SOLVED.pack(7, False) == "request:solved:7:no"
    assert callbacks.REQUEST_RATE.pack(7, 5) == "request:rate:7:5"
    assert callbacks.REQUEST_COMMENT_SKIP.pack(7, "skip") == "request:comment:7:skip"


def test_what_is_packed_unpacks_to_the_same_values_and_matches_its_pattern() -> None:
    cases: list[tuple[Action[*tuple[object, ...]], tuple[object, ...]]] = [
        (CHECKIN_ZONE, (MAX_ID, "America/Argentina/ComodRivadavia")),
        (CHECKIN_ZONE, (0, "keep")),
        (callbacks.GUIDE_MEASURE, (5, ("c", 3))),
        (CHECKIN_CONSENT, (Consent.DECLINED,)),
        (CHECKIN_NEEDS, (False,)),
        (CHECKIN_CONFIRM, ()),
        *((CHECKIN_WORK, (situation,)) for situation in WorkSituation),
    ]
    for act, values in cases:
        data = act.pack(*values)
        assert act.unpack(data) == values
        assert re.match(act.pattern, data)
        assert re.match(act.any_pattern, data)


def test_every_declared_action_has_its_own_prefix() -> None:
    prefixes = [act.prefix for act in declared()]
    assert len(prefixes) == len(set(prefixes))
    for act in declared():
        assert len(act.prefix.encode()) < callbacks.MAX_BYTES


def test_data_over_telegrams_64_bytes_is_refused_when_packed() -> None:
    long_word = action("checkin", "zone", ID, WORD)
    assert len(long_word.pack(1, "z" * 49).encode()) == 64
    with pytest.raises(CallbackDataTooLong):
        long_word.pack(1, "z" * 50)
    # Bytes, not characters: Chinese takes three each.
    with pytest.raises(CallbackDataTooLong):
        long_word.pack(1, "地" * 17)


def test_values_pack_cannot_write_are_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        CHECKIN_ZONE.pack(-1, "keep")
    with pytest.raises(ValueError, match="out of range"):
        CHECKIN_ZONE.pack(MAX_ID + 1, "keep")
    with pytest.raises(ValueError, match="single word"):
        CHECKIN_ZONE.pack(1, "a:b")
    with pytest.raises(ValueError, match="single word"):
        CHECKIN_ZONE.pack(1, "")


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "checkin:zone",
        "checkin:zone:",
        "checkin:zone:5",
        "checkin:zone:5:",
        "checkin:zone:5:keep:more",
        "checkin:zone:#5:keep",
        "checkin:zone: 5:keep",
        "checkin:zone:05:keep",
        "checkin:zone:-5:keep",
        "checkin:zone:²:keep",
        "checkin:zone:５:keep",
        f"checkin:zone:{MAX_ID + 1}:keep",
        "checkin:zone:" + "9" * 40 + ":keep",
        "checkin:zonex:5:keep",
        "checkin:zone:5:keep" + "x" * 64,
        "checkin:zone:zzz:keep",
        "checkin:zone:1:zzz:zzz",
    ],
)
def test_forged_data_unpacks_to_none_without_raising(data: str | None) -> None:
    assert CHECKIN_ZONE.unpack(data) is None


@pytest.mark.parametrize(
    ("act", "data"),
    [
        (CHECKIN_CONSENT, "checkin:consent:pending"),  # a real Consent, but not a button
        (CHECKIN_CONSENT, "checkin:consent:GIVEN"),
        (CHECKIN_WORK, "checkin:work:zzz"),
        (CHECKIN_WORK, "checkin:work:"),
        (CHECKIN_NEEDS, "checkin:needs:maybe"),
        (CHECKIN_CONFIRM, "checkin:confirm:1"),
        (CHECKIN_CONFIRM, "checkin:confirmed"),
        (callbacks.START_CONSENT, "start:given"),
        (callbacks.START_CONSENT, "start:"),
        (callbacks.START_CONSENT, "start"),
        (callbacks.PRIVACY_CONSENT, "privacy:pending"),
        (callbacks.PRIVACY_CONSENT, "privacy:given:1"),
        (callbacks.REQUEST_CLOSE, "request:close:12:in_progress"),  # not a closing status
        (callbacks.REQUEST_ASSIGN_TO, "request:to:12"),
        (callbacks.REQUEST_SOLVED, "request:solved:12:maybe"),
        (callbacks.REQUEST_COMMENT_SKIP, "request:comment:12:send"),
        (callbacks.IDEA_KIND, "idea:new:send"),  # another action of the same draft
        (callbacks.GUIDE_MEASURE, "guide:m:5:x3"),
        (callbacks.GUIDE_MEASURE, "guide:m:5:d"),
        (callbacks.GUIDE_MEASURE, "guide:m:5"),
        (callbacks.PLACES_DISTRICT, "places:d:江汉区"),
        (callbacks.LANGUAGE, "lang:fr"),
        (callbacks.PLACES_DISTRICT, "places:d:0123456789AB"),
    ],
)
def test_unknown_choices_unpack_to_none_and_miss_the_pattern(
    act: Action[*tuple[object, ...]], data: str
) -> None:
    assert act.unpack(data) is None
    assert not re.match(act.pattern, data)


def test_what_a_press_carries_is_kept_as_sent_for_the_audit_trail() -> None:
    assert callbacks.STAFF_MEMBER_CARD.carried("staff:card:#5'; drop") == "#5'; drop"
    assert callbacks.STAFF_MEMBER_CARD.carried("staff:card:12") == "12"
