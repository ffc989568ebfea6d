"""The console's members area: search, a member's page and history, the overdue list with the
phone to call, lost contact and the channel order, all within the liaison's own groups.

Driven over HTTP with httpx on the real app and the real database (SQLite, and PostgreSQL
when configured), as a liaison would click through it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from bot.context import Services
from storage.activities import answer, create_activity, mark_attendance
from storage.certificates import advance, apply
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    ActivityAnswer,
    ActivityKind,
    AuditEvent,
    Group,
    LocationReport,
    LocationSource,
    Member,
    MemberStatus,
    RequestStatus,
    StaffRole,
)
from storage.mydata import member_data
from storage.notices import acknowledge_notice, create_notice
from storage.outbox import enqueue_notice
from storage.requests import create_request, set_status
from tests.conftest import START
from tests.console_harness import LIAISON, MEMBER, OTHER_LIAISON, csrf_of, log_in, two_groups
from tests.delivery import Deliver
from tests.factories import (
    make_checkin,
    make_group,
    make_member,
    make_request_catalogue,
    make_staff,
)

ZONE = ZoneInfo("Asia/Shanghai")
ADMIN = 9003


async def member_id(db: Database, name: str) -> int:
    async with db.session() as session:
        found = await session.scalar(select(Member.id).where(Member.name == name))
    assert found is not None
    return found


async def member(db: Database, name: str) -> Member:
    async with db.session() as session:
        found = await session.scalar(select(Member).where(Member.name == name))
    assert found is not None
    return found


async def audit_of(db: Database, action: str) -> list[AuditEvent]:
    async with db.session() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return list(rows)


async def liaison_of_shenzhen(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, *, locale: str | None = None
) -> tuple[Group, Group, int]:
    """The two groups, and the liaison of 驻深圳 logged in (their staff id)."""
    shenzhen, shanghai = await two_groups(db)
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen], locale=locale)
    await log_in(browser, db, clock, staff.id)
    return shenzhen, shanghai, staff.id


def rows_of(page: str, table: str) -> list[str]:
    """The text of each row of a table's body, tags removed."""
    found = re.search(rf'<table id="{table}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert found is not None
    return [
        " ".join(re.sub(r"<[^>]+>", " ", row).split())
        for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    ]


def timeline_of(page: str) -> list[str]:
    found = re.search(r'<ol class="timeline" id="timeline">(.*?)</ol>', page, re.S)
    assert found is not None
    return [
        " ".join(re.sub(r"<[^>]+>", " ", item).split())
        for item in re.findall(r"<li[^>]*>(.*?)</li>", found.group(1), re.S)
    ]


def message_of(page: str) -> str:
    found = re.search(r'<section class="message" id="message">.*?</section>', page, re.S)
    assert found is not None
    return found.group(0)


# --- search ------------------------------------------------------------------------------


async def test_a_liaison_finds_the_members_of_their_own_groups_only(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    _, _, staff_id = await liaison_of_shenzhen(db, clock, browser)

    page = await browser.get("/members", params={"q": "张"})
    assert page.status_code == 200
    assert rows_of(page.text, "matches") == ["张伟 流出党员 +86 138****8000 —"]
    assert "+8613800138000" not in page.text  # lists show phones masked

    # A phone number in any usual shape finds the member, masked in the trail too.
    page = await browser.get("/members", params={"q": "138 0013 8002"})
    assert rows_of(page.text, "matches") == ["陈静 流出党员 +86 138****8002 — ⚠️ 未绑定"]

    # 李娜 is in 驻上海, another liaison's group: not found, and the trail says whom it hit.
    page = await browser.get("/members", params={"q": "13800138003"})
    assert 'id="none"' in page.text
    assert "李娜" not in page.text
    [refused] = await audit_of(db, "member.view.refused")
    assert refused.actor == f"staff:{staff_id}"
    assert refused.detail == {
        "query": "+86 138****8003",
        "reason": "out_of_scope",
        "members": [await member_id(db, "李娜")],
    }
    views = await audit_of(db, "member.view")
    assert [event.detail and event.detail["query"] for event in views] == [
        "张",
        "+86 138****8002",
    ]


async def test_many_matches_come_in_pages(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, _, _ = await liaison_of_shenzhen(db, clock, browser)
    for number in range(25):
        await make_member(
            db, START, name=f"王{number:02d}", phone=f"+86139000000{number:02d}", groups=[shenzhen]
        )

    first = await browser.get("/members", params={"q": "王"})
    names = [row.split()[0] for row in rows_of(first.text, "matches")]
    assert names == [f"王{n:02d}" for n in range(20)]
    assert "第 1 页" in first.text
    assert 'rel="prev"' not in first.text
    following = re.search(r'rel="next" href="([^"]+)"', first.text)
    assert following is not None

    second = await browser.get(following.group(1).replace("&amp;", "&"))
    assert [row.split()[0] for row in rows_of(second.text, "matches")] == [
        f"王{n:02d}" for n in range(20, 25)
    ]
    assert 'rel="next"' not in second.text
    assert 'rel="prev"' in second.text
    offsets = [(e.detail or {}).get("offset") for e in await audit_of(db, "member.view")]
    assert offsets == [None, 20]


async def test_an_empty_search_explains_itself_and_a_too_long_one_says_so(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    await liaison_of_shenzhen(db, clock, browser)

    page = await browser.get("/members")
    assert page.status_code == 200
    assert "输入党员姓名的一部分，或完整的手机号" in page.text
    assert 'id="matches"' not in page.text

    pasted = "张伟 " * 30
    page = await browser.get("/members", params={"q": pasted})
    assert page.status_code == 400
    assert "输入的内容太长（最多 64 个字）" in page.text
    # What was typed is still in the field, to shorten rather than retype.
    assert f'value="{pasted}"' in page.text
    # Nothing was searched.
    assert await audit_of(db, "member.view") == []


# --- a member's page ---------------------------------------------------------------------


async def test_the_card_shows_the_member_and_their_history_newest_first(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    services: Services,
    deliver: Deliver,
) -> None:
    _, _, staff_id = await liaison_of_shenzhen(db, clock, browser)
    zhang = await member(db, "张伟")
    category_id, _ = await make_request_catalogue(db, START)
    await make_checkin(db, zhang, START - timedelta(days=40), city="深圳市")
    async with db.session() as session:
        session.add(
            LocationReport(
                member_id=zhang.id,
                reported_at=START - timedelta(days=20),
                source=LocationSource.TYPED,
                province="广东省",
                city="东莞市",
                latitude=23.02,
                longitude=113.75,
            )
        )
        request = await create_request(
            session,
            START - timedelta(days=10),
            member_id=zhang.id,
            category_id=category_id,
            description="门面续租需要帮助",
            zone=ZONE,
        )
        request_id = request.id
        await set_status(
            session,
            START - timedelta(days=5),
            request_id,
            staff_id=staff_id,
            status=RequestStatus.RESOLVED,
            answer="已协调续租",
        )
        certificate = await apply(
            session,
            START - timedelta(days=4),
            member_id=zhang.id,
            origin_organisation="江汉区委组织部",
            destination="深圳市南山区",
            reason="务工",
            expected_months=12,
        )
        await advance(
            session,
            START - timedelta(days=3),
            certificate.id,
            "checked",
            actor=f"staff:{staff_id}",
            actor_name="李联络",
            staff_id=staff_id,
            zone=ZONE,
            review_months=12,
        )
        notice = await create_notice(
            session,
            START - timedelta(hours=2),
            author=f"staff:{staff_id}",
            author_name="李联络",
            body="本周六上午 9 点在党员之家学习，请准时参加。",
            groups=["驻深圳党小组"],
        )
        await enqueue_notice(session, START - timedelta(hours=2), notice.id)
    got = await deliver()
    assert MEMBER in got
    clock.advance(timedelta(minutes=5))
    async with db.session() as session:
        await acknowledge_notice(session, clock.now(), notice_id=notice.id, member_id=zhang.id)

    page = await browser.get(f"/members/{zhang.id}")
    assert page.status_code == 200
    text = page.text
    assert '<h1 id="name">张伟 <small>流出党员</small></h1>' in text
    assert "驻深圳党小组" in text
    assert "+86 138****8000" in text and "+8613800138000" not in text
    # Where they are now: the newest place, by name; coordinates are never shown.
    assert re.search(r'id="where-now">广东省 东莞市 <small>2026-10-26 报告', text)
    assert "23.02" not in text and "113.75" not in text
    # Tried by Telegram first (bound), then SMS; QQ does not reach them.
    order = re.search(r'<ol id="channel-order">(.*?)</ol>', text, re.S)
    assert order is not None
    assert re.findall(r"<li>(.*?)</li>", order.group(1)) == [
        "Telegram — 可以联系",
        "QQ — 联系不到",
        "短信 — 可以联系",
    ]

    entries = timeline_of(text)
    assert entries[0] == f"2026-11-15 10:05 确认收到通知 #{notice.id}"
    assert entries[1].startswith(f"2026-11-15 10:00 收到通知 #{notice.id} (经 Telegram)")
    assert "本周六上午 9 点在党员之家学习" in entries[1]
    assert [e for e in entries if "活动证" in e] == [
        f"2026-11-12 10:00 流动党员活动证 #{certificate.id} · 联络员已审核",
        f"2026-11-11 10:00 流动党员活动证 #{certificate.id} · 已申请",
    ]
    assert [e for e in entries if "服务申请" in e] == [
        f"2026-11-10 10:00 服务申请 #{request_id} 办结 · 已解决",
        f"2026-11-05 10:00 提出服务申请 #{request_id} · 门面续租",
    ]
    assert "2026-10-26 10:00 报告所在地 · 广东省 东莞市 (本人填写)" in entries
    assert "2026-10-06 10:00 2026-10 月度报到 · 深圳市 · 工作稳定" in entries
    # Newest first, throughout.
    stamps = [entry[:16] for entry in entries]
    assert stamps == sorted(stamps, reverse=True)

    # Opened like the bot's card: one view, naming the member.
    [view] = [e for e in await audit_of(db, "member.view") if e.subject is not None]
    assert (view.actor, view.subject) == (f"staff:{staff_id}", f"member:{zhang.id}")


async def test_the_history_shows_activities_answered_and_attended(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    _, _, staff_id = await liaison_of_shenzhen(db, clock, browser)
    zhang = await member(db, "张伟")
    async with db.session() as session:
        created = await create_activity(
            session,
            START - timedelta(days=3),
            kind=ActivityKind.FORUM,
            title="流动党员座谈会",
            starts_at=START - timedelta(hours=1),
            ends_at=START + timedelta(hours=1),
            groups=["驻深圳党小组"],
            actor=f"staff:{staff_id}",
            organiser="民意街道党工委",
            zone=ZONE,
            staff_id=staff_id,
            address="民意街道党员之家",
        )
        activity_id = created.activity.id
        await answer(
            session,
            START - timedelta(days=2),
            activity_id=activity_id,
            member_id=zhang.id,
            choice=ActivityAnswer.YES,
            zone=ZONE,
        )
        await mark_attendance(
            session,
            START,
            activity_id,
            member_id=zhang.id,
            attended=True,
            actor=f"staff:{staff_id}",
            staff_id=staff_id,
        )
    entries = timeline_of((await browser.get(f"/members/{zhang.id}")).text)
    assert [e for e in entries if "活动" in e] == [
        f"2026-11-15 10:00 到场参加活动 #{activity_id} · 流动党员座谈会",
        f"2026-11-13 10:00 回复参加活动 #{activity_id} · 流动党员座谈会",
    ]


async def test_the_history_is_bounded(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    await liaison_of_shenzhen(db, clock, browser)
    liu = await member(db, "刘洋")
    for months in range(2, 70):
        await make_checkin(db, liu, START - timedelta(days=31 * months), city="深圳市")
    page = (await browser.get(f"/members/{liu.id}")).text
    assert len(timeline_of(page)) == 50
    assert "只显示最近 50 条。" in page


# --- scope -------------------------------------------------------------------------------


async def test_another_liaisons_member_is_refused_on_every_page_and_action(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    _, shanghai, staff_id = await liaison_of_shenzhen(db, clock, browser)
    await make_staff(db, START, telegram_user_id=OTHER_LIAISON, groups=[shanghai])
    li = await member_id(db, "李娜")
    csrf = csrf_of((await browser.get("/members")).text)

    card = await browser.get(f"/members/{li}")
    assert card.status_code == 404
    assert "没有找到这位党员" in card.text
    assert "李娜" not in card.text
    # Looks exactly like a member who does not exist.
    missing = await browser.get("/members/999999")
    assert missing.status_code == 404
    assert message_of(missing.text) == message_of(card.text)

    overdue = await browser.get("/members/overdue", params={"group": str(shanghai.id)})
    assert overdue.status_code == 404
    assert "李娜" not in overdue.text

    for path, form in (
        (f"/members/{li}/phone", {}),
        (f"/members/{li}/lost-contact", {"do": "mark"}),
        (f"/members/{li}/lost-contact", {"do": "clear"}),
        (f"/members/{li}/channels", {"channels": "sms"}),
        (f"/members/{li}/channels", {"channels": "pigeon"}),
    ):
        response = await browser.post(path, data={"csrf": csrf, **form})
        assert response.status_code == 404, path
        assert "+8613800138003" not in response.text

    # Nothing changed, and every refusal is in the trail.
    li_now = await member(db, "李娜")
    assert li_now.lost_contact_at is None and li_now.channels is None
    async with db.session() as session:
        refused = list(
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject == f"member:{li}", AuditEvent.action.endswith(".refused"))
                .order_by(AuditEvent.id)
            )
        )
    assert refused == [
        "member.view.refused",
        "member.phone_reveal.refused",
        "member.lost_contact_mark.refused",
        "member.lost_contact_clear.refused",
        "member.channels.refused",
        "member.view.refused",
    ]
    [group_refused] = await audit_of(db, "overdue.view.refused")
    assert (group_refused.actor, group_refused.subject) == (
        f"staff:{staff_id}",
        f"group:{shanghai.id}",
    )
    assert all(e.actor == f"staff:{staff_id}" for e in await audit_of(db, "member.view.refused"))


async def test_pages_need_a_session(db: Database, browser: httpx.AsyncClient) -> None:
    await two_groups(db)
    zhang = await member_id(db, "张伟")
    for path in ("/members", "/members/overdue", f"/members/{zhang}"):
        page = await browser.get(path, params={"q": "张"})
        assert page.status_code == 401
        assert "张伟" not in page.text


# --- overdue and the phone to call ---------------------------------------------------------


async def test_the_overdue_list_shows_phones_masked_and_one_whole_on_request(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    _, _, staff_id = await liaison_of_shenzhen(db, clock, browser)
    page = await browser.get("/members/overdue")
    assert page.status_code == 200
    # 刘洋 checked in this month; 李娜 is another group's.
    assert sorted(rows_of(page.text, "overdue")) == [
        "张伟 +86 138****8000 从未报到，今天刚登记 显示完整电话",
        "陈静 ⚠️ 未绑定 +86 138****8002 从未报到，今天刚登记 显示完整电话",
    ]
    assert "+8613800138000" not in page.text
    assert "本月尚未报到：2 人" in page.text
    [listed] = await audit_of(db, "overdue.view")
    assert listed.detail is not None
    assert sorted(listed.detail["members"]) == [
        await member_id(db, "张伟"),
        await member_id(db, "陈静"),
    ]

    chen = await member_id(db, "陈静")
    for _ in range(2):
        shown = await browser.post(
            f"/members/{chen}/phone", data={"csrf": csrf_of(page.text), "from": "overdue"}
        )
        assert shown.status_code == 200
        assert '<a id="phone" href="tel:+8613800138002">+8613800138002</a>' in shown.text
        assert "陈静 的电话" in shown.text
        assert 'href="/members/overdue"' in shown.text
    # One event per reveal, naming the member; the number itself is not in the trail.
    reveals = await audit_of(db, "member.phone_reveal")
    assert [(e.actor, e.subject) for e in reveals] == [(f"staff:{staff_id}", f"member:{chen}")] * 2
    assert all("+8613800138002" not in str(e.detail) for e in reveals)
    # The member sees these looks at their data in /mydata.
    async with db.session() as session:
        data = await member_data(session, clock.now(), chen)
    assert data is not None
    assert [view.action for view in data.staff_views].count("member.phone_reveal") == 2


async def test_the_overdue_list_per_group(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, shanghai = await two_groups(db)
    wuhan = await make_group(db, START, "驻武汉党小组")
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen, shanghai])
    await log_in(browser, db, clock, staff.id)

    everyone = await browser.get("/members/overdue")
    # Equally silent (registered today): in name order, which the database's collation decides.
    assert sorted(row.split()[0] for row in rows_of(everyone.text, "overdue")) == [
        "张伟",
        "李娜",
        "陈静",
    ]
    # The groups to choose from are the liaison's own.
    assert f'href="/members/overdue?group={shanghai.id}"' in everyone.text
    assert f"group={wuhan.id}" not in everyone.text

    shanghai_only = await browser.get("/members/overdue", params={"group": str(shanghai.id)})
    assert [row.split()[0] for row in rows_of(shanghai_only.text, "overdue")] == ["李娜"]
    assert f"<strong>{shanghai.name}</strong>" in shanghai_only.text

    empty = await browser.get("/members/overdue", params={"group": str(wuhan.id)})
    assert empty.status_code == 404
    forged = await browser.get("/members/overdue", params={"group": "驻武汉"})
    assert forged.status_code == 404


# --- lost contact --------------------------------------------------------------------------


async def test_a_liaison_flags_lost_contact_and_an_administrator_confirms_it(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, _, staff_id = await liaison_of_shenzhen(db, clock, browser)
    zhang = await member_id(db, "张伟")
    page = await browser.get(f"/members/{zhang}")
    assert "没有失联标记。" in page.text
    assert 'value="confirm"' not in page.text  # not for a liaison

    marked = await browser.post(
        f"/members/{zhang}/lost-contact", data={"csrf": csrf_of(page.text), "do": "mark"}
    )
    assert marked.status_code == 303
    page = await browser.get(marked.headers["location"])
    assert "已标记为失联。" in page.text
    assert "2026-11-15 起标记为失联 (待管理员确认)" in page.text
    assert (await member(db, "张伟")).lost_contact_at == START

    # Pressed again (another tab): told, nothing changes.
    again = await browser.post(
        f"/members/{zhang}/lost-contact", data={"csrf": csrf_of(page.text), "do": "mark"}
    )
    assert "这位党员已经标记为失联。" in (await browser.get(again.headers["location"])).text

    browser.cookies.clear()
    admin = await make_staff(
        db, START, telegram_user_id=ADMIN, name="王管理", role=StaffRole.ADMIN, groups=[shenzhen]
    )
    await log_in(browser, db, clock, admin.id)
    page = await browser.get(f"/members/{zhang}")
    confirmed = await browser.post(
        f"/members/{zhang}/lost-contact", data={"csrf": csrf_of(page.text), "do": "confirm"}
    )
    page = await browser.get(confirmed.headers["location"])
    assert "已确认失联，系统将不再向其发送月度报到提醒" in page.text
    assert "管理员已确认，已停止月度报到提醒" in page.text

    # The liaison cannot take back what an administrator confirmed.
    browser.cookies.clear()
    await log_in(browser, db, clock, staff_id)
    page = await browser.get(f"/members/{zhang}")
    assert 'value="clear"' not in page.text
    refused = await browser.post(
        f"/members/{zhang}/lost-contact", data={"csrf": csrf_of(page.text), "do": "clear"}
    )
    assert "只有管理员可以执行这个操作。" in (await browser.get(refused.headers["location"])).text
    assert (await member(db, "张伟")).lost_contact_confirmed_at is not None

    trail = [
        (e.actor, e.action, e.subject)
        for e in await audit_of_many(db, "member.lost_contact", zhang)
    ]
    assert trail == [
        (f"staff:{staff_id}", "member.lost_contact_mark", f"member:{zhang}"),
        (f"staff:{staff_id}", "member.lost_contact_mark.refused", f"member:{zhang}"),
        (f"staff:{admin.id}", "member.lost_contact_confirm", f"member:{zhang}"),
        (f"staff:{staff_id}", "member.lost_contact_clear.refused", f"member:{zhang}"),
    ]


async def audit_of_many(db: Database, prefix: str, member_id: int) -> list[AuditEvent]:
    async with db.session() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.action.startswith(prefix), AuditEvent.subject == f"member:{member_id}"
            )
            .order_by(AuditEvent.id)
        )
        return list(rows)


async def test_a_flag_set_by_mistake_is_taken_back(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    await liaison_of_shenzhen(db, clock, browser)
    chen = await member_id(db, "陈静")  # flagged by the cycle three days ago
    page = await browser.get(f"/members/{chen}")
    assert "2026-11-12 起标记为失联 (待管理员确认)" in page.text
    cleared = await browser.post(
        f"/members/{chen}/lost-contact", data={"csrf": csrf_of(page.text), "do": "clear"}
    )
    page = await browser.get(cleared.headers["location"])
    assert "已撤销失联标记。" in page.text
    assert "没有失联标记。" in page.text
    assert (await member(db, "陈静")).lost_contact_at is None
    [event] = await audit_of(db, "member.lost_contact_clear")
    assert event.subject == f"member:{chen}"

    unknown = await browser.post(
        f"/members/{chen}/lost-contact", data={"csrf": csrf_of(page.text), "do": "forget"}
    )
    assert unknown.status_code == 400


# --- channels ------------------------------------------------------------------------------


async def test_the_channel_order_is_changed_from_the_card(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    _, _, staff_id = await liaison_of_shenzhen(db, clock, browser)
    zhang = await member_id(db, "张伟")
    page = await browser.get(f"/members/{zhang}")
    assert "按以下顺序联系 (默认顺序)" in page.text

    wrong = await browser.post(
        f"/members/{zhang}/channels", data={"csrf": csrf_of(page.text), "channels": "短信，微信"}
    )
    assert wrong.status_code == 400
    assert "不认识的渠道“微信”" in wrong.text
    assert 'value="短信，微信"' in wrong.text  # kept, to correct
    assert (await member(db, "张伟")).channels is None

    saved = await browser.post(
        f"/members/{zhang}/channels",
        data={"csrf": csrf_of(page.text), "channels": "短信、telegram"},
    )
    assert saved.status_code == 303
    page = await browser.get(saved.headers["location"])
    assert "联系渠道已保存。" in page.text
    assert "已设定：sms,telegram" in page.text
    assert (await member(db, "张伟")).channels == "sms,telegram"

    back = await browser.post(
        f"/members/{zhang}/channels", data={"csrf": csrf_of(page.text), "channels": "default"}
    )
    assert back.status_code == 303
    assert (await member(db, "张伟")).channels is None
    changes = await audit_of(db, "member.channels")
    assert [(e.actor, e.subject, e.detail) for e in changes] == [
        (
            f"staff:{staff_id}",
            f"member:{zhang}",
            {"channels": "sms,telegram", "previous": "default"},
        ),
        (
            f"staff:{staff_id}",
            f"member:{zhang}",
            {"channels": "default", "previous": "sms,telegram"},
        ),
    ]


# --- CSRF, markup, English -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("phone", {"from": "overdue"}),
        ("lost-contact", {"do": "mark"}),
        ("channels", {"channels": "sms"}),
    ],
)
@pytest.mark.parametrize("token", [None, "wrong"])
async def test_an_action_without_the_csrf_token_is_refused(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    action: str,
    form: dict[str, str],
    token: str | None,
) -> None:
    await liaison_of_shenzhen(db, clock, browser)
    zhang = await member_id(db, "张伟")
    data = form if token is None else {"csrf": token, **form}
    response = await browser.post(f"/members/{zhang}/{action}", data=data)
    assert response.status_code == 403
    assert "请求被拒绝" in response.text
    assert "+8613800138000" not in response.text
    unchanged = await member(db, "张伟")
    assert unchanged.lost_contact_at is None and unchanged.channels is None
    async with db.session() as session:
        done = await session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject == f"member:{zhang}")
        )
        assert list(done) == []


async def test_markup_in_a_members_name_is_shown_as_text(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, _, _ = await liaison_of_shenzhen(db, clock, browser)
    name = '<script>alert("x")</script>王'
    await make_member(db, START, name=name, phone="+8613900139000", groups=[shenzhen])
    someone = await member_id(db, name)
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;王"

    search = await browser.get("/members", params={"q": "<script>"})
    card = await browser.get(f"/members/{someone}")
    overdue = await browser.get("/members/overdue")
    phone = await browser.post(f"/members/{someone}/phone", data={"csrf": csrf_of(card.text)})
    for page in (search, card, overdue, phone):
        assert page.status_code == 200
        assert escaped in page.text
        assert "<script>" not in page.text
    # What was typed into the search field comes back escaped too.
    assert 'value="&lt;script&gt;"' in search.text


async def test_an_english_speaking_liaison_reads_the_pages_in_english(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    await liaison_of_shenzhen(db, clock, browser, locale="en")
    chen = await member_id(db, "陈静")

    search = await browser.get("/members")
    assert '<html lang="en">' in search.text
    assert "Type part of a member&#39;s name" in search.text
    found = await browser.get("/members", params={"q": "陈"})
    assert rows_of(found.text, "matches") == ["陈静 outflow member +86 138****8002 — ⚠️ not bound"]

    card = await browser.get(f"/members/{chen}")
    flagged = "Flagged lost contact since 2026-11-12 (awaiting an administrator&#39;s confirmation)"
    assert flagged in card.text
    assert "Tried in this order (the default order)" in card.text
    assert "Registered" in " ".join(timeline_of(card.text))

    overdue = await browser.get("/members/overdue")
    assert "Not checked in this month: 2 (longest silent first)" in overdue.text
    assert "never checked in; registered today" in overdue.text

    phone = await browser.post(f"/members/{chen}/phone", data={"csrf": csrf_of(card.text)})
    assert "Phone of 陈静" in phone.text

    missing = await browser.get("/members/999999")
    assert "Member not found" in missing.text

    wrong = await browser.post(
        f"/members/{chen}/channels", data={"csrf": csrf_of(card.text), "channels": "fax"}
    )
    assert "Unknown channel “fax”" in wrong.text


async def test_a_local_member_without_phone_has_no_phone_button(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, _, _ = await liaison_of_shenzhen(db, clock, browser)
    await make_member(
        db, START, name="赵敏", phone=None, status=MemberStatus.LOCAL, groups=[shenzhen]
    )
    card = await browser.get(f"/members/{await member_id(db, '赵敏')}")
    assert "本地党员" in card.text
    assert "/phone" not in card.text
    assert "暂无地点记录" in card.text
    assert "暂无报到记录。" in card.text
