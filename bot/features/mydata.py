"""/mydata: everything stored about the member, as a summary and as files (PIPL Arts. 44–45).

The summary comes in the chat with a button; the button (or `/mydata file`) sends the whole
as two documents, JSON and a readable HTML page, in the member's language. Private chats
only: a member's data is never posted into a group.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.replies import inline_keyboard, label, reply
from bot.updates import command_argument
from messages import mydata as files
from messages.callbacks import MYDATA_FILES
from storage.mydata import MemberData, member_data

COMMANDS = (Command("mydata", Audience.MEMBERS),)

# `/mydata file` (and its Chinese words) asks for the files straight away.
FILE_WORDS = frozenset({"file", "files", "文件", "导出"})


async def _gather(context: LiaisonContext, form: str) -> MemberData | None:
    identity = context.identity
    if identity is None or identity.member_id is None:
        return None
    async with context.services.db.session() as session:
        return await member_data(session, context.now(), identity.member_id, form=form)


async def show_summary(update: Update, context: LiaisonContext) -> None:
    if command_argument(update).lower() in FILE_WORDS:
        await _send_files(update, context)
        return
    data = await _gather(context, "summary")
    if data is None:
        await reply(update, context, "mydata/not_member")
        return
    renderer = context.services.renderer
    markup = inline_keyboard([[(label(context, "mydata.send_files"), MYDATA_FILES.pack())]])
    await reply(
        update,
        context,
        "mydata/summary",
        markup,
        **files.context(renderer, context.locale, data, context.zone),
    )


async def files_pressed(update: Update, context: LiaisonContext) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await _send_files(update, context)


async def _send_files(update: Update, context: LiaisonContext) -> None:
    chat = update.effective_chat
    assert chat is not None
    if chat.type != chat.PRIVATE:
        # A forged button in a group: a member's data is never posted there.
        await reply(update, context, "mydata/private_only")
        return
    data = await _gather(context, "files")
    if data is None:
        await reply(update, context, "mydata/not_member")
        return
    zone, renderer = context.zone, context.services.renderer
    await context.bot.send_document(
        chat.id,
        files.data_json(data),
        filename=files.filename(data, "json", zone),
        caption=label(context, "mydata.json_caption"),
    )
    await context.bot.send_document(
        chat.id,
        files.data_page(renderer, context.locale, data, zone),
        filename=files.filename(data, "html", zone),
        caption=label(context, "mydata.html_caption"),
    )
    await reply(update, context, "mydata/sent")


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("mydata", show_summary, filters=private),
        CallbackQueryHandler(files_pressed, pattern=MYDATA_FILES.pattern),
    ]
