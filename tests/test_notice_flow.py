"""/notice, /notices, /deliveries, the "received" button and /linkgroup, as liaisons live them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import selectinload

from bot.botapi import Button, LocalBotApi, Outgoing
from bot.context import LiaisonApplication, Services
from bot.terminal import html_to_text
from messages.compose import NoticeView, notice_text
from storage.calendar import WhenError, parse_when
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    AuditEvent,
    ChannelName,
    Delivery,
    DeliveryStatus,
    Group,
    Member,
    Notice,
    NoticeReceipt,
    NoticeStatus,
    StaffRole,
    staff_groups,
)
from storage.notices import MAX_BODY_LENGTH, create_notice
from storage.outbox import enqueue_notice
from tests.chat import Person, said, talk
from tests.conftest import START
from tests.delivery import Deliver
from tests.factories import make_group, make_member, make_staff

LIAISON = 9101  # 李联络: 驻深圳党小组 and 律师党小组, Chinese
LIAISON_EN = 9102  # Li Wei: the same groups, English
OTHER = 9103  # 钱联络: 驻上海党小组 only
ZHANG = 9201  # 张伟, 驻深圳, on Telegram
WANG = 9202  # 王芳, 驻深圳 and 律师, on Telegram, English
LI_NA = 9203  # 李娜, 驻上海, on Telegram
STRANGER = 424242
CHAT = -100_200_300
SHANGHAI = ZoneInfo("Asia/Shanghai")

SHENZHEN = "驻深圳党小组"
LAWYERS = "律师党小组"
SHANGHAI_GROUP = "驻上海党小组"


@pytest.fixture(autouse=True)
async def district(db: Database) -> None:
    """Four members in the liaison's two groups (one by SMS, one unreachable), one elsewhere."""
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
        groups=[shenzhen, lawyers],
        locale="en",
    )
    await make_member(db, START, name="李强", phone="+8613800000003", groups=[shenzhen])
    await make_member(db, START, name="赵敏", phone=None, groups=[lawyers])
    await make_member(
        db, START, name="李娜", phone="+8613800000005", telegram_user_id=LI_NA, groups=[shanghai]
    )
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen, lawyers])
    await make_staff(
        db,
        START,
        telegram_user_id=LIAISON_EN,
        name="Li Wei",
        groups=[shenzhen, lawyers],
        locale="en",
    )
    await make_staff(db, START, telegram_user_id=OTHER, name="钱联络", groups=[shanghai])


@pytest.fixture
def liaison(application: LiaisonApplication, bot_api: LocalBotApi) -> Person:
    return Person(application, bot_api, LIAISON)


@pytest.fixture
def liaison_en(application: LiaisonApplication, bot_api: LocalBotApi) -> Person:
    return Person(application, bot_api, LIAISON_EN, language_code="en")


async def all_notices(db: Database) -> list[Notice]:
    async with db.session() as session:
        rows = await session.scalars(
            select(Notice).options(selectinload(Notice.groups)).order_by(Notice.id)
        )
        return list(rows)


async def audit_actions(db: Database) -> list[str]:
    async with db.session() as session:
        return list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def toast(api: LocalBotApi) -> str | None:
    """The text of the last answer to a button press (a toast), if it had one."""
    answers = [params for method, params in api.calls if method == "answerCallbackQuery"]
    return answers[-1].get("text") if answers else None


async def press(person: Person, message: Outgoing, data: str) -> str:
    """Press a button (maybe an old or forged one) under message; what the bot said."""
    return said(
        await person.send_update(person.updates.press(person.user, message, Button("x", data)))
    )


async def notice_by(
    db: Database, clock: FakeClock, *groups: str, author: str = "cli:test", **options: object
) -> int:
    async with db.session() as session:
        created = await create_notice(
            session,
            clock.now(),
            author=author,
            author_name="区委组织部",
            body="本月主题党日改到周六。",
            groups=groups,
            **options,  # type: ignore[arg-type]
        )
    return created.id


# --- the whole /notice ----------------------------------------------------------------------


async def test_a_notice_to_two_groups_sent_now(
    liaison: Person, bot_api: LocalBotApi, db: Database, services: Services, clock: FakeClock
) -> None:
    await talk(liaison, [("/notice", ["发通知 1/3：发给谁？", "可以选多个"])])
    assert liaison.button_texts == [
        LAWYERS,
        SHENZHEN,
        "所有我负责的党员",
        "下一步 ➡️",
        "✖️ 取消",
    ]
    await talk(liaison, [("下一步 ➡️", None)])
    assert toast(bot_api) == "请先选择至少一个党小组，或“所有我负责的党员”。"
    await talk(liaison, [(SHENZHEN, None), (LAWYERS, None)])
    assert liaison.button_texts[:2] == [f"✓ {LAWYERS}", f"✓ {SHENZHEN}"]
    await talk(liaison, [(f"✓ {LAWYERS}", None)])
    assert liaison.button_texts[:2] == [LAWYERS, f"✓ {SHENZHEN}"]
    body = "周六上午九点<b>党员之家</b>集合 & 签到\n\n请带党员证"
    await talk(
        liaison,
        [
            (LAWYERS, None),
            ("下一步 ➡️", ["发给：驻深圳党小组、律师党小组", "发通知 2/3：请输入通知内容"]),
        ],
    )
    # The group buttons' message became that question: one edit, nothing new sent.
    assert [o.method for o in liaison.last] == ["editMessageText"]
    await talk(
        liaison,
        [
            (
                body,
                [
                    "【通知】",
                    body,
                    "—— 李联络，2026-11-15",
                    "发通知 3/3：预览",
                    "收件人：4 人",
                    "Telegram：2 人",
                    "短信：1 人",
                    "联系不到（未绑定 Telegram，也没有手机号）：1 人",
                ],
            ),
        ],
    )
    # The preview opens with the very message members get, markup typed by the liaison
    # escaped; who gets it and the choices follow in the same message.
    [preview] = liaison.messages
    view = NoticeView(id=0, body=body, author_name="李联络", urgent=False, sent_at=clock.now())
    shown = notice_text(services.renderer, "zh_CN", view, ChannelName.TELEGRAM, SHANGHAI)
    assert preview.text.startswith(shown + "\n\n")
    assert "&lt;b&gt;党员之家&lt;/b&gt;集合 &amp; 签到" in preview.text
    assert "同时发到" not in preview.text
    assert liaison.button_texts == ["📤 立即发送", "🕘 定时发送", "⚠️ 标为紧急", "✖️ 取消"]

    await talk(
        liaison,
        [("📤 立即发送", ["✅ 通知 #1 正在发给：驻深圳党小组、律师党小组", "/deliveries 1"])],
    )
    [notice] = await all_notices(db)
    assert notice.body == body
    assert {g.name for g in notice.groups} == {SHENZHEN, LAWYERS}
    assert (notice.everyone, notice.urgent, notice.status) == (False, False, NoticeStatus.SCHEDULED)
    assert notice.send_at == clock.now()
    assert notice.author_name == "李联络"
    assert notice.author == f"staff:{notice.scope_staff_id}"
    assert await audit_actions(db) == ["notice.create"]
    # The preview's buttons are gone: pressing one again does nothing but say so, and
    # leaves the preview as it is.
    calls = len(bot_api.calls)
    assert (
        await press(liaison, preview, "notice:send")
        == "这个按钮已经失效。要发通知，请发送 /notice。"
    )
    assert [method for method, _ in bot_api.calls[calls:]] == [
        "answerCallbackQuery",
        "sendMessage",
    ]
    assert len(await all_notices(db)) == 1


async def test_all_my_members_and_urgent_in_english(
    liaison_en: Person, bot_api: LocalBotApi, db: Database
) -> None:
    await talk(liaison_en, [("/notice", "New notice 1/3: who should get it?"), ("Next ➡️", None)])
    assert toast(bot_api) == "Please choose at least one group, or “all my members”."
    # A group and "all my members" exclude each other.
    await talk(liaison_en, [(SHENZHEN, None), ("All my members", None)])
    assert liaison_en.button_texts[:3] == [LAWYERS, SHENZHEN, "✓ All my members"]
    await talk(liaison_en, [(SHENZHEN, None)])
    assert liaison_en.button_texts[:3] == [LAWYERS, f"✓ {SHENZHEN}", "All my members"]
    await talk(
        liaison_en,
        [
            ("All my members", None),
            ("Next ➡️", ["To: all my members", "New notice 2/3: type the text", "at most 8000"]),
            (
                "Meeting on Saturday <9 am>",
                [
                    "[Notice]",
                    "Meeting on Saturday <9 am>",
                    "— Li Wei, 2026-11-15",
                    "Recipients: 4",
                    "• Telegram: 2",
                    "• SMS: 1",
                    "cannot be reached (no Telegram, no phone number): 1",
                ],
            ),
            (
                "⚠️ Mark urgent",
                ["[URGENT NOTICE]", "Above is exactly what members will see (marked urgent)"],
            ),
        ],
    )
    assert liaison_en.button_texts == ["📤 Send now", "🕘 Schedule", "Not urgent", "✖️ Cancel"]
    await talk(
        liaison_en,
        [("📤 Send now", ["Notice #1 is on its way to all my members", "/deliveries 1"])],
    )
    [notice] = await all_notices(db)
    assert (notice.everyone, notice.urgent, notice.groups) == (True, True, [])
    assert notice.author_name == "Li Wei"


async def test_a_scheduled_notice_then_cancelled_from_the_list(
    liaison: Person, bot_api: LocalBotApi, db: Database
) -> None:
    await talk(
        liaison,
        [
            ("/notice", None),
            (SHENZHEN, None),
            ("下一步 ➡️", None),
            ("本月主题党日改到周六", "预览"),
            ("🕘 定时发送", ["什么时候发送", "Asia/Shanghai 时间", "明天 9:00"]),
            ("下周一早上", ["看不懂“下周一早上”", "12-01 09:00"]),
            ("11-15 09:00", "“11-15 09:00”已经过去了"),
            ("2028-01-01 09:00", "在一年以后，请检查年份"),
            (
                "明天 9点半",
                [
                    "✅ 通知 #1 将在 2026-11-16 09:30（星期一，Asia/Shanghai 时间）",
                    "发给：驻深圳党小组",
                ],
            ),
        ],
    )
    assert liaison.button_texts == ["✖️ 取消这条通知"]
    [notice] = await all_notices(db)
    assert notice.send_at == datetime(2026, 11, 16, 1, 30, tzinfo=UTC)
    assert notice.status is NoticeStatus.SCHEDULED

    await talk(
        liaison,
        [
            (
                "/notices",
                ["待发送的通知", "#1 2026-11-16 09:30 → 驻深圳党小组", "本月主题党日改到周六"],
            )
        ],
    )
    assert "最近的通知" not in liaison.last_text
    listing = liaison.last[-1]
    assert liaison.button_texts == ["✖️ 取消 #1（2026-11-16 09:30）"]
    await talk(liaison, [("✖️ 取消 #1（2026-11-16 09:30）", "已取消通知 #1，它不会发出。")])
    [notice] = await all_notices(db)
    assert notice.status is NoticeStatus.CANCELLED
    # The button is taken off the list; an old copy of it is harmless.
    assert any(o.method == "editMessageReplyMarkup" and not o.buttons for o in liaison.last)
    assert await press(liaison, listing, "notice:stop:1") == "通知 #1 已经取消过了。"
    await talk(
        liaison,
        [("/notices", ["最近的通知", "#1 2026-11-16 09:30 已取消 → 驻深圳党小组（李联络）"])],
    )
    assert await audit_actions(db) == ["notice.create", "notice.cancel"]


async def test_scheduling_and_cancelling_in_english(
    liaison_en: Person, db: Database, clock: FakeClock, deliver: Deliver
) -> None:
    await talk(
        liaison_en,
        [
            ("/notices", "No notices yet. Send /notice to write one."),
            ("/notice", None),
            (LAWYERS, None),
            ("Next ➡️", None),
            ("Bring your documents.", "preview"),
            ("🕘 Schedule", ["When should it go?", "tomorrow 9:00"]),
            ("yesterday 9:00", ["I cannot read “yesterday 9:00”", "24-hour clock"]),
            ("today 9:00", "“today 9:00” has already passed"),
            ("2030-01-01 09:00", "more than a year away"),
            (
                "12-01 08:00",
                [
                    "✅ Notice #1 will go to 律师党小组",
                    "on 2026-12-01 08:00 (Tuesday, Asia/Shanghai time)",
                ],
            ),
        ],
    )
    created = liaison_en.last[-1]
    soon = await notice_by(db, clock, LAWYERS, send_at=clock.now() + timedelta(hours=1))
    other = await notice_by(db, clock, SHANGHAI_GROUP, send_at=clock.now() + timedelta(hours=1))
    await talk(
        liaison_en,
        [
            (
                "/notices",
                ["Scheduled notices", "#2 2026-11-15 11:00 → 律师党小组", "#1 2026-12-01 08:00"],
            )
        ],
    )
    assert f"#{other}" not in liaison_en.last_text  # another liaison's group
    listing = liaison_en.last[-1]
    # #2 came from the command line: only its author or an administrator may cancel it.
    assert liaison_en.button_texts == ["✖️ Cancel #1 (2026-12-01 08:00)"]
    # #2 goes before the liaison presses its button.
    clock.advance(timedelta(hours=1))
    await deliver()
    text = await press(liaison_en, listing, f"notice:stop:{soon}")
    assert text == (
        f"Notice #{soon} has already been sent and can no longer be cancelled. "
        f"Who got it: /deliveries {soon}"
    )
    assert await press(liaison_en, listing, f"notice:stop:{other}") == (
        "That notice was not found. Send /notices to see yours."
    )
    assert (
        await press(liaison_en, created, "notice:stop:1")
        == "Notice #1 is cancelled; it will not be sent."
    )
    await talk(
        liaison_en,
        [
            (
                "/notices",
                [
                    "Recent notices",
                    f"#{soon} 2026-11-15 11:00 Sent → 律师党小组 (区委组织部)",
                    "#1 2026-12-01 08:00 Cancelled",
                ],
            )
        ],
    )
    statuses = {n.id: n.status for n in await all_notices(db)}
    # The other liaison's notice went too: due is due.
    assert statuses == {
        1: NoticeStatus.CANCELLED,
        soon: NoticeStatus.SENT,
        other: NoticeStatus.SENT,
    }


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-12-01 09:00", datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)),
        ("2026/12/1 9:05", datetime(2026, 12, 1, 9, 5, tzinfo=SHANGHAI)),
        ("2026年12月1日 9点", datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)),
        ("2026年12月1日9点30分", datetime(2026, 12, 1, 9, 30, tzinfo=SHANGHAI)),
        ("2026-12-01T21:00", datetime(2026, 12, 1, 21, 0, tzinfo=SHANGHAI)),
        ("12-01 09:00", datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)),
        (
            "１２－０１　０９：００",
            datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI),
        ),  # a Chinese keyboard's full width
        (
            "01-05 08:00",
            datetime(2027, 1, 5, 8, 0, tzinfo=SHANGHAI),
        ),  # that day has passed this year
        ("明天 9:00", datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI)),
        ("明天9点半", datetime(2026, 11, 16, 9, 30, tzinfo=SHANGHAI)),
        ("后天 18:00", datetime(2026, 11, 17, 18, 0, tzinfo=SHANGHAI)),
        ("Tomorrow 7:15", datetime(2026, 11, 16, 7, 15, tzinfo=SHANGHAI)),
        ("today 23:59", datetime(2026, 11, 15, 23, 59, tzinfo=SHANGHAI)),
        ("15:00", datetime(2026, 11, 15, 15, 0, tzinfo=SHANGHAI)),
    ],
)
def test_the_time_forms_a_liaison_may_type(typed: str, expected: datetime) -> None:
    assert parse_when(typed, START, SHANGHAI) == expected


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("下午3点", "unreadable"),  # 24-hour clock only: never guessed
        ("明天", "unreadable"),
        ("02-30 09:00", "unreadable"),
        ("明天 24:00", "unreadable"),
        ("12-01 9:60", "unreadable"),
        ("soon", "unreadable"),
        ("09:00", "past"),
        ("2026-11-15 10:00", "past"),  # now, exactly
        ("2027-12-01 09:00", "too_far"),
    ],
)
def test_times_that_are_refused(typed: str, reason: str) -> None:
    with pytest.raises(WhenError) as refused:
        parse_when(typed, START, SHANGHAI)
    assert refused.value.reason == reason


# --- the text: empty, too long, several parts ---------------------------------------------


async def test_empty_and_oversized_text_is_refused_and_asked_again(
    liaison: Person, db: Database, clock: FakeClock
) -> None:
    await talk(
        liaison,
        [
            ("/notice", None),
            (SHENZHEN, None),
            ("下一步 ➡️", None),
        ],
    )
    # Telegram never sends an empty message; one of blank lines it does.
    blank = await liaison.send_update(liaison.updates.text(liaison.user, " \n "))
    assert said(blank) == "通知内容是空的，请输入要发送的文字。"
    await talk(
        liaison,
        [
            (
                "长" * (MAX_BODY_LENGTH + 1),
                ["通知太长：最多 8000 字，这次有 8001 字", "已选的收件人不变"],
            )
        ],
    )
    assert liaison.button_texts == ["✖️ 取消"]
    clock.advance(timedelta(minutes=2))
    await talk(
        liaison, [("周六开会", ["【通知】", "周六开会", "发给：驻深圳党小组", "收件人：3 人"])]
    )
    assert await all_notices(db) == []


async def test_a_long_paste_arrives_in_parts_and_is_joined(
    liaison: Person, db: Database, clock: FakeClock
) -> None:
    # Telegram's app sends a 5,000-character paste as two messages.
    first, rest = "第一段。" * 1024, "第二段。" * 226
    await talk(
        liaison,
        [
            ("/notice", None),
            (SHENZHEN, None),
            ("下一步 ➡️", None),
            (first, ["已收到 4096 字", "如果已经写完，请按“预览”"]),
            (rest, ["【通知】", "发通知 3/3：预览"]),
        ],
    )
    # The preview itself is longer than one message: split, as members will get it, the
    # choices under its last part.
    assert [o.method for o in liaison.last].count("sendMessage") == 2
    assert sum(html_to_text(o.text).count("第二段") for o in liaison.last) == 226
    await talk(liaison, [("📤 立即发送", "正在发给")])
    [notice] = await all_notices(db)
    assert notice.body == f"{first}\n{rest}"


async def test_a_paste_over_the_limit_is_dropped_with_all_its_parts(
    liaison: Person, db: Database, clock: FakeClock
) -> None:
    await talk(
        liaison,
        [
            ("/notice", None),
            (SHENZHEN, None),
            ("下一步 ➡️", None),
            ("甲" * 4096, "已收到 4096 字"),
            ("乙" * 4096, "通知太长：最多 8000 字，这次有 8193 字"),
        ],
    )
    # The third part of the same paste is not taken for a new, shorter notice.
    assert await liaison.say("丙" * 900) == []
    clock.advance(timedelta(minutes=1))
    await talk(
        liaison,
        [
            ("甲" * 3500, "已收到 3500 字"),
            ("👀 预览", ["【通知】", "收件人：3 人"]),
            ("📤 立即发送", "正在发给"),
        ],
    )
    [notice] = await all_notices(db)
    assert notice.body == "甲" * 3500


async def test_text_refusals_and_parts_in_english(liaison_en: Person, clock: FakeClock) -> None:
    await talk(
        liaison_en,
        [
            ("/notice", None),
            (SHENZHEN, None),
            ("Next ➡️", None),
        ],
    )
    blank = await liaison_en.send_update(liaison_en.updates.text(liaison_en.user, "  "))
    assert said(blank) == "The notice is empty. Please type the text to send."
    await talk(
        liaison_en,
        [
            (
                "x" * 9000,
                "Too long: at most 8000 characters, this had 9000, and none of it was kept.",
            ),
        ],
    )
    clock.advance(timedelta(minutes=1))
    await talk(
        liaison_en,
        [
            ("y" * 5000, ["Got 5000 characters", "If that was all, press “Preview”"]),
            ("👀 Preview", ["[Notice]", "Recipients: 3"]),
        ],
    )


# --- leaving: buttons, /cancel, stale buttons, time, scope ---------------------------------

TO_EACH_STEP = [
    ("/notice", "发通知 1/3"),
    (SHENZHEN, None),
    ("下一步 ➡️", "发通知 2/3"),
    ("开会", "发通知 3/3"),
    ("🕘 定时发送", "什么时候发送"),
]


@pytest.mark.parametrize("steps", [1, 3, 4, 5])
async def test_cancel_button_at_any_step_sends_nothing(
    liaison: Person, db: Database, steps: int
) -> None:
    await talk(liaison, TO_EACH_STEP[:steps])
    question = liaison.last[-1]
    await talk(liaison, [("✖️ 取消", "已取消，这条通知没有发出。需要时再发送 /notice。")])
    assert await all_notices(db) == []
    # The conversation is over: its old buttons and typed lines do nothing.
    assert (
        await press(liaison, question, "notice:send")
        == "这个按钮已经失效。要发通知，请发送 /notice。"
    )
    assert (
        await press(liaison, question, "notice:next")
        == "这个按钮已经失效。要发通知，请发送 /notice。"
    )
    assert await all_notices(db) == []


async def test_cancel_and_stale_buttons_in_english(liaison_en: Person, db: Database) -> None:
    await talk(liaison_en, [("/notice", None), (SHENZHEN, None)])
    choice = liaison_en.last[-1]
    await talk(liaison_en, [("✖️ Cancel", "Cancelled; this notice was not sent.")])
    assert await press(liaison_en, choice, "notice:next") == (
        "This button no longer works. To send a notice, send /notice."
    )
    assert await all_notices(db) == []


async def test_slash_cancel_leaves_the_draft(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    # /cancel reaches the conversation in progress, whichever feature it belongs to.
    liaison = Person(application, bot_api, LIAISON)
    await talk(
        liaison,
        [
            ("/notice", None),
            (SHENZHEN, None),
            ("下一步", None),
            ("/cancel", "已取消，这条通知没有发出"),
            ("/cancel", "没有正在进行"),
            ("开会", "其他功能见 /help"),  # no longer taken as the text
        ],
    )
    assert await all_notices(db) == []


async def test_unexpected_input_is_answered_with_the_step_again(
    liaison: Person, liaison_en: Person, db: Database
) -> None:
    await talk(liaison, [("/notice", None), ("随便说说", ["请按消息下面的按钮选择", "发通知 1/3"])])
    await talk(liaison, [(SHENZHEN, None), ("下一步 ➡️", None)])
    photo = await liaison.send_update(liaison.updates.photo(liaison.user))
    assert "请直接输入通知的文字" in said(photo)
    assert "发通知 2/3" in said(photo)
    await talk(liaison, [("开会", "【通知】")])
    # The preview's choices again, without the notice a second time.
    await talk(liaison, [("好的", ["请按消息下面的按钮选择", "发通知 3/3"])])
    assert "【通知】" not in liaison.last_text
    await talk(liaison, [("🕘 定时发送", "什么时候发送")])
    sticker = await liaison.send_update(liaison.updates.sticker(liaison.user))
    assert "请用文字输入发送时间" in said(sticker)

    await talk(liaison_en, [("/notice", None), (SHENZHEN, None), ("Next ➡️", None), ("Hi", None)])
    await talk(liaison_en, [("ok", "Please choose with the buttons under the message.")])
    await talk(liaison_en, [("🕘 Schedule", None)])
    sticker = await liaison_en.send_update(liaison_en.updates.sticker(liaison_en.user))
    assert "Please type the time as text" in said(sticker)
    await talk(liaison_en, [("/notice", None), (SHENZHEN, None), ("Next ➡️", None)])
    photo = await liaison_en.send_update(liaison_en.updates.photo(liaison_en.user))
    assert "Please type the text of the notice" in said(photo)
    assert await all_notices(db) == []


async def test_notice_again_midway_starts_over(liaison: Person, db: Database) -> None:
    await talk(liaison, [("/notice", None), (SHENZHEN, None), ("下一步 ➡️", None)])
    old = liaison.last[-1]
    await talk(liaison, [("/notice", "发通知 1/3")])
    assert liaison.button_texts[1] == SHENZHEN  # nothing chosen in the new draft
    # An old cancel button does not cancel the new draft.
    assert (
        await press(liaison, old, "notice:quit") == "这个按钮已经失效。要发通知，请发送 /notice。"
    )
    await talk(liaison, [(SHENZHEN, None), ("下一步 ➡️", "发通知 2/3")])


async def test_an_abandoned_draft_expires(
    liaison: Person, liaison_en: Person, clock: FakeClock, db: Database
) -> None:
    await talk(liaison, [("/notice", None), (SHENZHEN, None), ("下一步", None)])
    await talk(liaison_en, [("/notice", None), (SHENZHEN, None)])
    clock.advance(timedelta(hours=13))
    await talk(liaison, [("周六开会", ["上次写的通知放了太久，已经作废", "/notice"])])
    await talk(liaison_en, [("Next", "Your last notice was left unfinished for too long")])
    assert await all_notices(db) == []


async def test_a_group_taken_away_meanwhile_is_not_sent_to(
    liaison: Person, liaison_en: Person, db: Database
) -> None:
    for person, steps in (
        (liaison, [("/notice", None), (LAWYERS, None), ("下一步 ➡️", None), ("开会", None)]),
        (liaison_en, [("/notice", None), (LAWYERS, None), ("Next ➡️", None), ("Hi", None)]),
    ):
        await talk(person, steps)
    async with db.session() as session:
        lawyers = await session.scalar(select(Group.id).where(Group.name == LAWYERS))
        await session.execute(delete(staff_groups).where(staff_groups.c.group_id == lawyers))
    await talk(
        liaison, [("📤 立即发送", ["通知没有发出：所选的党小组已经不归您负责了", "/notice"])]
    )
    await talk(liaison_en, [("📤 Send now", "a group you chose is no longer one you look after")])
    assert await all_notices(db) == []


async def test_a_liaison_without_groups_reaches_nobody(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await make_staff(db, START, telegram_user_id=9104, name="新联络员")
    await make_staff(db, START, telegram_user_id=9105, name="New", locale="en")
    for user_id, language, lines in (
        (
            9104,
            "zh-hans",
            [
                ("/notice", "您还没有负责的党小组"),
                ("所有我负责的党员", None),
                ("下一步 ➡️", None),
                ("开会", "所选范围里没有党员，也没有关联的群聊，这条通知发不出去"),
            ],
        ),
        (
            9105,
            "en",
            [
                ("/notice", "You do not look after any group yet"),
                ("All my members", None),
                ("Next ➡️", None),
                ("Hi", "this notice would reach nobody"),
            ],
        ),
    ):
        person = Person(application, bot_api, user_id, language_code=language)
        await talk(person, lines)
        assert len(person.button_texts) == 1  # cancel only
    assert await all_notices(db) == []


async def test_an_administrator_with_many_groups_is_told_of_the_rest(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    for number in range(60):
        await make_group(db, START, f"党小组{number:02d}")
    await make_staff(db, START, telegram_user_id=9106, name="管理员", role=StaffRole.ADMIN)
    admin = Person(application, bot_api, 9106)
    await talk(admin, [("/notice", ["另有 3 个党小组没有列出", "liaison notice send --group"])])
    assert len(admin.button_texts) == 60 + 3


# --- /deliveries -------------------------------------------------------------------------


async def deliveries_of(db: Database, clock: FakeClock, notice_id: int) -> None:
    """Enqueue, then put the rows into the states a day of sending might leave."""
    async with db.session() as session:
        await session.execute(update(Group).where(Group.name == SHENZHEN).values(chat_id=CHAT))
        await enqueue_notice(session, clock.now(), notice_id)
    outcomes = {
        "张伟": (DeliveryStatus.DELIVERED, None),
        "王芳": (DeliveryStatus.FAILED, "403 Forbidden: bot was blocked by the user <sic>"),
        "李强": (DeliveryStatus.SENT, None),
    }
    async with db.session() as session:
        for name, (status, error) in outcomes.items():
            member_id = select(Member.id).where(Member.name == name).scalar_subquery()
            await session.execute(
                update(Delivery)
                .where(Delivery.member_id == member_id)
                .values(status=status, last_error=error)
            )
        zhang = await session.scalar(select(Member.id).where(Member.name == "张伟"))
        session.add(
            NoticeReceipt(notice_id=notice_id, member_id=zhang, acknowledged_at=clock.now())
        )


async def test_deliveries_report_in_both_languages(
    liaison: Person, liaison_en: Person, db: Database, clock: FakeClock
) -> None:
    notice_id = await notice_by(db, clock, SHENZHEN, LAWYERS)
    await deliveries_of(db, clock, notice_id)
    await talk(
        liaison,
        [
            (
                f"/deliveries {notice_id}",
                [
                    f"通知 #{notice_id} 的送达情况",
                    "已发出：2026-11-15 10:00",
                    "发给：律师党小组、驻深圳党小组",
                    "发送人：区委组织部",
                    "收件人：4 人，共 5 条消息",
                    "• 等待发送：1",
                    "• 正在发送：0",
                    "• 已发出：1",
                    "• 已送达：1",
                    "• 失败：1",
                    "• 未发送：1",
                    "• Telegram：已送达 1，失败 1",
                    "• 短信：已发出 1",
                    "• 群聊：等待发送 1",
                    "• 联系不到：未发送 1",
                    "没有送达的原因",
                    "1 条：403 Forbidden: bot was blocked by the user <sic>",
                    "1 条：no way to reach",
                    "已确认收到：1 / 4 人",
                    "张伟",
                ],
            )
        ],
    )
    assert "&lt;sic&gt;" in liaison.last[-1].text
    await talk(
        liaison_en,
        [
            (
                f"/deliveries #{notice_id}",
                [
                    f"Notice #{notice_id}: deliveries",
                    "Sent: 2026-11-15 10:00",
                    "Recipients: 4, messages: 5",
                    "• waiting: 1",
                    "• sending: 0",
                    "• delivered: 1",
                    "• Telegram: delivered 1, failed 1",
                    "• group chat: waiting 1",
                    "• cannot be reached: not sent 1",
                    "Why some did not arrive",
                    "Acknowledged: 1 of 4",
                ],
            )
        ],
    )
    assert await audit_actions(db) == ["notice.create", *["notice.deliveries.view"] * 2]


async def test_deliveries_of_scheduled_cancelled_and_foreign_notices(
    liaison: Person, liaison_en: Person, db: Database, clock: FakeClock
) -> None:
    later = await notice_by(db, clock, SHENZHEN, send_at=clock.now() + timedelta(days=1))
    dropped = await notice_by(db, clock, SHENZHEN, send_at=clock.now() + timedelta(days=1))
    async with db.session() as session:
        await session.execute(
            update(Notice).where(Notice.id == dropped).values(status=NoticeStatus.CANCELLED)
        )
    foreign = await notice_by(db, clock, SHANGHAI_GROUP)
    await talk(
        liaison,
        [
            (f"/deliveries {later}", ["定时发送：2026-11-16 10:00", "还没有发出"]),
            (f"/deliveries {dropped}", ["已取消：", "这条通知已取消，没有发出"]),
            ("/deliveries", ["用法：/deliveries 通知编号", "/deliveries 12"]),
            ("/deliveries 第一条", "用法"),
            (f"/deliveries {foreign}", f"没有找到通知 #{foreign}"),
        ],
    )
    outside = liaison.last_text.replace(str(foreign), "N")
    await talk(liaison, [("/deliveries 999", None)])
    assert liaison.last_text.replace("999", "N") == outside
    await talk(
        liaison_en,
        [
            (f"/deliveries {later}", ["Scheduled: 2026-11-16 10:00", "Not sent yet"]),
            (f"/deliveries {dropped}", "This notice was cancelled and not sent."),
            ("/deliveries", ["Usage: /deliveries NUMBER"]),
            (f"/deliveries {foreign}", f"Notice #{foreign} was not found."),
        ],
    )


# --- the "received" button ---------------------------------------------------------------


async def test_members_acknowledge_with_the_button_on_the_real_message(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    liaison: Person,
    deliver: Deliver,
) -> None:
    await talk(
        liaison,
        [
            ("/notice", None),
            (SHENZHEN, None),
            ("下一步 ➡️", None),
            ("周六开会", None),
            ("📤 立即发送", "#1"),
        ],
    )
    got = await deliver()
    [to_zhang], [to_wang] = got[ZHANG], got[WANG]
    zhang, wang = (
        Person(application, bot_api, ZHANG),
        Person(application, bot_api, WANG, "王芳", "en"),
    )
    [button] = to_zhang.flat_buttons
    assert (button.text, button.callback_data) == ("✅ 收到", "notice:ack:1")

    pressed = await zhang.send_update(zhang.updates.press(zhang.user, to_zhang, button))
    assert toast(bot_api) == "已确认收到，谢谢！"
    [edited] = [o for o in pressed if o.method == "editMessageReplyMarkup"]
    assert [b.text for b in edited.flat_buttons] == ["✅ 已确认收到"]
    # Pressing twice is harmless.
    await zhang.send_update(zhang.updates.press(zhang.user, to_zhang, button))
    assert toast(bot_api) == "已经确认过了，谢谢。"
    [wang_button] = to_wang.flat_buttons
    await wang.send_update(wang.updates.press(wang.user, to_wang, wang_button))
    assert toast(bot_api) == "Thank you, noted as received."

    # A forwarded copy pressed by a stranger, or by a member it was not sent to.
    for user_id in (STRANGER, LI_NA):
        other = Person(application, bot_api, user_id)
        replies = await other.send_update(other.updates.press(other.user, to_zhang, button))
        assert toast(bot_api) == "这个按钮只对收到这条通知的党员本人有效。"
        assert replies == []
    forged = await wang.send_update(
        wang.updates.press(wang.user, to_wang, Button("x", "notice:ack:999"))
    )
    assert forged == []
    assert toast(bot_api) == "This button only works for the member the notice was sent to."

    async with db.session() as session:
        receipts = list(await session.scalars(select(NoticeReceipt.member_id)))
    assert len(receipts) == 2
    await talk(liaison, [("/deliveries 1", ["已确认收到：2 / 3 人", "张伟、王芳"])])


async def test_acknowledging_names_are_escaped_for_staff(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    group = await make_group(db, START, SHENZHEN)
    await make_member(
        db, START, name="<b>Bad</b> & Co", phone=None, telegram_user_id=9301, groups=[group]
    )
    notice_id = await notice_by(db, clock, SHENZHEN)
    async with db.session() as session:
        await enqueue_notice(session, clock.now(), notice_id)
    member = Person(application, bot_api, 9301)
    message = Outgoing(
        "sendMessage", 9301, 1, "【通知】", None, [[Button("✅ 收到", f"notice:ack:{notice_id}")]]
    )
    await member.send_update(member.updates.press(member.user, message, message.flat_buttons[0]))
    liaison = Person(application, bot_api, LIAISON)
    await talk(liaison, [(f"/deliveries {notice_id}", ["已确认收到：1 / 4 人", "<b>Bad</b> & Co"])])
    assert "&lt;b&gt;Bad&lt;/b&gt; &amp; Co" in liaison.last[-1].text


# --- /linkgroup ----------------------------------------------------------------------------


async def in_group(person: Person, text: str, chat_id: int = CHAT) -> str:
    replies = await person.send_update(person.updates.group_text(person.user, text, chat_id))
    assert all(r.chat_id == chat_id for r in replies)
    return said(replies)


async def linked_chats(db: Database) -> dict[str, tuple[int | None, str | None]]:
    async with db.session() as session:
        rows = await session.execute(select(Group.name, Group.chat_id, Group.chat_title))
        return {name: (chat, title) for name, chat, title in rows if chat is not None}


async def test_linking_a_group_chat(
    liaison: Person,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    deliver: Deliver,
) -> None:
    said_there = await in_group(liaison, f"/linkgroup {SHENZHEN}")
    assert said_there == (
        "✅ 这个群已关联到党小组“驻深圳党小组”：以后发给这个党小组的通知也会发到这里。"
    )
    assert await linked_chats(db) == {SHENZHEN: (CHAT, "党小组")}
    assert "已经关联到" in await in_group(liaison, f"/linkgroup@liaison_bot  {SHENZHEN} ")

    # The preview counts the chat; the dispatcher posts the notice there, without a button.
    await talk(
        liaison,
        [
            ("/notice", None),
            (SHENZHEN, None),
            ("下一步 ➡️", None),
            ("周六开会", "同时发到 1 个党小组群聊"),
        ],
    )
    await talk(liaison, [("📤 立即发送", "#1")])
    [posted] = (await deliver())[CHAT]
    assert "周六开会" in posted.text
    assert posted.buttons == []

    # One group per chat: another group takes the chat over, and says so.
    moved = await in_group(liaison, f"/linkgroup {LAWYERS}")
    assert "这个群原来关联的党小组“驻深圳党小组”的通知不再发到这里" in moved
    # One chat per group: linking elsewhere moves the link.
    elsewhere = await in_group(liaison, f"/linkgroup {LAWYERS}", chat_id=-100_999)
    assert "这个党小组原来关联的群“党小组”不再收到它的通知" in elsewhere
    assert await linked_chats(db) == {LAWYERS: (-100_999, "党小组")}
    assert await in_group(liaison, "/unlinkgroup", chat_id=-100_999) == (
        "已取消关联：党小组“律师党小组”的通知不再发到这个群。"
    )
    assert await in_group(liaison, "/unlinkgroup", chat_id=-100_999) == "这个群没有关联任何党小组。"
    assert await linked_chats(db) == {}
    assert await audit_actions(db) == [
        "group.link",
        "notice.create",
        "group.link",
        "group.link",
        "group.unlink",
    ]


async def test_linking_refusals(
    liaison: Person, application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    assert await in_group(liaison, f"/linkgroup {SHANGHAI_GROUP}") == (
        "在您负责的党小组中没有“驻上海党小组”。请检查名称，要和登记的完全一样。"
    )
    assert "没有“没有这个组”" in await in_group(liaison, "/linkgroup 没有这个组")
    assert "/linkgroup@liaison_bot 党小组名称" in await in_group(liaison, "/linkgroup")
    # Another liaison's chat is not taken over.
    other = Person(application, bot_api, OTHER)
    assert "✅" in await in_group(other, f"/linkgroup {SHANGHAI_GROUP}")
    assert "不归您负责的党小组" in await in_group(liaison, f"/linkgroup {SHENZHEN}")
    assert "不归您负责的党小组" in await in_group(liaison, "/unlinkgroup")
    # In a private chat: how to do it.
    await talk(liaison, [("/linkgroup 驻深圳党小组", ["把我拉进群聊", "/linkgroup@liaison_bot"])])
    assert await linked_chats(db) == {SHANGHAI_GROUP: (CHAT, "党小组")}


async def test_linking_in_english(liaison_en: Person, db: Database) -> None:
    assert await in_group(liaison_en, f"/linkgroup {SHENZHEN}") == (
        "✅ This chat is now linked to the group “驻深圳党小组”: notices to the group will be "
        "posted here too."
    )
    assert "is already linked" in await in_group(liaison_en, f"/linkgroup {SHENZHEN}")
    moved = await in_group(liaison_en, f"/linkgroup {LAWYERS}")
    assert "Notices to “驻深圳党小组”, the group this chat was linked to before" in moved
    elsewhere = await in_group(liaison_en, f"/linkgroup {LAWYERS}", chat_id=-100_999)
    assert "The group’s previous chat, “党小组”, no longer gets its notices." in elsewhere
    assert "None of the groups you look after is called “x”" in await in_group(
        liaison_en, "/linkgroup x"
    )
    assert await in_group(liaison_en, "/unlinkgroup", chat_id=-100_999) == (
        "Unlinked: notices to the group “律师党小组” are no longer posted in this chat."
    )
    assert await in_group(liaison_en, "/unlinkgroup") == "This chat is not linked to any group."
    await talk(
        liaison_en, [("/linkgroup", ["Add me to the group chat", "/unlinkgroup@liaison_bot"])]
    )


# --- everyone else -------------------------------------------------------------------------


async def test_members_and_strangers_are_refused_every_staff_command(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    notice_id = await notice_by(db, clock, SHENZHEN, send_at=clock.now() + timedelta(hours=1))
    for user_id, language, refusal in (
        (ZHANG, "zh-hans", "抱歉，这个命令只供联络员使用。"),
        (STRANGER, "zh-hans", "抱歉，这个命令只供联络员使用。"),
        (WANG, "en", "Sorry, this command is for liaison staff only."),
    ):
        person = Person(application, bot_api, user_id, language_code=language)
        answers = set()
        for line in (
            "/notice",
            "/notices",
            f"/deliveries {notice_id}",
            "/deliveries",
            "/linkgroup x",
        ):
            await talk(person, [(line, refusal)])
            answers.add(person.last_text)
        for line in (f"/linkgroup {SHENZHEN}", "/unlinkgroup"):
            assert refusal in await in_group(person, line)
        shown = Outgoing("sendMessage", user_id, 1, "", None)
        answers.add(await press(person, shown, f"notice:stop:{notice_id}"))
        assert len(answers) == 1, answers
        # Nothing of a draft is reachable either.
        assert await press(person, shown, "notice:send") in (
            "这个按钮已经失效。要发通知，请发送 /notice。",
            "This button no longer works. To send a notice, send /notice.",
        )
    [notice] = await all_notices(db)
    assert notice.status is NoticeStatus.SCHEDULED
    assert await linked_chats(db) == {}
    assert await audit_actions(db) == ["notice.create"]


async def test_staff_commands_in_a_group_chat_point_to_a_private_chat(
    liaison: Person, db: Database, clock: FakeClock
) -> None:
    for line in ("/notice", "/notices", "/deliveries 1"):
        assert "请私聊我" in await in_group(liaison, line)


async def test_help_lists_the_notice_commands_for_staff_only(
    liaison: Person, application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    await talk(
        liaison,
        [("/help", ["/notice — 发通知（联络员）", "/deliveries — 通知送达情况", "/linkgroup"])],
    )
    member = Person(application, bot_api, ZHANG)
    await talk(member, [("/help", "可用命令")])
    assert "/notice" not in member.last_text
