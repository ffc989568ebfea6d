"""A notice written in the console, in a real browser (Debian's chromium, driven by
Playwright, against the app as `liaison serve` serves it): log in by link, write and preview
it, send it, and watch its delivery page count the messages out while the dispatcher works;
the member gets it in the bot.

The page's own clock is Playwright's: its polling timer fires when the test moves it, and
the dispatcher runs when the test says, so each step is seen, and nothing sleeps.
"""

from __future__ import annotations

from playwright.async_api import Page

from bot.botapi import LocalBotApi
from bot.console.notices import POLL_MILLISECONDS
from bot.context import Services
from messages.dispatcher import Dispatcher
from storage.clock import FakeClock
from storage.db import Database
from storage.models import ChannelName
from tests.conftest import START
from tests.console_chromium import console_tab, needs_chromium
from tests.console_harness import LIAISON, MEMBER
from tests.cycle_harness import RecordingSms
from tests.delivery import make_dispatcher
from tests.factories import make_group, make_member, make_staff

pytestmark = needs_chromium

BODY = "本周六上午 9 点在党员之家集合，请带上党员证。"


async def total(page: Page, state: str) -> str:
    return await page.inner_text(f"#count-{state}")


async def next_poll(page: Page) -> None:
    """Let the page's timer fire once: it asks for the counts again."""
    await page.clock.run_for(POLL_MILLISECONDS)


async def test_a_notice_sent_from_the_console_is_watched_going_out(
    services: Services,
    db: Database,
    clock: FakeClock,
    dispatcher: Dispatcher,
    bot_api: LocalBotApi,
) -> None:
    group = await make_group(db, START, "驻深圳党小组")
    await make_member(db, START, name="张伟", telegram_user_id=MEMBER, groups=[group])
    await make_member(db, START, name="刘洋", phone="+8613800138001", groups=[group])
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[group])
    sms = RecordingSms(clock)
    async with console_tab(services) as tab:
        page, address = tab.page, tab.address
        await page.clock.install()
        polls: list[str] = []
        page.on("request", lambda r: polls.append(r.url) if "/progress" in r.url else None)
        await tab.sign_in(db, clock, staff.id)

        await page.get_by_role("link", name="通知", exact=True).click()
        await page.get_by_role("link", name="写通知").click()
        await page.get_by_label("驻深圳党小组").check()
        await page.fill("#body", BODY)
        await page.get_by_role("button", name="预览").click()
        await page.wait_for_selector("#preview-telegram")
        assert await page.inner_text("#recipients") == "2 名党员"
        assert BODY in await page.inner_text("#preview-telegram")
        assert "每人 1 条短信" in await page.inner_text("#preview-sms")
        await page.get_by_role("button", name="确认发送").click()
        await page.wait_for_selector("#progress")
        assert page.url.startswith(f"{address}/notices/")
        assert "等待发出" in await page.inner_text("#stage")

        # The dispatcher takes the notice: a delivery for each member, both waiting.
        await dispatcher.enqueue_due()
        await next_poll(page)
        await page.wait_for_selector("#count-pending")
        assert await total(page, "pending") == "2"
        assert "正在发送" in await page.inner_text("#stage")

        # Telegram goes (the dispatcher has no SMS yet): one delivered, one waiting.
        await dispatcher.run_once()
        await next_poll(page)
        await page.wait_for_selector("#count-delivered:text-is('1')")
        assert await total(page, "pending") == "1"
        row = page.locator("tr[data-channel='telegram'] td[data-state='delivered']")
        assert await row.inner_text() == "1"

        # Then the SMS: nothing is left to go, and the page stops asking.
        await make_dispatcher(services, channels={ChannelName.SMS: sms}).run_once()
        await next_poll(page)
        await page.wait_for_selector("#progress[data-live='no']")
        assert await total(page, "delivered") == "2"
        assert await total(page, "pending") == "0"
        assert "已发完" in await page.inner_text("#stage")
        await tab.screenshot("console-notice.png")
        asked = len(polls)
        await page.clock.run_for(20 * POLL_MILLISECONDS)
        await page.evaluate("1")
        assert len(polls) == asked == 3

    # The member got it in the bot, and the other by SMS.
    [telegram] = [sent for sent in bot_api.sent if sent.chat_id == MEMBER]
    assert BODY in telegram.text
    assert "—— 李联络" in telegram.text
    [(_, message)] = sms.sent
    assert BODY in message.text
