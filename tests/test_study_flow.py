"""/material, /study, /studied, /studyplan and the pushes' buttons, as people live them."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.botapi import BotApiError, Button, JSONDict, LocalBotApi, Outgoing
from bot.context import LiaisonApplication
from bot.drafts import PART_LENGTH
from bot.terminal import html_to_text
from messages.render import Renderer
from messages.study import study_message
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    AuditEvent,
    ChannelName,
    StaffRole,
    StudyMaterial,
    StudyReceipt,
    StudySchedule,
)
from storage.study import (
    MAX_BODY_LENGTH,
    MaterialView,
    PushOutcome,
    add_material,
    add_schedule,
    push_due_study,
)
from tests.chat import Person, said, talk
from tests.conftest import START
from tests.delivery import Deliver
from tests.factories import make_group, make_member, make_staff

LIAISON = 9101  # 李联络: 驻深圳 and 律师, Chinese
LIAISON_EN = 9102  # Li Wei: liaison of the same groups, English
ADMIN = 9103  # 钱主任: administrator of everything, Chinese
ADMIN_EN = 9104  # Admin Zhao: administrator of everything, English
ZHANG = 9201  # 张伟, 驻深圳, Telegram
WANG = 9202  # 王芳, 驻深圳, Telegram, English
LI_NA = 9203  # 李娜, 驻上海, Telegram
STRANGER = 424242
SHANGHAI = ZoneInfo("Asia/Shanghai")

SHENZHEN = "驻深圳党小组"
LAWYERS = "律师党小组"
SHANGHAI_GROUP = "驻上海党小组"
MONDAY_EVENING = datetime(2026, 11, 16, 19, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
async def district(db: Database) -> None:
    shenzhen = await make_group(db, START, SHENZHEN)
    lawyers = await make_group(db, START, LAWYERS)
    shanghai = await make_group(db, START, SHANGHAI_GROUP)
    await make_member(
        db, START, name="张伟", phone="+8613800000001", telegram_user_id=ZHANG, groups=[shenzhen]
    )
    await make_member(
        db,
        START,
        name="王芳",
        phone="+8613800000002",
        telegram_user_id=WANG,
        groups=[shenzhen],
        locale="en",
    )
    await make_member(db, START, name="<b>李强</b> & Co", phone="+8613800000003", groups=[shenzhen])
    await make_member(
        db, START, name="李娜", phone="+8613800000005", telegram_user_id=LI_NA, groups=[shanghai]
    )
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen, lawyers])
    await make_staff(
        db, START, telegram_user_id=LIAISON_EN, name="Li Wei", groups=[shenzhen], locale="en"
    )
    await make_staff(db, START, telegram_user_id=ADMIN, name="钱主任", role=StaffRole.ADMIN)
    await make_staff(
        db, START, telegram_user_id=ADMIN_EN, name="Zhao", role=StaffRole.ADMIN, locale="en"
    )


def person(application: LiaisonApplication, bot_api: LocalBotApi, user_id: int) -> Person:
    return Person(application, bot_api, user_id)


def toast(api: LocalBotApi) -> str | None:
    """The text of the last answer to a button press (a toast), if it had one."""
    answers = [params for method, params in api.calls if method == "answerCallbackQuery"]
    return answers[-1].get("text") if answers else None


async def press(who: Person, message: Outgoing, data: str) -> list[Outgoing]:
    """Press a button (maybe an old or forged one) under message."""
    return await who.send_update(who.updates.press(who.user, message, Button("x", data)))


async def press_in_chat(who: Person, message: Outgoing, button: Button) -> list[Outgoing]:
    """Press a button as Telegram sends the press: with the message's buttons as they are."""
    update = who.updates.press(who.user, message, button)
    update["callback_query"]["message"]["reply_markup"] = {
        "inline_keyboard": [
            [{"text": b.text, "callback_data": b.callback_data} for b in row]
            for row in message.buttons
        ]
    }
    return await who.send_update(update)


async def send_document(who: Person, name: str, caption: str | None = None) -> list[Outgoing]:
    """The person sends a file, as the Telegram app does (a document with an optional caption)."""
    api = who.api
    message: JSONDict = {
        "message_id": api.next_message_id(),
        "date": 0,
        "chat": {"id": who.user_id, "type": "private", "first_name": "x"},
        "from": who.user,
        "document": {"file_id": f"file-{name}", "file_unique_id": name, "file_name": name},
    }
    if caption is not None:
        message["caption"] = caption
    return await who.send_update({"update_id": api.next_update_id(), "message": message})


async def materials(db: Database) -> list[StudyMaterial]:
    async with db.session() as session:
        return list(await session.scalars(select(StudyMaterial).order_by(StudyMaterial.id)))


async def audit_actions(db: Database) -> list[str]:
    async with db.session() as session:
        return list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


async def library_material(
    db: Database, now: datetime, title: str, body: str = "学习内容。", **extra: object
) -> int:
    async with db.session() as session:
        row = await add_material(
            session,
            now,
            actor="cli:test",
            title=title,
            body=body,
            **extra,  # type: ignore[arg-type]
        )
        return row.id


async def push_to_shenzhen(db: Database, clock: FakeClock, deliver: Deliver) -> dict[int, Outgoing]:
    """A weekly Monday push planned on Sunday, run on Monday evening; the one message each
    chat got."""
    async with db.session() as session:
        await add_schedule(
            session,
            clock.now(),
            actor="cli:test",
            group=SHENZHEN,
            weekday=0,
            at="19:00",
            zone=SHANGHAI,
        )
    clock.set(MONDAY_EVENING)
    async with db.session() as session:
        [report] = await push_due_study(session, clock.now(), zone=SHANGHAI)
    assert report.outcome is PushOutcome.PUSHED
    return {chat: message for chat, [message] in (await deliver()).items()}


# --- /material ---------------------------------------------------------------------------------


async def test_a_liaison_adds_a_material_step_by_step(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    liaison = person(application, bot_api, LIAISON)
    body = "第一章 党员\n\n第一条 年满十八岁的<中国>工人 & 农民……"
    await talk(
        liaison,
        [
            ("/material", ["新学习资料 1/5：标题", "最多 200 字"]),
            (
                "学习  新党章",
                ["新学习资料 2/5：正文", "标题：学习 新党章", "也可以直接发送一个文件"],
            ),
            (body, ["新学习资料 3/5：链接（可跳过）"]),
            ("www.12371.cn", ["“www.12371.cn”不是网址", "http://"]),
        ],
    )
    assert liaison.button_texts == ["跳过 ➡️", "✖️ 取消"]
    await talk(
        liaison,
        [
            ("https://www.12371.cn/dangzhang", "新学习资料 4/5：标签（可跳过）"),
            ("党章，党史、" + " ".join(f"t{n}" for n in range(10)), "标签太多：最多 10 个"),
            ("党章 党史 党章", ["【学习资料】学习 新党章", body, "学习完后请按“已学习”"]),
        ],
    )
    assert "新学习资料 5/5：预览" in liaison.last_text
    assert "标签：党章、党史" in liaison.last_text
    assert "正文：" in liaison.last_text
    assert liaison.button_texts == ["💾 保存", "✖️ 取消"]
    # What the staff member typed is escaped in the preview, as in the push itself.
    assert any("&lt;中国&gt;工人 &amp; 农民" in o.text for o in liaison.last)
    await talk(
        liaison, [("💾 保存", ["✅ 学习资料 #1“学习 新党章”已放入资料库", "管理员会按推送计划"])]
    )
    [saved] = await materials(db)
    assert (saved.title, saved.body, saved.link, saved.tags) == (
        "学习 新党章",
        body,
        "https://www.12371.cn/dangzhang",
        "党章,党史",
    )
    assert await audit_actions(db) == ["study.material.add"]
    # The draft is over: its buttons no longer work.
    stale = await press(liaison, liaison.last[-1], "study:new:save")
    assert "这个按钮已经失效" in said(stale)
    assert len(await materials(db)) == 1


async def test_a_document_with_its_caption_and_skipped_steps_in_english(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    admin = person(application, bot_api, ADMIN_EN)
    await talk(admin, [("/material", "New study material 1/5: title"), ("Party rules", "2/5")])
    assert "You may also send a file" in admin.last_text
    replies = await send_document(admin, "rules.pdf", "The rules, chapter by chapter.")
    assert "New study material 3/5: link (optional)" in said(replies)
    await talk(
        admin,
        [
            ("Skip ➡️", "New study material 4/5: tags (optional)"),
            (
                "Skip ➡️",
                [
                    "Study material: Party rules",
                    "Attachment: rules.pdf",
                    "5/5: preview",
                    "Tags: none",
                    "with a “✅ Studied” button",
                ],
            ),
            (
                "💾 Save",
                ["Study material #1 “Party rules” is in the library", "/studyplan add GROUP"],
            ),
        ],
    )
    [saved] = await materials(db)
    assert (saved.body, saved.document_file_id, saved.document_name, saved.link, saved.tags) == (
        "The rules, chapter by chapter.",
        "file-rules.pdf",
        "rules.pdf",
        None,
        None,
    )


async def test_a_document_first_and_without_caption_keeps_everything(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    for user_id, expected in (
        (LIAISON, ["📎 已收到附件：讲稿.docx", "新学习资料 1/5", "请发送正文", "附件：讲稿.docx"]),
        (
            LIAISON_EN,
            [
                "📎 Attachment received: 讲稿.docx",
                "1/5",
                "send a few lines",
                "Attachment: 讲稿.docx",
            ],
        ),
    ):
        liaison = person(application, bot_api, user_id)
        await talk(liaison, [("/material", None)])
        # A document at the title step is kept; the title is still asked for.
        first = said(await send_document(liaison, "讲稿.docx"))
        assert expected[0] in first
        assert expected[1] in first
        await talk(liaison, [("党课讲稿", expected[3])])
        # A document again without caption: kept, and the text is asked for.
        assert expected[2] in said(await send_document(liaison, "讲稿.docx"))
        await talk(liaison, [("党课讲稿正文。", ["3/5"]), ("1", "4/5"), ("1", "5/5"), ("1", "#")])
    assert [(m.title, m.body, m.document_name) for m in await materials(db)] == [
        ("党课讲稿", "党课讲稿正文。", "讲稿.docx"),
        ("党课讲稿", "党课讲稿正文。", "讲稿.docx"),
    ]


async def test_bad_input_is_refused_and_nothing_is_lost(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    for user_id, words in (
        (
            LIAISON,
            (
                "标题太长",
                "请用文字输入标题",
                "正文太长",
                "网址太长",
                "标签只能是",
                "请按",
                "【学习资料】",
            ),
        ),
        (
            LIAISON_EN,
            (
                "The title is too long",
                "Please type the title as text",
                "Too long: at most 8000",
                "That address is too long",
                "Tags are short single words",
                "Please choose with the buttons",
                "Study material: 标题",
            ),
        ),
    ):
        staff = person(application, bot_api, user_id)
        await talk(staff, [("/material", None), ("题" * 201, words[0])])
        photo = await staff.send_update(staff.updates.photo(staff.user))
        assert words[1] in said(photo)
        await talk(staff, [("标题", "2/5"), ("字" * (MAX_BODY_LENGTH + 1), words[2])])
        # Typed a while later: a new text, not the rest of the refused paste.
        clock.advance(timedelta(seconds=10))
        await talk(
            staff,
            [
                ("正文", "3/5"),
                ("https://12371.cn/" + "a" * 500, words[3]),
                ("https://12371.cn/a", "4/5"),
                ("two-words, a/b", words[4]),
                ("党史", "5/5"),
            ],
        )
        # Typing at the preview: the buttons are asked for, the draft stays.
        await talk(staff, [("好的", [words[5], "5/5"])])
        assert words[6] not in staff.last_text  # the push preview is still just above
        await talk(staff, [("1", "#")])
    assert [(m.title, m.body, m.tags) for m in await materials(db)] == [
        ("标题", "正文", "党史")
    ] * 2


async def test_a_long_paste_arrives_in_parts_and_one_over_the_limit_is_dropped_whole(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    for user_id, part_word in ((LIAISON, "已收到 "), (LIAISON_EN, "Received ")):
        staff = person(application, bot_api, user_id)
        part = "学" * 4000
        await talk(staff, [("/material", None), ("长文", "2/5"), (part, part_word)])
        await talk(staff, [("习" * 100, "3/5")])
        await talk(staff, [("1", "4/5"), ("1", "5/5"), ("1", "#")])
        # Over the limit: refused, and the rest of that paste is not taken for a new text.
        await talk(staff, [("/material", None), ("太长", "2/5"), (part, part_word)])
        await talk(staff, [(part, "8000"), (part, None)])
        assert staff.last == []
        clock.advance(timedelta(seconds=10))
        await talk(staff, [("短一些的正文", "3/5"), ("1", "4/5"), ("1", "5/5"), ("1", "#")])
        # The "next" button ends a text of exactly one long part.
        await talk(staff, [("/material", None), ("一段", "2/5"), ("文" * PART_LENGTH, part_word)])
        await talk(staff, [("1", "3/5"), ("1", "4/5"), ("1", "5/5"), ("1", "#")])
    bodies = [len(m.body) for m in await materials(db)]
    assert bodies == [4101, 6, PART_LENGTH] * 2


async def test_a_file_after_a_long_text_takes_that_text(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    liaison = person(application, bot_api, LIAISON)
    await talk(liaison, [("/material", None), ("讲稿", "2/5"), ("讲" * PART_LENGTH, "已收到")])
    assert "3/5" in said(await send_document(liaison, "讲稿.pdf"))
    await talk(liaison, [("1", "4/5"), ("1", "5/5"), ("1", "#")])
    [saved] = await materials(db)
    assert (len(saved.body), saved.document_name) == (PART_LENGTH, "讲稿.pdf")


async def test_cancel_expiry_and_stale_buttons(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    for user_id, words in (
        (LIAISON, ("已取消，这份学习资料没有保存", "放了太久", "这个按钮已经失效", "✖️ 取消")),
        (
            LIAISON_EN,
            ("Cancelled; this study material", "too long and was dropped", "no longer", "✖️ Cancel"),
        ),
    ):
        staff = person(application, bot_api, user_id)
        await talk(staff, [("/material", None), ("标题", None)])
        question = staff.last[-1]
        await talk(staff, [(words[3], words[0])])
        assert words[2] in said(await press(staff, question, "study:new:skip"))
        await talk(staff, [("/material", None)])
        clock.advance(timedelta(hours=13))
        await talk(staff, [("标题", words[1])])
        await talk(staff, [("/material", "1/5"), ("/material", "1/5"), ("标题", "2/5")])
    assert await materials(db) == []


async def test_slash_cancel_leaves_the_draft(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    # /cancel reaches the conversation in progress, whichever feature it belongs to.
    liaison = Person(application, bot_api, LIAISON)
    await talk(
        liaison,
        [
            ("/material", None),
            ("标题", None),
            ("/cancel", "已取消，这份学习资料没有保存"),
            ("正文", "其他功能见 /help"),  # no longer taken as the text
        ],
    )
    assert await materials(db) == []


async def test_only_staff_add_materials_and_only_admins_plan_pushes(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    for user_id in (ZHANG, STRANGER):
        someone = person(application, bot_api, user_id)
        for command in ("/material", "/studied", f"/studied {SHENZHEN}", "/studyplan"):
            await talk(someone, [(command, "这个命令只供联络员使用")])
    await talk(person(application, bot_api, LIAISON), [("/studyplan", "只能由管理员安排")])
    await talk(
        person(application, bot_api, LIAISON_EN),
        [(f"/studyplan add {SHENZHEN} mon 19:00", "only administrators plan study pushes")],
    )
    async with db.session() as session:
        assert list(await session.scalars(select(StudySchedule))) == []


# --- pushes, "studied", /study ----------------------------------------------------------------


async def test_members_get_the_push_mark_it_studied_and_find_it_in_study(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    deliver: Deliver,
) -> None:
    long_text = "\n".join(
        f"第{n}段：学习党章，遵守党章，贯彻党章，维护党章。" * 3 for n in range(30)
    )
    first = await library_material(db, clock.now(), "学习新党章", long_text, tags=["党章"])
    sent = await push_to_shenzhen(db, clock, deliver)
    assert set(sent) == {ZHANG, WANG}  # 李强 has no Telegram (SMS), 李娜 is elsewhere
    assert "【学习资料】学习新党章" in html_to_text(sent[ZHANG].text)
    assert "…" in sent[ZHANG].text
    assert [(b.text, b.callback_data) for b in sent[ZHANG].flat_buttons] == [
        ("✅ 已学习", f"study:done:{first}"),
        ("📖 阅读全文", f"study:open:{first}"),
    ]
    assert "Study material: 学习新党章" in html_to_text(sent[WANG].text)
    assert [b.text for b in sent[WANG].flat_buttons] == ["✅ Studied", "📖 Read in full"]

    zhang = person(application, bot_api, ZHANG)
    wang = Person(application, bot_api, WANG, "王芳", "en")
    clock.advance(timedelta(hours=1))
    pressed = await press_in_chat(zhang, sent[ZHANG], sent[ZHANG].flat_buttons[0])
    assert toast(bot_api) == "已记录，谢谢您认真学习！"
    [edited] = [o for o in pressed if o.method == "editMessageReplyMarkup"]
    # The pressed button says so; "read in full" stays.
    assert [b.text for b in edited.flat_buttons] == ["✅ 已学习，谢谢", "📖 阅读全文"]
    await zhang.send_update(
        zhang.updates.press(zhang.user, sent[ZHANG], sent[ZHANG].flat_buttons[0])
    )
    assert toast(bot_api) == "已经记录过了，谢谢。"

    # A forwarded copy pressed by a member it was not sent to, or a stranger, or forged.
    for user_id in (LI_NA, STRANGER):
        other = person(application, bot_api, user_id)
        for button in sent[ZHANG].flat_buttons:
            assert (
                await other.send_update(other.updates.press(other.user, sent[ZHANG], button)) == []
            )
            assert toast(bot_api) == "这个按钮只对收到这份资料的党员本人有效。"
    assert await press(wang, sent[WANG], "study:done:999") == []
    assert toast(bot_api) == "This button only works for the member the material was sent to."

    # "Read in full": the whole text, and the button while not yet studied.
    opened = await wang.send_update(
        wang.updates.press(wang.user, sent[WANG], sent[WANG].flat_buttons[1])
    )
    text = said(opened)
    assert "第29段" in text
    assert "When you have studied it, please press “Studied”." in text
    await talk(wang, [("✅ Studied", None)])
    assert toast(bot_api) == "Noted. Thank you for studying it!"

    # /study: the latest first, with what is studied.
    second = await library_material(db, clock.now(), "党史<一>", "党史正文")
    clock.set(MONDAY_EVENING + timedelta(days=7))
    async with db.session() as session:
        await push_due_study(session, clock.now(), zone=SHANGHAI)
    await talk(
        zhang,
        [
            (
                "/study",
                [
                    "最近的学习资料",
                    "1. 党史<一>（2026-11-23）",
                    "2. 学习新党章（2026-11-16） ✅ 已学习",
                ],
            )
        ],
    )
    assert "党史&lt;一&gt;" in zhang.last[-1].text
    assert zhang.button_texts == ["📖 党史<一>", "✅ 学习新党章"]
    await talk(
        zhang,
        [("✅ 学习新党章", ["【学习资料】学习新党章", "第29段", "✅ 您已经学习过这份资料。"])],
    )
    assert zhang.last[-1].buttons == []
    await talk(zhang, [("/study", None), ("1", ["党史正文", "学习完后请按“已学习”"])])
    await talk(zhang, [("✅ 已学习", None)])
    assert toast(bot_api) == "已记录，谢谢您认真学习！"
    await talk(
        wang, [("/study", ["Recent study materials", "2. 学习新党章 (2026-11-16) ✅ studied"])]
    )

    async with db.session() as session:
        receipts = set(
            await session.execute(select(StudyReceipt.material_id, StudyReceipt.member_id))
        )
    assert {material for material, _ in receipts} == {first, second}
    assert len(receipts) == 3


async def test_study_for_those_without_materials(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    await talk(person(application, bot_api, ZHANG), [("/study", "还没有推送给您的学习资料")])
    await talk(
        Person(application, bot_api, WANG, "王芳", "en"),
        [("/study", "No study materials have been sent to you yet")],
    )
    await talk(
        person(application, bot_api, STRANGER),
        [("/study", ["只发给已绑定身份的党员", "/start 邀请码"])],
    )
    await talk(
        person(application, bot_api, ADMIN_EN),
        [("/study", "Study materials are for registered members")],
    )


async def test_a_material_with_a_document_sends_the_file_when_opened(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    deliver: Deliver,
) -> None:
    material_id = await library_material(
        db,
        clock.now(),
        "党课课件",
        "本周党课的课件见附件。",
        document_file_id="file-kejian",
        document_name="课件.pptx",
        link="https://www.12371.cn/kejian",
    )
    sent = await push_to_shenzhen(db, clock, deliver)
    push = html_to_text(sent[ZHANG].text)
    assert "附件：课件.pptx（按“阅读全文”获取）" in push
    assert "链接：https://www.12371.cn/kejian" in push
    zhang = person(application, bot_api, ZHANG)
    opened = await zhang.send_update(
        zhang.updates.press(zhang.user, sent[ZHANG], sent[ZHANG].flat_buttons[1])
    )
    assert [o.method for o in opened if o.method.startswith("send")] == [
        "sendMessage",
        "sendDocument",
    ]
    assert "附件：课件.pptx（见下一条消息）" in said(opened)
    [document] = [o for o in opened if o.method == "sendDocument"]
    assert (document.params["document"], document.text) == ("file-kejian", "党课课件")

    # A file Telegram no longer has: the member is told, the text was shown anyway.
    wang = Person(application, bot_api, WANG, "王芳", "en")
    bot_api.fail_next("sendDocument", BotApiError(400, "Bad Request: wrong file identifier"))
    opened = await press(wang, sent[WANG], f"study:open:{material_id}")
    assert "The attachment “课件.pptx” cannot be sent right now" in said(opened)
    bot_api.fail_next("sendDocument", BotApiError(400, "Bad Request: wrong file identifier"))
    assert "附件“课件.pptx”暂时发不出来" in said(
        await press(zhang, sent[ZHANG], f"study:open:{material_id}")
    )


def test_the_sms_version_is_short_and_points_to_the_bot(renderer: Renderer) -> None:
    material = MaterialView(1, "学习新党章", "第一章 党员。" * 40, "https://12371.cn/a", None)
    chinese, buttons = study_message(renderer, "zh_CN", ChannelName.SMS, material)
    assert buttons == ()
    assert chinese.startswith("【学习资料】学习新党章：第一章 党员。")
    assert chinese.endswith("https://12371.cn/a 全文请在机器人中发送 /study 查看。")
    assert len(chinese) < 160
    english, _ = study_message(renderer, "en", ChannelName.SMS, material)
    assert english.startswith("Study material: 学习新党章: ")
    assert english.endswith("Send /study to the bot for the full text.")


# --- /studied -------------------------------------------------------------------------------


async def test_staff_see_completion_of_their_groups_and_members_names_escaped(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    deliver: Deliver,
) -> None:
    await library_material(db, clock.now(), "学习新党章")
    sent = await push_to_shenzhen(db, clock, deliver)
    zhang = person(application, bot_api, ZHANG)
    await zhang.send_update(
        zhang.updates.press(zhang.user, sent[ZHANG], sent[ZHANG].flat_buttons[0])
    )

    liaison = person(application, bot_api, LIAISON)
    await talk(
        liaison,
        [
            (
                "/studied",
                [
                    "驻深圳党小组（3 人）",
                    "11-16 学习新党章：1/3 人已学习",
                    "律师党小组（0 人）",
                    "还没有推送过学习资料",
                    "/studied 党小组名称",
                ],
            ),
        ],
    )
    assert SHANGHAI_GROUP not in liaison.last_text
    await talk(
        liaison,
        [
            (
                f"/studied {SHENZHEN}",
                [
                    "驻深圳党小组：学习情况",
                    "已推送 1 份资料",
                    "<b>李强</b> & Co：0/1",
                    "张伟：1/1，最近 2026-11-16",
                ],
            ),
        ],
    )
    # A member's name is their own text: escaped for Telegram.
    assert "&lt;b&gt;李强&lt;/b&gt; &amp; Co" in liaison.last[-1].text
    await talk(liaison, [(f"/studied {SHANGHAI_GROUP}", "没有找到您负责的党小组“驻上海党小组”")])
    admin = person(application, bot_api, ADMIN_EN)
    await talk(
        admin,
        [
            (
                "/studied",
                [
                    "驻上海党小组 (1 member)",
                    "驻深圳党小组 (3 members)",
                    "1 of 3 studied",
                    "No study materials pushed yet",
                    "Each member: /studied GROUP NAME",
                ],
            ),
            (
                f"/studied {SHENZHEN}",
                ["驻深圳党小组: study", "Materials pushed: 1", "张伟: 1 of 1, last on 2026-11-16"],
            ),
            ("/studied 没有", "None of the groups you look after is called “没有”"),
        ],
    )
    # Every view is audited; a group that is not theirs showed nothing and is not.
    assert (await audit_actions(db)).count("study.completion.view") == 4


async def test_a_group_without_members_you_can_see_and_staff_without_groups(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await make_staff(db, START, telegram_user_id=9105, name="新联络员")
    await make_staff(db, START, telegram_user_id=9106, name="New", locale="en")
    await talk(person(application, bot_api, 9105), [("/studied", "您还没有负责的党小组")])
    await talk(
        person(application, bot_api, 9106), [("/studied", "You do not look after any group yet")]
    )
    await talk(
        person(application, bot_api, LIAISON),
        [(f"/studied {LAWYERS}", ["律师党小组：学习情况", "没有您能查看的党员"])],
    )
    await talk(
        person(application, bot_api, ADMIN_EN),
        [(f"/studied {LAWYERS}", "There are no members of this group you can see")],
    )


# --- /studyplan -------------------------------------------------------------------------------


async def test_an_admin_plans_lists_and_stops_pushes(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    lesson = await library_material(db, clock.now(), "十二月专题党课", tags=["专题"])
    admin = person(application, bot_api, ADMIN)
    await talk(
        admin,
        [
            (
                "/studyplan",
                [
                    "还没有学习资料推送计划",
                    f"#{lesson} 十二月专题党课（专题）",
                    "/studyplan add 党小组 周一 19:00",
                ],
            ),
            (
                f"/studyplan add {SHENZHEN} 周一 19:00",
                [
                    "✅ 推送计划 #1 驻深圳党小组：每星期一 19:00，推送资料库中下一份资料",
                    "Asia/Shanghai",
                    "第一次：2026-11-16 19:00（星期一）",
                ],
            ),
            (
                f"/studyplan add {LAWYERS} mon 8:30 专题",
                "每星期一 08:30，推送资料库中下一份标签为“专题”的资料",
            ),
            (
                f"/studyplan add {SHENZHEN} 2026-12-05 19:00 #{lesson}",
                f"2026-12-05 19:00，推送 #{lesson}“十二月专题党课”",
            ),
            (
                "/studyplan",
                [
                    "学习资料推送计划（Asia/Shanghai 时间）",
                    "#2 律师党小组：每星期一 08:30",
                    "下次：2026-11-16 19:00（星期一），已推送 0 次",
                    "下次：2026-12-05 19:00（星期六）",
                    "按下面的按钮可以停止一个计划",
                ],
            ),
        ],
    )
    assert sorted(admin.button_texts) == ["⏹ 停止 #1", "⏹ 停止 #2", "⏹ 停止 #3"]
    listing = admin.last[-1]
    [stop_one] = [b for b in listing.flat_buttons if b.text == "⏹ 停止 #1"]
    stopped = await press_in_chat(admin, listing, stop_one)
    assert "已停止推送计划 #1 驻深圳党小组：每星期一 19:00" in said(stopped)
    assert "以后不再推送" in said(stopped)
    [edited] = [o for o in stopped if o.method == "editMessageReplyMarkup"]
    assert sorted(b.text for b in edited.flat_buttons) == ["⏹ 停止 #2", "⏹ 停止 #3"]
    assert "推送计划 #1 已经停止了" in said(await press(admin, listing, "study:stop:1"))
    await talk(
        admin,
        [
            ("/studyplan stop 3", "已停止推送计划 #3"),
            ("/studyplan stop 99", "没有找到编号为 #99 的推送计划"),
        ],
    )
    async with db.session() as session:
        active = list(await session.scalars(select(StudySchedule.id).where(StudySchedule.active)))
    assert active == [2]
    actions = await audit_actions(db)
    assert actions.count("study.schedule.add") == 3
    assert actions.count("study.schedule.stop") == 2
    assert actions.count("study.plan.view") == 2


@pytest.mark.parametrize(
    ("typed", "zh", "en"),
    [
        ("", "/studyplan stop 编号", "/studyplan stop NUMBER"),
        ("add", "/studyplan add 党小组 2026-12-05 19:00 资料编号", "one material on one day"),
        ("stop x", "停止一个推送计划", "stop a push schedule"),
        ("frobnicate", "用法", "How to"),
        (
            "add 没有的小组 mon 19:00",
            "没有找到您负责的党小组“没有的小组”",
            "None of the groups you look after is called “没有的小组”",
        ),
        (f"add {SHENZHEN} mon 25:00", "用法", "How to"),
        (f"add {SHENZHEN} someday 19:00", "星期要写成", "Write the weekday as"),
        (f"add {SHENZHEN} 2026-02-30 19:00 1", "星期要写成", "a date like 2026-12-05"),
        (f"add {SHENZHEN} mon 19:00 two words", "标签只能是一个短词", "A tag is one short word"),
        (f"add {SHENZHEN} mon 19:00 a/b", "标签只能是一个短词", "A tag is one short word"),
        (
            f"add {SHENZHEN} 2026-12-05 19:00",
            "请在时间后面写资料编号",
            "write its number after the time",
        ),
        (
            f"add {SHENZHEN} 2026-12-05 19:00 99",
            "资料库里没有 #99 这份资料",
            "There is no material #99",
        ),
        (f"add {SHENZHEN} 2026-11-15 09:00 1", "这个时间已经过去了", "That time has passed"),
        (f"add {SHENZHEN} 2027-12-05 09:00 1", "请检查年份", "please check the year"),
        (f"add {SHENZHEN} 2026-12-05 09:00 2", "已经归档", "is archived"),
        (f"add {SHENZHEN} tue 19:00", "已经有同样的推送计划", "already has the same push"),
    ],
)
async def test_plans_that_cannot_be_made_are_explained(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    typed: str,
    zh: str,
    en: str,
) -> None:
    await library_material(db, clock.now(), "专题党课")
    archived = await library_material(db, clock.now(), "旧课")
    async with db.session() as session:
        row = await session.get(StudyMaterial, archived)
        assert row is not None
        row.archived_at = clock.now()
        await add_schedule(
            session,
            clock.now(),
            actor="cli:test",
            group=SHENZHEN,
            weekday=1,
            at="19:00",
            zone=SHANGHAI,
        )
    await talk(person(application, bot_api, ADMIN), [(f"/studyplan {typed}".strip(), zh)])
    await talk(person(application, bot_api, ADMIN_EN), [(f"/studyplan {typed}".strip(), en)])
    async with db.session() as session:
        assert len(list(await session.scalars(select(StudySchedule)))) == 1


async def test_plans_in_english(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    lesson = await library_material(db, clock.now(), "Party history", tags=["history"])
    admin = person(application, bot_api, ADMIN_EN)
    await talk(
        admin,
        [
            ("/studyplan", ["No study push schedules yet", f"#{lesson} Party history (history)"]),
            (
                f"/studyplan add {SHENZHEN} Monday 19:00 history",
                [
                    "✅ Push schedule #1 驻深圳党小组: every Monday at 19:00,",
                    "the library's next material tagged “history”",
                    "(Asia/Shanghai time)",
                    "First: 2026-11-16 19:00 (Monday)",
                ],
            ),
            (
                f"/studyplan add {SHENZHEN} 2026-12-05 9:00 {lesson}",
                f"2026-12-05 at 09:00, material #{lesson} “Party history”",
            ),
        ],
    )
    clock.set(datetime(2026, 12, 6, 10, 0, tzinfo=SHANGHAI))
    async with db.session() as session:
        reports = await push_due_study(session, clock.now(), zone=SHANGHAI)
    # The weekly push of 30 November is caught up; the one-off of yesterday too.
    assert [(r.schedule_id, r.outcome) for r in reports] == [
        (1, PushOutcome.PUSHED),
        (2, PushOutcome.PUSHED),
    ]
    await talk(
        admin,
        [
            (
                "/studyplan",
                [
                    "Study push schedules (Asia/Shanghai time)",
                    "next: 2026-12-07 19:00 (Monday), pushed 1 time",
                    "done, pushed 1 time",
                    "Use the buttons below to stop one.",
                ],
            ),
            ("⏹ Stop #2", "Stopped push schedule #2 驻深圳党小组: 2026-12-05 at 09:00"),
            ("/studyplan stop 2", "Push schedule #2 is already stopped."),
        ],
    )


async def test_help_lists_study_for_members_and_the_staff_commands_for_staff(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    liaison = person(application, bot_api, LIAISON)
    await talk(liaison, [("/help", ["/material — 添加学习资料", "/studied", "/studyplan"])])
    member = person(application, bot_api, ZHANG)
    await talk(member, [("/help", "/study — 学习资料")])
    assert "/material" not in member.last_text
    assert "/studyplan" not in member.last_text
