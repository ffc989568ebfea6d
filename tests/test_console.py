"""The web console: in by a one-time link, a session that ends, CSRF, scope and audit.

Driven over HTTP with httpx on the real app (bot/console/app.py) and the real database.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import Route

from bot.botapi import LocalBotApi
from bot.console.app import console_app
from bot.console.core import COOKIE
from bot.context import LiaisonApplication, Services
from storage.clock import FakeClock
from storage.dashboard import Dashboard, dashboard
from storage.db import Database
from storage.models import ConsoleLink, ConsoleSession, Member, StaffRole
from storage.requests import create_request
from tests.chat import Person, talk
from tests.conftest import START
from tests.console_harness import (
    LIAISON,
    MEMBER,
    OTHER_LIAISON,
    STRANGER,
    actions,
    csrf_of,
    link_for,
    log_in,
    two_groups,
)
from tests.factories import (
    make_checkin,
    make_group,
    make_member,
    make_request_catalogue,
    make_staff,
)

ZONE = ZoneInfo("Asia/Shanghai")


# --- the way in --------------------------------------------------------------------------


async def test_a_liaison_asks_the_bot_for_a_link_and_opens_the_dashboard(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    browser: httpx.AsyncClient,
) -> None:
    shenzhen, _ = await two_groups(db)
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    liaison = Person(application, bot_api, LIAISON)
    await talk(liaison, [("/console", ["联络工作台登录链接", "10 分钟内有效，只能使用一次"])])
    url = re.search(r"http://127\.0\.0\.1:8080(/login/\S+)", liaison.last_text)
    assert url is not None

    response = await browser.get(url.group(1))
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    assert "Secure" not in cookie  # plain http on loopback

    page = await browser.get("/")
    assert page.status_code == 200
    assert "概览" in page.text
    assert "驻深圳党小组" in page.text
    assert 'id="checkin-chart"' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    # Neither the link's nor the session's token is kept as it is.
    async with db.session() as session:
        link = await session.scalar(select(ConsoleLink))
        opened = await session.scalar(select(ConsoleSession))
    assert link is not None and opened is not None
    assert link.token_hash not in url.group(1)
    assert opened.token_hash != browser.cookies[COOKIE]
    assert await actions(db) == [
        (f"staff:{staff.id}", "console.link"),
        (f"staff:{staff.id}", "console.login"),
        (f"staff:{staff.id}", "console.dashboard.view"),
    ]


async def test_members_and_strangers_get_no_link(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await two_groups(db)
    member = Person(application, bot_api, MEMBER)
    stranger = Person(application, bot_api, STRANGER)
    for person in (member, stranger):
        await talk(person, [("/console", None)])
        assert "/login/" not in person.last_text
    async with db.session() as session:
        assert await session.scalar(select(ConsoleLink)) is None


async def test_a_link_works_once(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    staff = await make_staff(db, START, telegram_user_id=LIAISON)
    link = await link_for(db, clock, staff.id)
    assert (await browser.get(link)).status_code == 303
    browser.cookies.clear()

    again = await browser.get(link)
    assert again.status_code == 410
    assert "登录链接已用过" in again.text
    assert browser.cookies.get(COOKIE) is None
    assert (await browser.get("/")).status_code == 401


async def test_a_link_expires_after_ten_minutes(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    staff = await make_staff(db, START, telegram_user_id=LIAISON)
    link = await link_for(db, clock, staff.id)
    clock.advance(timedelta(minutes=10))
    response = await browser.get(link)
    assert response.status_code == 410
    assert "登录链接已过期" in response.text
    assert (await browser.get("/")).status_code == 401
    assert (f"staff:{staff.id}", "console.login.refused") in await actions(db)


async def test_a_forged_link_opens_nothing(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    staff = await make_staff(db, START, telegram_user_id=LIAISON)
    real = await link_for(db, clock, staff.id)
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    response = await browser.get(forged)
    assert response.status_code == 404
    assert "登录链接无效" in response.text
    assert (await browser.get("/")).status_code == 401
    # The real one still works: a forgery spends nothing.
    assert (await browser.get(real)).status_code == 303


async def test_without_a_session_the_dashboard_shows_nothing(
    db: Database, browser: httpx.AsyncClient
) -> None:
    await two_groups(db)
    browser.cookies.set(COOKIE, "made-up")
    page = await browser.get("/")
    assert page.status_code == 401
    assert "请先登录" in page.text
    assert "驻深圳党小组" not in page.text


# --- the session ---------------------------------------------------------------------------


async def test_a_session_ends_after_the_idle_time_not_while_in_use(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    staff = await make_staff(db, START, telegram_user_id=LIAISON)
    await log_in(browser, db, clock, staff.id)
    # Settings' default: 30 idle minutes. Each page view keeps the session alive.
    for _ in range(3):
        clock.advance(timedelta(minutes=29))
        assert (await browser.get("/")).status_code == 200
    clock.advance(timedelta(minutes=30))
    page = await browser.get("/")
    assert page.status_code == 401
    # Gone for good, not only while idle.
    clock.advance(timedelta(minutes=-25))
    assert (await browser.get("/")).status_code == 401


async def test_logout_ends_the_session(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    staff = await make_staff(db, START, telegram_user_id=LIAISON)
    await log_in(browser, db, clock, staff.id)
    cookie = browser.cookies[COOKIE]
    page = await browser.get("/")
    response = await browser.post("/logout", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 200
    assert "已退出登录" in response.text
    # Even a copy of the old cookie opens nothing now.
    browser.cookies.set(COOKIE, cookie)
    assert (await browser.get("/")).status_code == 401
    assert (f"staff:{staff.id}", "console.logout") in await actions(db)


@pytest.mark.parametrize("token", [None, "", "wrong"])
async def test_a_post_without_the_csrf_token_is_refused(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, token: str | None
) -> None:
    staff = await make_staff(db, START, telegram_user_id=LIAISON)
    await log_in(browser, db, clock, staff.id)
    response = await browser.post("/logout", data={} if token is None else {"csrf": token})
    assert response.status_code == 403
    assert "请求被拒绝" in response.text
    # Still logged in: nothing was done.
    assert (await browser.get("/")).status_code == 200
    assert (f"staff:{staff.id}", "console.logout") not in await actions(db)


# --- the dashboard -------------------------------------------------------------------------


def figure(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', page)
    assert found is not None
    return found.group(1)


async def test_a_liaison_sees_only_their_own_groups_figures(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, services: Services
) -> None:
    shenzhen, shanghai = await two_groups(db)
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    other = await make_staff(db, START, telegram_user_id=OTHER_LIAISON, groups=[shanghai])
    await log_in(browser, db, clock, staff.id)

    page = (await browser.get("/")).text
    assert "驻深圳党小组" in page
    assert "驻上海党小组" not in page
    assert figure(page, "members") == "3"
    assert figure(page, "lost-contact") == "1"
    # 1 of 3 checked in this month (2026-11).
    assert re.search(r"<td>驻深圳党小组</td><td>3</td><td>1</td><td>33%</td>", page)
    assert "本月（2026-11）" in page
    # The chart: 12 months to this one; October had the same member's check-in.
    async with db.session() as session:
        months = (await console_dashboard(session, services, staff.id)).months
    assert [m.period for m in months][-2:] == ["2026-10", "2026-11"]
    assert [m.checked_in for m in months][-2:] == [1, 1]

    browser.cookies.clear()
    await log_in(browser, db, clock, other.id)
    page = (await browser.get("/")).text
    assert "驻上海党小组" in page
    assert "驻深圳党小组" not in page
    assert figure(page, "members") == "1"
    assert figure(page, "lost-contact") == "0"


async def test_where_members_are_counts_each_members_latest_place_in_scope(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    guangdong = await make_group(db, START, "驻广东党小组")
    elsewhere = await make_group(db, START, "驻上海党小组")
    moved = await make_member(db, START, name="王芳", phone="+8613900000000", groups=[guangdong])
    await make_checkin(db, moved, START - timedelta(days=40), province="湖北省", city="武汉市")
    await make_checkin(db, moved, START - timedelta(days=5), province="广东省", city="深圳市")
    stayed = await make_member(db, START, name="赵磊", phone="+8613900000001", groups=[guangdong])
    await make_checkin(db, stayed, START - timedelta(days=3), province="广东省", city="广州市")
    # Consent to location withdrawn down to the province: counted there, with no city.
    coarse = await make_member(db, START, name="孙丽", phone="+8613900000002", groups=[guangdong])
    await make_checkin(db, coarse, START - timedelta(days=3), province="湖北省")
    await make_member(
        db, START, name="周杰", phone="+8613900000003", groups=[guangdong]
    )  # never told a place
    theirs = await make_member(db, START, name="李娜", phone="+8613900000004", groups=[elsewhere])
    await make_checkin(db, theirs, START - timedelta(days=3), province="广东省", city="深圳市")
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[guangdong])
    await log_in(browser, db, clock, staff.id)

    page = (await browser.get("/")).text
    found = re.search(r'id="province-data">([^<]*)<', page)
    assert found is not None
    chart = json.loads(html.unescape(found.group(1)))
    assert (chart["labels"], chart["members"]) == (["广东省", "湖北省"], [2, 1])
    cities = re.findall(r"<tr><td>(\w+)</td><td>(\w+)</td><td>(\d+)</td></tr>", page)
    assert cities == [("广东省", "广州市", "1"), ("广东省", "深圳市", "1")]
    assert "另有 1 名党员没有可用的地点" in page
    # The map: 广东 shaded for its two, a dot for each city the region index knows.
    assert "<title>广东省：2 人</title>" in page and "<title>湖北省：1 人</title>" in page
    assert "<title>上海市：0 人</title>" in page
    assert re.search(r"<circle[^>]*><title>深圳市", page)


async def console_dashboard(session: AsyncSession, services: Services, staff_id: int) -> Dashboard:
    return await dashboard(
        session,
        services.clock.now(),
        staff_id=staff_id,
        zone=services.settings.zone,
    )


async def test_open_requests_by_age_and_the_late_ones(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, _ = await two_groups(db)
    category_id, _ = await make_request_catalogue(db, START)
    async with db.session() as session:
        members = {m.name: m.id for m in await session.scalars(select(Member))}
    for name, days_ago in (("张伟", 40), ("张伟", 10), ("刘洋", 1), ("李娜", 2)):
        async with db.session() as session:
            await create_request(
                session,
                START - timedelta(days=days_ago),
                member_id=members[name],
                category_id=category_id,
                description="门面续租需要帮助",
                zone=ZONE,
            )
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    await log_in(browser, db, clock, staff.id)
    page = (await browser.get("/")).text
    assert re.search(r"<td>7 天以内</td><td>1</td>", page)  # 李娜's is another group's
    assert re.search(r"<td>7 至 30 天</td><td>1</td>", page)
    assert re.search(r"<td>30 天以上</td><td>1</td>", page)
    # The default target is under 40 days: the oldest is late.
    assert int(figure(page, "late-requests")) >= 1


async def test_the_console_speaks_english_to_staff_who_chose_it(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    shenzhen, _ = await two_groups(db)
    staff = await make_staff(
        db, START, telegram_user_id=LIAISON, groups=[shenzhen], locale="en", role=StaffRole.ADMIN
    )
    await log_in(browser, db, clock, staff.id)
    page = (await browser.get("/")).text
    assert '<html lang="en">' in page
    assert "Check-ins this month (2026-11) per group" in page
    assert "Log out" in page
    assert "administrator" in page


async def test_the_chart_library_is_served_from_the_package(browser: httpx.AsyncClient) -> None:
    script = await browser.get("/static/chart.umd.min.js")
    assert script.status_code == 200
    assert "Chart" in script.text[:2000]
    licence = await browser.get("/static/chart.js.LICENSE.md")
    assert "MIT" in licence.text


async def test_the_link_in_english(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await make_staff(db, START, telegram_user_id=LIAISON, locale="en")
    liaison = Person(application, bot_api, LIAISON, language_code="en")
    await talk(
        liaison,
        [("/console", ["Your login link to the console", "valid for 10 minutes and works once"])],
    )
    assert "http://127.0.0.1:8080/login/" in liaison.last_text


async def test_the_language_switch_keeps_the_page_and_is_the_bots_language_too(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
) -> None:
    staff = await make_staff(db, START, telegram_user_id=LIAISON)
    await log_in(browser, db, clock, staff.id)
    page = (await browser.get("/?from=here")).text
    assert '<input type="hidden" name="back" value="/?from=here">' in page
    switched = await browser.post(
        "/lang", data={"csrf": csrf_of(page), "locale": "en", "back": "/?from=here"}
    )
    assert (switched.status_code, switched.headers["location"]) == (303, "/?from=here")
    page = (await browser.get("/")).text
    assert '<html lang="en">' in page and "Dashboard" in page
    # The same choice as /lang in the bot.
    await talk(
        Person(application, bot_api, LIAISON), [("/console", ["Your login link to the console"])]
    )
    assert (f"staff:{staff.id}", "console.lang") in await actions(db)
    # Back only to a page of the console, never to another site.
    elsewhere = await browser.post(
        "/lang", data={"csrf": csrf_of(page), "locale": "zh_CN", "back": "//evil.example/"}
    )
    assert elsewhere.headers["location"] == "/"
    assert "联络工作台" in (await browser.get("/")).text


def every_route(services: Services) -> list[tuple[str, str]]:
    """(method, path) of every page and action of the console, ids filled in with 1."""
    found = []
    for route in console_app(services).routes:
        if not isinstance(route, Route) or route.path.startswith("/login/"):
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append((method, path))
    return found


async def test_no_page_or_action_opens_without_a_session_and_no_action_without_csrf(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, services: Services
) -> None:
    routes = every_route(services)
    assert ("GET", "/") in routes and ("POST", "/logout") in routes
    for method, path in routes:
        response = await browser.request(method, path)
        assert response.status_code == 401, (method, path)
        assert "请先登录" in response.text
    staff = await make_staff(db, START, telegram_user_id=LIAISON, role=StaffRole.ADMIN)
    await log_in(browser, db, clock, staff.id)
    before = await actions(db)
    for method, path in routes:
        if method == "POST":
            response = await browser.post(path, data={"csrf": "forged"})
            assert response.status_code == 403, path
    # Nothing was done: not one audit event since the login.
    assert [a for a in await actions(db) if a not in before] == []


async def test_this_months_rate_counts_each_member_in_their_own_time_zone(
    db: Database, clock: FakeClock, services: Services
) -> None:
    # 1 December 03:00 in Shanghai is still 30 November in Berlin.
    clock.set(datetime(2026, 11, 30, 19, 0, tzinfo=UTC))
    group = await make_group(db, START, "驻德国党小组")
    abroad = await make_member(
        db, START, name="王芳", phone="+8613900000001", groups=[group], timezone="Europe/Berlin"
    )
    home = await make_member(db, START, name="刘洋", phone="+8613900000002", groups=[group])
    # Both checked in in November: for the member in Berlin that is still this month.
    await make_checkin(db, abroad, datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    await make_checkin(db, home, datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[group])
    async with db.session() as session:
        figures = await console_dashboard(session, services, staff.id)
    [rate] = figures.groups
    assert (rate.members, rate.checked_in) == (2, 1)
