"""Notices in the web console: write one, see it per channel, send or schedule it, watch its
deliveries go out, cancel it; all in the liaison's scope, as the bot's /notice allows.

Driven over HTTP with httpx on the real app, the real database and the real dispatcher.
"""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from bot.botapi import LocalBotApi
from messages.dispatcher import Dispatcher
from storage.clock import FakeClock
from storage.db import Database
from storage.models import Group, Notice, NoticeStatus, StaffRole
from storage.notices import MAX_BODY_LENGTH
from tests.conftest import START
from tests.console_harness import LIAISON, MEMBER, OTHER_LIAISON, actions, csrf_of, log_in
from tests.delivery import Deliver
from tests.factories import make_group, make_member, make_staff

SHENZHEN = "驻深圳党小组"
SHANGHAI = "驻上海党小组"
COLLEAGUE = 9003  # also looks after 驻深圳党小组
QQ_MEMBER = 700_001
LI_NA = 8003
CHAT = -100_200_300
# 2026-11-16 09:00 in Wuhan: the next morning.
TOMORROW_NINE = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)


@pytest.fixture
async def district(db: Database) -> dict[str, int]:
    """驻深圳 (张伟 on Telegram, 刘洋 by SMS, 王芳 on QQ, 赵敏 unreachable; its group chat
    linked) for 李联络 and a colleague; 驻上海 (李娜 on Telegram) for 钱联络. Staff ids."""
    shenzhen = await make_group(db, START, SHENZHEN)
    shanghai = await make_group(db, START, SHANGHAI)
    async with db.session() as session:
        await session.execute(update(Group).where(Group.id == shenzhen.id).values(chat_id=CHAT))
    await make_member(db, START, name="张伟", telegram_user_id=MEMBER, groups=[shenzhen])
    await make_member(db, START, name="刘洋", phone="+8613800138001", groups=[shenzhen])
    await make_member(db, START, name="王芳", phone=None, qq_user_id=QQ_MEMBER, groups=[shenzhen])
    await make_member(db, START, name="赵敏", phone=None, groups=[shenzhen])
    await make_member(
        db, START, name="李娜", phone="+8613800138003", telegram_user_id=LI_NA, groups=[shanghai]
    )
    liaison = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    colleague = await make_staff(
        db, START, telegram_user_id=COLLEAGUE, name="孙同事", groups=[shenzhen]
    )
    other = await make_staff(
        db, START, telegram_user_id=OTHER_LIAISON, name="钱联络", groups=[shanghai]
    )
    return {
        "liaison": liaison.id,
        "colleague": colleague.id,
        "other": other.id,
        "shenzhen": shenzhen.id,
        "shanghai": shanghai.id,
    }


# --- what the pages are made of -------------------------------------------------------------


def hidden_fields(page: str, form_id: str) -> dict[str, str]:
    """The hidden fields of one form on the page, as a browser would send them back."""
    found = re.search(rf'<form[^>]*id="{form_id}"[^>]*>(.*?)</form>', page, re.DOTALL)
    assert found is not None, f"no form {form_id}"
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', found.group(1))
    return {name: html.unescape(value) for name, value in fields}


async def compose(
    browser: httpx.AsyncClient, group_ids: list[int], **fields: str
) -> httpx.Response:
    """Open the compose form, fill it in (ticking group_ids) and ask for the preview."""
    page = await browser.get("/notices/new")
    assert page.status_code == 200
    form = hidden_fields(page.text, "compose")
    form.update({f"group-{group_id}": "on" for group_id in group_ids})
    form.update(fields)
    return await browser.post("/notices/new", data=form)


async def send(browser: httpx.AsyncClient, group_ids: list[int], body: str, **fields: str) -> int:
    """Compose, preview and confirm; the new notice's id (from where the console went)."""
    preview = await compose(browser, group_ids, body=body, **fields)
    assert preview.status_code == 200, preview.text
    confirmed = await browser.post("/notices/send", data=hidden_fields(preview.text, "confirm"))
    assert confirmed.status_code == 303
    found = re.fullmatch(r"/notices/(\d+)", confirmed.headers["location"])
    assert found is not None
    return int(found.group(1))


async def notices(db: Database) -> list[Notice]:
    async with db.session() as session:
        rows = await session.scalars(
            select(Notice).options(selectinload(Notice.groups)).order_by(Notice.id)
        )
        return list(rows)


def text_of(fragment: str) -> str:
    """A page's words without its markup (for what a reader sees, whitespace squeezed)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def section(page: str, element_id: str) -> str:
    found = re.search(rf'<(\w+)[^>]*id="{element_id}"[^>]*>(.*?)</\1>', page, re.DOTALL)
    assert found is not None, f"no #{element_id}"
    return found.group(2)


def count(page: str, state: str, channel: str | None = None) -> int:
    """A delivery count on a notice's page: one channel's, or the total (the table's foot)."""
    if channel is None:
        return int(section(page, f"count-{state}"))
    row = re.search(rf'<tr data-channel="{channel}">(.*?)</tr>', page, re.DOTALL)
    assert row is not None, f"no row for {channel}"
    cell = re.search(rf'<td data-state="{state}">(\d+)</td>', row.group(1))
    assert cell is not None
    return int(cell.group(1))


# --- write, preview, send --------------------------------------------------------------------


async def test_a_notice_is_previewed_per_channel_then_sent_and_the_member_gets_it(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    deliver: Deliver,
    district: dict[str, int],
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    form = await browser.get("/notices/new")
    # Only the groups the liaison looks after are offered.
    assert SHENZHEN in form.text
    assert SHANGHAI not in form.text

    body = "本周六上午 9 点在<b>党员之家</b>集合 & 签到。\n请带上党员证。"
    preview = await compose(browser, [district["shenzhen"]], body=body)
    assert preview.status_code == 200
    page = preview.text
    assert text_of(section(page, "audience")) == SHENZHEN
    assert text_of(section(page, "recipients")) == "4 名党员，另发到 1 个群聊"
    assert "其中 1 人联系不到" in text_of(section(page, "unreachable"))

    # Telegram: the heading in bold, the liaison's markup shown as typed, the button.
    telegram = section(page, "preview-telegram")
    assert "<strong>【通知】</strong>" in telegram
    assert "&lt;b&gt;党员之家&lt;/b&gt;集合 &amp; 签到" in telegram
    assert "<b>党员之家</b>" not in page
    assert "—— 李联络，2026-11-15" in telegram
    assert "1 人" in telegram and "✅ 收到" in telegram
    # QQ: plain text, the button numbered as QQ shows it.
    qq = text_of(section(page, "preview-qq"))
    assert "【通知】" in qq and "[1] ✅ 收到 （回复数字选择）" in qq
    # SMS: one line, how many messages it costs.
    sms = section(page, "preview-sms")
    assert "【通知】本周六上午 9 点在&lt;b&gt;党员之家&lt;/b&gt;集合 &amp; 签到。" in sms
    assert text_of(section(page, "sms-parts")).startswith("每人 1 条短信")
    # Group chats: no button.
    group_chat = section(page, "preview-group_chat")
    assert "1 个群" in group_chat and "收到" not in text_of(group_chat).split("李联络")[-1]
    # Nothing is recorded by a preview.
    assert await notices(db) == []

    confirmed = await browser.post("/notices/send", data=hidden_fields(page, "confirm"))
    assert confirmed.status_code == 303
    [notice] = await notices(db)
    assert confirmed.headers["location"] == f"/notices/{notice.id}"
    assert notice.body == body
    assert [g.name for g in notice.groups] == [SHENZHEN]
    assert notice.author == f"staff:{district['liaison']}"
    assert notice.author_name == "李联络"
    assert notice.send_at == START

    waiting = (await browser.get(f"/notices/{notice.id}")).text
    assert text_of(section(waiting, "stage")).startswith("等待发出")
    assert 'data-live="yes"' in waiting

    got = await deliver()
    [message] = got[MEMBER]
    assert "&lt;b&gt;党员之家&lt;/b&gt;集合 &amp; 签到" in message.text
    assert "—— 李联络" in message.text
    assert CHAT in got

    # The default dispatcher has Telegram and group chats only: QQ and SMS still to go.
    page = (await browser.get(f"/notices/{notice.id}")).text
    assert text_of(section(page, "stage")).startswith("正在发送")
    # Telegram says so when it takes a message: delivered.
    assert count(page, "delivered", "telegram") == 1
    assert count(page, "delivered", "group_chat") == 1
    assert count(page, "pending", "sms") == 1
    assert count(page, "pending", "qq") == 1
    assert count(page, "suppressed", "none") == 1
    assert count(page, "pending") == 2
    assert "收件人 4 人，共 5 条消息" in text_of(page)
    assert (f"staff:{district['liaison']}", "notice.create") in await actions(db)
    assert (f"staff:{district['liaison']}", "notice.deliveries.view") in await actions(db)

    listing = (await browser.get("/notices")).text
    row = text_of(section(listing, f"notice-{notice.id}"))
    assert "正在发送" in row
    assert "等待发送 2 · 已送达 2 · 未发送 1" in row


async def test_the_delivery_counts_update_until_nothing_is_left_to_go(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    deliver: Deliver,
    dispatcher: Dispatcher,
    district: dict[str, int],
) -> None:
    await log_in(browser, db, clock, district["other"])
    notice_id = await send(browser, [district["shanghai"]], "明天停电，活动改期。")
    url = f"/notices/{notice_id}/progress"

    fragment = (await browser.get(url)).text
    assert fragment.startswith('<section id="progress"')
    assert 'data-live="yes"' in fragment
    assert "等待发出" in fragment

    await dispatcher.enqueue_due()
    fragment = (await browser.get(url)).text
    assert count(fragment, "pending") == 1
    assert 'data-live="yes"' in fragment

    got = await deliver()
    assert "明天停电，活动改期。" in got[LI_NA][0].text
    fragment = (await browser.get(url)).text
    assert count(fragment, "pending") == 0
    assert count(fragment, "delivered") == 1
    assert "已发完" in fragment
    # Nothing left to go: the page stops asking.
    assert 'data-live="no"' in fragment
    # The counts name nobody, so asking for them is not a look at anyone's data.
    assert "notice.deliveries.view" not in [action for _, action in await actions(db)]


async def test_a_scheduled_notice_goes_at_its_time_in_the_district_zone(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    deliver: Deliver,
    district: dict[str, int],
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    preview = await compose(
        browser,
        [district["shenzhen"]],
        body="明早九点开会。",
        when="later",
        date="2026-11-16",
        time="09:00",
    )
    assert text_of(section(preview.text, "send-at")) == "2026-11-16 09:00"
    assert "—— 李联络，2026-11-16" in preview.text  # signed with the day it goes
    assert "确认定时发送" in preview.text
    confirmed = await browser.post("/notices/send", data=hidden_fields(preview.text, "confirm"))
    assert confirmed.status_code == 303
    [notice] = await notices(db)
    assert notice.send_at == TOMORROW_NINE
    page = (await browser.get(f"/notices/{notice.id}")).text
    assert "将于 2026-11-16 09:00 发出" in text_of(page)
    assert 'data-live="no"' in page  # nothing will change before tomorrow

    assert MEMBER not in await deliver()
    clock.advance(TOMORROW_NINE - clock.now())
    got = await deliver()
    assert "明早九点开会。" in got[MEMBER][0].text


async def test_the_preview_says_when_quiet_hours_will_hold_a_notice(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, district: dict[str, int]
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    # 22:30 in Shanghai: quiet hours (21:00–08:00) hold it until the morning.
    preview = await compose(
        browser, [district["shenzhen"]], body="明早开会。", when="later", date="2026-11-15",
        time="22:30",
    )  # fmt: skip
    assert "这时是免打扰时段：通知会在 2026-11-16 08:00 之后送到党员手中" in text_of(
        section(preview.text, "quiet-hours")
    )
    # Urgent goes at night too; and in the daytime there is nothing to say.
    urgent = await compose(
        browser, [district["shenzhen"]], body="今晚停水。", when="later", date="2026-11-15",
        time="22:30", urgent="on",
    )  # fmt: skip
    daytime = await compose(browser, [district["shenzhen"]], body="下午开会。")
    assert 'id="quiet-hours"' not in urgent.text
    assert 'id="quiet-hours"' not in daytime.text


async def test_a_scheduled_notice_is_watched_from_shortly_before_its_time(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, district: dict[str, int]
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    notice_id = await send(
        browser,
        [district["shenzhen"]],
        "十点半开会。",
        when="later",
        date="2026-11-15",
        time="10:30",
    )
    assert 'data-live="no"' in (await browser.get(f"/notices/{notice_id}/progress")).text
    clock.advance(timedelta(minutes=21))  # 10:21: nine minutes to go
    assert 'data-live="yes"' in (await browser.get(f"/notices/{notice_id}/progress")).text


# --- cancelling ------------------------------------------------------------------------------


async def test_a_scheduled_notice_is_cancelled_before_it_goes(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    deliver: Deliver,
    district: dict[str, int],
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    notice_id = await send(
        browser,
        [district["shenzhen"]],
        "周六活动。",
        when="later",
        date="2026-11-16",
        time="09:00",
    )
    page = (await browser.get(f"/notices/{notice_id}")).text
    cancelled = await browser.post(
        f"/notices/{notice_id}/cancel", data=hidden_fields(page, "cancel")
    )
    assert cancelled.status_code == 303
    page = (await browser.get(f"/notices/{notice_id}")).text
    assert text_of(section(page, "stage")).startswith("已取消")
    assert 'id="cancel"' not in page
    assert 'data-live="no"' in page
    assert (f"staff:{district['liaison']}", "notice.cancel") in await actions(db)

    again = await browser.post(f"/notices/{notice_id}/cancel", data={"csrf": csrf_of(page)})
    assert again.status_code == 409
    assert "这条通知已经取消过了" in again.text

    clock.advance(TOMORROW_NINE - clock.now())
    assert MEMBER not in await deliver()
    [notice] = await notices(db)
    assert notice.status is NoticeStatus.CANCELLED


async def test_a_notice_already_sent_cannot_be_cancelled_as_in_the_bot(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    deliver: Deliver,
    district: dict[str, int],
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    notice_id = await send(browser, [district["shenzhen"]], "马上开会。")
    page = (await browser.get(f"/notices/{notice_id}")).text
    assert 'id="cancel"' in page  # not yet taken by the dispatcher
    await deliver()
    refused = await browser.post(f"/notices/{notice_id}/cancel", data={"csrf": csrf_of(page)})
    assert refused.status_code == 409
    assert "这条通知已经发出，不能再取消" in refused.text
    assert 'id="cancel"' not in refused.text
    assert "notice.cancel" not in [action for _, action in await actions(db)]


async def test_a_colleague_sees_a_shared_groups_notice_but_only_its_author_cancels_it(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, district: dict[str, int]
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    notice_id = await send(
        browser, [district["shenzhen"]], "周六活动。", when="later", date="2026-11-16", time="09:00"
    )
    browser.cookies.clear()
    await log_in(browser, db, clock, district["colleague"])
    page = (await browser.get(f"/notices/{notice_id}")).text
    assert "周六活动。" in page
    assert 'id="cancel"' not in page
    refused = await browser.post(f"/notices/{notice_id}/cancel", data={"csrf": csrf_of(page)})
    assert refused.status_code == 409
    assert "只有发通知的人或管理员才能取消" in refused.text
    [notice] = await notices(db)
    assert notice.status is NoticeStatus.SCHEDULED


# --- one notice per form ----------------------------------------------------------------------


async def test_confirming_twice_makes_one_notice(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    deliver: Deliver,
    district: dict[str, int],
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    preview = await compose(browser, [district["shenzhen"]], body="只发一次。")
    form = hidden_fields(preview.text, "confirm")

    first = await browser.post("/notices/send", data=form)
    # The page sent again later (back button, reload): the same notice, not a second.
    clock.advance(timedelta(minutes=20))
    again = await browser.post("/notices/send", data=form)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    # A double click: both at once.
    both = await asyncio.gather(*(browser.post("/notices/send", data=form) for _ in range(2)))
    assert {r.headers["location"] for r in both} == {first.headers["location"]}
    assert len(await notices(db)) == 1
    assert len((await deliver())[MEMBER]) == 1

    # A double click on a fresh form, the first time: one notice between them.
    preview = await compose(browser, [district["shenzhen"]], body="再发一条。")
    form = hidden_fields(preview.text, "confirm")
    both = await asyncio.gather(*(browser.post("/notices/send", data=form) for _ in range(2)))
    assert [r.status_code for r in both] == [303, 303]
    assert both[0].headers["location"] == both[1].headers["location"]
    assert [n.body for n in await notices(db)] == ["只发一次。", "再发一条。"]


async def test_a_form_without_its_key_is_not_sent(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, district: dict[str, int]
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    preview = await compose(browser, [district["shenzhen"]], body="没有编号。")
    form = hidden_fields(preview.text, "confirm")
    form["key"] = "made-up"
    refused = await browser.post("/notices/send", data=form)
    assert refused.status_code == 400
    assert "这个表单缺少编号" in refused.text
    assert "没有编号。" in refused.text  # kept, to preview again
    assert await notices(db) == []


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"body": "  \n "}, "通知内容是空的"),
        ({"body": "长" * (MAX_BODY_LENGTH + 1)}, f"最多 8000 字，现在有 {MAX_BODY_LENGTH + 1} 字"),
        (
            {"body": "开会。", "when": "later", "date": "2026-11-15", "time": "09:59"},
            "“2026-11-15 09:59”已经过去了",
        ),
        (
            {"body": "开会。", "when": "later", "date": "2026-13-45", "time": "09:00"},
            "看不懂日期“2026-13-45”",
        ),
        (
            {"body": "开会。", "when": "later", "date": "下周一", "time": "09:00"},
            "看不懂日期“下周一”",
        ),
        (
            {"body": "开会。", "when": "later", "date": "2026-11-16", "time": "9点"},
            "看不懂时间“9点”",
        ),
        (
            {"body": "开会。", "when": "later", "date": "2027-12-01", "time": "09:00"},
            "在一年以后",
        ),
    ],
)
async def test_bad_input_is_explained_and_the_form_keeps_what_was_typed(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    district: dict[str, int],
    fields: dict[str, str],
    says: str,
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    answer = await compose(browser, [district["shenzhen"]], **fields)
    assert answer.status_code == 400
    assert says in text_of(section(answer.text, "problems"))
    # Shown again as typed: the group ticked, the text, the time.
    assert f'name="group-{district["shenzhen"]}" checked' in answer.text
    textarea = re.search(
        r'<textarea id="body" name="body" rows="10">(.*?)</textarea>', answer.text, re.DOTALL
    )
    assert textarea is not None
    assert html.unescape(textarea.group(1)) == fields["body"]
    if "date" in fields:
        assert f'name="date" value="{html.escape(fields["date"])}"' in answer.text
        assert f'name="time" value="{html.escape(fields["time"])}"' in answer.text
        assert 'value="later" checked' in answer.text
    assert await notices(db) == []


async def test_a_notice_needs_someone_to_go_to(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, district: dict[str, int]
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    answer = await compose(browser, [], body="发给谁？")
    assert answer.status_code == 400
    assert "请至少选择一个党小组" in answer.text
    assert "发给谁？" in answer.text


async def test_the_time_is_checked_again_when_the_preview_is_confirmed(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, district: dict[str, int]
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    preview = await compose(
        browser,
        [district["shenzhen"]],
        body="开会。",
        when="later",
        date="2026-11-15",
        time="10:15",
    )
    assert preview.status_code == 200
    clock.advance(timedelta(minutes=20))  # the liaison confirmed after a phone call
    late = await browser.post("/notices/send", data=hidden_fields(preview.text, "confirm"))
    assert late.status_code == 400
    assert "“2026-11-15 10:15”已经过去了" in late.text
    assert await notices(db) == []


async def test_back_to_editing_keeps_everything(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, district: dict[str, int]
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    preview = await compose(browser, [district["shenzhen"]], body="第一行\n第二行", urgent="on")
    assert "⚠️紧急" in preview.text
    assert "【紧急通知】" in preview.text
    form = hidden_fields(preview.text, "confirm") | {"step": "edit"}
    edit = await browser.post("/notices/new", data=form)
    assert edit.status_code == 200
    assert "第一行\n第二行</textarea>" in edit.text
    assert 'name="urgent" checked' in edit.text
    assert f'name="group-{district["shenzhen"]}" checked' in edit.text
    assert 'id="problems"' not in edit.text


# --- scope -------------------------------------------------------------------------------------


async def test_another_liaisons_notices_are_not_found(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, district: dict[str, int]
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    notice_id = await send(
        browser, [district["shenzhen"]], "深圳的事。", when="later", date="2026-11-16", time="09:00"
    )
    browser.cookies.clear()
    await log_in(browser, db, clock, district["other"])

    listing = (await browser.get("/notices")).text
    assert "深圳的事" not in listing
    for address in (f"/notices/{notice_id}", f"/notices/{notice_id}/progress", "/notices/99"):
        page = await browser.get(address)
        assert page.status_code == 404
        assert "没有找到这条通知" in page.text
        assert "深圳的事" not in page.text
    assert (await browser.get("/notices/99999999999999999999")).status_code == 404
    csrf = csrf_of(listing)
    refused = await browser.post(f"/notices/{notice_id}/cancel", data={"csrf": csrf})
    assert refused.status_code == 404
    [notice] = await notices(db)
    assert notice.status is NoticeStatus.SCHEDULED

    # Nor can they address the group: it is not offered, and a forged form is refused.
    form = (await browser.get("/notices/new")).text
    assert SHENZHEN not in form
    forged = await compose(browser, [district["shenzhen"]], body="冒名。")
    assert forged.status_code == 400
    assert "不归您负责或已不存在" in forged.text
    preview = await compose(browser, [district["shanghai"]], body="冒名。")
    form_fields = hidden_fields(preview.text, "confirm") | {f"group-{district['shenzhen']}": "on"}
    forged = await browser.post("/notices/send", data=form_fields)
    assert forged.status_code == 400
    assert len(await notices(db)) == 1


async def test_an_administrator_sees_and_cancels_a_liaisons_notice(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, district: dict[str, int]
) -> None:
    admin = await make_staff(db, START, telegram_user_id=9009, name="管理员", role=StaffRole.ADMIN)
    await log_in(browser, db, clock, district["liaison"])
    notice_id = await send(
        browser, [district["shenzhen"]], "周六活动。", when="later", date="2026-11-16", time="09:00"
    )
    browser.cookies.clear()
    await log_in(browser, db, clock, admin.id)
    page = (await browser.get(f"/notices/{notice_id}")).text
    cancelled = await browser.post(
        f"/notices/{notice_id}/cancel", data=hidden_fields(page, "cancel")
    )
    assert cancelled.status_code == 303
    assert (f"staff:{admin.id}", "notice.cancel") in await actions(db)


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_changes_without_the_csrf_token_are_refused(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    district: dict[str, int],
    token: str | None,
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    notice_id = await send(
        browser, [district["shenzhen"]], "周六活动。", when="later", date="2026-11-16", time="09:00"
    )
    preview = await compose(browser, [district["shenzhen"]], body="第二条。")
    form = hidden_fields(preview.text, "confirm")
    del form["csrf"]
    if token is not None:
        form["csrf"] = token
    assert (await browser.post("/notices/send", data=form)).status_code == 403
    cancel = {} if token is None else {"csrf": token}
    assert (await browser.post(f"/notices/{notice_id}/cancel", data=cancel)).status_code == 403
    [notice] = await notices(db)
    assert notice.status is NoticeStatus.SCHEDULED


async def test_signed_out_visitors_see_no_notice(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, district: dict[str, int]
) -> None:
    for address in ("/notices", "/notices/new", "/notices/1", "/notices/1/progress"):
        page = await browser.get(address)
        assert page.status_code == 401
        assert "请先登录" in page.text


# --- escaping ---------------------------------------------------------------------------------


async def test_what_staff_typed_is_shown_as_text_everywhere(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, district: dict[str, int]
) -> None:
    async with db.session() as session:
        await session.execute(
            update(Group).where(Group.id == district["shenzhen"]).values(name="<i>深圳</i>")
        )
    await log_in(browser, db, clock, district["liaison"])
    body = '<script>alert("x")</script> "引号" & <img src=x onerror=alert(1)>'
    preview = await compose(browser, [district["shenzhen"]], body=body)
    notice_id = await send(browser, [district["shenzhen"]], body)
    pages = [
        preview.text,
        (await browser.get("/notices")).text,
        (await browser.get(f"/notices/{notice_id}")).text,
        (await browser.get("/notices/new")).text,
    ]
    for page in pages:
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "<i>深圳</i>" not in page
    assert "&lt;i&gt;深圳&lt;/i&gt;" in pages[1]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages[2]
    # The hidden copy in the confirm form comes back exactly as typed.
    assert hidden_fields(preview.text, "confirm")["body"] == body
    [notice] = await notices(db)
    assert notice.body == body


# --- the dashboard and English -----------------------------------------------------------------


async def test_the_dashboard_shows_the_notices_in_flight_in_scope(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    deliver: Deliver,
    district: dict[str, int],
) -> None:
    await log_in(browser, db, clock, district["liaison"])
    assert "现在没有正在发送的通知" in (await browser.get("/")).text
    notice_id = await send(browser, [district["shenzhen"]], "正在路上。")
    await deliver()  # Telegram and the group chat; QQ and SMS wait for their channels

    dashboard = (await browser.get("/")).text
    row = re.search(rf'<tr id="in-flight-{notice_id}">(.*?)</tr>', dashboard, re.DOTALL)
    assert row is not None
    # #, to, when, then pending, sending, sent, delivered, failed, suppressed.
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    assert text_of(cells[1]) == SHENZHEN
    assert cells[3:] == ["2", "0", "0", "2", "0", "1"]

    browser.cookies.clear()
    await log_in(browser, db, clock, district["other"])
    assert "现在没有正在发送的通知" in (await browser.get("/")).text


async def test_the_notices_pages_in_english(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    deliver: Deliver,
    district: dict[str, int],
    bot_api: LocalBotApi,
) -> None:
    staff = await make_staff(
        db, START, telegram_user_id=9010, name="Li Wei", locale="en", role=StaffRole.ADMIN
    )
    await log_in(browser, db, clock, staff.id)
    form = (await browser.get("/notices/new")).text
    assert "Write a notice" in form
    assert SHENZHEN in form and SHANGHAI in form  # an administrator without scope: every group
    preview = await compose(browser, [district["shanghai"]], body="Meeting moved to Saturday.")
    assert "This is how members will get it" in preview.text
    assert "1 members" in text_of(section(preview.text, "recipients"))
    assert "<strong>[Notice]</strong>" in preview.text
    assert "[1] ✅ Received" in preview.text
    assert "1 SMS each (160 characters" in preview.text
    notice_id = await send(browser, [district["shanghai"]], "Meeting moved to Saturday.")
    page = (await browser.get(f"/notices/{notice_id}")).text
    assert "waiting to go" in page
    await deliver()
    page = (await browser.get(f"/notices/{notice_id}")).text
    assert "all sent" in page
    assert "1 recipients, 1 messages in all." in text_of(page)
    assert "Notices being sent" in (await browser.get("/")).text
    listing = (await browser.get("/notices")).text
    assert "Meeting moved to Saturday." in listing and "delivered 1" in listing
    bad = await compose(
        browser, [district["shanghai"]], body="x", when="later", date="2026-11-01", time="09:00"
    )
    assert "has already passed" in bad.text
