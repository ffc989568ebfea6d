"""Telegram: members' private chats and linked group chats, through python-telegram-bot.

The only module of messages/ that imports telegram. It also holds the rate limiter the whole
Application uses, so that notices and replies to members share Telegram's limits and replies
go first.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import timedelta
from typing import Any

# python-telegram-bot 22 warns unless durations are timedelta objects (its future default).
os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import BaseRateLimiter, ExtBot

from messages.channels.base import OutboundMessage, SendOutcome, SendResult
from messages.ratelimit import KeyedGate, RateGate, Sleep
from messages.split import split_html
from storage.models import ChannelName

JSONDict = dict[str, Any]
log = logging.getLogger(__name__)

# Methods that put something into a chat; everything else (getUpdates!) is never held back.
_SENDING = frozenset(
    {
        "sendMessage",
        "sendLocation",
        "sendVenue",
        "sendPhoto",
        "sendDocument",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
    }
)
# Edits add no message to a chat: Telegram counts them loosely, so they keep to the overall
# rate only. A button press (edit, then the next question) is not slowed by a second.
_EDITS = frozenset({"editMessageText", "editMessageReplyMarkup", "editMessageCaption"})
# A 429 while we used this share of the overall rate in the last second was the overall one.
_NEAR_OVERALL = 0.9
# A reply that must wait longer than this shows "typing…" meanwhile.
_TYPING_AFTER = 1.0


def seconds(value: int | float | timedelta) -> float:
    """A Telegram duration (int seconds, or timedelta) in seconds."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _is_group(chat_id: object) -> bool:
    return str(chat_id).startswith("-")


class TelegramRateLimiter(BaseRateLimiter[JSONDict]):
    """Keeps to Telegram's limits without waiting for a 429, and rides out the 429s that come.

    Every message to a chat, reply or bulk (rate_limit_args={"bulk": True}), keeps the chat's
    pace: one per `per_chat_interval` seconds in a private chat, `group_per_minute` a minute
    in a group chat, one send at a time per chat; all chats together `overall` a second.
    Replies to members are urgent: they overtake queued bulk sends at the overall gate.

    A 429 holds what was exceeded for its retry_after. Telegram does not say which limit
    that was, so: a 429 on a call without a chat, or while we had used 90 % or more of the
    overall rate in the last second, pauses every send; any other 429 holds only that chat.
    A reply is then sent again, up to `max_attempts` tries: its handler never sees the 429
    and the member's turn completes, later. A reply that must wait more than a second shows
    "typing…" in its chat meanwhile (a chat action, which the limits do not count). A bulk
    send's 429 is raised after the hold is set: the dispatcher reschedules that delivery
    (SendResult.retry, knowing how far a long notice got) and goes on with other chats
    instead of sleeping on this one.

    `clock` (monotonic seconds) and `sleep` are injected: tests pace in virtual time.
    """

    def __init__(
        self,
        *,
        overall: float = 30.0,
        per_chat_interval: float = 1.0,
        group_per_minute: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_attempts: int = 5,
    ) -> None:
        self.overall = RateGate(overall, clock=clock, sleep=sleep)
        self.private = KeyedGate(per_chat_interval, clock=clock, sleep=sleep)
        self.groups = KeyedGate(60.0 / group_per_minute, clock=clock, sleep=sleep)
        self.max_attempts = max_attempts
        self.throttled = 0  # 429s seen: the benchmark expects none

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def _chat_gate(self, endpoint: str, chat_id: object) -> KeyedGate | None:
        if chat_id is None or endpoint in _EDITS:
            return None
        return self.groups if _is_group(chat_id) else self.private

    def _hold(self, endpoint: str, chat_id: object, wait: float) -> str:
        """Hold what a 429 says was exceeded; returns what was held, for the log."""
        gate = self._chat_gate(endpoint, chat_id)
        if gate is None or chat_id is None or self.overall.busy() >= _NEAR_OVERALL:
            self.overall.pause(wait)
            return "every chat"
        gate.pause(chat_id, wait)
        return f"chat {chat_id}"

    async def _typing(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        chat_id: object,
        kwargs: dict[str, Any],
    ) -> None:
        """Show "typing…" in a private chat whose answer must wait (not a counted send)."""
        try:
            await callback("sendChatAction", {"chat_id": chat_id, "action": "typing"}, **kwargs)
        except TelegramError as error:  # cosmetic: the answer itself is what matters
            log.debug("typing action for %s not shown: %s", chat_id, error)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: JSONDict | None,
    ) -> bool | JSONDict | list[JSONDict]:
        if endpoint == "answerCallbackQuery":
            return await _answer(callback, args, kwargs)
        if endpoint not in _SENDING:
            return await callback(*args, **kwargs)
        bulk = bool(rate_limit_args and rate_limit_args.get("bulk"))
        chat_id = data.get("chat_id")
        gate = self._chat_gate(endpoint, chat_id)
        if not bulk and gate is self.private and self.private.ready_in(chat_id) > _TYPING_AFTER:
            await self._typing(callback, chat_id, kwargs)
        async with gate.hold(chat_id) if gate is not None else contextlib.nullcontext():
            for attempt in itertools.count(1):
                await self.overall.acquire(urgent=not bulk)
                try:
                    return await callback(*args, **kwargs)
                except RetryAfter as error:
                    self.throttled += 1
                    wait = seconds(error.retry_after)
                    held = self._hold(endpoint, chat_id, wait)
                    log.warning(
                        "429 on %s (%s): %s held for %.0f s (attempt %d)",
                        endpoint,
                        "bulk" if bulk else "reply",
                        held,
                        wait,
                        attempt,
                    )
                    if bulk or attempt >= self.max_attempts:
                        raise
                    if gate is self.private and wait > _TYPING_AFTER:
                        await self._typing(callback, chat_id, kwargs)
                    if gate is not None and chat_id is not None:
                        await gate.wait_turn(chat_id)
        raise AssertionError("unreachable")  # pragma: no cover


async def _answer(
    callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
    args: Any,
    kwargs: dict[str, Any],
) -> bool | JSONDict | list[JSONDict]:
    """Answer a button press; a press too old to answer (after a restart, say) still counts.

    The answer only stops the button's spinner. Telegram refuses it some seconds after the
    press ("query is too old"), and the handler would stop there, telling the person their
    action failed: the action goes on instead.
    """
    try:
        return await callback(*args, **kwargs)
    except BadRequest as error:
        said = error.message.lower()
        if "query is too old" not in said and "query id is invalid" not in said:
            raise
        log.info("button press answered too late: %s", error.message)
        return True


class TelegramChannel:
    """A member's private chat with the bot."""

    name = ChannelName.TELEGRAM

    def __init__(self, bot: ExtBot[Any]) -> None:
        self.bot = bot
        # A broadcast shows everyone the same buttons; markups are immutable, so share them.
        self._markups: dict[tuple[tuple[str, str], ...], InlineKeyboardMarkup] = {}

    def _markup(self, buttons: tuple[tuple[str, str], ...]) -> InlineKeyboardMarkup | None:
        if not buttons:
            return None
        markup = self._markups.get(buttons)
        if markup is None:
            if len(self._markups) > 1_000:
                self._markups.clear()
            markup = self._markups[buttons] = InlineKeyboardMarkup(
                [[InlineKeyboardButton(text, callback_data=data)] for text, data in buttons]
            )
        return markup

    async def send(self, message: OutboundMessage) -> SendResult:
        markup = self._markup(message.buttons)
        parts = split_html(message.text)
        # An earlier attempt sent these: the member must not read them twice.
        done = min(message.parts_sent, len(parts))
        sent = None
        try:
            for index in range(done, len(parts)):
                sent = await self.bot.send_message(
                    int(message.address),
                    parts[index],
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup if index == len(parts) - 1 else None,
                    disable_web_page_preview=True,
                    rate_limit_args={"bulk": True},
                )
                done = index + 1
                if len(parts) > 1 and message.part_sent is not None:
                    await message.part_sent(done)
        except TelegramError as error:
            result = _refused(error)
            return replace(result, parts_sent=done) if len(parts) > 1 else result
        if sent is None:  # every part went on an earlier attempt; only the record was lost
            return SendResult.accepted(delivered=True)
        return SendResult.accepted(str(sent.message_id), delivered=True)


def _refused(error: TelegramError) -> SendResult:
    """What a refused send means for the delivery."""
    match error:
        case RetryAfter():
            return SendResult.retry("429 Too Many Requests", after=seconds(error.retry_after))
        case ChatMigrated():
            return SendResult(
                SendOutcome.RETRY,
                reason="the group chat became a supergroup",
                new_address=str(error.new_chat_id),
                retry_after=0,
            )
        case Forbidden():
            return SendResult.unreachable(f"403 {error.message}")
        case BadRequest() if "chat not found" in error.message.lower():
            return SendResult.unreachable(f"400 {error.message}")
        case BadRequest():
            return SendResult.failed(f"400 {error.message}")
        case InvalidToken():
            return SendResult.retry("the bot token was rejected", after=300)
        case TimedOut():
            return SendResult.retry("timed out")
        case NetworkError():
            return SendResult.retry(f"network error: {error.message}")
        case _:
            return SendResult.retry(f"Telegram error: {error.message}")


class GroupChatChannel(TelegramChannel):
    """A group's linked Telegram group chat (the QQ-group habit of the programme)."""

    name = ChannelName.GROUP_CHAT
