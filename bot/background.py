"""The service beside the bot: the scheduler, the dispatcher and its channels, and the
handler of members' SMS replies, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from datetime import timedelta

from bot.console.server import running_console
from bot.context import LiaisonApplication, Services
from bot.qq import QqTransport, running_qq
from bot.terminal import html_to_text
from messages.channels.qq import QqChannel
from messages.channels.sms import SmsChannel, sms_channel
from messages.channels.telegram import GroupChatChannel, TelegramChannel
from messages.dispatcher import Dispatcher, DispatcherConfig
from messages.sms_inbound import SmsInbox
from scheduler.timers import CycleScheduler
from storage import zones
from storage.models import ChannelName
from storage.outbox import RetryPolicy


def make_sms_inbox(services: Services) -> SmsInbox:
    """What stores and answers members' SMS replies (the SMS channel's inbound sink)."""
    settings = services.settings
    return SmsInbox(
        services.db,
        services.clock,
        services.renderer,
        services.regions,
        zone=settings.zone,
        store_coordinates=settings.store_coordinates,
    )


def make_dispatcher(
    services: Services,
    application: LiaisonApplication,
    *,
    account: int | None = None,
    qq: QqTransport | None = None,
    inbox: SmsInbox | None = None,
) -> tuple[Dispatcher, SmsChannel]:
    """The dispatcher sending through the Application's bot and the configured SMS channel.

    With account (a terminal chat's Telegram id), Telegram deliveries go only to that
    account: the others stay pending for their own terminal chat or `serve`, and group
    chats, which no terminal shows, wait for `serve`. With qq (a QQ host may connect), QQ
    private chats and QQ groups too.
    """
    settings = services.settings
    dispatcher = Dispatcher(
        services.db,
        {},
        services.renderer,
        services.clock,
        default_locale=settings.locale,
        default_zone=settings.zone,
        # Claims of about two seconds of Telegram's rate (the faster channel).
        config=DispatcherConfig.for_rate(
            max(settings.telegram_rate, settings.smpp_rate),
            lease=timedelta(seconds=settings.delivery_lease_seconds),
            policy=RetryPolicy(max_attempts=settings.delivery_max_attempts),
        ),
        quiet_hours=settings.quiet_hours,
        addresses={ChannelName.TELEGRAM: [str(account)]} if account is not None else None,
    )
    sms = sms_channel(settings, dispatcher.on_receipt, inbox)
    if qq is not None:
        dispatcher.channels[ChannelName.QQ] = QqChannel(
            qq.account, ChannelName.QQ, html_to_text, qq.show
        )
        dispatcher.channels[ChannelName.QQ_GROUP] = QqChannel(
            qq.account, ChannelName.QQ_GROUP, html_to_text
        )
    dispatcher.channels.update(
        {ChannelName.TELEGRAM: TelegramChannel(application.bot), ChannelName.SMS: sms}
    )
    if account is None:
        dispatcher.channels[ChannelName.GROUP_CHAT] = GroupChatChannel(application.bot)
    return dispatcher, sms


@contextlib.asynccontextmanager
async def running_background(
    services: Services, application: LiaisonApplication, *, account: int | None = None
) -> AsyncIterator[Dispatcher]:
    """Run the monthly cycle's timers and deliver through the Application's bot (and SMS,
    and QQ when a host may connect) until the block ends; with account, a terminal chat's
    (see make_dispatcher)."""
    settings = services.settings
    inbox = make_sms_inbox(services)
    async with running_qq(services) as qq:
        dispatcher, sms = make_dispatcher(
            services, application, account=account, qq=qq, inbox=inbox
        )
        await sms.start()
        await asyncio.to_thread(zones.warm)
        # Everything built so far lives as long as the service: out of the collector's sight,
        # so a full collection never stalls the loop long enough to bunch paced sends together.
        gc.freeze()
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop), name="dispatcher")
        # Members' SMS stored before a restart are handled first thing.
        replies = asyncio.create_task(inbox.run(stop), name="sms-replies")
        scheduler = CycleScheduler(services.db, settings, services.clock)
        application.bot_data.scheduler = scheduler
        try:
            # Catching up may take a moment on a large registry; the dispatcher already runs.
            await scheduler.start()
            yield dispatcher
        finally:
            await scheduler.stop()
            application.bot_data.scheduler = None
            stop.set()
            await task
            await sms.close()
            await replies


def attach_background(application: LiaisonApplication) -> None:
    """Run the scheduler, the dispatcher and the web console for as long as run_polling runs
    the Application."""
    stack = contextlib.AsyncExitStack()
    started = application.post_init
    stopped = application.post_shutdown

    async def post_init(app: LiaisonApplication) -> None:
        if started is not None:
            await started(app)
        await stack.enter_async_context(running_background(app.bot_data.services, app))
        # The staff web console runs in the same loop, with the same services.
        await stack.enter_async_context(running_console(app.bot_data.services))

    async def post_shutdown(app: LiaisonApplication) -> None:
        await stack.aclose()
        if stopped is not None:
            await stopped(app)

    application.post_init = post_init
    application.post_shutdown = post_shutdown
