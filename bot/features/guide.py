"""/guide: the service guide (服务指南), browsed with buttons edited in place.

Two ways in: by department (departments → a department's measures → a measure's card) and
by need (categories → their measures → the card). Every level has a back button; the card
says what the measure is, who handles it, what to bring, where to go, the hours, whom to
call and how soon an answer comes. The guide is public information: anyone in a private
chat with the bot may read it, registered or not, in their language.

Callback data (under 64 bytes): guide:home, guide:deps, guide:needs, guide:d:<department>,
guide:c:<category>, guide:m:<measure>:d<department> or :c<category> (where "back" leads).
A button whose entry was removed or deactivated since gets a short explanation, and the
level above is shown again; a button that is not ours at all shows the first page.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.replies import inline_keyboard, label, render, send_html
from messages.callbacks import (
    GUIDE,
    GUIDE_CATEGORY,
    GUIDE_DEPARTMENT,
    GUIDE_DEPARTMENTS,
    GUIDE_HOME,
    GUIDE_MEASURE,
    GUIDE_NEEDS,
    feature_pattern,
)
from messages.guide import category_name, department_view, measure_view
from messages.split import split_html
from storage.catalogue import (
    categories,
    category_with_measures,
    department_with_measures,
    departments,
    offered_measure,
)

COMMANDS = (Command("guide", Audience.EVERYONE),)

# Button labels are cut to this; the full names are in the text above them.
BUTTON_TEXT = 36

Rows = list[list[tuple[str, str]]]


def _short(text: str) -> str:
    return text if len(text) <= BUTTON_TEXT else text[: BUTTON_TEXT - 1] + "…"


async def _show(
    update: Update, context: LiaisonContext, template: str, rows: Rows, **values: object
) -> None:
    """The page in place of the one whose button was pressed (or as a new message)."""
    text = render(context, template, **values)
    markup = inline_keyboard(rows)
    query = update.callback_query
    # A page is edited in place when it fits one message (as Telegram counts: tags aside).
    if query is not None and len(split_html(text)) == 1:
        try:
            await query.edit_message_text(
                text, parse_mode=ParseMode.HTML, reply_markup=markup, disable_web_page_preview=True
            )
        except BadRequest as error:
            if "not modified" in error.message.lower():
                # The same button pressed twice: the page is already there.
                return
        else:
            return
    # A first /guide, a message too old to edit, or a page longer than one message.
    chat = update.effective_chat
    assert chat is not None
    await send_html(context, chat.id, text, markup)


def _back(context: LiaisonContext, data: str) -> list[tuple[str, str]]:
    return [(label(context, "guide.back"), data)]


async def show_home(update: Update, context: LiaisonContext) -> None:
    """/guide, and "back" from the two lists: by department or by need."""
    rows = [
        [(label(context, "guide.by_department"), GUIDE_DEPARTMENTS.pack())],
        [(label(context, "guide.by_need"), GUIDE_NEEDS.pack())],
    ]
    await _show(update, context, "guide/home", rows)


async def _show_departments(update: Update, context: LiaisonContext) -> None:
    async with context.services.db.session() as session:
        rows = await departments(session)
    views = [department_view(row, context.locale) for row in rows]
    buttons: Rows = [
        [
            (
                label(context, "guide.item", number=n, title=_short(v.name)),
                GUIDE_DEPARTMENT.pack(v.id),
            )
        ]
        for n, v in enumerate(views, start=1)
    ]
    buttons.append(_back(context, GUIDE_HOME.pack()))
    await _show(update, context, "guide/departments", buttons, departments=views)


async def _show_needs(update: Update, context: LiaisonContext) -> None:
    async with context.services.db.session() as session:
        rows = await categories(session)
    names = [(row.id, category_name(row, context.locale)) for row in rows]
    buttons: Rows = [
        [(label(context, "guide.item", number=n, title=_short(name)), GUIDE_CATEGORY.pack(row_id))]
        for n, (row_id, name) in enumerate(names, start=1)
    ]
    buttons.append(_back(context, GUIDE_HOME.pack()))
    await _show(update, context, "guide/needs", buttons, needs=[name for _, name in names])


def _measure_buttons(
    context: LiaisonContext, views: Sequence[tuple[int, str]], back: tuple[str, int], up: str
) -> Rows:
    buttons: Rows = [
        [
            (
                label(context, "guide.item", number=n, title=_short(title)),
                GUIDE_MEASURE.pack(id_, back),
            )
        ]
        for n, (id_, title) in enumerate(views, start=1)
    ]
    buttons.append(_back(context, up))
    return buttons


async def _show_department(update: Update, context: LiaisonContext, department_id: int) -> bool:
    async with context.services.db.session() as session:
        found = await department_with_measures(session, department_id)
    if found is None:
        return False
    row, offered = found
    views = [measure_view(m, context.locale) for m in offered]
    buttons = _measure_buttons(
        context, [(v.id, v.title) for v in views], ("d", department_id), GUIDE_DEPARTMENTS.pack()
    )
    await _show(
        update,
        context,
        "guide/department",
        buttons,
        department=department_view(row, context.locale),
        measures=views,
    )
    return True


async def _show_category(update: Update, context: LiaisonContext, category_id: int) -> bool:
    async with context.services.db.session() as session:
        found = await category_with_measures(session, category_id)
    if found is None:
        return False
    row, offered = found
    views = [measure_view(m, context.locale) for m in offered]
    buttons = _measure_buttons(
        context, [(v.id, v.title) for v in views], ("c", category_id), GUIDE_NEEDS.pack()
    )
    await _show(
        update,
        context,
        "guide/category",
        buttons,
        category=category_name(row, context.locale),
        measures=views,
    )
    return True


async def _show_measure(
    update: Update, context: LiaisonContext, measure_id: int, back: tuple[str, int]
) -> bool:
    async with context.services.db.session() as session:
        row = await offered_measure(session, measure_id)
    if row is None:
        return False
    kind, up = back
    page = GUIDE_DEPARTMENT if kind == "d" else GUIDE_CATEGORY
    rows: Rows = [
        [(label(context, "guide.back"), page.pack(up))],
        [(label(context, "guide.home"), GUIDE_HOME.pack())],
    ]
    await _show(update, context, "guide/measure", rows, measure=measure_view(row, context.locale))
    return True


async def _up(update: Update, context: LiaisonContext, back: tuple[str, int]) -> None:
    """The level above an entry that is gone: its department or category, else the list."""
    kind, target = back
    if kind == "d":
        if not await _show_department(update, context, target):
            await _show_departments(update, context)
    elif not await _show_category(update, context, target):
        await _show_needs(update, context)


async def pressed(update: Update, context: LiaisonContext) -> None:
    """Every guide button: which page, and what to do when its entry is gone."""
    query = update.callback_query
    assert query is not None and query.data is not None
    data = query.data
    gone = label(context, "guide.gone")
    if data in GUIDE_HOME:
        await query.answer()
        await show_home(update, context)
    elif data in GUIDE_DEPARTMENTS:
        await query.answer()
        await _show_departments(update, context)
    elif data in GUIDE_NEEDS:
        await query.answer()
        await _show_needs(update, context)
    elif (department := GUIDE_DEPARTMENT.unpack(data)) is not None:
        shown = await _show_department(update, context, *department)
        await query.answer(None if shown else gone)
        if not shown:
            await _show_departments(update, context)
    elif (category := GUIDE_CATEGORY.unpack(data)) is not None:
        shown = await _show_category(update, context, *category)
        await query.answer(None if shown else gone)
        if not shown:
            await _show_needs(update, context)
    elif (measure := GUIDE_MEASURE.unpack(data)) is not None:
        number, back = measure
        shown = await _show_measure(update, context, number, back)
        await query.answer(None if shown else gone)
        if not shown:
            await _up(update, context, back)
    else:
        # Not a button this version of the guide makes: start again from the first page.
        await query.answer(label(context, "guide.stale"))
        await show_home(update, context)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return [
        CommandHandler("guide", show_home, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(pressed, pattern=feature_pattern(GUIDE)),
    ]
