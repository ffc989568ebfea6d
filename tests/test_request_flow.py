"""/request, /myrequests, /requests and the buttons of their messages, as people live them."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.botapi import BotApiError, Button, LocalBotApi, Outgoing
from bot.context import LiaisonApplication
from bot.terminal import html_to_text
from messages.render import Reader, Rendered, Renderer
from messages.requests import request_update
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    AuditEvent,
    ChannelName,
    Consent,
    RequestStatus,
    ServiceRequest,
    ServiceRequestEvent,
    StaffRole,
)
from storage.payloads import Names, RequestUpdate
from storage.requests import FEEDBACK_WAIT, check_deadlines, create_request, set_status
from tests.chat import Person, said, talk
from tests.conftest import START
from tests.delivery import Deliver
from tests.factories import make_group, make_member, make_request_catalogue, make_staff

LIAISON = 9301  # 李联络: 驻深圳, Chinese
LIAISON_EN = 9302  # Li Wei: 驻深圳, English
OUTSIDER = 9303  # 赵律师: liaison of the lawyers only
ADMIN = 9304  # 钱主任: administrator of everything
ZHANG = 9401  # 张伟, 驻深圳, Chinese
WANG = 9402  # 王芳, 驻深圳, English
LI_NA = 9403  # 李娜, lawyers
STRANGER = 434343
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
async def district(db: Database) -> None:
    await make_request_catalogue(db, START)
    shenzhen = await make_group(db, START, "驻深圳党小组")
    lawyers = await make_group(db, START, "律师党小组")
    await make_member(
        db,
        START,
        name="张伟",
        phone="+8613800000001",
        telegram_user_id=ZHANG,
        groups=[shenzhen],
        consent=Consent.GIVEN,
    )
    await make_member(
        db,
        START,
        name="王芳",
        phone="+8613800000002",
        telegram_user_id=WANG,
        groups=[shenzhen],
        locale="en",
        consent=Consent.GIVEN,
    )
    await make_member(
        db, START, name="李娜", phone="+8613800000003", telegram_user_id=LI_NA, groups=[lawyers]
    )
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    await make_staff(
        db, START, telegram_user_id=LIAISON_EN, name="Li Wei", groups=[shenzhen], locale="en"
    )
    await make_staff(db, START, telegram_user_id=OUTSIDER, name="赵律师", groups=[lawyers])
    await make_staff(db, START, telegram_user_id=ADMIN, name="钱主任", role=StaffRole.ADMIN)


def person(
    application: LiaisonApplication, bot_api: LocalBotApi, user_id: int, english: bool = False
) -> Person:
    return Person(application, bot_api, user_id, language_code="en" if english else "zh-hans")


def toast(api: LocalBotApi) -> str | None:
    answers = [params for method, params in api.calls if method == "answerCallbackQuery"]
    return answers[-1].get("text") if answers else None


async def press(who: Person, message: Outgoing, data: str) -> list[Outgoing]:
    """Press a button (perhaps one of someone else's message, or a forged one)."""
    who.last = await who.send_update(who.updates.press(who.user, message, Button("x", data)))
    return who.last


async def requests(db: Database) -> list[ServiceRequest]:
    async with db.session() as session:
        return list(await session.scalars(select(ServiceRequest).order_by(ServiceRequest.id)))


async def audit_actions(db: Database) -> list[str]:
    async with db.session() as session:
        return list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


async def send_photo(who: Person) -> list[Outgoing]:
    who.last = await who.send_update(who.updates.photo(who.user))
    return who.last


async def send_document(who: Person, name: str) -> list[Outgoing]:
    api = who.api
    message = {
        "message_id": api.next_message_id(),
        "date": 0,
        "chat": {"id": who.user_id, "type": "private", "first_name": "x"},
        "from": who.user,
        "document": {"file_id": f"file-{name}", "file_unique_id": name, "file_name": name},
    }
    who.last = await who.send_update({"update_id": api.next_update_id(), "message": message})
    return who.last


async def zhang_files_with_a_photo(zhang: Person) -> None:
    await talk(
        zhang,
        [
            ("/request", ["申请服务 1/5：类别", "您需要哪方面的帮助"]),
        ],
    )
    assert zhang.button_texts == ["门面续租", "其他", "✖️ 取消"]
    await talk(zhang, [("门面续租", ["申请服务 2/5：服务项目", "类别：门面续租"])])
    assert zhang.button_texts == [
        "门面续租协调",
        "营业执照变更",
        "🤔 不确定，直接说明情况",
        "✖️ 取消",
    ]
    await talk(
        zhang,
        [
            ("门面续租协调", ["3/5：说明情况", "类别：门面续租（门面续租协调）", "最多 2000 字"]),
            ("<b>房东</b>要涨租 & 不续签", ["4/5：照片或文件（可跳过）", "您的需求：<b>房东</b>"]),
        ],
    )
    # What the member typed is shown back escaped.
    assert "&lt;b&gt;房东&lt;/b&gt;要涨租 &amp; 不续签" in zhang.last[-1].text
    assert "5/5：请核对" in said(await send_photo(zhang))
    assert "附件：照片" in zhang.last_text
    assert "一般 14 天内给您答复" in zhang.last_text
    await talk(
        zhang,
        [("📨 提交申请", ["✅ 已提交！您的服务申请编号是 #1（门面续租）", "2026-11-29 前"])],
    )


# --- the whole life of a request, in Chinese ------------------------------------------------------


async def test_a_request_with_a_photo_from_filing_to_feedback(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    deliver: Deliver,
) -> None:
    zhang = person(application, bot_api, ZHANG)
    await zhang_files_with_a_photo(zhang)
    [saved] = await requests(db)
    assert (saved.description, saved.attachment_kind, saved.attachment_file_id) == (
        "<b>房东</b>要涨租 & 不续签",
        "photo",
        "photo-1",
    )
    # Both liaisons of the group hear of it, each in their language, with "take".
    got = await deliver()
    assert set(got) == {LIAISON, LIAISON_EN}
    [new] = got[LIAISON]
    assert "🆕 新的服务申请 #1" in html_to_text(new.text)
    assert "&lt;b&gt;房东&lt;/b&gt;" in new.text
    assert "📎 附有照片" in html_to_text(new.text)
    assert [b.text for b in new.flat_buttons] == ["🙋 我来办理", "📋 查看申请"]
    assert "New service request #1" in html_to_text(got[LIAISON_EN][0].text)

    liaison = person(application, bot_api, LIAISON)
    clock.advance(timedelta(hours=1))
    taken = await press(liaison, new, new.flat_buttons[0].callback_data or "")
    assert "🙋 服务申请 #1 由您办理，状态：办理中" in said(taken)
    got = await deliver()
    assert "您的服务申请 #1（门面续租）已经由联络员 李联络 开始办理" in html_to_text(
        got[ZHANG][0].text
    )

    # /requests: the open ones, with age; the card shows the member's phone masked.
    clock.advance(timedelta(days=2))
    await talk(
        liaison,
        [
            (
                "/requests",
                ["待办的服务申请（1 件，最早的在前）", "#1 张伟 · 门面续租 · 办理中 · 已 2 天"],
            )
        ],
    )
    await talk(
        liaison,
        [
            (
                "#1 张伟 · 门面续租",
                [
                    "服务申请 #1：办理中",
                    "党员：张伟，电话 +86 138****0001",
                    "类别：门面续租（门面续租协调）",
                    "经办人：李联络",
                    "附件：照片",
                    "<b>房东</b>要涨租 & 不续签",
                    "李联络 开始办理",
                ],
            )
        ],
    )
    assert "8613800000001" not in liaison.last_text
    assert liaison.button_texts == ["🔄 更改状态", "👥 转给同事", "📝 内部备注", "📎 查看附件"]
    card = liaison.last[-1]
    shown = await press(liaison, card, "request:file:1")
    [photo] = [o for o in shown if o.method == "sendPhoto"]
    assert (photo.params["photo"], photo.text) == ("photo-1", "#1")
    await talk(
        liaison,
        [
            ("📝 内部备注", "请输入服务申请 #1 的内部备注"),
            ("房东<周五>来面谈", "📝 已为服务申请 #1 添加内部备注"),
        ],
    )
    await press(liaison, card, "request:status:1")
    assert liaison.button_texts == ["✅ 已解决", "🚫 无法办理", "↪️ 转介到其他部门"]
    # Closing asks for the answer the member will read; too long a one is not taken.
    await talk(
        liaison,
        [
            ("✅ 已解决", ["请写下给党员的答复", "将改为“已解决”", "最多 1000 字"]),
            ("长" * 1001, ["答复太长：最多 1000 字，这次有 1001 字", "请写下给党员的答复"]),
        ],
    )
    clock.advance(timedelta(minutes=1))
    await talk(
        liaison,
        [
            (
                "房东同意续租 <3 年>，租金不变",
                "🔄 服务申请 #1 的状态已改为“已解决”。已把答复发给党员。",
            ),
        ],
    )

    # The member hears, in Chinese, with the answer (escaped), and answers: solved, then
    # 4 stars — once.
    got = await deliver()
    [closing] = got[ZHANG]
    assert "已经办结：已解决" in html_to_text(closing.text)
    assert "李联络的答复：房东同意续租 &lt;3 年&gt;，租金不变" in closing.text
    assert [b.text for b in closing.flat_buttons] == ["👍 解决了", "👎 没有解决"]
    await talk(zhang, [("👍 解决了", ["很高兴问题解决了", "1 分最不满意"])])
    assert toast(bot_api) == "已记录，谢谢！"
    assert zhang.button_texts == ["1⭐", "2⭐", "3⭐", "4⭐", "5⭐"]
    rating = zhang.last[-1]
    await talk(zhang, [("4⭐", "谢谢您的评价（4 分）")])
    assert "哪里还没有解决" not in zhang.last_text
    clock.advance(timedelta(hours=1))
    assert await deliver() == {}  # a good rating alerts no one
    # Pressed again (a double tap): answered, and the messages are left as they are.
    calls = len(bot_api.calls)
    assert await press(zhang, closing, "request:solved:1:no") == []
    assert toast(bot_api) == "您已经回答过了，谢谢。"
    assert await press(zhang, rating, "request:rate:1:1") == []
    assert toast(bot_api) == "您已经回答过了，谢谢。"
    assert not [method for method, _ in bot_api.calls[calls:] if method.startswith("edit")]
    [done] = await requests(db)
    assert (done.status, done.solved, done.satisfaction) == (RequestStatus.RESOLVED, True, 4)

    # /myrequests: the history without the internal note.
    await talk(
        zhang,
        [
            (
                "/myrequests",
                [
                    "我的服务申请",
                    "#1 门面续租（门面续租协调）：已解决",
                    "答复：房东同意续租 <3 年>，租金不变",
                    "提交申请",
                    "评价：4/5",
                ],
            )
        ],
    )
    assert "面谈" not in zhang.last_text
    assert "备注" not in zhang.last_text
    # The card has it all, the note marked internal.
    await talk(liaison, [("/requests", "没有待办的服务申请")])
    await press(liaison, card, "request:card:1")
    assert "李联络 备注：房东<周五>来面谈（内部）" in liaison.last_text
    assert "党员反馈：解决了，满意度 4/5" in liaison.last_text
    assert "给党员的答复：房东同意续租 <3 年>，租金不变" in liaison.last_text
    assert await audit_actions(db) == [
        "request.create",
        "request.take",
        "request.list",
        "request.view",
        "request.attachment",
        "request.note",
        "request.status",
        "request.list",
        "request.view",
    ]


# --- in English: not sure, a document, referred elsewhere ----------------------------------------


async def test_an_english_request_referred_elsewhere(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    deliver: Deliver,
) -> None:
    wang = person(application, bot_api, WANG, english=True)
    await talk(
        wang,
        [
            ("/request", "Service request 1/5: category"),
            ("Shop lease", "2/5: service"),
            (
                "🤔 Not sure, I'll describe it",
                ["3/5: your need", "Category: Shop lease", "at most 2000 characters"],
            ),
            ("The landlord will not renew.", ["4/5: photo or file (optional)"]),
        ],
    )
    assert "5/5: please check" in said(await send_document(wang, "contract.pdf"))
    assert "Attachment: contract.pdf" in wang.last_text
    assert "within 7 days" in wang.last_text
    await talk(wang, [("📨 Send the request", ["Your service request number is #1 (Shop lease)"])])
    [saved] = await requests(db)
    assert (saved.measure_id, saved.attachment_name) == (None, "contract.pdf")

    got = await deliver()
    liaison = person(application, bot_api, LIAISON_EN, english=True)
    await press(liaison, got[LIAISON_EN][0], "request:card:1")
    assert "Attachment: contract.pdf" in liaison.last_text
    shown = await press(liaison, liaison.last[-1], "request:file:1")
    assert [o.params["document"] for o in shown if o.method == "sendDocument"] == [
        "file-contract.pdf"
    ]
    await press(liaison, liaison.last[-1], "request:status:1")
    assert liaison.button_texts == [
        "⏳ In progress",
        "✅ Resolved",
        "🚫 Cannot help",
        "↪️ Refer elsewhere",
    ]
    await talk(
        liaison,
        [
            ("↪️ Refer elsewhere", "Which department or organisation is service request #1"),
            ("x" * 201, "Too long: at most 200 characters, this had 201"),
        ],
    )
    # Typed a while later: a new answer, not the rest of a refused paste.
    clock.advance(timedelta(seconds=10))
    await talk(
        liaison,
        [
            (
                "District legal aid centre",
                [
                    "Please write the answer for the member",
                    "referred to: District legal aid centre",
                ],
            ),
            (
                "Ask for Ms Chen <room 3>; bring the contract.",
                "now “referred” (referred to: District legal aid centre). The answer has gone",
            ),
        ],
    )
    got = await deliver()
    [update] = got[WANG]
    assert "was referred to: District legal aid centre" in html_to_text(update.text)
    assert "Li Wei answers: Ask for Ms Chen &lt;room 3&gt;; bring the contract." in update.text
    # Not solved, and 2 stars: asked what went wrong, which reaches the assignee (Li Wei)
    # and the group's other liaison, each in their language, once the member has written.
    await talk(
        wang,
        [
            ("👎 Not solved", "How satisfied are you"),
            ("2⭐", ["Thank you for your rating (2 of 5)", "What is still unsolved?"]),
        ],
    )
    assert wang.button_texts == ["Skip ➡️"]
    assert await deliver() == {}  # waiting for the comment
    await talk(
        wang,
        [
            (
                "The centre is <closed> on weekends & I work weekdays.",
                "Your comment on service request #1 has gone to whoever handled it",
            )
        ],
    )
    got = await deliver()
    assert set(got) == {LIAISON, LIAISON_EN}
    [english] = got[LIAISON_EN]
    assert "The member is not satisfied with service request #1" in html_to_text(english.text)
    assert "Solved: no" in english.text and "Rating: 2 of 5" in english.text
    assert (
        "Comment: The centre is &lt;closed&gt; on weekends &amp; I work weekdays." in english.text
    )
    assert [b.text for b in english.flat_buttons] == ["📋 Open the request"]
    [chinese] = got[LIAISON]
    assert "党员对服务申请 #1 的办理不满意" in html_to_text(chinese.text)
    assert "问题解决了吗：没有解决" in chinese.text and "评分：2 分" in chinese.text
    assert "经办人：Li Wei" in chinese.text
    await talk(
        wang,
        [
            (
                "/myrequests",
                [
                    "#1 Shop lease: referred",
                    "Referred to: District legal aid centre",
                    "Answer: Ask for Ms Chen <room 3>; bring the contract.",
                ],
            )
        ],
    )
    liaison_card = await press(liaison, english, "request:card:1")
    assert "Member's comment: The centre is <closed> on weekends" in said(liaison_card)
    [done] = await requests(db)
    assert (done.status, done.referred_to, done.solved, done.satisfaction) == (
        RequestStatus.REFERRED,
        "District legal aid centre",
        False,
        2,
    )


async def _closed(db: Database, clock: FakeClock, deliver: Deliver, number: int) -> None:
    """Request #number closed as "cannot help" by 李联络; the member gets the message."""
    staff_id = await _staff_id(db, LIAISON)
    async with db.session() as session:
        await set_status(
            session,
            clock.now(),
            number,
            staff_id=staff_id,
            status=RequestStatus.CANNOT_HELP,
            answer="本区没有这项服务。",
        )
    [closing] = (await deliver())[ZHANG]
    assert "李联络的答复：本区没有这项服务。" in closing.text


async def test_unhappy_feedback_skipped_goes_at_once_and_a_late_line_is_no_comment(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    deliver: Deliver,
) -> None:
    zhang = person(application, bot_api, ZHANG)
    await zhang_files_with_a_photo(zhang)
    await deliver()
    await _closed(db, clock, deliver, 1)
    await talk(
        zhang,
        [
            ("👎 没有解决", "请打分"),
            ("1⭐", ["谢谢您的评价（1 分）", "哪里还没有解决", "不想写请按“跳过”"]),
            ("跳过 ➡️", "办理人和联络员会知道服务申请 #1 没有让您满意"),
        ],
    )
    got = await deliver()
    assert set(got) == {LIAISON, LIAISON_EN}
    [alert] = got[LIAISON]
    assert "评分：1 分（满分 5 分）" in alert.text and "意见：（没有填写）" in alert.text

    # Another one: "not solved", 2 stars, and a line typed long after is not a comment.
    [first] = await requests(db)
    async with db.session() as session:
        await create_request(
            session,
            clock.now(),
            member_id=first.member_id,
            category_id=first.category_id,
            description="营业执照要变更地址",
            zone=ZoneInfo("Asia/Shanghai"),
        )
    await deliver()
    await _closed(db, clock, deliver, 2)
    await talk(zhang, [("👎 没有解决", "请打分"), ("2⭐", "哪里还没有解决")])
    assert await deliver() == {}
    clock.advance(FEEDBACK_WAIT + timedelta(minutes=1))
    await talk(zhang, [("你好", "这条消息没有作为对服务申请 #2 的意见转出")])
    got = await deliver()
    [alert] = got[LIAISON]
    assert "服务申请 <b>#2</b>" in alert.text and "意见：（没有填写）" in alert.text


async def test_assign_to_a_colleague_who_is_told(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, deliver: Deliver
) -> None:
    await zhang_files_with_a_photo(person(application, bot_api, ZHANG))
    await deliver()
    liaison = person(application, bot_api, LIAISON)
    await talk(liaison, [("/requests", None), ("1", "服务申请 #1：已受理")])
    await talk(liaison, [("👥 转给同事", "把服务申请 #1 转给哪位同事")])
    # Only those who may see 张伟: the other liaison of his group and the admin.
    assert liaison.button_texts == ["👤 Li Wei", "👤 钱主任"]
    await talk(liaison, [("👤 Li Wei", "👥 服务申请 #1 已转给 Li Wei，已通知对方")])
    got = await deliver()
    assert "李联络 assigned service request #1 to you" in html_to_text(got[LIAISON_EN][0].text)
    assert ZHANG not in got  # internal: the member hears when the status changes
    # A forged button naming a colleague outside the member's scope is refused.
    outsider_id = await _staff_id(db, OUTSIDER)
    refused = await press(liaison, liaison.last[-1], f"request:to:1:{outsider_id}")
    assert "这位同事不负责这名党员" in said(refused)
    [row] = await requests(db)
    assert row.assignee_id == await _staff_id(db, LIAISON_EN)


async def _staff_id(db: Database, telegram_user_id: int) -> int:
    from storage.models import Staff

    async with db.session() as session:
        found = await session.scalar(
            select(Staff.id).where(Staff.telegram_user_id == telegram_user_id)
        )
        assert found is not None
        return found


# --- who may do what ------------------------------------------------------------------------------


async def test_access_out_of_scope_staff_members_and_strangers(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, deliver: Deliver
) -> None:
    await zhang_files_with_a_photo(person(application, bot_api, ZHANG))
    got = await deliver()
    new = got[LIAISON][0]
    outsider = person(application, bot_api, OUTSIDER)
    await talk(outsider, [("/requests", "您负责的党员目前没有待办的服务申请")])
    # A forwarded message's buttons, or forged ones, reveal and change nothing.
    for data in (
        "request:card:1",
        "request:take:1",
        "request:status:1",
        "request:set:1:resolved",
        "request:file:1",
        "request:note:1",
        "request:assign:1",
    ):
        answer = said(await press(outsider, new, data))
        assert "没有找到您能查看的服务申请 #1" in answer, data
        assert "张伟" not in answer
    # Members and strangers get the staff refusal.
    for user_id in (ZHANG, STRANGER):
        someone = person(application, bot_api, user_id)
        await talk(someone, [("/requests", "这个命令只供联络员使用")])
        assert "这个命令只供联络员使用" in said(await press(someone, new, "request:take:1"))
    # A member sees only their own requests and cannot answer for someone else's.
    li_na = person(application, bot_api, LI_NA)
    await talk(li_na, [("/myrequests", "您还没有提交过服务申请")])
    await press(li_na, new, "request:solved:1:yes")
    assert toast(bot_api) == "这个按钮只对提出申请的党员本人有效。"
    # Not closed yet: the owner's own press is refused too.
    zhang = person(application, bot_api, ZHANG)
    await press(zhang, new, "request:solved:1:yes")
    assert toast(bot_api) == "这个申请还在办理中，办完后再请您评价。"
    await talk(
        person(application, bot_api, STRANGER), [("/request", "服务申请只受理已绑定身份的党员")]
    )
    await talk(
        person(application, bot_api, ADMIN, english=False),
        [("/myrequests", "服务申请只受理已绑定身份的党员")],
    )
    [row] = await requests(db)
    assert (row.status, row.assignee_id) == (RequestStatus.RECEIVED, None)
    async with db.session() as session:
        events = list(await session.scalars(select(ServiceRequestEvent.kind)))
    assert len(events) == 1


# --- bad input loses nothing ----------------------------------------------------------------------


async def test_bad_input_cancel_and_stale_buttons(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    for user_id, english, words in (
        (
            ZHANG,
            False,
            (
                "请按消息下面的按钮选择",
                "太长了：最多 2000 字，这次有 4096 字",
                "请发送一张照片或一个文件",
                "已取消，这份服务申请没有提交",
                "这个按钮已经失效",
                "放了太久",
            ),
        ),
        (
            WANG,
            True,
            (
                "Please choose with the buttons",
                "Too long: at most 2000 characters, this had 4096",
                "Please send one photo or one file",
                "Cancelled; this service request was not sent",
                "This button no longer works",
                "left too long",
            ),
        ),
    ):
        member = person(application, bot_api, user_id, english=english)
        await talk(member, [("/request", None), ("随便打字", words[0])])
        await talk(member, [("2", None)])  # 其他 / Other: no measures, straight to the need
        question = member.last[-1]
        # A 5,000-character paste arrives as two messages: refused whole, the rest ignored.
        await talk(member, [("字" * 4096, words[1]), ("字" * 904, None)])
        assert member.last == []
        clock.advance(timedelta(seconds=10))
        await talk(member, [("需要帮忙找工作", "4/5"), ("好的", words[2])])
        await talk(member, [("/cancel", words[3])])
        assert words[4] in said(await press(member, question, "request:new:quit"))
        await talk(member, [("/request", None)])
        clock.advance(timedelta(hours=13))
        await talk(member, [("1", words[5])])
    assert await requests(db) == []


async def test_an_empty_catalogue_says_so(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    async with db.session() as session:
        from storage.models import ServiceCategory, ServiceDepartment, ServiceMeasure

        for model in (ServiceMeasure, ServiceCategory, ServiceDepartment):
            for row in await session.scalars(select(model)):
                await session.delete(row)
            await session.flush()
    await talk(person(application, bot_api, ZHANG), [("/request", "服务目录还没有设置好")])
    await talk(
        person(application, bot_api, WANG, english=True),
        [("/request", "The service catalogue is not set up yet")],
    )


# --- the check-in offer ---------------------------------------------------------------------------


async def test_a_need_from_the_checkin_becomes_a_request(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    zhang = person(application, bot_api, ZHANG)
    await talk(
        zhang,
        [
            ("/checkin", "1/3"),
            ("武汉市江汉区", "2/3"),
            ("工作稳定", "想补充说明吗"),
            ("跳过 ➡️", "3/3"),
            ("需要帮助", "请简单说说"),
            ("孩子明年上小学，想了解入学手续", "请核对"),
            ("✅ 确认提交", ["已保存", "可以按下面的按钮把它转为服务申请"]),
        ],
    )
    assert zhang.button_texts == ["📝 转为服务申请"]
    offer = zhang.last[-1]
    await talk(
        zhang,
        [
            ("📝 转为服务申请", ["1/5：类别", "您在报到时说的需求", "孩子明年上小学"]),
            ("其他", ["4/5：照片或文件", "您的需求：孩子明年上小学"]),
            ("跳过 ➡️", ["5/5", "附件：无", "一般 7 天内"]),
            ("📨 提交申请", "您的服务申请编号是 #1（其他）"),
        ],
    )
    [row] = await requests(db)
    assert (row.description, row.source, row.checkin_id) == (
        "孩子明年上小学，想了解入学手续",
        "checkin",
        1,
    )
    # Once only.
    await press(zhang, offer, "request:fromcheckin:1")
    assert "已经转为服务申请 #1" in zhang.last_text
    # Someone else's check-in is not theirs to turn into anything.
    wang = person(application, bot_api, WANG, english=True)
    await press(wang, offer, "request:fromcheckin:1")
    assert "The need from that check-in was not found" in wang.last_text
    # In English, and a check-in without a need has no offer.
    await talk(
        wang,
        [
            ("/checkin", None),
            ("Wuhan", None),
            ("Stable", None),
            ("Skip", None),
            ("No", None),
            ("✅ Confirm", "Saved, thank you!"),
        ],
    )
    assert wang.button_texts == []
    assert "service request" not in wang.last_text
    await talk(
        wang,
        [
            ("/checkin", None),
            ("Wuhan", None),
            ("Stable", None),
            ("Skip", None),
            ("Yes, I need help", None),
            ("A school place", None),
            ("✅ Confirm", "To have it handled as a service request"),
        ],
    )
    assert wang.button_texts == ["📝 Make this a service request"]
    await talk(
        wang, [("📝 Make this a service request", "What you said you need in your check-in")]
    )


def test_the_member_update_in_both_languages_and_by_sms(renderer: Renderer) -> None:
    payload = RequestUpdate(
        request_id=7,
        event="status",
        status="cannot_help",
        category=Names(zh="子女入学", en="Schooling"),
        by="李联络",
        closed=True,
    )

    def read(locale: str, channel: ChannelName, update: RequestUpdate = payload) -> Rendered:
        return request_update(Reader(renderer, locale, SHANGHAI, channel), update)

    chinese, buttons = read("zh_CN", ChannelName.TELEGRAM)
    assert "您的服务申请 #7（子女入学）这次没能办成" in html_to_text(chinese)
    assert [data for _, data in buttons] == ["request:solved:7:yes", "request:solved:7:no"]
    english, _ = read("en", ChannelName.TELEGRAM)
    assert "your service request #7 (Schooling) could not be done" in html_to_text(english)
    assert read("zh_CN", ChannelName.SMS) == ("您的服务申请#7（子女入学）：无法办理。", ())
    taken = payload.model_copy(update={"event": "taken", "closed": False})
    sms_en, _ = read("en", ChannelName.SMS, taken)
    assert sms_en == "Your service request #7 (Schooling) has been taken on."


# --- staff: typed input, its edges, and the deadline messages -------------------------------------


async def test_staff_notes_referrals_and_attachments_at_their_edges(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
) -> None:
    await zhang_files_with_a_photo(person(application, bot_api, ZHANG))
    for user_id, english, words in (
        (
            LIAISON,
            False,
            (
                "待办的服务申请（1 件",
                "请用文字输入，或按“取消”",
                "已取消，没有保存",
                "这个按钮已经失效。发送 /requests",
                "转介到哪个部门或单位",
                "上次的输入放了太久",
                "服务申请 #1 的附件暂时发不出来",
            ),
        ),
        (
            LIAISON_EN,
            True,
            (
                "Open service requests (1, oldest first)",
                "Please type it as text",
                "Cancelled; nothing was saved",
                "This button no longer works. Send /requests",
                "Which department or organisation",
                "was left too long and was dropped",
                "The attachment of service request #1 cannot be sent right now",
            ),
        ),
    ):
        staff = person(application, bot_api, user_id, english=english)
        await talk(staff, [("/requests", words[0]), ("1", "#1")])
        card = staff.last[-1]
        await press(staff, card, "request:note:1")
        question = staff.last[-1]
        assert words[1] in said(await send_photo(staff))
        await talk(staff, [("/cancel", words[2])])
        assert words[3] in said(await press(staff, question, "request:text:quit"))
        await press(staff, card, "request:refer:1")
        assert words[4] in staff.last_text
        clock.advance(timedelta(hours=13))
        await talk(staff, [("区法律援助中心", words[5])])
        bot_api.fail_next("sendPhoto", BotApiError(400, "Bad Request: wrong file identifier"))
        assert words[6] in said(await press(staff, card, "request:file:1"))
    liaison_en = person(application, bot_api, LIAISON_EN, english=True)
    await press(liaison_en, card, "request:take:1")
    assert "Service request #1 is yours; status: in progress" in liaison_en.last_text
    await press(liaison_en, card, "request:take:1")
    assert "Service request #1 is already yours" in liaison_en.last_text
    await press(liaison_en, card, "request:note:1")
    await talk(liaison_en, [("Call the landlord", "Internal note added to service request #1")])
    await press(liaison_en, card, "request:assign:1")
    assert "Assign service request #1 to which colleague?" in liaison_en.last_text
    await talk(liaison_en, [("👤 李联络", "Service request #1 is now with 李联络")])
    [row] = await requests(db)
    assert (row.status, row.referred_to) == (RequestStatus.IN_PROGRESS, None)
    # Staff who are not members themselves make no requests.
    await talk(liaison_en, [("/request", "Service requests are for registered members")])


async def deadlines(db: Database, clock: FakeClock) -> None:
    """What the scheduler's deadline job does at the clock's time."""
    async with db.session() as session:
        await check_deadlines(
            session, clock.now(), remind_before=timedelta(hours=24), zone=SHANGHAI
        )


async def test_deadline_reminders_and_overdue_alerts_reach_staff_in_their_language(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    deliver: Deliver,
) -> None:
    await make_staff(
        db, START, telegram_user_id=9305, name="Admin Zhao", role=StaffRole.ADMIN, locale="en"
    )
    await zhang_files_with_a_photo(person(application, bot_api, ZHANG))
    await deliver()
    # Nobody took it: a day before it is due, both liaisons are reminded.
    clock.set(START + timedelta(days=13))
    await deadlines(db, clock)
    got = await deliver()
    assert set(got) == {LIAISON, LIAISON_EN}
    assert "⏰ 服务申请 #1 快到答复期限了：2026-11-29 10:00" in html_to_text(got[LIAISON][0].text)
    assert "还没有人办理，请尽快认领" in html_to_text(got[LIAISON][0].text)
    assert "Service request #1 is nearly due" in html_to_text(got[LIAISON_EN][0].text)
    assert [b.text for b in got[LIAISON_EN][0].flat_buttons] == ["📋 Open the request"]
    # Overdue: the admins over the member, once.
    clock.set(START + timedelta(days=14, minutes=15))
    await deadlines(db, clock)
    await deadlines(db, clock)
    got = await deliver()
    assert set(got) == {ADMIN, 9305}
    assert "⚠️ 服务申请 #1 已超过答复期限（2026-11-29 10:00）" in html_to_text(got[ADMIN][0].text)
    assert "经办人：无人办理" in html_to_text(got[ADMIN][0].text)
    assert "Service request #1 is past its target time" in html_to_text(got[9305][0].text)
    assert "Status: received" in html_to_text(got[9305][0].text)
    admin = person(application, bot_api, ADMIN)
    await press(admin, got[ADMIN][0], "request:card:1")
    assert "服务申请 #1：已受理 ⚠️超期" in admin.last_text
    assert "已超期，已报告管理员（内部）" in admin.last_text
