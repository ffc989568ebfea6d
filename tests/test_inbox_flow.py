"""/inbox: what members texted that no keyword answered, for the staff who look after them,
answered by SMS from the chat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.background import make_sms_inbox
from bot.botapi import Button, LocalBotApi
from bot.context import LiaisonApplication, Services
from messages.callbacks import INBOX_ANSWER_SEND, INBOX_DONE
from messages.channels.base import MobileOriginated
from storage.clock import FakeClock
from storage.db import Database
from storage.models import AuditEvent, ChannelName, Delivery, InboundSms, MessageKind, StaffRole
from storage.sms_inbox import fingerprint
from tests.chat import Person, talk
from tests.cycle_harness import RecordingSms
from tests.delivery import make_dispatcher
from tests.factories import make_group, make_member, make_staff

LIAISON = 9801  # 李联络, liaison of 驻深圳
ADMIN = 9802  # 王管理, an administrator without scope
ZHANG = "+8613800138000"  # 张伟, 驻深圳
LIU = "+8613800138001"  # 刘洋, 驻广州: not the liaison's
STRANGER = "+8613700137000"


async def texted(services: Services, sender: str, text: str) -> None:
    """sender's SMS arrives, stored and handled as the SMS channel's sink does it."""
    inbox = make_sms_inbox(services)
    octets = text.encode("utf-16-be")
    await inbox(
        MobileOriginated(sender, "Liaison", text, fingerprint(sender, "Liaison", 8, 0, octets))
    )
    await inbox.handle_pending()


@pytest.fixture(autouse=True)
async def district(db: Database, clock: FakeClock, services: Services) -> None:
    shenzhen = await make_group(db, clock.now(), "驻深圳党小组")
    guangzhou = await make_group(db, clock.now(), "驻广州党小组")
    await make_member(db, clock.now(), name="张伟", phone=ZHANG, groups=[shenzhen])
    await make_member(db, clock.now(), name="刘洋", phone=LIU, groups=[guangzhou])
    await make_staff(db, clock.now(), telegram_user_id=LIAISON, groups=[shenzhen])
    await make_staff(db, clock.now(), telegram_user_id=ADMIN, name="王管理", role=StaffRole.ADMIN)
    await texted(services, ZHANG, "李书记，周六的组织生活会在哪里开？")
    await texted(services, LIU, "我换了新手机号，原来的号码不用了")
    await texted(services, STRANGER, "<b>中奖</b>通知：请点击链接")


async def test_a_liaison_sees_only_their_members_and_answers_by_sms(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    services: Services,
    db: Database,
    clock: FakeClock,
) -> None:
    liaison = Person(application, bot_api, LIAISON)
    await talk(
        liaison,
        [
            (
                "/inbox",
                [
                    "党员发来的短信",
                    "待处理 1 条",
                    "张伟（+86 138****8000）",
                    "周六的组织生活会在哪里开",
                ],
            )
        ],
    )
    assert "刘洋" not in liaison.last_text and "中奖" not in liaison.last_text
    assert liaison.button_texts == ["✍️ 回复 #1", "✅ 已处理 #1"]
    await talk(
        liaison,
        [
            ("✍️ 回复 #1", ["回复短信 #1", "张伟：李书记，周六的组织生活会在哪里开？"]),
            (
                "周六上午九点，民意街道党员之家。",
                ["【回复】周六上午九点，民意街道党员之家。 ——李联络", "1 条短信"],
            ),
            ("📨 发送短信", "已用短信回复 #1（张伟），并标记为已处理"),
            ("/inbox", "没有待处理的短信"),
        ],
    )
    sms = RecordingSms(clock)
    await make_dispatcher(services, sms=sms).run_once()
    [(_, sent)] = sms.sent
    assert (sent.address, sent.text) == (ZHANG, "【回复】周六上午九点，民意街道党员之家。 ——李联络")
    async with db.session() as session:
        delivery = await session.scalar(select(Delivery).where(Delivery.address == ZHANG))
        assert delivery is not None and delivery.channel is ChannelName.SMS
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    # The listings, opening the SMS to answer it, and the answer: each leaves a row.
    assert actions.count("sms.inbox.list") == 2
    assert actions.count("sms.inbox.view") == 1 and actions.count("sms.answer") == 1


async def test_another_groups_sms_cannot_be_answered_with_a_forged_button(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    async with db.session() as session:
        liu = await session.scalar(select(InboundSms.id).where(InboundSms.sender == LIU))
    liaison = Person(application, bot_api, LIAISON)
    await talk(liaison, [("/inbox", "张伟")])
    message = next(o for o in reversed(liaison.last) if o.buttons)
    await liaison.send_update(
        liaison.updates.press(liaison.user, message, Button("x", f"inbox:answer:{liu}"))
    )
    replies = [o for o in bot_api.sent if o.chat_id == LIAISON]
    assert "不在您负责的范围内" in replies[-1].text


async def test_an_administrator_sees_unknown_numbers_escaped_and_marks_them_done(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    admin = Person(application, bot_api, ADMIN)
    await talk(admin, [("/inbox", ["待处理 3 条", "未登记的号码 +86 137****7000", "刘洋", "张伟"])])
    # What a stranger typed is shown as text, never as markup.
    assert "&lt;b&gt;中奖&lt;/b&gt;" in admin.last[-1].text
    await talk(admin, [("✅ 已处理 #3", "短信 #3 已处理"), ("/inbox", "待处理 2 条")])
    assert "中奖" not in admin.last_text


async def test_a_long_sms_is_cut_in_the_list_and_whole_when_answered(
    application: LiaisonApplication, bot_api: LocalBotApi, services: Services
) -> None:
    long = "我想反映一下" + "宿舍楼的热水器坏了很久" * 40 + "。谢谢！"
    await texted(services, ZHANG, long)
    liaison = Person(application, bot_api, LIAISON)
    await talk(liaison, [("/inbox", "我想反映一下宿舍楼的热水器坏了很久")])
    assert "…" in liaison.last_text and "谢谢！" not in liaison.last_text
    await talk(liaison, [("✍️ 回复 #4", "。谢谢！")])


async def test_a_member_cannot_open_the_inbox(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await make_member(db, clock.now(), name="赵敏", phone=None, telegram_user_id=9803)
    await talk(Person(application, bot_api, 9803), [("/inbox", "只供联络员使用")])


async def test_in_english_too(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await make_staff(db, clock.now(), telegram_user_id=9804, name="Li", locale="en")
    admin = Person(application, bot_api, 9804, language_code="en")
    # A liaison of no group: nothing to see.
    await talk(admin, [("/inbox", "No open SMS")])


async def test_the_member_card_says_who_stopped_sms_notices(
    application: LiaisonApplication, bot_api: LocalBotApi, services: Services
) -> None:
    await texted(services, ZHANG, "退订")
    liaison = Person(application, bot_api, LIAISON)
    await talk(liaison, [("/member 张伟", "2026-11-15 回复“退订”，不再收短信通知")])
    await texted(services, ZHANG, "恢复")
    await talk(liaison, [("/member 张伟", "电话：+86 138****8000")])
    assert "退订" not in liaison.last_text


async def press(who: Person, data: str) -> str:
    """Press a button carrying data under the last message (forged, or long gone)."""
    message = who.last[-1]
    who.last = await who.send_update(who.updates.press(who.user, message, Button("x", data)))
    return who.last_text


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
async def test_every_turn_of_an_answer_in_either_language(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    services: Services,
    clock: FakeClock,
    db: Database,
    locale: str,
) -> None:
    """An administrator (no scope: everything) answers, refuses, cancels, lets one expire."""

    def button(key: str, **values: object) -> str:
        return services.renderer.label(locale, f"inbox.{key}", **values)

    await make_staff(
        db, clock.now(), telegram_user_id=9805, name="Wang", role=StaffRole.ADMIN, locale=locale
    )
    admin = Person(application, bot_api, 9805, language_code=locale.split("_")[0])
    await talk(admin, [("/inbox", ["#3", "#2", "#1"])])
    await talk(
        admin,
        [
            (button("answer", id=2), ["#2", "我换了新手机号"]),
            ("长" * 201, "201"),  # too long: asked again
            ("/loc 30.58 114.27", "#2"),  # not text: asked again
            ("好的，已记下新号码。", ["好的，已记下新号码。", "Wang"]),
            ("再说一句", button("send").split()[-1]),  # typed where a button is expected
            (button("send"), ["#2", "刘洋"]),
        ],
    )
    # The preview's "send", pressed again after it went: it says so and sends nothing more.
    assert "/inbox" in await press(admin, INBOX_ANSWER_SEND.pack())
    await talk(
        admin,
        [("/inbox", "#1"), (button("answer", id=1), "#1"), (button("cancel"), "/inbox")],
    )
    await talk(admin, [("/inbox", "#3"), (button("done", id=3), "#3")])
    assert "#99" in await press(admin, INBOX_DONE.pack(99))
    await talk(admin, [("/inbox", "#1"), (button("answer", id=1), "#1")])
    clock.advance(timedelta(hours=13))
    await talk(admin, [("还在吗？", "/inbox")])
    async with db.session() as session:
        answers = list(
            await session.scalars(select(Delivery).where(Delivery.kind == MessageKind.SMS_ANSWER))
        )
    assert [d.address for d in answers] == [LIU]
