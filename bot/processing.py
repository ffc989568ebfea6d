"""How updates reach the handlers: chats concurrently, each chat in order, floods cut short.

python-telegram-bot hands every update to the Application's update processor. This one lets
different chats be answered at the same time (one slow or rate-limited chat no longer holds
up everyone) while a chat's updates are handled one after the other, in the order they
came, and one account is never handled twice at once: conversations rely on that. An
account that sends more than `max_updates` updates in `window` seconds is flooding: it gets
one "please slow down" answer and its further updates are dropped (and counted in the log)
until it sends slower, instead of queueing for minutes of paced replies.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import BaseUpdateProcessor

from bot.context import LiaisonApplication
from messages.ratelimit import KeyedLocks
from messages.render import normalize_locale

log = logging.getLogger(__name__)

# (update, first): first is the flood's first dropped update, which gets the one answer.
FloodReply = Callable[[Update, bool], Awaitable[None]]


class ChatOrderedUpdates(BaseUpdateProcessor):
    """Concurrent across chats, in order within a chat and an account, with flood control.

    Time for the flood window is `clock` (monotonic seconds), injected for tests.
    """

    def __init__(
        self,
        *,
        max_updates: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        on_flood: FloodReply | None = None,
        max_concurrent_updates: int = 256,
    ) -> None:
        super().__init__(max_concurrent_updates)
        self.max_updates = max_updates
        self.window = window
        self.on_flood = on_flood
        self.dropped = 0  # updates dropped as flood, since start
        self._clock = clock
        self._locks = KeyedLocks()
        self._arrivals: dict[int, deque[float]] = {}
        self._flooding: dict[int, int] = {}  # account → updates dropped in this flood

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def admit(self, account: int) -> bool:
        """Count an update from account; False if it is flooding (drop the update)."""
        now = self._clock()
        arrivals = self._arrivals.setdefault(account, deque())
        while arrivals and arrivals[0] <= now - self.window:
            arrivals.popleft()
        # Every arrival counts, dropped ones too: a flood that goes on stays cut off.
        arrivals.append(now)
        if len(self._arrivals) > 10_000:
            self._arrivals = {a: d for a, d in self._arrivals.items() if d[-1] > now - self.window}
        if len(arrivals) <= self.max_updates:
            dropped = self._flooding.pop(account, 0)
            if dropped:
                log.warning(
                    "account %s slowed down; %d of its updates were dropped", account, dropped
                )
            return True
        self.dropped += 1
        self._flooding[account] = self._flooding.get(account, 0) + 1
        return False

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        user = chat = None
        if isinstance(update, Update):
            user = update.effective_user.id if update.effective_user else None
            chat = update.effective_chat.id if update.effective_chat else None
        if user is not None and not self.admit(user):
            if inspect.iscoroutine(coroutine):
                coroutine.close()  # never run: no "was never awaited" warning
            assert isinstance(update, Update)
            first = self._flooding[user] == 1
            if first:
                log.warning("account %s is flooding: dropping its updates", user)
            if self.on_flood is not None:
                await self.on_flood(update, first)
            return
        # The chat's lock first, in arrival order (locks are FIFO): a chat's updates are
        # handled in the order they came. Then the account's, so that one account is never
        # handled twice at once (its private chat and a group). Everyone takes them in this
        # order, so no two updates can wait for each other.
        async with AsyncExitStack() as stack:
            for key in (("chat", chat), ("user", user)):
                if key[1] is not None:
                    await stack.enter_async_context(self._locks.hold(key))
            await coroutine


async def slow_down(application: LiaisonApplication, update: Update, first: bool) -> None:
    """The one answer to a flooding account, in its language (no database query).

    A dropped button press is still answered (a toast; Telegram's spinner would otherwise
    turn until it times out): that is not a message, so it costs the chat nothing.
    """
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    services = application.bot_data.services
    data = application.user_data.get(user.id)
    chosen = None
    if data is not None:
        # Who the account is, as the last update handled found it; /lang before binding.
        chosen = (data.identity.locale if data.identity is not None else None) or data.locale
    locale = normalize_locale(chosen or user.language_code, services.settings.locale)
    try:
        if update.callback_query is not None:
            toast = services.renderer.label(locale, "fallback.slow_down")
            await update.callback_query.answer(text=toast)
        if first:
            text = services.renderer.render(locale, "fallback/slow_down")
            await application.bot.send_message(chat.id, text, parse_mode=ParseMode.HTML)
    except TelegramError as error:
        log.warning("slow-down answer to %s not sent: %s", user.id, error)
