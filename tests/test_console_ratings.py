"""Ratings in the console: everyone reads the rules and their members' ranking; a liaison
adjusts a score with a reason (its markup shown as typed) and may change nothing else; an
administrator changes a rule, chooses the commended, notifies them once, and downloads the
list (audited)."""

from __future__ import annotations

import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from openpyxl import load_workbook
from sqlalchemy import select

from storage.clock import FakeClock
from storage.db import Database
from storage.models import Delivery, Member, MessageKind, RatingAdjustment, StaffRole
from tests.conftest import START
from tests.console_harness import LIAISON, actions, csrf_of, log_in, two_groups
from tests.factories import make_checkin, make_staff, make_unit

ADMIN = 9003
SHANGHAI = ZoneInfo("Asia/Shanghai")


def row_of(page: str, name: str) -> str:
    """A ranking row as text (tags gone, spaces squeezed)."""
    found = re.search(rf"<tr>\s*<td>\d+</td>\s*<td>{name} (.*?)</tr>", page, re.S)
    assert found is not None, name
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0))).strip()


async def member_id(db: Database, name: str) -> int:
    async with db.session() as session:
        found = await session.scalar(select(Member.id).where(Member.name == name))
    assert found is not None
    return found


async def test_a_liaison_reads_adjusts_and_may_change_nothing_else(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, _ = await two_groups(db)
    home = await make_unit(db, START, "民意街道党工委")
    await make_unit(db, START, "花楼街道党工委")  # nobody of theirs lives under it
    async with db.session() as session:
        zhang_row = await session.scalar(select(Member).where(Member.name == "张伟"))
        assert zhang_row is not None
        zhang_row.home_unit_id = home.id
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    await log_in(browser, db, clock, staff.id)
    page = (await browser.get("/ratings")).text
    assert "2026 年度" in page and "按时报到" in page
    # The units offered to narrow the list are their members' own, no other unit's name.
    assert "民意街道党工委</option>" in page and "花楼街道党工委" not in page
    # Their members only: 李娜 is in 驻上海.
    assert "张伟" in page and "李娜" not in page
    # 刘洋 checked in on 13 November and 11 October: after the 10th both times, late.
    assert row_of(page, "刘洋").endswith("0 (0) 0 (0) 0 (0) 0 (0) 0 (0) 0 0")
    assert 'action="/ratings/rules/' not in page and 'action="/ratings/notify"' not in page
    csrf = csrf_of(page)
    zhang = await member_id(db, "张伟")

    blank = await browser.post(
        "/ratings/adjust", data={"csrf": csrf, "member": str(zhang), "points": "3", "reason": " "}
    )
    assert blank.status_code == 400 and "请写明加减分的理由" in blank.text
    done = await browser.post(
        "/ratings/adjust",
        data={"csrf": csrf, "member": "+8613800138000", "points": "-2", "reason": "<b>缺席</b>"},
    )
    assert done.status_code == 303
    shown = (await browser.get(done.headers["location"])).text
    assert "加减分已记录" in shown
    assert "&lt;b&gt;缺席&lt;/b&gt;" in shown and "<b>缺席</b>" not in shown
    assert row_of(shown, "张伟").endswith("-2 -2")
    async with db.session() as session:
        reasons = list(await session.scalars(select(RatingAdjustment.reason)))
    assert reasons == ["<b>缺席</b>"]

    # Another group's member, a rule, the list: refused, nothing changed.
    li_na = await member_id(db, "李娜")
    theirs = await browser.post(
        "/ratings/adjust", data={"csrf": csrf, "member": str(li_na), "points": "5", "reason": "好"}
    )
    assert theirs.status_code == 404
    rule = await browser.post(
        "/ratings/rules/attendance", data={"csrf": csrf, "points": "50", "cap": ""}
    )
    assert rule.status_code == 403 and "只有管理员" in rule.text
    assert "<td>3</td>" in (await browser.get("/ratings")).text
    chosen = await browser.post("/ratings/commend", data={"csrf": csrf, "member_id": str(zhang)})
    assert chosen.status_code == 403
    done_by_liaison = [a for _, a in await actions(db) if a.startswith("rating.")]
    assert "rating.rule.change.refused" in done_by_liaison
    assert "rating.commend.refused" in done_by_liaison
    assert done_by_liaison.count("rating.adjust") == 1


async def test_an_administrator_changes_a_rule_commends_notifies_and_downloads(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    await two_groups(db)
    admin = await make_staff(db, START, telegram_user_id=ADMIN, name="钱主任", role=StaffRole.ADMIN)
    await log_in(browser, db, clock, admin.id)
    page = (await browser.get("/ratings")).text
    csrf = csrf_of(page)
    assert "李娜" in page
    changed = await browser.post(
        "/ratings/rules/on_time_checkin", data={"csrf": csrf, "points": "10", "cap": "15"}
    )
    assert changed.status_code == 303
    # 张伟 checks in twice on time this year: 20 points, capped at 15.
    async with db.session() as session:
        zhang = await session.scalar(select(Member).where(Member.name == "张伟"))
    assert zhang is not None
    await make_checkin(db, zhang, datetime(2026, 2, 3, 10, 0, tzinfo=SHANGHAI))
    await make_checkin(db, zhang, datetime(2026, 3, 3, 10, 0, tzinfo=SHANGHAI))
    page = (await browser.get("/ratings?year=2026")).text
    assert "<td>1</td>\n      <td>张伟" in page
    assert "15 (2) 0 (0) 0 (0) 0 (0) 0 (0) 0 15 列入表彰" in row_of(page, "张伟")

    for pressed in range(2):
        commended = await browser.post(
            "/ratings/commend",
            data={
                "csrf": csrf,
                "year": "2026",
                "member_id": str(zhang.id),
                "citation": "热心 & 肯干",
            },
        )
        assert commended.status_code == (303 if pressed == 0 else 400)
    assert "已在本年度的表彰名单上" in commended.text
    for _ in range(2):
        notified = await browser.post("/ratings/notify", data={"csrf": csrf, "year": "2026"})
        assert notified.status_code == 303
    async with db.session() as session:
        kinds = list(await session.scalars(select(Delivery.kind)))
    assert kinds == [MessageKind.COMMENDATION]
    page = (await browser.get("/ratings?year=2026&done=notified")).text
    assert "通知已发出" in page and "热心 &amp; 肯干" in page and "未通知" not in page

    download = await browser.get("/ratings/export.xlsx", params={"year": "2026"})
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith(
        'attachment; filename="ratings-2026.xlsx"'
    )
    sheet = load_workbook(io.BytesIO(download.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][:2] == (1, "张伟") and rows[1][-1] == 15
    assert (f"staff:{admin.id}", "rating.rank.export") in await actions(db)

    removed = await browser.post(
        "/ratings/uncommend", data={"csrf": csrf, "year": "2026", "member_id": str(zhang.id)}
    )
    assert removed.status_code == 303
    assert "本年度还没有人列入表彰名单" in (await browser.get(removed.headers["location"])).text
    # An unknown unit shows the whole scope, saying so.
    unknown = await browser.get("/ratings", params={"unit": "不存在的单位"})
    assert unknown.status_code == 404 and "没有这个单位" in unknown.text
    # In English too.
    await browser.post("/lang", data={"csrf": csrf, "locale": "en", "back": "/ratings"})
    english = (await browser.get("/ratings")).text
    assert "Ratings and commendations" in english and "Check-in on time" in english
