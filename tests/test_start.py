"""Joining with an invite code and giving (or refusing) consent, as members see it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.botapi import LocalBotApi
from bot.context import LiaisonApplication
from storage import audit
from storage.clock import FakeClock
from storage.db import Database
from storage.models import Consent, Conversation, Member, StaffRole
from tests.chat import Person, said, talk
from tests.factories import make_invite, make_member, make_staff

ZHANG = 1001  # 张伟's phone
ZHANG_NEW = 1002  # 张伟's new phone
WANG = 2001
STRANGER = 3001
LIAISON = 9001
WRONG = "ABCD-EFGH"


async def invite(db: Database, clock: FakeClock, member: Member) -> str:
    """What the liaison hands over: `liaison invite create --phone …`."""
    return await make_invite(db, clock.now(), member)


def wrong_code(code: str) -> str:
    return WRONG if code.replace("-", "") != WRONG.replace("-", "") else "HGFE-DCBA"


async def reload(db: Database, member: Member) -> Member:
    async with db.session() as session:
        fresh = await session.get(Member, member.id)
    assert fresh is not None
    return fresh


async def actions(db: Database) -> list[str]:
    async with db.session() as session:
        return [event.action for event in reversed(await audit.recent(session))]


async def test_deep_link_binds_and_consent_is_given(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now())
    code = await invite(db, clock, zhang)
    person = Person(application, bot_api, ZHANG)

    await talk(
        person,
        [
            (
                f"/start {code}",
                ["张伟", "绑定成功", "我们保存什么", "城市和区县", "三清楚", "联络员"],
            ),
        ],
    )
    # Bound, and the consent question: one message, its buttons under it.
    [greeting] = person.last
    assert [b.text for b in greeting.flat_buttons] == ["同意", "不同意"]
    await talk(person, [("同意", ["已记录", "您同意", "/checkin"])])

    bound = await reload(db, zhang)
    assert (bound.telegram_user_id, bound.consent, bound.consent_at) == (
        ZHANG,
        Consent.GIVEN,
        clock.now(),
    )
    assert await actions(db) == ["invite.create", "invite.redeem", "consent.given"]
    # The consent buttons are gone once answered.
    assert person.buttons == []


async def test_start_then_the_code_as_the_next_message(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now())
    code = await invite(db, clock, zhang)
    person = Person(application, bot_api, ZHANG)

    await talk(
        person,
        [
            ("/start", ["请输入", "邀请码", "/cancel"]),
            (f"{code[:4].lower()} - {code[4:].lower()}", ["绑定成功", "您同意我们这样保存"]),
        ],
    )
    assert person.button_texts == ["同意", "不同意"]
    assert (await reload(db, zhang)).telegram_user_id == ZHANG


async def test_wrong_codes_and_typos_get_a_kind_answer_and_cancel_leaves(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now())
    code = await invite(db, clock, zhang)
    person = Person(application, bot_api, ZHANG)

    await talk(
        person,
        [
            (f"/start {wrong_code(code)}", ["邀请码不对", "还可以再试 4 次"]),
            ("你好", ["不像邀请码", "8 位", "0、O、1、I、L"]),
            (wrong_code(code), "还可以再试 3 次"),
            ("/cancel", "已取消"),
            ("你好", "/start 邀请码"),  # no longer taken as a code
        ],
    )
    assert (await reload(db, zhang)).telegram_user_id is None


async def test_huge_or_marked_up_messages_break_nothing(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now())
    code = await invite(db, clock, zhang)
    person = Person(application, bot_api, ZHANG)

    await talk(
        person,
        [
            ("/start", "请输入"),
            (code + " " + "码" * 5000, "不像邀请码"),
            (f"<b>{code}</b>", "不像邀请码"),
            (f"/start <a href='x'>{code}</a> &amp;", "不像邀请码"),
            (f"/start {'A' * 5000}", "不像邀请码"),
        ],
    )
    assert "<a href" not in person.last[0].text
    await talk(person, [(code, "绑定成功")])


async def test_five_wrong_codes_lock_the_account_for_an_hour(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now())
    code = await invite(db, clock, zhang)
    person = Person(application, bot_api, ZHANG)
    wrong = wrong_code(code)

    await talk(
        person,
        [
            ("/start", "请输入"),
            (wrong, "还可以再试 4 次"),
            (wrong, "还可以再试 3 次"),
            (wrong, "还可以再试 2 次"),
            (wrong, "还可以再试 1 次"),
            # 10:00 in Wuhan, locked for an hour: the time is the member's own.
            (wrong, ["输错的次数太多", "2026-11-15 11:00"]),
            # Even the right code is refused while locked, and not looked at.
            (f"/start {code}", ["输错的次数太多", "2026-11-15 11:00"]),
            ("/start", "2026-11-15 11:00"),
        ],
    )
    assert (await reload(db, zhang)).telegram_user_id is None

    clock.advance(timedelta(hours=1, minutes=1))
    await talk(person, [(f"/start {code}", "绑定成功")])
    assert "invite.lockout" in await actions(db)


async def test_an_expired_code_is_refused(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now())
    code = await invite(db, clock, zhang)
    clock.advance(timedelta(days=15))

    await talk(
        Person(application, bot_api, ZHANG),
        [(f"/start {code}", ["已经过期", "14 天", "联络员"])],
    )
    assert (await reload(db, zhang)).telegram_user_id is None


async def test_a_used_code_does_not_work_from_a_second_account(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now())
    code = await invite(db, clock, zhang)
    await talk(Person(application, bot_api, ZHANG), [(f"/start {code}", "绑定成功")])

    await talk(
        Person(application, bot_api, STRANGER),
        [(f"/start {code}", ["已经用过了", "只能用一次", "联络员"])],
    )
    assert (await reload(db, zhang)).telegram_user_id == ZHANG


async def test_one_account_cannot_bind_a_second_member(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await make_member(db, clock.now(), telegram_user_id=ZHANG, consent=Consent.GIVEN)
    wang = await make_member(db, clock.now(), name="王芳", phone="+8613900139000")
    code = await invite(db, clock, wang)

    await talk(
        Person(application, bot_api, ZHANG),
        [(f"/start {code}", ["已经绑定了党员", "张伟", "只能绑定一位"])],
    )
    assert (await reload(db, wang)).telegram_user_id is None
    # The code is still good for 王芳 herself.
    await talk(Person(application, bot_api, WANG), [(f"/start {code}", ["王芳", "绑定成功"])])


async def test_a_member_with_a_new_phone_gets_back_in(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now(), telegram_user_id=ZHANG, consent=Consent.GIVEN)
    code = await invite(db, clock, zhang)
    new_phone = Person(application, bot_api, ZHANG_NEW)

    await talk(new_phone, [(f"/start {code}", ["绑定成功", "以前用的 Telegram 账号已经解除绑定"])])
    # Consent was the member's answer, not the phone's: not asked again.
    assert "我们保存什么" not in new_phone.last_text
    assert new_phone.buttons == []

    moved = await reload(db, zhang)
    assert (moved.telegram_user_id, moved.consent) == (ZHANG_NEW, Consent.GIVEN)
    assert "member.rebind" in await actions(db)
    await talk(Person(application, bot_api, ZHANG), [("/start", "请输入")])
    await talk(new_phone, [("/start", ["张伟", "欢迎回来"])])


async def test_a_consent_button_pressed_after_the_account_was_replaced(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now(), telegram_user_id=ZHANG)
    old_phone = Person(application, bot_api, ZHANG)
    await talk(old_phone, [("/start", "您同意我们这样保存")])
    code = await invite(db, clock, zhang)
    await talk(Person(application, bot_api, ZHANG_NEW), [(f"/start {code}", "您同意我们这样保存")])

    await talk(old_phone, [("同意", ["没有绑定党员信息", "/start"])])
    assert (await reload(db, zhang)).consent is Consent.PENDING


async def test_a_bound_member_is_welcomed_back_and_asked_for_pending_consent(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await make_member(db, clock.now(), telegram_user_id=ZHANG)
    person = Person(application, bot_api, ZHANG)

    await talk(person, [("/start", ["张伟", "欢迎回来", "/checkin", "您同意我们这样保存"])])
    assert person.button_texts == ["同意", "不同意"]
    assert "联络员命令" not in person.last_text
    await talk(
        person,
        [
            (f"/start {WRONG}", ["邀请码不对", "重新发送 /start 邀请码"]),
            # A member's next words are not taken for a code (they may be a check-in).
            (WRONG, "如需报到请发送 /checkin"),
            ("/start <b>x</b>", "欢迎回来"),
        ],
    )


async def test_decline_then_give_consent_with_privacy(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now())
    code = await invite(db, clock, zhang)
    person = Person(application, bot_api, ZHANG)

    await talk(
        person,
        [
            (f"/start {code}", "绑定成功"),
            ("不同意", ["您不同意", "通知照常", "只记录您输入的城市", "/privacy"]),
        ],
    )
    assert (await reload(db, zhang)).consent is Consent.DECLINED

    clock.advance(timedelta(days=3))
    await talk(
        person,
        [
            ("/privacy", ["我们保存什么", "谁能看到", "您的选择：不同意", "2026-11-15"]),
            ("同意", ["谢谢", "您同意"]),
        ],
    )
    given = await reload(db, zhang)
    assert (given.consent, given.consent_at) == (Consent.GIVEN, clock.now())
    assert await actions(db) == [
        "invite.create",
        "invite.redeem",
        "consent.declined",
        "consent.given",
    ]
    await talk(person, [("/privacy", "您的选择：已同意（2026-11-18）")])


async def test_a_member_withdraws_consent(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now(), telegram_user_id=ZHANG, consent=Consent.GIVEN)
    person = Person(application, bot_api, ZHANG)

    await talk(person, [("/privacy", "您的选择：已同意")])
    assert person.button_texts == ["撤回同意", "✏️ 更正我的信息", "🗑 退出并删除我的信息"]
    await talk(person, [("撤回同意", ["只记录省份", "不记录地点", "请选择"])])
    # Nothing is changed before the member says what check-ins keep instead.
    assert (await reload(db, zhang)).consent is Consent.GIVEN
    await talk(person, [("只记录省份", ["您不同意记录位置", "以后报到只记录省份"])])

    assert (await reload(db, zhang)).consent is Consent.DECLINED
    assert await actions(db) == ["consent.declined"]


async def test_privacy_before_registering_explains_and_points_to_start(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    stranger = Person(application, bot_api, STRANGER)
    await talk(stranger, [("/privacy", ["我们保存什么", "还没有绑定", "/start"])])
    assert stranger.buttons == []


async def test_staff_get_their_commands(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await make_staff(db, clock.now(), telegram_user_id=LIAISON, role=StaffRole.LIAISON)
    liaison = Person(application, bot_api, LIAISON)

    await talk(liaison, [("/start", ["李联络", "联络员命令", "/overdue", "/member"])])
    assert "邀请码" not in liaison.last_text


async def test_english_from_the_first_word(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now())
    code = await invite(db, clock, zhang)
    person = Person(application, bot_api, ZHANG, language_code="en")

    await talk(
        person,
        [
            ("/lang", "Choose a language"),
            ("English", "Language set to English"),
            ("/start", ["Please type the", "invite code"]),
            (wrong_code(code), ["not right", "4 tries left"]),
            ("hello", ["does not look like an invite code"]),
            (code, ["Hello", "张伟", "you are registered", "What we keep", "three clears"]),
            ("I do not agree", ["you do not agree", "only the city you type"]),
            ("/privacy", ["Your choice: you did not agree", "Who sees it"]),
            ("I agree", ["Thank you", "you agree"]),
            ("/privacy", "Your choice: you agreed"),
            ("Withdraw consent", ["Only the province", "No place", "Please choose"]),
            ("Keep no place", ["you do not agree", "keep no place from now on"]),
            ("/start", ["Welcome back", "张伟"]),
        ],
    )
    # The language chosen before binding is now the member's own.
    assert (await reload(db, zhang)).locale == "en"


async def test_english_refusals(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now(), telegram_user_id=ZHANG, locale="en")
    wang = await make_member(db, clock.now(), name="王芳", phone="+8613900139000")
    used = await invite(db, clock, wang)
    person = Person(application, bot_api, ZHANG)
    await talk(person, [(f"/start {used}", ["already registered to the member", "张伟"])])
    await talk(Person(application, bot_api, WANG), [(f"/start {used}", "绑定成功")])
    other = await invite(db, clock, zhang)
    await make_staff(db, clock.now(), telegram_user_id=LIAISON, locale="en")

    await talk(
        person,
        [
            (f"/start {used}", ["already been used", "only once"]),
            ("/start", ["Welcome back", "/checkin"]),
        ],
    )
    await talk(
        Person(application, bot_api, LIAISON),
        [("/start", ["signed in as staff", "Liaison commands", "/overdue", "/member"])],
    )
    clock.advance(timedelta(days=15))
    english_stranger = Person(application, bot_api, STRANGER)
    await talk(english_stranger, [("/lang", None), ("English", None)])
    await talk(
        english_stranger,
        [
            (f"/start {other}", ["has expired", "14 days"]),
            ("/start", "Please type"),
            ("/cancel", "cancelled"),
            ("/start", "Please type"),
            *[(wrong_code(other), "left") for _ in range(4)],
            (wrong_code(other), ["Too many wrong codes", "2026-11-30 11:00"]),
            ("/start", "Too many wrong codes"),
        ],
    )
    async with db.session() as session:
        assert await session.scalar(select(Member.telegram_user_id).where(Member.id == zhang.id))


# --- the code question as a conversation of the engine ------------------------------------


async def open_steps(db: Database) -> list[tuple[str, str]]:
    async with db.session() as session:
        return [(row.flow, row.step) for row in await session.scalars(select(Conversation))]


async def test_the_code_question_is_kept_in_the_database_until_answered(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now())
    code = await invite(db, clock, zhang)
    person = Person(application, bot_api, ZHANG)
    await talk(person, [("/start", "请输入")])
    assert await open_steps(db) == [("start", "code")]
    await talk(person, [(wrong_code(code), "还可以再试 4 次")])
    assert await open_steps(db) == [("start", "wrong_code")]
    # Commands that are not conversations (or not for a non-member) leave the question open.
    await talk(person, [("/help", "可用命令"), ("/checkin", "报到前需要先绑定党员身份")])
    assert await open_steps(db) == [("start", "wrong_code")]
    await talk(person, [(code, "绑定成功")])
    assert await open_steps(db) == []


async def test_a_picture_instead_of_the_code_is_explained_and_the_code_asked_again(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now())
    code = await invite(db, clock, zhang)
    for language, fragments in (
        ("zh-hans", ["请用文字输入邀请码", "请输入联络员给您的"]),
        ("en", ["Please type the invite code as text", "Please type the invite code"]),
    ):
        person = Person(application, bot_api, STRANGER, language_code=language)
        await talk(person, [("/lang", None), (("English" if language == "en" else "中文"), None)])
        await talk(person, [("/start", None), (wrong_code(code), None)])
        sticker = await person.send_update(person.updates.sticker(person.user))
        for fragment in fragments:
            assert fragment in said(sticker)
        assert await open_steps(db) == [("start", "code")]
        await talk(person, [("/cancel", None)])


async def test_a_code_question_left_a_day_expires(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = await make_member(db, clock.now())
    code = await invite(db, clock, zhang)
    stranger = Person(application, bot_api, STRANGER, language_code="en")
    await talk(stranger, [("/lang", None), ("English", None), ("/start", "Please type")])
    person = Person(application, bot_api, ZHANG)
    await talk(person, [("/start", "请输入")])
    clock.advance(timedelta(hours=25))
    await talk(stranger, [("HGFE-DCBA", ["too long since you sent /start", "send /start again"])])
    await talk(person, [(code, ["已经太久", "重新发送 /start"])])
    assert await open_steps(db) == []
    # Not taken as a code: nothing was bound, and /start CODE works as ever.
    assert (await reload(db, zhang)).telegram_user_id is None
    await talk(person, [(f"/start {code}", "绑定成功")])


async def test_a_staff_draft_and_the_code_question_end_each_other(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    # Staff are not members: a code they type is tried, and waited for again if wrong.
    await make_staff(db, clock.now(), telegram_user_id=LIAISON)
    liaison = Person(application, bot_api, LIAISON)
    await talk(liaison, [("/notice", "发通知 1/3")])
    await talk(liaison, [(f"/start {WRONG}", ["未完成的通知已结束", "邀请码不对"])])
    assert await open_steps(db) == [("start", "wrong_code")]
    await talk(liaison, [("/notice", ["未完成的邀请码绑定已结束", "发通知 1/3"])])
    assert await open_steps(db) == [("notice", "choose")]
    # The next answer is the notice's: a line typed is not a code.
    await talk(liaison, [("ABCD-EFGH", "请按消息下面的按钮选择")])
    assert await open_steps(db) == [("notice", "choose")]
