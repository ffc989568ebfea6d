"""Members and the mobile party school: /study, "read in full" and "studied".

Members get each pushed material with a "studied" button (STUDY_DONE) and, when there is more
than the excerpt or a document, "read in full" (STUDY_OPEN). /study lists the latest materials
pushed to their groups; pressing one opens the full text and sends the document.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from bot.context import LiaisonContext
from bot.replies import inline_keyboard, label, replace_buttons, reply
from messages.callbacks import STUDY_DONE, STUDY_OPEN
from storage.study import StudyError, mark_studied, open_material, recent_for_member

# /study lists this many; Telegram shows a longer list of buttons badly on a phone.
RECENT_SHOWN = 10
# Button labels are cut to this (a title may be 200 characters).
BUTTON_TITLE = 40


def _short(title: str) -> str:
    return title if len(title) <= BUTTON_TITLE else title[: BUTTON_TITLE - 1] + "…"


async def show_recent(update: Update, context: LiaisonContext) -> None:
    identity = context.identity
    if identity is None or identity.member_id is None:
        await reply(update, context, "study/not_member")
        return
    async with context.services.db.session() as session:
        recent = await recent_for_member(session, identity.member_id, limit=RECENT_SHOWN)
    buttons = [
        [
            (
                label(
                    context,
                    "study.item_studied" if r.studied else "study.item",
                    title=_short(r.title),
                ),
                STUDY_OPEN.pack(r.id),
            )
        ]
        for r in recent
    ]
    await reply(
        update,
        context,
        "study/recent",
        markup=inline_keyboard(buttons) if buttons else None,
        recent=[(r, r.pushed_at.astimezone(context.zone).strftime("%Y-%m-%d")) for r in recent],
    )


async def open_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Read in full" under a push, or a title in /study: the whole text, and the document."""
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None and chat is not None
    pressed = STUDY_OPEN.unpack(query.data)
    identity = context.identity
    opened = None
    if pressed is not None and identity is not None and identity.member_id is not None:
        async with context.services.db.session() as session:
            opened = await open_material(
                session, member_id=identity.member_id, material_id=pressed[0]
            )
    if opened is None:
        # A forwarded copy, or someone else's phone: nothing is shown.
        await query.answer(text=label(context, "study.not_yours"))
        return
    await query.answer()
    material = opened.material
    markup = None
    if not opened.studied:
        markup = inline_keyboard(
            [[(label(context, "study.studied"), STUDY_DONE.pack(material.id))]]
        )
    await reply(
        update, context, "study/material", markup=markup, material=material, studied=opened.studied
    )
    if material.document_file_id is not None:
        try:
            await context.bot.send_document(
                chat.id, material.document_file_id, caption=material.title
            )
        except TelegramError:
            # A file id from another bot, or a file Telegram no longer has.
            await reply(update, context, "study/document_failed", material=material)


async def studied_pressed(update: Update, context: LiaisonContext) -> None:
    """The "studied" button: a receipt for the member bound to the pressing account, once."""
    query = update.callback_query
    assert query is not None and query.data is not None
    pressed = STUDY_DONE.unpack(query.data)
    identity = context.identity
    if pressed is None or identity is None or identity.member_id is None:
        await query.answer(text=label(context, "study.not_yours"))
        return
    (material_id,) = pressed
    try:
        async with context.services.db.session() as session:
            first = await mark_studied(
                session, context.now(), material_id=material_id, member_id=identity.member_id
            )
    except StudyError:
        await query.answer(text=label(context, "study.not_yours"))
        return
    await query.answer(text=label(context, "study.thanks" if first else "study.again"))
    # Unchanged (pressed twice) or too old to edit: the receipt is recorded all the same.
    await replace_buttons(update, _with_done(update, context, query.data))


def _with_done(update: Update, context: LiaisonContext, data: str) -> InlineKeyboardMarkup:
    """The message's buttons with the pressed one now saying "studied"; the others stay."""
    query = update.callback_query
    assert query is not None
    done = InlineKeyboardButton(label(context, "study.done"), callback_data=data)
    markup = getattr(query.message, "reply_markup", None)
    if not isinstance(markup, InlineKeyboardMarkup):
        return InlineKeyboardMarkup([[done]])
    return InlineKeyboardMarkup(
        [[done if b.callback_data == data else b for b in row] for row in markup.inline_keyboard]
    )
