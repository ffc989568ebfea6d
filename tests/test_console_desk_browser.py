"""The desk in a real browser: Debian's chromium, driven by Playwright, against the console
served by uvicorn as `liaison serve` serves it. A liaison logs in by link, takes a member's
request, and the member hears of it in the bot; another liaison's request stays hidden."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.context import Services
from bot.terminal import html_to_text
from storage.clock import FakeClock
from storage.db import Database
from storage.requests import create_request
from tests.conftest import START
from tests.console_chromium import console_tab, needs_chromium
from tests.delivery import Deliver
from tests.factories import make_group, make_member, make_request_catalogue, make_staff

MEMBER = 8001

pytestmark = needs_chromium


async def test_a_liaison_takes_a_request_in_the_browser_and_the_member_hears_it(
    services: Services, db: Database, clock: FakeClock, deliver: Deliver
) -> None:
    shenzhen = await make_group(db, START, "驻深圳党小组")
    shanghai = await make_group(db, START, "驻上海党小组")
    zhang = await make_member(db, START, name="张伟", groups=[shenzhen], telegram_user_id=MEMBER)
    li_na = await make_member(db, START, name="李娜", phone="+8613800138003", groups=[shanghai])
    staff = await make_staff(db, START, telegram_user_id=9001, groups=[shenzhen])
    await make_staff(db, START, telegram_user_id=9002, name="赵强", groups=[shanghai])
    category_id, _ = await make_request_catalogue(db, START)
    filed = []
    for member in (zhang, li_na):
        async with db.session() as session:
            filed_row = await create_request(
                session,
                START - timedelta(days=3),
                member_id=member.id,
                category_id=category_id,
                description="门面续租需要帮助",
                zone=ZoneInfo("Asia/Shanghai"),
            )
        filed.append(filed_row.id)
    mine, theirs = filed
    await deliver()  # the liaisons hear of the new requests
    async with console_tab(services) as tab:
        page, address = tab.page, tab.address
        await tab.sign_in(db, clock, staff.id)
        await page.click('header nav a[href="/requests"]')
        await page.wait_for_selector("#requests")
        listed = page.locator("#requests tbody tr")
        assert await listed.count() == 1
        assert (await listed.first.inner_text()).startswith(f"#{mine}\t张伟\t门面续租\t已受理")

        await page.get_by_role("link", name=f"#{mine}").click()
        await page.wait_for_selector("#take-form")
        assert await page.title() == f"服务申请 #{mine} · 联络工作台"
        await page.get_by_role("button", name="我来办理").click()
        await page.wait_for_selector("#done")
        assert await page.inner_text("#done") == "已由您办理，已通知党员。"
        assert await page.inner_text("#assignee") == "李联络"
        assert "李联络 开始办理" in await page.inner_text("#history")
        await tab.screenshot("console-requests.png")

        got = await deliver()
        [told] = got[MEMBER]
        assert f"您的服务申请 #{mine}（门面续租）已经由联络员 李联络 开始办理" in html_to_text(
            told.text
        )

        # Another liaison's request, by its address: the refusal, nothing of it shown.
        refused = await page.goto(f"{address}/requests/{theirs}")
        assert refused is not None and refused.status == 404
        assert "没有找到这件服务申请" in await page.inner_text("#message")
        assert "李娜" not in await page.content()
