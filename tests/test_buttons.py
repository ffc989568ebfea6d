"""Buttons as Telegram treats them: every press is answered, a second press changes nothing.

Telegram shows a spinner on a button until the bot answers the press, and refuses (400
"message is not modified") an edit that leaves a message as it is; the in-process Bot API
does the same, so a bot that edits on every press fails here as it would there.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.botapi import BotApiError, Button, JSONDict, LocalBotApi, Outgoing
from bot.context import LiaisonApplication
from storage.clock import FakeClock
from storage.db import Database
from storage.models import AuditEvent, Consent, Member
from tests.chat import Person, said, talk
from tests.factories import make_group, make_member, make_staff

MEMBER = 830_001
LIAISON = 830_002
STRANGER = 830_003

# Every prefix a feature's buttons start with (bot/features, messages/*).
PREFIXES = (
    "checkin:",
    "checkin:work:",
    "start:",
    "privacy:",
    "privacy:keep:",
    "lang:",
    "cycle:checkin",
    "cycle:same:",
    "cycle:lost:",
    "staff:card:",
    "notice:",
    "notice:stop:",
    "notice:ack:",
    "study:new:",
    "study:stop:",
    "study:done:",
    "study:open:",
    "places:d:",
    "places:pin:",
    "idea:new:",
    "idea:show:",
    "ideas:draft:",
    "ideas:card:",
    "ideas:reply:",
    "ideas:adopt:",
    "cert:new:",
    "cert:withdraw:",
    "cert:rq:quit",
    "cert:step:",
    "cert:reject:",
    "cert:letter:",
    "request:new:",
    "request:text:",
    "request:assign:",
    "request:to:",
    "request:note:",
    "request:status:",
    "request:set:",
    "request:refer:",
    "request:file:",
    "request:card:",
    "request:take:",
    "request:solved:",
    "request:rate:",
    "request:fromcheckin:",
    "guide:",
)


def forged() -> list[str]:
    """Data no button of ours carries: garbage after each prefix, and pure garbage."""
    data = ["x" * 64]
    for prefix in PREFIXES:
        data += [f"{prefix}zzz", f"{prefix}1:zzz", f"{prefix}-1", (prefix + "9" * 64)[:64]]
    return data


def answers(api: LocalBotApi) -> dict[str, JSONDict]:
    """callback query id → the answer the bot gave it."""
    return {
        str(params["callback_query_id"]): params
        for method, params in api.calls
        if method == "answerCallbackQuery"
    }


def edits(api: LocalBotApi, since: int) -> list[str]:
    """The edit calls made after call number since, failed ones included."""
    return [method for method, _ in api.calls[since:] if method.startswith("edit")]


async def press(who: Person, message: Outgoing, data: str) -> tuple[str, list[Outgoing]]:
    """Press a button carrying data under message: the press's id and what was sent."""
    update = who.updates.press(who.user, message, Button("x", data))
    return update["callback_query"]["id"], await who.send_update(update)


async def test_forged_and_unknown_buttons_are_all_answered(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    group = await make_group(db, clock.now())
    await make_member(
        db, clock.now(), telegram_user_id=MEMBER, groups=[group], consent=Consent.GIVEN
    )
    await make_staff(db, clock.now(), telegram_user_id=LIAISON, groups=[group])
    for user_id, language in ((MEMBER, "zh-hans"), (LIAISON, "zh-hans"), (STRANGER, "en")):
        person = Person(application, bot_api, user_id, language_code=language)
        await talk(person, [("/help", None)])
        under = person.last[-1]
        for data in forged():
            query_id, sent = await press(person, under, data)
            assert query_id in answers(bot_api), f"{data!r} from {user_id} was not answered"
            text = said(sent)
            assert "没有完成" not in text and "did not go through" not in text, data


async def test_data_no_feature_knows_gets_this_button_no_longer_works(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    for user_id, language, expected in (
        (STRANGER, "中文", "这个按钮已经失效了，请您重新发送"),
        (STRANGER + 1, "English", "This button no longer works"),
    ):
        stranger = Person(application, bot_api, user_id)
        await talk(stranger, [("/lang", None), (language, None)])
        query_id, sent = await press(stranger, stranger.last[-1], "x" * 64)
        assert expected in str(answers(bot_api)[query_id].get("text"))
        assert sent == []


async def consent_events(db: Database) -> list[str]:
    async with db.session() as session:
        rows = await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))
        return [action for action in rows if action.startswith("consent.")]


async def test_the_consent_button_pressed_twice_is_saved_once_and_edited_once(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await make_member(db, clock.now(), telegram_user_id=MEMBER, consent=Consent.PENDING)
    member = Person(application, bot_api, MEMBER)
    await talk(member, [("/start", "您同意我们这样保存")])
    question = member.last[-1]
    accept = member.buttons[0]
    before = len(bot_api.calls)
    first = await member.send_update(member.updates.press(member.user, question, accept))
    assert "您同意" in said(first)
    second = member.updates.press(member.user, question, accept)
    assert await member.send_update(second) == []
    assert second["callback_query"]["id"] in answers(bot_api)
    assert edits(bot_api, before) == ["editMessageText"]
    assert await consent_events(db) == ["consent.given"]


async def test_a_checkin_answer_pressed_twice_edits_once(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await make_member(db, clock.now(), telegram_user_id=MEMBER, consent=Consent.GIVEN)
    member = Person(application, bot_api, MEMBER)
    await talk(member, [("/checkin", "1/3"), ("武汉市江汉区", "2/3")])
    question = member.last[-1]
    stable = member.buttons[0]
    before = len(bot_api.calls)
    await talk(member, [("1", "想补充说明吗")])
    again = member.updates.press(member.user, question, stable)
    await member.send_update(again)
    assert again["callback_query"]["id"] in answers(bot_api)
    assert edits(bot_api, before) == ["editMessageText"]
    # The check-in goes on from where it was.
    await talk(member, [("跳过", "3/3")])


FAILURES = {
    500: "Internal Server Error",
    400: "Bad Request: message to edit not found",
    BotApiError.TIMEOUT: "Timed out",
}


async def test_consent_saved_while_the_edit_fails_is_not_reported_as_failed(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    for offset, (code, description) in enumerate(FAILURES.items()):
        user_id = MEMBER + offset
        record = await make_member(
            db,
            clock.now(),
            name=f"成员{user_id}",
            phone=f"+86138{user_id:08d}",
            telegram_user_id=user_id,
            consent=Consent.PENDING,
        )
        member = Person(application, bot_api, user_id)
        await talk(member, [("/start", "您同意我们这样保存")])
        bot_api.fail_next("editMessageText", BotApiError(code, description))
        await talk(member, [("同意", "您同意")])
        assert "没有完成" not in member.last_text
        async with db.session() as session:
            stored = await session.get(Member, record.id)
            assert stored is not None and stored.consent is Consent.GIVEN


async def test_a_press_too_old_to_answer_still_does_what_it_says(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    # Pressed while the bot was down: Telegram refuses the late answer, the consent is taken.
    record = await make_member(
        db, clock.now(), telegram_user_id=MEMBER, phone="+8613800009999", consent=Consent.PENDING
    )
    member = Person(application, bot_api, MEMBER)
    await talk(member, [("/start", "您同意我们这样保存")])
    too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    bot_api.fail_next("answerCallbackQuery", BotApiError(400, too_old))
    await talk(member, [("同意", "您同意")])
    assert "没有完成" not in member.last_text
    async with db.session() as session:
        stored = await session.get(Member, record.id)
        assert stored is not None and stored.consent is Consent.GIVEN
