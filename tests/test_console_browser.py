"""The console in a real browser: Debian's chromium, driven by Playwright, against the app
served by uvicorn as `liaison serve` serves it. Log in by link, see the dashboard drawn."""

from __future__ import annotations

from datetime import timedelta

from bot.context import Services
from storage.clock import FakeClock
from storage.db import Database
from tests.conftest import START
from tests.console_chromium import console_tab, needs_chromium
from tests.factories import make_checkin, make_group, make_member, make_staff

pytestmark = needs_chromium


async def test_a_liaison_logs_in_by_link_and_sees_the_dashboard_with_its_chart(
    services: Services, db: Database, clock: FakeClock
) -> None:
    group = await make_group(db, START, "驻深圳党小组")
    member = await make_member(db, START, name="刘洋", groups=[group])
    await make_checkin(db, member, START, province="广东省", city="深圳市")
    # Earlier check-ins elsewhere: the map and the bar chart show where members are now.
    places = [
        ("广东省", "广州市"),
        ("湖北省", "武汉市"),
        ("上海市", "上海市"),
        ("广东省", "深圳市"),
    ]
    for number, (province, city) in enumerate(places):
        other = await make_member(
            db, START, name=f"党员{number}", phone=f"+8613900000{number:03d}", groups=[group]
        )
        await make_checkin(db, other, START - timedelta(days=40), province=province, city=city)
    staff = await make_staff(db, START, telegram_user_id=9001, groups=[group])
    async with console_tab(services) as tab:
        page, address = tab.page, tab.address
        await tab.sign_in(db, clock, staff.id)
        assert page.url == f"{address}/"
        await page.wait_for_selector("#checkin-chart[data-drawn='yes']", timeout=5000)
        assert await page.title() == "概览 · 联络工作台"
        row = page.locator("#groups tbody tr").first
        assert await row.inner_text() == "驻深圳党小组\t5\t1\t20%"
        await page.wait_for_selector("#province-chart[data-drawn='yes']", timeout=5000)
        shaded = page.locator("path[data-province='广东省']")
        assert await shaded.get_attribute("data-step") != "0"
        box = await page.locator("#checkin-chart").bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 50
        await tab.screenshot("console-dashboard.png")
        await page.get_by_role("button", name="退出登录").click()
        await page.wait_for_selector("#message")
        assert "已退出登录" in await page.inner_text("#message")


async def test_a_liaison_finds_a_member_calls_them_and_is_refused_another_liaisons_member(
    services: Services, db: Database, clock: FakeClock
) -> None:
    mine = await make_group(db, START, "驻深圳党小组")
    theirs = await make_group(db, START, "驻上海党小组")
    member = await make_member(db, START, name="刘洋", phone="+8613800138001", groups=[mine])
    await make_checkin(db, member, START, province="广东省", city="深圳市")
    stranger = await make_member(db, START, name="李娜", phone="+8613800138003", groups=[theirs])
    staff = await make_staff(db, START, telegram_user_id=9001, groups=[mine])
    async with console_tab(services) as tab:
        page, address = tab.page, tab.address
        await tab.sign_in(db, clock, staff.id)
        await page.get_by_role("link", name="党员", exact=True).click()
        await page.fill("#q", "刘")
        await page.get_by_role("button", name="查找").click()
        await page.get_by_role("link", name="刘洋").click()
        assert await page.inner_text("#phone-masked") == "+86 138****8001"
        assert "广东省 深圳市" in await page.inner_text("#where-now")
        await tab.screenshot("console-member.png")
        await page.get_by_role("button", name="显示完整电话").click()
        assert "+8613800138001" in await page.content()

        await page.goto(f"{address}/members/{stranger.id}")
        assert "没有找到这位党员" in await page.inner_text("#message")
        assert "李娜" not in await page.content()
