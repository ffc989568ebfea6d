"""The service beside the bot: the scheduler, the dispatcher and its channels, started and
stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from datetime import timedelta

from bot.context import LiaisonApplication, Services
from messages.channels.sms import sms_channel
from messages.channels.telegram import GroupChatChannel, TelegramChannel
from messages.dispatcher import Dispatcher, DispatcherConfig
from scheduler.service import CycleScheduler
from storage.models import ChannelName
from storage.outbox import RetryPolicy


@contextlib.asynccontextmanager
async def running_background(
    services: Services, application: LiaisonApplication
) -> AsyncIterator[Dispatcher]:
    """Run the monthly cycle's timers and deliver through the Application's bot (and SMS)
    until the block ends."""
    settings = services.settings
    dispatcher = Dispatcher(
        services.db,
        {},
        services.renderer,
        services.clock,
        default_locale=settings.locale,
        default_zone=settings.zone,
        config=DispatcherConfig(
            lease=timedelta(seconds=settings.delivery_lease_seconds),
            policy=RetryPolicy(max_attempts=settings.delivery_max_attempts),
        ),
        quiet_hours=settings.quiet_hours,
    )
    sms = sms_channel(settings, dispatcher.on_receipt)
    dispatcher.channels = {
        ChannelName.TELEGRAM: TelegramChannel(application.bot),
        ChannelName.GROUP_CHAT: GroupChatChannel(application.bot),
        ChannelName.SMS: sms,
    }
    await sms.start()
    # Everything built so far lives as long as the service: out of the collector's sight, so
    # a full collection never stalls the loop long enough to bunch paced sends together.
    gc.freeze()
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop), name="dispatcher")
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


def attach_background(application: LiaisonApplication) -> None:
    """Run the scheduler and the dispatcher for as long as run_polling runs the Application."""
    stack = contextlib.AsyncExitStack()
    started = application.post_init
    stopped = application.post_shutdown

    async def post_init(app: LiaisonApplication) -> None:
        if started is not None:
            await started(app)
        await stack.enter_async_context(running_background(app.bot_data.services, app))

    async def post_shutdown(app: LiaisonApplication) -> None:
        await stack.aclose()
        if stopped is not None:
            await stopped(app)

    application.post_init = post_init
    application.post_shutdown = post_shutdown
