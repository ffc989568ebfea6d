"""/lang: choose Chinese or English for everything the bot says."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.replies import edit, inline_keyboard, reply
from bot.updates import sender_id
from messages.callbacks import LANGUAGE, feature_pattern
from storage.identity import identify, set_locale
from storage.settings import LOCALES

COMMANDS = (Command("lang", Audience.EVERYONE),)

# Each language is named in itself, so a member who cannot read the current one finds theirs.
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}


async def ask_language(update: Update, context: LiaisonContext) -> None:
    keyboard = inline_keyboard([[(LANGUAGE_NAMES[code], LANGUAGE.pack(code)) for code in LOCALES]])
    await reply(update, context, "lang/choose", markup=keyboard)


async def choose_language(update: Update, context: LiaisonContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    pressed = LANGUAGE.unpack(query.data)
    if pressed is None:
        return
    (code,) = pressed
    user_id = sender_id(update)
    async with context.services.db.session() as session:
        await set_locale(session, user_id, code, context.platform)
        context.caller.identity = await identify(session, user_id, context.platform)
    context.caller.locale = code
    await edit(update, context, "lang/changed", language=LANGUAGE_NAMES[code])


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return [
        CommandHandler("lang", ask_language),
        CallbackQueryHandler(choose_language, pattern=feature_pattern(LANGUAGE.prefix)),
    ]
