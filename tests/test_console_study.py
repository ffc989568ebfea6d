"""The console's schedules and study: cycles, the library, push plans and who studied what.

Driven over HTTP on the real app, as a liaison or an administrator would use the pages; the
records are checked with the same storage operations the bot uses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from storage.clock import FakeClock
from storage.cycles import cycle_of_group
from storage.db import Database
from storage.models import (
    AuditEvent,
    CheckInCycle,
    Group,
    Member,
    StaffRole,
    StudyMaterial,
    StudySchedule,
)
from storage.settings import Settings
from storage.study import add_material, add_schedule, mark_studied, push_due_study
from tests.conftest import START
from tests.console_harness import LIAISON, actions, csrf_of, log_in, two_groups
from tests.factories import make_staff

ZONE = ZoneInfo("Asia/Shanghai")
ADMIN = 9003


async def members_named(db: Database) -> dict[str, Member]:
    async with db.session() as session:
        return {m.name: m for m in await session.scalars(select(Member))}


async def pushed(
    db: Database, group: Group, title: str, *, readers: Sequence[Member] = (), days_ago: int = 3
) -> int:
    """A material pushed to group days_ago (a one-off plan at 19:00), studied by readers."""
    planned = START - timedelta(days=days_ago + 7)
    day = (START - timedelta(days=days_ago)).astimezone(ZONE).date()
    async with db.session() as session:
        material = await add_material(
            session, planned, actor="cli:test", title=title, body="学习内容"
        )
        await add_schedule(
            session, planned, actor="cli:test", group=group.name, at="19:00", zone=ZONE,
            on_date=day, material_id=material.id,
        )  # fmt: skip
        material_id = material.id
    async with db.session() as session:
        await push_due_study(session, START - timedelta(days=days_ago, hours=-12), zone=ZONE)
    for member in readers:
        async with db.session() as session:
            await mark_studied(
                session, START - timedelta(days=1), material_id=material_id, member_id=member.id
            )
    return material_id


async def audited(db: Database, action: str) -> list[AuditEvent]:
    async with db.session() as session:
        rows = await session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        return list(rows)


async def token(browser: httpx.AsyncClient, page: str = "/study") -> str:
    return csrf_of((await browser.get(page)).text)


# --- /study: cycles and completion per group ------------------------------------------------


async def test_a_liaison_sees_their_groups_cycles_and_how_much_was_studied(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, shanghai = await two_groups(db)
    people = await members_named(db)
    await pushed(db, shenzhen, "党章第一章", readers=[people["刘洋"]])
    await pushed(db, shanghai, "党章第二章", readers=[people["李娜"]])
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    await log_in(browser, db, clock, staff.id)

    page = await browser.get("/study")
    assert page.status_code == 200
    text = page.text
    assert "驻深圳党小组" in text
    assert "驻上海党小组" not in text
    # The default cycle in words, as /schedule says it.
    assert "每月 1 日 09:00 提醒报到；4、8 日再次提醒；10 日把未报到名单发给联络员" in text
    assert "按默认安排" in text
    # Of 1 material pushed to 3 members, 1 studied.
    assert re.search(r"驻深圳党小组</a></td><td>3</td><td>1</td><td>1/3</td><td>33%</td>", text)
    assert (f"staff:{staff.id}", "console.study.view") in await actions(db)


async def test_the_dashboard_shows_study_completion_in_the_scope(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, shanghai = await two_groups(db)
    people = await members_named(db)
    await pushed(db, shenzhen, "党章第一章", readers=[people["刘洋"], people["张伟"]])
    await pushed(db, shanghai, "党章第二章")
    # Pushed long ago: outside the dashboard's last 30 days.
    await pushed(db, shenzhen, "旧资料", days_ago=60)
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    await log_in(browser, db, clock, staff.id)

    page = (await browser.get("/")).text
    study = page[page.index('id="study"') :]
    assert "学习情况（近 30 天推送的资料）" in study
    assert re.search(r"驻深圳党小组</a></td><td>1</td><td>2/3</td><td>67%</td>", study)
    assert "驻上海党小组" not in study
    assert "全部：2/3 次已学习 · 67%" in study
    # The dashboard's one audit row covers it.
    assert [a for _, a in await actions(db) if a.startswith("console.")][-1] == (
        "console.dashboard.view"
    )


async def test_the_dashboard_says_when_nothing_was_pushed(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, _ = await two_groups(db)
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    await log_in(browser, db, clock, staff.id)
    assert "近 30 天没有推送学习资料。" in (await browser.get("/")).text


# --- one group's cycle -----------------------------------------------------------------------


async def test_an_administrator_changes_a_groups_cycle_and_resets_it(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, settings: Settings
) -> None:
    shenzhen, _ = await two_groups(db)
    admin = await make_staff(db, START, telegram_user_id=ADMIN, role=StaffRole.ADMIN)
    await log_in(browser, db, clock, admin.id)
    form = await browser.get(f"/study/groups/{shenzhen.id}")
    assert 'name="day" value="1"' in form.text
    assert 'name="reminders" value="3,7"' in form.text

    saved = await browser.post(
        f"/study/groups/{shenzhen.id}/cycle",
        data={"csrf": csrf_of(form.text), "day": "2", "time": "08:30", "reminders": "3,7",
              "escalation": "10", "lost": "6", "enabled": "on"},
    )  # fmt: skip
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/study/groups/{shenzhen.id}?done=cycle_saved"
    page = (await browser.get(saved.headers["location"])).text
    assert "报到安排已保存，30 秒内生效。" in page
    assert "本小组自己的安排" in page
    assert "每月 2 日 08:30 提醒报到；5、9 日再次提醒" in page
    async with db.session() as session:
        cycle = await cycle_of_group(session, shenzhen.id, settings.default_cycle)
    assert (cycle.rule.prompt_day, cycle.updated_by) == (2, f"staff:{admin.id}")
    # The trail keeps what was changed, as typed.
    [event] = await audited(db, "schedule.set")
    assert event.subject == f"group:{shenzhen.id}"
    assert event.detail == {"day": "2", "time": "08:30"}

    reset = await browser.post(
        f"/study/groups/{shenzhen.id}/cycle/reset", data={"csrf": csrf_of(page)}
    )
    assert reset.headers["location"] == f"/study/groups/{shenzhen.id}?done=cycle_reset"
    page = (await browser.get(reset.headers["location"])).text
    assert "已恢复默认安排" in page
    assert "按默认安排" in page
    async with db.session() as session:
        assert await session.get(CheckInCycle, shenzhen.id) is None
    assert (f"staff:{admin.id}", "schedule.reset") in await actions(db)


async def test_saving_an_unchanged_cycle_changes_nothing(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, _ = await two_groups(db)
    admin = await make_staff(db, START, telegram_user_id=ADMIN, role=StaffRole.ADMIN)
    await log_in(browser, db, clock, admin.id)
    saved = await browser.post(
        f"/study/groups/{shenzhen.id}/cycle",
        data={"csrf": await token(browser), "day": "1", "time": "09:00", "reminders": "3,7",
              "escalation": "10", "lost": "6", "enabled": "on"},
    )  # fmt: skip
    assert saved.headers["location"].endswith("?done=cycle_unchanged")
    assert await audited(db, "schedule.set") == []


@pytest.mark.parametrize(
    ("field", "typed", "said"),
    [
        ("time", "25:00", "“25:00”不是时间，请写成 09:00 这样"),
        ("reminders", "7,3", "“7,3”不对，再次提醒要写成 3,7 这样"),
        ("day", "30", "报到提醒日要在 1 到 28 日之间"),
        ("escalation", "1", "名单发送日要在报到提醒日之后"),
        ("lost", "六", "“失联月数”要填整数，不是“六”"),
        ("reminders", "3,30", "最后一次提醒会落在 32 日，不能晚于 28 日"),
    ],
)
async def test_a_cycle_that_cannot_work_is_explained_and_the_form_kept(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    field: str,
    typed: str,
    said: str,
) -> None:
    shenzhen, _ = await two_groups(db)
    admin = await make_staff(db, START, telegram_user_id=ADMIN, role=StaffRole.ADMIN)
    await log_in(browser, db, clock, admin.id)
    values = {"day": "2", "time": "08:30", "reminders": "3,7", "escalation": "10", "lost": "6"}
    values[field] = typed
    page = await browser.post(
        f"/study/groups/{shenzhen.id}/cycle",
        data={"csrf": await token(browser), "enabled": "on", **values},
    )
    assert page.status_code == 400
    assert said in page.text
    # Everything typed is still there, the field at fault marked.
    for name, value in values.items():
        assert f'name="{name}" value="{value}"' in page.text
    assert re.search(
        rf'name="{field}" value="[^"]*" (inputmode="numeric" )?aria-invalid="true"', page.text
    )
    async with db.session() as session:
        assert await session.get(CheckInCycle, shenzhen.id) is None


async def test_a_liaison_may_look_at_a_cycle_but_not_change_it(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, shanghai = await two_groups(db)
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    await log_in(browser, db, clock, staff.id)
    page = await browser.get(f"/study/groups/{shenzhen.id}")
    assert page.status_code == 200
    assert 'name="day"' not in page.text
    assert "只有管理员可以修改月度报到安排" in page.text
    csrf = csrf_of(page.text)
    change = {"csrf": csrf, "day": "2"}

    own = await browser.post(f"/study/groups/{shenzhen.id}/cycle", data=change)
    assert own.status_code == 403
    assert "只有管理员可以这样做" in own.text
    # Another liaison's group: as if there were none.
    other = await browser.post(f"/study/groups/{shanghai.id}/cycle", data=change)
    assert other.status_code == 404
    assert "没有找到" in other.text
    assert (
        await browser.post(f"/study/groups/{shanghai.id}/cycle/reset", data=change)
    ).status_code == 404
    assert (await browser.get(f"/study/groups/{shanghai.id}")).status_code == 404
    assert (await browser.get("/study/groups/99999999999")).status_code == 404

    refusals = {
        (e.action, e.subject, (e.detail or {}).get("reason"))
        for e in await audited(db, "schedule.set.refused")
        + await audited(db, "schedule.reset.refused")
        + await audited(db, "console.study.group.view.refused")
    }
    assert refusals == {
        ("schedule.set.refused", f"group:{shenzhen.id}", "not_admin"),
        ("schedule.set.refused", f"group:{shanghai.id}", "out_of_scope"),
        ("schedule.reset.refused", f"group:{shanghai.id}", "out_of_scope"),
        ("console.study.group.view.refused", f"group:{shanghai.id}", "out_of_scope"),
        ("console.study.group.view.refused", "group:0", "not_found"),
    }
    async with db.session() as session:
        assert list(await session.scalars(select(CheckInCycle))) == []


async def test_a_groups_page_says_who_studied_what(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, _ = await two_groups(db)
    people = await members_named(db)
    first = await pushed(db, shenzhen, "党章第一章", readers=[people["刘洋"], people["张伟"]])
    await pushed(db, shenzhen, "党章第二章", readers=[people["刘洋"]], days_ago=2)
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    await log_in(browser, db, clock, staff.id)
    page = (await browser.get(f"/study/groups/{shenzhen.id}")).text
    assert f'<a href="/study/materials/{first}">党章第一章</a></td><td>2/3</td><td>67%</td>' in page
    assert "党章第二章</a></td><td>1/3</td><td>33%</td>" in page
    assert re.search(r"<td>刘洋</td><td>2/2</td><td>2026-11-14</td>", page)
    assert re.search(r"<td>陈静</td><td>0/2</td><td>—</td>", page)
    [event] = await audited(db, "console.study.group.view")
    assert event.subject == f"group:{shenzhen.id}"


# --- the library -------------------------------------------------------------------------------


async def test_a_liaison_adds_a_material_and_sees_it_in_the_library(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, _ = await two_groups(db)
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen], name="王联络")
    await log_in(browser, db, clock, staff.id)
    added = await browser.post(
        "/study/materials",
        data={"csrf": await token(browser, "/study/materials"), "title": "  党章  学习 ",
              "body": "第一条 <script>alert(1)</script>\n第二条", "link": "https://www.12371.cn/",
              "tags": "党章，基础"},
    )  # fmt: skip
    assert added.status_code == 303
    location = added.headers["location"]
    assert re.fullmatch(r"/study/materials/\d+\?done=material_added", location)
    page = (await browser.get(location)).text
    assert "学习资料已保存到资料库。" in page
    assert "党章 学习" in page
    assert "第一条 &lt;script&gt;alert(1)&lt;/script&gt;\n第二条" in page
    assert "<script>alert" not in page
    assert "标签: 党章、基础" in page
    assert "王联络 于 2026-11-15 添加" in page
    assert 'href="https://www.12371.cn/" rel="noopener noreferrer"' in page
    library = (await browser.get("/study/materials")).text
    assert "党章 学习" in library
    events = await audited(db, "study.material.add")
    assert [e.actor for e in events] == [f"staff:{staff.id}"]
    assert {a for _, a in await actions(db)} >= {
        "console.study.library.view",
        "console.study.material.view",
    }


@pytest.mark.parametrize(
    ("field", "typed", "said"),
    [
        ("title", "   ", "标题是空的，请输入标题。"),
        ("title", "题" * 201, "标题太长：最多 200 字。"),
        ("body", "", "正文是空的"),
        ("body", "学" * 8001, "正文太长：最多 8000 字，现在有 8001 字。"),
        ("link", "www.12371.cn", "链接不是网址"),
        ("tags", "a b c d e f g h i j k", "标签太多：最多 10 个。"),
        ("tags", "好好学习天天向上好好学习天天向上啊", "标签只能是一个个短词"),
    ],
)
async def test_a_material_that_cannot_be_saved_is_explained_and_kept(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    field: str,
    typed: str,
    said: str,
) -> None:
    staff = await make_staff(db, START, telegram_user_id=LIAISON)
    await log_in(browser, db, clock, staff.id)
    values = {"title": "党章学习", "body": "第一条", "link": "", "tags": ""}
    values[field] = typed
    page = await browser.post(
        "/study/materials", data={"csrf": await token(browser, "/study/materials"), **values}
    )
    assert page.status_code == 400
    assert said in page.text
    if field == "body":
        assert f'aria-invalid="true">{typed}</textarea>' in page.text
    else:
        assert f'name="{field}" value="{typed}"' in page.text
        assert 'name="body" rows="10">第一条</textarea>' in page.text
    async with db.session() as session:
        assert await session.scalar(select(StudyMaterial)) is None


async def test_who_studied_a_material_within_ones_scope(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, shanghai = await two_groups(db)
    people = await members_named(db)
    material = await pushed(db, shenzhen, "党章第一章", readers=[people["刘洋"]])
    # The same material to 驻上海, where 李娜 studied it.
    async with db.session() as session:
        await add_schedule(
            session, START - timedelta(days=10), actor="cli:test", group=shanghai.name,
            at="19:00", zone=ZONE, on_date=(START - timedelta(days=2)).date(),
            material_id=material,
        )  # fmt: skip
    async with db.session() as session:
        await push_due_study(session, START - timedelta(days=1, hours=12), zone=ZONE)
    async with db.session() as session:
        await mark_studied(session, START, material_id=material, member_id=people["李娜"].id)
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    await log_in(browser, db, clock, staff.id)
    page = (await browser.get(f"/study/materials/{material}")).text
    assert "驻深圳党小组</a></td><td>2026-11-12</td><td>1/3</td><td>33%</td>" in page
    assert "驻上海党小组" not in page
    assert "已学习的党员（1 人）" in page
    assert "<td>刘洋</td><td>2026-11-14 10:00</td>" in page
    assert "李娜" not in page
    [event] = await audited(db, "console.study.material.view")
    assert event.subject == f"material:{material}"

    assert (await browser.get("/study/materials/424242")).status_code == 404
    [refused] = await audited(db, "console.study.material.view.refused")
    assert refused.subject == "material:424242"


async def test_an_administrator_archives_a_material_a_liaison_cannot(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, _ = await two_groups(db)
    material = await pushed(db, shenzhen, "旧资料")
    liaison = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    await log_in(browser, db, clock, liaison.id)
    page = (await browser.get(f"/study/materials/{material}")).text
    assert "/archive" not in page
    refused = await browser.post(
        f"/study/materials/{material}/archive", data={"csrf": csrf_of(page)}
    )
    assert refused.status_code == 403
    [event] = await audited(db, "study.material.archive.refused")
    assert (event.subject, (event.detail or {})["reason"]) == (f"material:{material}", "not_admin")

    browser.cookies.clear()
    admin = await make_staff(db, START, telegram_user_id=ADMIN, role=StaffRole.ADMIN)
    await log_in(browser, db, clock, admin.id)
    page = (await browser.get(f"/study/materials/{material}")).text
    archived = await browser.post(
        f"/study/materials/{material}/archive", data={"csrf": csrf_of(page)}
    )
    assert archived.headers["location"] == f"/study/materials/{material}?done=material_archived"
    page = (await browser.get(archived.headers["location"])).text
    assert "2026-11-15 已归档" in page
    assert (f"staff:{admin.id}", "study.material.archive") in await actions(db)
    again = await browser.post(f"/study/materials/{material}/archive", data={"csrf": csrf_of(page)})
    assert again.status_code == 409
    # Archived materials are listed only when asked for.
    assert "旧资料" not in (await browser.get("/study/materials")).text
    assert "旧资料" in (await browser.get("/study/materials?archived=1")).text


# --- push plans --------------------------------------------------------------------------------


async def test_an_administrator_plans_pushes_and_stops_one(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    await two_groups(db)
    admin = await make_staff(db, START, telegram_user_id=ADMIN, role=StaffRole.ADMIN)
    async with db.session() as session:
        material = await add_material(
            session, START, actor="cli:test", title="党史一课", body="内容"
        )
        material_id = material.id
    await log_in(browser, db, clock, admin.id)
    csrf = await token(browser, "/study/plans")

    weekly = await browser.post(
        "/study/plans",
        data={"csrf": csrf, "group": "驻深圳党小组", "kind": "weekly", "weekday": "mon",
              "at": "19:00", "tag": "", "date": "", "material": ""},
    )  # fmt: skip
    assert weekly.status_code == 303
    assert re.fullmatch(r"/study/plans/\d+\?done=plan_added", weekly.headers["location"])
    page = (await browser.get(weekly.headers["location"])).text
    assert "推送计划已保存。" in page
    assert "每周一 19:00" in page
    assert "资料库中下一份资料" in page
    # 15 November 2026 is a Sunday: the first push is tomorrow evening.
    assert '<dd id="next-push">2026-11-16 19:00</dd>' in page

    once = await browser.post(
        "/study/plans",
        data={"csrf": csrf, "group": "驻深圳党小组", "kind": "once", "weekday": "mon",
              "date": "2026-12-05", "at": "9:30", "tag": "", "material": str(material_id)},
    )  # fmt: skip
    assert once.status_code == 303
    listing = (await browser.get("/study/plans")).text
    assert "2026-12-05 09:30" in listing
    assert f"#{material_id} 党史一课" in listing

    async with db.session() as session:
        plans = list(await session.scalars(select(StudySchedule).order_by(StudySchedule.id)))
    assert [(p.weekday, p.on_date, p.at_time) for p in plans] == [
        (0, None, "19:00"),
        (None, (START + timedelta(days=20)).date(), "09:30"),
    ]
    stopped = await browser.post(f"/study/plans/{plans[0].id}/stop", data={"csrf": csrf})
    assert stopped.headers["location"] == f"/study/plans/{plans[0].id}?done=plan_stopped"
    page = (await browser.get(stopped.headers["location"])).text
    assert '<dd id="next-push">已停止</dd>' in page
    assert "每周一 19:00" not in (await browser.get("/study/plans")).text
    assert "每周一 19:00" in (await browser.get("/study/plans?stopped=1")).text
    again = await browser.post(f"/study/plans/{plans[0].id}/stop", data={"csrf": csrf})
    assert again.status_code == 409
    assert [a for _, a in await actions(db) if a.startswith("study.schedule")] == [
        "study.schedule.add",
        "study.schedule.add",
        "study.schedule.stop",
    ]


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"kind": "once", "date": "2026-11-01"}, "这个时间已经过去了"),
        ({"kind": "once", "date": "2028-01-01"}, "这个日期在一年以后"),
        ({"kind": "once", "date": "12月5日"}, "日期要写成 2026-12-05 这样"),
        ({"kind": "once", "material": ""}, "请选择推送哪份资料"),
        ({"kind": "once", "tag": "党章"}, "推送一份指定的资料时不用填标签"),
        ({"at": "25:99"}, "时间要写成 19:00 这样的 24 小时制"),
        ({"kind": ""}, "请选择推送方式"),
        ({"tag": "a b"}, "标签只能是一个个短词"),
    ],
)
async def test_a_plan_that_cannot_work_is_explained_and_kept(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    changes: dict[str, str],
    said: str,
) -> None:
    await two_groups(db)
    admin = await make_staff(db, START, telegram_user_id=ADMIN, role=StaffRole.ADMIN)
    async with db.session() as session:
        material = await add_material(session, START, actor="cli:test", title="党史", body="内容")
        material_id = material.id
    await log_in(browser, db, clock, admin.id)
    values = {"group": "驻上海党小组", "kind": "weekly", "weekday": "wed", "date": "2026-12-05",
              "at": "20:00", "tag": "", "material": str(material_id)}  # fmt: skip
    values.update(changes)
    page = await browser.post(
        "/study/plans", data={"csrf": await token(browser, "/study/plans"), **values}
    )
    assert page.status_code == 400
    assert said in page.text
    assert f'name="at" value="{values["at"]}"' in page.text
    assert '<option value="驻上海党小组" selected>' in page.text
    assert '<option value="wed" selected>' in page.text
    async with db.session() as session:
        assert await session.scalar(select(StudySchedule)) is None


async def test_the_same_plan_twice_is_refused(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    await two_groups(db)
    admin = await make_staff(db, START, telegram_user_id=ADMIN, role=StaffRole.ADMIN)
    await log_in(browser, db, clock, admin.id)
    values = {"csrf": await token(browser, "/study/plans"), "group": "驻深圳党小组",
              "kind": "weekly", "weekday": "fri", "at": "19:00"}  # fmt: skip
    assert (await browser.post("/study/plans", data=values)).status_code == 303
    again = await browser.post("/study/plans", data=values)
    assert again.status_code == 400
    assert "这个党小组已经有同样的推送计划了。" in again.text


async def test_a_liaison_sees_their_plans_but_cannot_plan_or_stop(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, shanghai = await two_groups(db)
    people = await members_named(db)
    await pushed(db, shenzhen, "党章第一章", readers=[people["刘洋"]])
    await pushed(db, shanghai, "党章第二章")
    async with db.session() as session:
        plans = {p.group_id: p.id for p in await session.scalars(select(StudySchedule))}
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    await log_in(browser, db, clock, staff.id)

    listing = (await browser.get("/study/plans")).text
    assert "驻深圳党小组" in listing
    assert "驻上海党小组" not in listing
    assert "学习资料的推送计划只能由管理员安排。" in listing
    assert 'name="kind"' not in listing
    mine = (await browser.get(f"/study/plans/{plans[shenzhen.id]}")).text
    assert "党章第一章</a></td><td>1/3</td><td>33%</td>" in mine
    assert "/stop" not in mine
    csrf = csrf_of(mine)

    add = await browser.post(
        "/study/plans",
        data={"csrf": csrf, "group": "驻深圳党小组", "kind": "weekly", "weekday": "mon",
              "at": "19:00"},
    )  # fmt: skip
    assert add.status_code == 403
    assert (
        await browser.post(f"/study/plans/{plans[shenzhen.id]}/stop", data={"csrf": csrf})
    ).status_code == 403
    theirs = await browser.post(f"/study/plans/{plans[shanghai.id]}/stop", data={"csrf": csrf})
    assert theirs.status_code == 404
    assert (await browser.get(f"/study/plans/{plans[shanghai.id]}")).status_code == 404
    assert (await browser.get("/study/plans/77777")).status_code == 404

    async with db.session() as session:
        assert all(p.active for p in await session.scalars(select(StudySchedule)))
    refused = {
        (e.action, e.subject, (e.detail or {}).get("reason"))
        for e in await audited(db, "study.schedule.add.refused")
        + await audited(db, "study.schedule.stop.refused")
        + await audited(db, "console.study.plan.view.refused")
    }
    assert refused == {
        ("study.schedule.add.refused", "group:驻深圳党小组", "not_admin"),
        ("study.schedule.stop.refused", f"study_schedule:{plans[shenzhen.id]}", "not_admin"),
        ("study.schedule.stop.refused", f"study_schedule:{plans[shanghai.id]}", "out_of_scope"),
        ("console.study.plan.view.refused", f"study_schedule:{plans[shanghai.id]}", "out_of_scope"),
        ("console.study.plan.view.refused", "study_schedule:77777", "not_found"),
    }


async def test_an_administrator_with_a_scope_cannot_plan_for_another_group(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, shanghai = await two_groups(db)
    admin = await make_staff(
        db, START, telegram_user_id=ADMIN, role=StaffRole.ADMIN, groups=[shenzhen]
    )
    await log_in(browser, db, clock, admin.id)
    page = (await browser.get("/study/plans")).text
    assert '<option value="驻上海党小组"' not in page
    forged = await browser.post(
        "/study/plans",
        data={"csrf": csrf_of(page), "group": "驻上海党小组", "kind": "weekly",
              "weekday": "mon", "at": "19:00"},
    )  # fmt: skip
    assert forged.status_code == 404
    cycle = await browser.post(
        f"/study/groups/{shanghai.id}/cycle", data={"csrf": csrf_of(page), "day": "3"}
    )
    assert cycle.status_code == 404
    async with db.session() as session:
        assert await session.scalar(select(StudySchedule)) is None
        assert await session.scalar(select(CheckInCycle)) is None
    [event] = await audited(db, "study.schedule.add.refused")
    assert (event.detail or {})["group"] == "驻上海党小组"


# --- every change needs the page's token ------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/study/materials",
        "/study/plans",
        "/study/groups/{group}/cycle",
        "/study/groups/{group}/cycle/reset",
        "/study/plans/1/stop",
        "/study/materials/1/archive",
    ],
)
async def test_a_change_without_the_pages_token_is_refused(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, path: str
) -> None:
    shenzhen, _ = await two_groups(db)
    admin = await make_staff(db, START, telegram_user_id=ADMIN, role=StaffRole.ADMIN)
    await log_in(browser, db, clock, admin.id)
    response = await browser.post(
        path.format(group=shenzhen.id),
        data={"csrf": "forged", "title": "标题", "body": "正文", "group": "驻深圳党小组",
              "kind": "weekly", "weekday": "mon", "at": "19:00", "day": "2"},
    )  # fmt: skip
    assert response.status_code == 403
    assert "请求被拒绝" in response.text
    async with db.session() as session:
        for table in (StudyMaterial, StudySchedule, CheckInCycle):
            assert await session.scalar(select(table)) is None
    assert not [a for _, a in await actions(db) if a.startswith(("study.", "schedule."))]


async def test_signed_out_visitors_see_no_study_page(browser: httpx.AsyncClient) -> None:
    for path in ("/study", "/study/materials", "/study/plans", "/study/groups/1"):
        assert (await browser.get(path)).status_code == 401


# --- in English ----------------------------------------------------------------------------


async def test_the_study_pages_in_english(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, _ = await two_groups(db)
    people = await members_named(db)
    material = await pushed(db, shenzhen, "党章第一章", readers=[people["刘洋"]])
    admin = await make_staff(db, START, telegram_user_id=ADMIN, role=StaffRole.ADMIN, locale="en")
    await log_in(browser, db, clock, admin.id)

    overview = (await browser.get("/study")).text
    assert "Check-in cycles and study" in overview
    assert (
        "prompt on day 1 at 09:00; reminders on days 4, 8; silent list to liaisons on day 10"
        in overview
    )
    assert "Study (materials pushed in the last 30 days)" in overview
    group = await browser.post(
        f"/study/groups/{shenzhen.id}/cycle",
        data={"csrf": csrf_of(overview), "day": "2", "time": "8 am", "reminders": "3,7",
              "escalation": "10", "lost": "6", "enabled": "on"},
    )  # fmt: skip
    assert group.status_code == 400
    assert "Not saved: “8 am” is not a time of day; write it like 09:00." in group.text
    assert "Each member (3)" in group.text

    materials = await browser.post(
        "/study/materials",
        data={"csrf": csrf_of(overview), "title": "", "body": "text", "link": "", "tags": ""},
    )
    assert "The title is empty. Please type a title." in materials.text
    assert "Add a study material" in materials.text
    page = (await browser.get(f"/study/materials/{material}")).text
    assert "Members who studied it (1)" in page
    plans = (await browser.get("/study/plans")).text
    assert "Study push plans" in plans
    assert "Every week, the library&#39;s next material" in plans
    assert "Study (materials pushed in the last 30 days)" in (await browser.get("/")).text
