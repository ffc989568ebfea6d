"""/request: the member's service request, one question per message, nothing stored before
"send".

1. a category of the catalogue (buttons); 2. one of its measures, or "not sure";
3. the need in their own words (up to 2,000 characters; a longer paste is refused whole);
4. a photo or document, or skip; 5. a preview, then send or cancel. The member gets the
request number and the target date. A need given during /checkin comes with a button
(REQUEST_FROM_CHECKIN) that opens the same conversation with that text as the description.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram import Update

from bot.commands import Audience
from bot.context import LiaisonContext
from bot.drafts import PasteStep, take_paste
from bot.features.requests.common import refused, short
from bot.flow import END, Flow, Start, Step, document, photo, press, typed
from bot.replies import Markup, inline_keyboard, label, render, replace_buttons, reply
from bot.updates import message_text
from messages.callbacks import (
    REQUEST_CATEGORY,
    REQUEST_FROM_CHECKIN,
    REQUEST_MEASURE,
    REQUEST_NOT_SURE,
    REQUEST_QUIT,
    REQUEST_SEND,
    REQUEST_SKIP_ATTACHMENT,
)
from messages.requests import localized_name
from storage import catalogue
from storage.requests import (
    MAX_DESCRIPTION_LENGTH,
    Attachment,
    RequestError,
    check_description,
    checkin_need,
    create_request,
)

# Steps, one per question.
CATEGORY = "category"
MEASURE = "measure"
DESCRIBE = "describe"
ATTACH = "attach"
PREVIEW = "preview"


Rows = list[list[tuple[str, str]]]


@dataclass(slots=True)
class Draft:
    """The request being written; stored only when the member sends it."""

    category_id: int | None = None
    category: dict[str, str] | None = None
    measure_id: int | None = None
    measure: dict[str, str] | None = None
    target_days: int = catalogue.DEFAULT_TARGET_DAYS
    description: str | None = None
    attachment: Attachment | None = None
    source: str = "bot"
    checkin_id: int | None = None
    # A long paste the Telegram app split into parts (bot.drafts.take_paste).
    parts: list[str] = field(default_factory=list)
    discard_until: datetime | None = None


# --- the questions' buttons and values ----------------------------------------------------


def _with_cancel(context: LiaisonContext, rows: Rows) -> Markup:
    # Every question can be left with a button as well as /cancel.
    return inline_keyboard([*rows, [(label(context, "requests.cancel"), REQUEST_QUIT.pack())]])


async def _category_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    async with context.services.db.session() as session:
        found = await catalogue.categories(session)
    rows = [
        [
            (
                short(localized_name({"zh": c.name_zh, "en": c.name_en}, context.locale)),
                REQUEST_CATEGORY.pack(c.id),
            )
        ]
        for c in found
    ]
    return _with_cancel(context, rows)


async def _measure_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    assert draft.category_id is not None
    async with context.services.db.session() as session:
        found = await catalogue.measures(session, category_id=draft.category_id)
    rows = [
        [
            (
                short(localized_name({"zh": m.title_zh, "en": m.title_en}, context.locale)),
                REQUEST_MEASURE.pack(m.id),
            )
        ]
        for m in found
    ]
    rows.append([(label(context, "requests.not_sure"), REQUEST_NOT_SURE.pack())])
    return _with_cancel(context, rows)


def _cancel_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return _with_cancel(context, [])


def _attach_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    skip = REQUEST_SKIP_ATTACHMENT.pack()
    return _with_cancel(context, [[(label(context, "requests.skip"), skip)]])


def _preview_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return _with_cancel(context, [[(label(context, "requests.send"), REQUEST_SEND.pack())]])


def _preview_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"days": draft.target_days}


def _values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    """What every question shows of the request so far."""
    return {
        "draft": draft,
        "category": localized_name(draft.category, context.locale),
        "measure": localized_name(draft.measure, context.locale) or None,
        "limit": MAX_DESCRIPTION_LENGTH,
    }


# --- the starts -----------------------------------------------------------------------------


async def start_request(update: Update, context: LiaisonContext) -> str:
    """/request: from the first question."""
    return await _begin(update, context, Draft())


async def from_checkin(update: Update, context: LiaisonContext) -> str:
    """ "Make this a service request" under a check-in: the need given becomes the text."""
    query = update.callback_query
    identity = context.identity
    assert query is not None and identity is not None and identity.member_id is not None
    # The offer has done its work (or cannot): the question comes as a new message.
    await replace_buttons(update, None)
    pressed = REQUEST_FROM_CHECKIN.unpack(query.data)
    if pressed is None:
        await reply(update, context, "requests/stale_button")
        return END
    (checkin_id,) = pressed
    try:
        async with context.services.db.session() as session:
            need = await checkin_need(session, member_id=identity.member_id, checkin_id=checkin_id)
    except RequestError as error:
        await refused(update, context, error)
        return END
    draft = Draft(description=need, source="checkin", checkin_id=checkin_id)
    return await _begin(update, context, draft)


async def _begin(update: Update, context: LiaisonContext, draft: Draft) -> str:
    async with context.services.db.session() as session:
        has_categories = bool(await catalogue.categories(session))
    if not has_categories:
        await reply(update, context, "requests/no_catalogue")
        return END
    return await FLOW.begin(update, context, draft, CATEGORY)


# --- 1 and 2: the category and the measure ----------------------------------------------------


async def category_chosen(update: Update, context: LiaisonContext, draft: Draft) -> str:
    query = update.callback_query
    assert query is not None
    pressed = REQUEST_CATEGORY.unpack(query.data)
    async with context.services.db.session() as session:
        found = {c.id: c for c in await catalogue.categories(session)}
        chosen = found.get(pressed[0]) if pressed else None
        has_measures = chosen is not None and bool(
            await catalogue.measures(session, category_id=chosen.id)
        )
    if chosen is None:
        # Removed from the catalogue meanwhile: the list again.
        return await FLOW.ask(update, context, draft, CATEGORY)
    draft.category_id = chosen.id
    draft.category = {"zh": chosen.name_zh, "en": chosen.name_en}
    draft.measure_id = draft.measure = None
    draft.target_days = catalogue.DEFAULT_TARGET_DAYS
    if has_measures:
        return await FLOW.ask(update, context, draft, MEASURE)
    return await _after_measure(update, context, draft)


async def measure_chosen(update: Update, context: LiaisonContext, draft: Draft) -> str:
    query = update.callback_query
    assert query is not None
    pressed = REQUEST_MEASURE.unpack(query.data)
    async with context.services.db.session() as session:
        chosen = await catalogue.measure(session, pressed[0]) if pressed else None
    if chosen is None or not chosen.active or chosen.category_id != draft.category_id:
        return await FLOW.ask(update, context, draft, MEASURE)
    draft.measure_id = chosen.id
    draft.measure = {"zh": chosen.title_zh, "en": chosen.title_en}
    draft.target_days = chosen.target_days or catalogue.DEFAULT_TARGET_DAYS
    return await _after_measure(update, context, draft)


async def not_sure(update: Update, context: LiaisonContext, draft: Draft) -> str:
    draft.measure_id = draft.measure = None
    draft.target_days = catalogue.DEFAULT_TARGET_DAYS
    return await _after_measure(update, context, draft)


async def _after_measure(update: Update, context: LiaisonContext, draft: Draft) -> str:
    # A need brought from a check-in is the description already.
    return await FLOW.ask(update, context, draft, ATTACH if draft.description else DESCRIBE)


# --- 3 and 4: the need in words, a photo or a file -------------------------------------------


async def description_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    paste = take_paste(
        draft,
        message_text(update),
        context.now(),
        check=check_description,
        error_type=RequestError,
        too_long="description_too_long",
    )
    if paste.step is PasteStep.IGNORED:
        return DESCRIBE
    if isinstance(paste.error, RequestError):
        why = render(
            context,
            "requests/bad_input",
            reason=paste.error.reason,
            limit=MAX_DESCRIPTION_LENGTH,
            length=len(paste.whole.strip()),
        )
        return await FLOW.again(update, context, draft, lead=why)
    # Under the limit a message is never one part of a longer paste: it is the whole text.
    draft.parts.clear()
    draft.description = paste.body
    return await FLOW.ask(update, context, draft, ATTACH)


async def photo_sent(update: Update, context: LiaisonContext, draft: Draft) -> str:
    message = update.effective_message
    assert message is not None and message.photo
    draft.attachment = Attachment(message.photo[-1].file_id, "photo", None)
    return await FLOW.ask(update, context, draft, PREVIEW)


async def document_sent(update: Update, context: LiaisonContext, draft: Draft) -> str:
    message = update.effective_message
    assert message is not None and message.document is not None
    sent = message.document
    draft.attachment = Attachment(sent.file_id, "document", sent.file_name)
    return await FLOW.ask(update, context, draft, PREVIEW)


async def attachment_skipped(update: Update, context: LiaisonContext, draft: Draft) -> str:
    draft.attachment = None
    return await FLOW.ask(update, context, draft, PREVIEW)


# --- 5: the preview, and send ------------------------------------------------------------------


async def send(update: Update, context: LiaisonContext, draft: Draft) -> str:
    identity = context.identity
    assert identity is not None and identity.member_id is not None
    assert draft.category_id is not None and draft.description is not None
    try:
        async with context.services.db.session() as session:
            row = await create_request(
                session,
                context.now(),
                member_id=identity.member_id,
                category_id=draft.category_id,
                measure_id=draft.measure_id,
                description=draft.description,
                attachment=draft.attachment,
                source=draft.source,
                checkin_id=draft.checkin_id,
                zone=context.services.settings.zone,
            )
            request_id, due_at = row.id, row.due_at
    except RequestError as error:
        await FLOW.drop_buttons(update, context)
        await refused(update, context, error)
        return END
    await FLOW.drop_buttons(update, context)
    await reply(
        update,
        context,
        "requests/created",
        id=request_id,
        due=due_at.astimezone(context.zone).strftime("%Y-%m-%d"),
        category=localized_name(draft.category, context.locale),
    )
    return END


FLOW = Flow(
    "request",
    Draft,
    audience=Audience.MEMBERS,
    templates="requests",
    not_member="requests/not_member",
    starts=[
        Start(start_request, command="request"),
        Start(from_checkin, action=REQUEST_FROM_CHECKIN),
    ],
    steps={
        CATEGORY: Step(
            "requests/ask_category",
            [press(REQUEST_CATEGORY, category_chosen)],
            keyboard=_category_keyboard,
        ),
        MEASURE: Step(
            "requests/ask_measure",
            # "Not sure" first: its data also starts as a measure's does.
            [press(REQUEST_NOT_SURE, not_sure), press(REQUEST_MEASURE, measure_chosen)],
            keyboard=_measure_keyboard,
        ),
        DESCRIBE: Step(
            "requests/ask_describe", [typed(description_typed)], keyboard=_cancel_keyboard
        ),
        ATTACH: Step(
            "requests/ask_attach",
            [
                photo(photo_sent),
                document(document_sent),
                press(REQUEST_SKIP_ATTACHMENT, attachment_skipped),
            ],
            keyboard=_attach_keyboard,
        ),
        PREVIEW: Step(
            "requests/ask_preview",
            [press(REQUEST_SEND, send)],
            keyboard=_preview_keyboard,
            values=_preview_values,
        ),
    },
    cancel_action=REQUEST_QUIT,
    values=_values,
)
