"""The console in a real browser, for the browser tests: the app served by uvicorn as
`liaison serve` serves it (on a free port, as a second service on the machine would need),
and a tab of Debian's chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest
from playwright.async_api import Page, async_playwright

from bot.console.server import running_console
from bot.context import Services
from storage import console
from storage.clock import FakeClock
from storage.db import Database

CHROMIUM = "/usr/bin/chromium"

needs_chromium = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK), reason="needs Debian's chromium (.ci/run installs it)"
)


@dataclass(frozen=True, slots=True)
class Tab:
    """A chromium tab beside the served console."""

    page: Page
    address: str

    async def sign_in(self, db: Database, clock: FakeClock, staff_id: int) -> None:
        """Open a fresh login link, as a staff member does from the bot's /console."""
        async with db.session() as session:
            token = await console.create_link(
                session, clock.now(), staff_id=staff_id, actor=f"staff:{staff_id}"
            )
        await self.page.goto(console.login_url(self.address, token))

    async def screenshot(self, name: str) -> None:
        """The README's pictures (make screenshots): only when CONSOLE_SCREENSHOTS is set."""
        if shots := os.environ.get("CONSOLE_SCREENSHOTS"):
            await self.page.screenshot(path=f"{shots}/{name}", full_page=True)


@contextlib.asynccontextmanager
async def console_tab(services: Services, *, locale: str = "zh-CN") -> AsyncIterator[Tab]:
    """The console served and a blank tab; Tab.sign_in opens it."""
    served = replace(
        services, settings=services.settings.model_copy(update={"console_listen": "127.0.0.1:0"})
    )
    async with running_console(served) as address, async_playwright() as playwright:
        assert address is not None
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield Tab(await browser.new_page(locale=locale), address)
        finally:
            await browser.close()
