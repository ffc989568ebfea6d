"""Telegram: members' private chats and linked group chats, through python-telegram-bot.

The only module of messages/ that imports telegram. It also holds the rate limiter the whole
Application uses, so that notices and replies to members share Telegram's limits and replies
go first.
"""

from __future__ import annotations

import os
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
from messages.ratelimit import KeyedGate, RateGate
from messages.split import split_html
from storage.models import ChannelName

JSONDict = dict[str, Any]
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
    }
)


def seconds(value: int | float | timedelta) -> float:
    """A Telegram duration (int seconds, or timedelta) in seconds."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _is_group(chat_id: object) -> bool:
    return str(chat_id).startswith("-")


class TelegramRateLimiter(BaseRateLimiter[JSONDict]):
    """Keeps to Telegram's limits without waiting for a 429.

    Overall `overall` messages per second; bulk sends (rate_limit_args={"bulk": True}) also
    at most one per second per private chat; every group chat at most `group_per_minute`.
    Replies to members are urgent: they overtake queued bulk sends. A 429 pauses everything
    for its retry_after.
    """

    def __init__(
        self,
        *,
        overall: float = 30.0,
        per_chat_interval: float = 1.0,
        group_per_minute: float = 20.0,
    ) -> None:
        self.overall = RateGate(overall)
        self.private = KeyedGate(per_chat_interval)
        self.groups = KeyedGate(60.0 / group_per_minute)
        self.throttled = 0  # 429s seen: the benchmark expects none

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: JSONDict | None,
    ) -> bool | JSONDict | list[JSONDict]:
        if endpoint not in _SENDING:
            return await callback(*args, **kwargs)
        bulk = bool(rate_limit_args and rate_limit_args.get("bulk"))
        chat_id = data.get("chat_id")
        if chat_id is not None and _is_group(chat_id):
            await self.groups.acquire(chat_id)
        elif chat_id is not None and bulk:
            await self.private.acquire(chat_id)
        await self.overall.acquire(urgent=not bulk)
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as error:
            self.throttled += 1
            self.overall.pause(seconds(error.retry_after))
            raise


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
