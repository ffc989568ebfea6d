"""The service's dispatcher in a test, and what each chat received from it.

`make_dispatcher` builds the dispatcher as `serve` wires it (the test's database, renderer and
clock, the service's language, zone and quiet hours; Telegram and group chats through the
test's bot) with a fixed seed for the retries' jitter; a test that needs another one (an SMS
recorder, a dead gateway, a retry policy, small batches, English) says so in its options.
The fixtures `dispatcher` and `deliver` (tests/conftest.py) are the default one on the test's
Application: `got = await deliver()` sends what is due and returns what each chat received.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram.ext import ExtBot

from bot.botapi import LocalBotApi, Outgoing
from bot.context import Services
from messages.channels.base import Channel, OutboundMessage, SendResult
from messages.channels.telegram import GroupChatChannel, TelegramChannel
from messages.dispatcher import Dispatcher, DispatcherConfig
from storage.calendar import QuietHours
from storage.models import ChannelName

# What each chat received: chat id -> the messages sent there, in order.
Received = dict[int, list[Outgoing]]

D = TypeVar("D", bound=Dispatcher)


def make_dispatcher(
    services: Services,
    bot: ExtBot[Any] | None = None,
    *,
    sms: Channel | None = None,
    channels: Mapping[ChannelName, Channel] | None = None,
    locale: str | None = None,
    config: DispatcherConfig | None = None,
    quiet_hours: QuietHours | None = None,
    seed: int = 3,
    kind: type[D] = Dispatcher,  # type: ignore[assignment]
) -> D:
    """The dispatcher on the test's services: Telegram and group chats through bot, SMS
    through sms; channels replaces them all. Rows of a channel it does not have wait.
    kind: a subclass of Dispatcher that lets the test watch it work."""
    if channels is None:
        channels = {}
        if bot is not None:
            channels = {
                ChannelName.TELEGRAM: TelegramChannel(bot),
                ChannelName.GROUP_CHAT: GroupChatChannel(bot),
            }
        if sms is not None:
            channels = {**channels, ChannelName.SMS: sms}
    settings = services.settings
    return kind(
        services.db,
        channels,
        services.renderer,
        services.clock,
        default_locale=locale or settings.locale,
        default_zone=settings.zone,
        config=config,
        rng=random.Random(seed),
        quiet_hours=quiet_hours or settings.quiet_hours,
    )


@dataclass(frozen=True, slots=True)
class Deliver:
    """Runs a dispatcher once and reads what it sent from the in-process Bot API."""

    dispatcher: Dispatcher
    api: LocalBotApi

    async def __call__(self) -> Received:
        """Send everything due now; what each chat received."""
        before = len(self.api.sent)
        await self.dispatcher.run_once()
        got: Received = {}
        for outgoing in self.api.sent[before:]:
            got.setdefault(outgoing.chat_id, []).append(outgoing)
        return got


class RecordingSms:
    """Stands in for the SMS centre (the real SMPP channel has tests of its own): accepts
    everything unless a result is scripted for the next sends."""

    name = ChannelName.SMS

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.script: list[SendResult] = []

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        if self.script:
            return self.script.pop(0)
        return SendResult.accepted(f"sms-{len(self.sent)}")

    def to(self, phone: str) -> list[str]:
        """The texts sent to one phone, in order."""
        return [m.text for m in self.sent if m.address == phone]
