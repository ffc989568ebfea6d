"""Activities in the console: the list, a card with its roster and code, staff marking who
came (with a button pressed twice), and another liaison's activity or member refused."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from storage.activities import create_activity
from storage.clock import FakeClock
from storage.db import Database
from storage.models import ActivityInvitation, ActivityKind, AttendanceSource, Group, Member
from tests.conftest import START
from tests.console_harness import LIAISON, OTHER_LIAISON, actions, csrf_of, log_in, two_groups
from tests.factories import make_staff

ZONE = ZoneInfo("Asia/Shanghai")


async def forum(db: Database, group: Group, staff_id: int, *, title: str = "流动党员座谈会") -> int:
    """A forum tomorrow at 10:00 (two hours), for group, made by staff_id."""
    async with db.session() as session:
        created = await create_activity(
            session,
            START,
            kind=ActivityKind.FORUM,
            title=title,
            starts_at=START + timedelta(days=1),
            ends_at=START + timedelta(days=1, hours=2),
            groups=[group.name],
            actor=f"staff:{staff_id}",
            organiser="民意街道党工委",
            zone=ZONE,
            staff_id=staff_id,
            address="民意街道党员之家",
            capacity=20,
        )
        return created.activity.id


async def member_named(db: Database, name: str) -> Member:
    async with db.session() as session:
        found = await session.scalar(select(Member).where(Member.name == name))
    assert found is not None
    return found


def roster_row(page: str, name: str) -> str:
    found = re.search(rf"<tr>\s*<td><a href=\"/members/\d+\">{name}</a></td>(.*?)</tr>", page, re.S)
    assert found is not None, name
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


async def test_a_liaison_sees_their_activities_and_marks_who_came(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, shanghai = await two_groups(db)
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    other = await make_staff(db, START, telegram_user_id=OTHER_LIAISON, groups=[shanghai])
    mine = await forum(db, shenzhen, staff.id)
    theirs = await forum(db, shanghai, other.id, title="上海的座谈会")
    await log_in(browser, db, clock, staff.id)

    listing = (await browser.get("/activities")).text
    assert "流动党员座谈会" in listing and "上海的座谈会" not in listing
    assert "参加 0 · 不参加 0 · 共邀请 3" in listing

    page = (await browser.get(f"/activities/{mine}")).text
    assert re.search(r'id="code"><strong>\d{6}</strong>', page)
    assert roster_row(page, "张伟").startswith("+86 138****8000 未回复 —")
    # Before check-in opens there is nothing to mark.
    assert "登记到场" not in page

    clock.advance(timedelta(days=1))  # the day: check-in is open (a new session, too)
    await log_in(browser, db, clock, staff.id)
    page = (await browser.get(f"/activities/{mine}")).text
    zhang = await member_named(db, "张伟")
    mark = {"csrf": csrf_of(page), "member": str(zhang.id), "attended": "yes"}
    for pressed, said in ((1, "已登记到场。"), (2, "本来就是这样，没有改动。")):
        response = await browser.post(f"/activities/{mine}/attendance", data=mark)
        assert response.status_code == 303, pressed
        shown = (await browser.get(response.headers["location"])).text
        assert said in shown
    assert "工作人员登记" in roster_row(shown, "张伟")
    async with db.session() as session:
        invitation = await session.scalar(
            select(ActivityInvitation).where(ActivityInvitation.member_id == zhang.id)
        )
    assert invitation is not None and invitation.attendance_source is AttendanceSource.STAFF
    assert [a for a in await actions(db) if a[1] == "activity.attendance.mark"] == [
        (f"staff:{staff.id}", "activity.attendance.mark")
    ]

    # Another liaison's activity, and another liaison's member: not found, nothing marked.
    assert (await browser.get(f"/activities/{theirs}")).status_code == 404
    li_na = await member_named(db, "李娜")
    forged = await browser.post(
        f"/activities/{mine}/attendance", data={**mark, "member": str(li_na.id)}
    )
    assert forged.status_code == 404
    elsewhere = await browser.post(f"/activities/{theirs}/attendance", data=mark)
    assert elsewhere.status_code == 404
    assert (f"staff:{staff.id}", "activity.view.refused") in await actions(db)


async def test_activities_in_english(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, _ = await two_groups(db)
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen], locale="en")
    mine = await forum(db, shenzhen, staff.id)
    await log_in(browser, db, clock, staff.id)
    assert "coming 0 · not coming 0 · invited 3" in (await browser.get("/activities")).text
    page = (await browser.get(f"/activities/{mine}")).text
    assert "Check-in code" in page and "no answer" in page


async def test_a_liaison_changes_and_cancels_an_activity_in_the_console(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, shanghai = await two_groups(db)
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    other = await make_staff(db, START, telegram_user_id=OTHER_LIAISON, groups=[shanghai])
    mine = await forum(db, shenzhen, staff.id)
    theirs = await forum(db, shanghai, other.id, title="上海的座谈会")
    await log_in(browser, db, clock, staff.id)
    page = (await browser.get(f"/activities/{mine}")).text
    assert "修改时间、地点或名额" in page and "取消活动" in page
    token = csrf_of(page)

    async def posted(path: str, **form: str) -> str:
        response = await browser.post(path, data={"csrf": token, **form})
        assert response.status_code == 303, path
        return (await browser.get(response.headers["location"])).text

    # A time in the past is refused; more places and a new time are kept and told.
    refused = await posted(f"/activities/{mine}/change", at="2026-11-01 09:00")
    assert "没有修改：这个时间已经过去了。" in refused
    changed = await posted(f"/activities/{mine}/change", at="2026-11-20 09:00", capacity="30")
    assert "已修改，变更通知正在发出。" in changed and "（名额 30）" in changed
    assert "2026-11-20 09:00" in changed
    # Cancelling needs the box ticked; then once, however often it is sent.
    unticked = await posted(f"/activities/{mine}/cancel", reason="场地维修")
    assert "没有取消：请勾选确认。" in unticked
    done = await posted(f"/activities/{mine}/cancel", reason="<b>场地</b>维修", confirm="yes")
    assert "活动已取消，取消通知正在发出。" in done
    assert "&lt;b&gt;场地&lt;/b&gt;维修" in done and "<b>场地</b>" not in done
    assert 'id="change"' not in done and 'id="cancel"' not in done
    again = await posted(f"/activities/{mine}/cancel", reason="场地维修", confirm="yes")
    assert "活动之前已经取消了，没有再通知。" in again
    assert "已取消" in (await browser.get("/activities")).text
    told = await browser.post(
        f"/activities/{theirs}/cancel", data={"csrf": token, "reason": "x", "confirm": "yes"}
    )
    assert told.status_code == 404
    assert (f"staff:{staff.id}", "activity.cancel.refused") in await actions(db)
    assert [a for _, a in await actions(db) if a in ("activity.change", "activity.cancel")] == [
        "activity.change",
        "activity.cancel",
    ]
