"""The composition root: builds the python-telegram-bot Application with every feature."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import timedelta
from types import ModuleType
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import BaseRequest

from bot.commands import Audience, Command, Feature, visible_commands
from bot.context import BotData, LiaisonApplication, LiaisonContext, Services, UserData
from bot.features import (
    activities,
    certificates,
    checkin,
    console,
    cycle,
    fallback,
    guide,
    help,
    ideas,
    inbox,
    lang,
    mydata,
    myscore,
    notices,
    places,
    privacy,
    requests,
    rights,
    staff,
    start,
    study,
    where,
)
from bot.flow import Conversations
from bot.processing import ChatOrderedUpdates, slow_down
from messages.channels.telegram import TelegramRateLimiter
from storage import conversations, directory
from storage.clock import Monotonic, SystemMonotonic
from storage.identity import identify
from storage.outbox import mark_reachable
from storage.settings import LOCALES

log = logging.getLogger(__name__)

# A token the local Bot API accepts; a real one is only needed to reach Telegram.
LOCAL_TOKEN = "1000000001:local-terminal-token-not-a-secret"  # noqa: S105


def _feature(module: ModuleType) -> Feature:
    return Feature(
        module.__name__.rsplit(".", 1)[-1],
        module.COMMANDS,
        module.handlers,
        getattr(module, "FLOWS", ()),
    )


# The order of the menu and of /help. Every conversation runs first, in group 0 (the engine
# in bot/flow.py: the open conversation takes what is typed next, /cancel ends it); the
# features' plain handlers are group 1, where python-telegram-bot gives an update to the
# first that matches: fallback is last, since it matches everything (its /cancel says there
# was nothing to cancel).
FEATURES: tuple[Feature, ...] = (
    *(
        _feature(module)
        for module in (
            start,
            checkin,
            privacy,
            mydata,
            myscore,
            where,
            lang,
            staff,
            notices,
            cycle,
            study,
            activities,
            places,
            ideas,
            inbox,
            console,
            certificates,
            requests,
            guide,
            rights,
            help,
        )
    ),
    Feature("fallback", (), fallback.handlers),
)


def file_url(api_url: str) -> str:
    """The file download URL that goes with a Bot API base URL (…/bot → …/file/bot)."""
    base = api_url.rstrip("/")
    if base.endswith("/bot"):
        return base.removesuffix("/bot") + "/file/bot"
    return base + "/file/bot"


def command_table(features: Sequence[Feature] = FEATURES) -> list[Command]:
    """Every command of every feature, in menu order."""
    return [command for feature in features for command in feature.commands]


async def load_identity(update: Update, context: LiaisonContext) -> None:
    """Before any handler: who is this account? (one query per update, always fresh)."""
    user = update.effective_user
    if user is None or context.user_data is None:
        return
    chat = update.effective_chat
    async with context.services.db.session() as session:
        identity = await identify(session, user.id, context.platform)
        if identity.telegram_unreachable:
            # They unblocked the bot and wrote: notices go to Telegram again.
            await mark_reachable(session, user.id)
        context.user_data.identity = identity
        if chat is not None and chat.type == chat.PRIVATE:
            # The conversation engine's read, in this same transaction (bot/flow.py).
            context.stored_conversation = (
                await conversations.load(session, chat.id, user.id, context.platform),
            )


async def publish_commands(application: LiaisonApplication) -> None:
    """The Telegram command menu, per language, with staff commands only for staff."""
    services = application.bot_data.services
    renderer = services.renderer
    commands = application.bot_data.commands

    def menu(locale: str, *, is_staff: bool) -> list[BotCommand]:
        return [
            BotCommand(c.name, renderer.label(locale, f"commands.{c.name}"))
            for c in visible_commands(commands, is_staff=is_staff)
            if c.in_menu
        ]

    bot = application.bot
    default: str = services.settings.locale
    await bot.set_my_commands(menu(default, is_staff=False), scope=BotCommandScopeDefault())
    for locale in LOCALES:
        await bot.set_my_commands(
            menu(locale, is_staff=False),
            scope=BotCommandScopeDefault(),
            language_code=locale.split("_")[0],
        )
    async with services.db.session() as session:
        staff_members = await directory.list_staff(session)
    for person in staff_members:
        staff_locale = person.locale or default
        try:
            await bot.set_my_commands(
                menu(staff_locale, is_staff=True),
                scope=BotCommandScopeChat(person.telegram_user_id),
            )
        except TelegramError as error:
            # A staff member who never opened the bot has no chat yet; not fatal.
            log.warning("command menu for staff %s not set: %s", person.id, error)


# The command menu tried again after a failure: first after this long, then twice as
# long each time, up to MENU_RETRY_LIMIT.
MENU_RETRY_FIRST = timedelta(seconds=30)
MENU_RETRY_LIMIT = timedelta(hours=1)
MENU_RETRY_JOB = "publish_commands"


async def publish_commands_or_retry(
    application: LiaisonApplication, wait: timedelta = MENU_RETRY_FIRST
) -> bool:
    """Publish the command menu; if Telegram fails (a 5xx, a timeout), log it and try again
    after wait, on the application's job queue. True if it is published now.

    The menu is a convenience: every command works typed. A bot that will not start for
    want of it serves no one.
    """
    try:
        await publish_commands(application)
    except TelegramError as error:
        log.warning("command menu not published (%s): trying again in %s", error, wait)
        job_queue = application.job_queue
        if job_queue is not None:

            async def again(_: object) -> None:
                await publish_commands_or_retry(application, min(wait * 2, MENU_RETRY_LIMIT))

            job_queue.run_once(again, when=wait, name=MENU_RETRY_JOB)
        return False
    return True


async def _post_init(application: LiaisonApplication) -> None:
    services = application.bot_data.services
    if services.settings.telegram_token is not None:
        # Only a real bot's @username makes a working t.me invite link.
        async with services.db.session() as session:
            await directory.remember_bot_username(
                session, application.bot.username, services.clock.now()
            )
    await publish_commands_or_retry(application)


def build_application(
    services: Services,
    *,
    request: BaseRequest | None = None,
    features: Sequence[Feature] = FEATURES,
    monotonic: Monotonic | None = None,
) -> LiaisonApplication:
    """The bot with every feature wired; request replaces the network (terminal, tests).

    monotonic paces sends and measures floods: virtual in tests, the machine's otherwise.
    """
    settings = services.settings
    monotonic = monotonic or SystemMonotonic()
    updates = ChatOrderedUpdates(
        max_updates=settings.flood_max_updates,
        window=settings.flood_window_seconds,
        clock=monotonic.seconds,
    )
    context_types = ContextTypes(context=LiaisonContext, user_data=UserData, bot_data=BotData)
    token = settings.telegram_token.get_secret_value() if settings.telegram_token else LOCAL_TOKEN
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        Application.builder()
        .token(token)
        .base_url(settings.telegram_api_url)
        .base_file_url(file_url(settings.telegram_api_url))
        .context_types(context_types)
        .post_init(_post_init)
        # One limiter for replies and notices alike: replies go first.
        .rate_limiter(
            TelegramRateLimiter(
                overall=settings.telegram_rate,
                per_chat_interval=settings.telegram_chat_interval,
                group_per_minute=settings.telegram_group_per_minute,
                clock=monotonic.seconds,
                sleep=monotonic.sleep,
            )
        )
        # Chats are answered concurrently, each in order; a flooding account is slowed down.
        .concurrent_updates(updates)
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    application: LiaisonApplication = builder.build()
    application.bot_data.services = services
    application.bot_data.commands = command_table(features)
    updates.on_flood = functools.partial(slow_down, application)

    application.add_handler(TypeHandler(Update, load_identity), group=-1)
    # Every conversation first: the open one takes what is typed next, /cancel ends it.
    application.add_handler(
        Conversations(flow for feature in features for flow in feature.flows), group=0
    )
    for feature in features:
        for handler in feature.handlers():
            application.add_handler(handler, group=1)
    application.add_error_handler(fallback.on_error)
    return application


__all__ = ["FEATURES", "Audience", "build_application", "command_table"]
