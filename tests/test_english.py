"""The rarer turns of every flow, in English (the Chinese ones live beside each feature)."""

from __future__ import annotations

from datetime import timedelta

from bot.botapi import BotApiError, LocalBotApi
from bot.context import LiaisonApplication
from storage.clock import FakeClock
from storage.consent import set_consent
from storage.db import Database
from storage.invites import create_invite
from storage.models import Consent, GroupKind, StaffRole
from tests.chat import Person, talk
from tests.conftest import INVITE_KEY
from tests.factories import make_group, make_member, make_staff

MEMBER = 7001
NEW_PHONE = 7002
LIAISON = 7101


async def english_member(
    db: Database, clock: FakeClock, consent: Consent = Consent.GIVEN, user_id: int = MEMBER
) -> int:
    group = await make_group(db, clock.now(), "Shenzhen group", GroupKind.DESTINATION)
    member = await make_member(
        db,
        clock.now(),
        name="Wang Fang",
        phone=f"+86139{user_id:08d}",
        telegram_user_id=user_id,
        consent=consent,
        locale="en",
        groups=[group],
    )
    return member.id


async def test_unexpected_input_in_english(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await english_member(db, clock)
    member = Person(application, bot_api, MEMBER)
    await talk(
        member,
        [
            ("/frobnicate", "There is no command /frobnicate"),
            ("hello", "To check in send /checkin"),
            ("x" * 5000, "too long"),
        ],
    )
    sticker = await member.send_update(member.updates.sticker(member.user))
    assert "I can only read text" in sticker[0].text
    photo = await member.send_update(member.updates.photo(member.user))
    assert "I can only read text" in photo[0].text
    edited = await member.send_update(member.updates.edited_text(member.user, "fix"))
    assert "I do not read edited messages" in edited[0].text
    in_group = await member.send_update(member.updates.group_text(member.user, "/where"))
    assert "private chat" in in_group[0].text
    assert in_group[0].chat_id < 0


async def test_a_failed_reply_gets_an_apology_not_a_traceback(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await english_member(db, clock)
    member = Person(application, bot_api, MEMBER)
    bot_api.fail_next("sendMessage", BotApiError(400, "Bad Request: chat not found"))
    replies = await member.say("/where")
    assert len(replies) == 1
    assert "Sorry, something went wrong" in replies[0].text
    # The next command works as usual.
    await talk(member, [("/where", "My registration")])


async def test_checkin_corner_cases_in_english(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    member_id = await english_member(db, clock)
    member = Person(application, bot_api, MEMBER)
    await talk(
        member,
        [
            ("/checkin", "Where are you now?"),
            ("/loc 0 -30", "could not find a city near this location"),  # the open sea
            ("Wuhan Jianghan", "How is work?"),
        ],
    )
    sticker = await member.send_update(member.updates.sticker(member.user))
    [again] = [o for o in sticker if o.method == "sendMessage"]
    assert "Please choose with the buttons" in again.text
    assert "How is work?" in again.text

    # Left unanswered overnight: the draft is dropped, nothing saved.
    clock.advance(timedelta(hours=13))
    await talk(member, [("1", "left unfinished for too long")])
    # An old button from that check-in no longer works.
    old = next(m for m in reversed(bot_api.sent) if any(b.callback_data for b in m.flat_buttons))
    pressed = await member.send_update(member.updates.press(member.user, old, old.flat_buttons[0]))
    assert any("This button no longer works" in r.text for r in pressed)

    # Consent withdrawn after sharing a pin: the pin is not saved, and the member is told why.
    await talk(
        member,
        [
            ("/checkin", "Where are you now?"),
            ("/loc 22.5329 113.9305", "How is work?"),
            ("1", "Anything to add?"),
            ("Skip", "anything you need help with"),
            ("No", "Confirm"),
        ],
    )
    async with db.session() as session:
        await set_consent(session, clock.now(), member_id, Consent.DECLINED)
    await talk(member, [("✅ Confirm", "this check-in was not saved")])


async def test_consent_and_rebinding_in_english(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    member_id = await english_member(db, clock, consent=Consent.PENDING)
    member = Person(application, bot_api, MEMBER)
    await talk(member, [("/lang", None), ("English", None), ("/start", "Do you agree")])
    consent_question = member.last[-1]

    async with db.session() as session:
        code, _ = await create_invite(
            session,
            clock.now(),
            member_id=member_id,
            created_by="cli:test",
            valid_days=14,
            key=INVITE_KEY,
        )
    new_phone = Person(application, bot_api, NEW_PHONE)
    await talk(new_phone, [("/lang", None), ("English", None), (f"/start {code}", "Do you agree")])
    await talk(new_phone, [("I agree", ["Thank you", "you agree"])])

    # The old account presses its old consent button: it is no longer the member's.
    accept = next(b for b in consent_question.flat_buttons if b.callback_data == "start:accept")
    pressed = await member.send_update(member.updates.press(member.user, consent_question, accept))
    assert "not registered as a member" in pressed[-1].text


async def test_staff_search_in_english(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    group = await make_group(db, clock.now(), "Shenzhen group", GroupKind.DESTINATION)
    for index, name in enumerate(["Wang Fang", "Wang Lei"]):
        await make_member(
            db, clock.now(), name=name, phone=f"+8613900000{index:03d}", groups=[group]
        )
    await make_staff(
        db,
        clock.now(),
        telegram_user_id=LIAISON,
        role=StaffRole.LIAISON,
        groups=[group],
        locale="en",
    )
    liaison = Person(application, bot_api, LIAISON)
    await talk(
        liaison,
        [
            ("/member wang", ["2 members of your groups match", "Wang Fang", "Wang Lei"]),
            ("/member Zhao", "No member found in your groups"),
            ("/member Wang Lei", "Wang Lei"),
        ],
    )


async def test_staff_typing_free_text_are_pointed_to_their_commands(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await make_staff(db, clock.now(), telegram_user_id=LIAISON, locale="en")
    await talk(Person(application, bot_api, LIAISON), [("hello", "Send /notice to write a notice")])
