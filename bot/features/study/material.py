"""/material (staff, private chat): add a material to the library, as a flow on bot/flow.py.

1. the title; 2. the text, or a document (its caption is the text; without one the text is
asked for next); 3. a web link, or skip; 4. tags, or skip; 5. the push exactly as members
will see it, then save or cancel. Nothing is stored before "save". A long text arrives as
several messages (the Telegram app splits a paste at 4,096 characters); it is joined as
/notice does (bot.drafts.take_paste). A document sent at the title step is kept too, and
its caption taken as the text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardMarkup, Update

from bot.commands import Audience
from bot.context import LiaisonContext
from bot.drafts import PasteStep, take_paste
from bot.flow import END, Answer, Flow, Start, Step, document, press, typed
from bot.replies import inline_keyboard, label, render, reply
from bot.updates import message_text
from messages.callbacks import STUDY_NEXT, STUDY_QUIT, STUDY_SAVE, STUDY_SKIP
from messages.study import study_message
from storage.models import ChannelName, StaffRole
from storage.study import (
    MAX_BODY_LENGTH,
    MAX_TAGS,
    MAX_TITLE_LENGTH,
    MaterialView,
    StudyError,
    add_material,
    check_body,
    check_link,
    check_title,
    parse_tags,
)

# Steps, one per question; a refusal is a step of its own (it says why, in place of the
# question, and takes the same answers).
TITLE = "title"
TITLE_REFUSED = "title_refused"
WRITE = "write"
WRITE_REFUSED = "write_refused"
PART = "part"  # a long text so far, waiting for the rest or the "next" button
LINK = "link"
LINK_REFUSED = "link_refused"
TAGS = "tags"
TAGS_REFUSED = "tags_refused"
PREVIEW = "preview"


@dataclass(slots=True)
class Draft:
    """The material being written; stored only when the staff member saves it."""

    title: str | None = None
    parts: list[str] = field(default_factory=list)
    discard_until: datetime | None = None
    body: str | None = None
    document_file_id: str | None = None
    document_name: str | None = None
    link: str | None = None
    tags: tuple[str, ...] = ()


def _view(draft: Draft) -> MaterialView:
    assert draft.title is not None and draft.body is not None
    return MaterialView(
        id=0,
        title=draft.title,
        body=draft.body,
        link=draft.link,
        document_name=draft.document_name,
        document_file_id=draft.document_file_id,
        tags=draft.tags,
    )


# --- what each question shows -----------------------------------------------------------


def _cancel_row(context: LiaisonContext) -> list[tuple[str, str]]:
    return [(label(context, "study.cancel"), STUDY_QUIT.pack())]


def _cancel_only(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    return inline_keyboard([_cancel_row(context)])


def _skip_or_cancel(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    return inline_keyboard(
        [[(label(context, "study.skip"), STUDY_SKIP.pack())], _cancel_row(context)]
    )


def _part_keyboard(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    return inline_keyboard(
        [[(label(context, "study.next"), STUDY_NEXT.pack())], _cancel_row(context)]
    )


def _part_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"length": len(check_body("\n".join(draft.parts)))}


def _preview_keyboard(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    return inline_keyboard(
        [[(label(context, "study.save"), STUDY_SAVE.pack())], _cancel_row(context)]
    )


def _preview_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"length": len(draft.body or ""), "studied": label(context, "study.studied")}


def _values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    """What every question and refusal of the flow may show."""
    return {
        "draft": draft,
        "title_limit": MAX_TITLE_LENGTH,
        "limit": MAX_BODY_LENGTH,
        "tags": MAX_TAGS,
    }


async def _preview(update: Update, context: LiaisonContext, draft: Draft) -> str:
    """The push exactly as members will see it (without its buttons), then save or cancel:
    one message (split only when the push itself is long)."""
    push, _ = study_message(
        context.services.renderer, context.locale, ChannelName.TELEGRAM, _view(draft)
    )
    return await FLOW.ask(update, context, draft, PREVIEW, lead=push)


async def _refuse(
    update: Update,
    context: LiaisonContext,
    draft: Draft,
    step: str,
    error: StudyError,
    **values: Any,
) -> str:
    """Say why a typed answer cannot be taken; the step stays, the draft keeps the rest."""
    return await FLOW.ask(update, context, draft, step, reason=error.reason, **values)


# --- the start, and the unexpected ----------------------------------------------------------


async def start_material(update: Update, context: LiaisonContext) -> str:
    return await FLOW.begin(update, context, Draft(), TITLE)


# --- the steps ----------------------------------------------------------------------------


async def title_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    try:
        draft.title = check_title(message_text(update))
    except StudyError as error:
        return await _refuse(update, context, draft, TITLE_REFUSED, error)
    # A document with its caption may have come first: then the text is there already.
    return await FLOW.ask(update, context, draft, LINK if draft.body is not None else WRITE)


async def text_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    paste = take_paste(
        draft,
        message_text(update),
        context.now(),
        check=check_body,
        error_type=StudyError,
        too_long="body_too_long",
    )
    if paste.step is PasteStep.IGNORED:
        return FLOW.step(context)
    if isinstance(paste.error, StudyError):
        length = len(paste.whole.strip())
        return await _refuse(update, context, draft, WRITE_REFUSED, paste.error, length=length)
    if paste.step is PasteStep.PART:
        return await FLOW.ask(update, context, draft, PART)
    draft.body = paste.body
    return await FLOW.ask(update, context, draft, LINK)


async def text_complete(update: Update, context: LiaisonContext, draft: Draft) -> str:
    """The "next" button under a long text: that was all of it."""
    if not draft.parts:
        return FLOW.step(context)
    draft.body = check_body("\n".join(draft.parts))
    draft.parts.clear()
    return await FLOW.ask(update, context, draft, LINK)


async def document_sent(update: Update, context: LiaisonContext, draft: Draft) -> str:
    """A document at the title or text step: kept, and its caption taken as the text."""
    message = update.effective_message
    assert message is not None and message.document is not None
    draft.document_file_id = message.document.file_id
    draft.document_name = message.document.file_name or label(context, "study.document")
    caption = message.caption or ""
    if caption.strip():
        draft.body = check_body(caption)  # a caption is at most 1,024 characters
    elif draft.parts:
        # The parts of a long text sent before the file: that text goes with it.
        draft.body = check_body("\n".join(draft.parts))
    draft.parts.clear()
    if draft.title is None:
        kept = render(context, "study/document_kept", draft=draft, need=TITLE)
        return await FLOW.ask(update, context, draft, TITLE, lead=kept)
    if draft.body is None:
        kept = render(context, "study/document_kept", draft=draft, need=WRITE)
        return await FLOW.ask(update, context, draft, WRITE, lead=kept)
    return await FLOW.ask(update, context, draft, LINK)


async def link_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    text = message_text(update)
    try:
        draft.link = check_link(text)
    except StudyError as error:
        return await _refuse(update, context, draft, LINK_REFUSED, error, typed=text.strip()[:60])
    return await FLOW.ask(update, context, draft, TAGS)


async def link_skipped(update: Update, context: LiaisonContext, draft: Draft) -> str:
    draft.link = None
    return await FLOW.ask(update, context, draft, TAGS)


async def tags_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    try:
        draft.tags = parse_tags(message_text(update))
    except StudyError as error:
        return await _refuse(update, context, draft, TAGS_REFUSED, error)
    return await _preview(update, context, draft)


async def tags_skipped(update: Update, context: LiaisonContext, draft: Draft) -> str:
    draft.tags = ()
    return await _preview(update, context, draft)


async def save(update: Update, context: LiaisonContext, draft: Draft) -> str:
    staff = context.staff()
    assert staff is not None and draft.title is not None and draft.body is not None
    identity, _ = staff
    async with context.services.db.session() as session:
        material = await add_material(
            session,
            context.now(),
            actor=identity.actor,
            title=draft.title,
            body=draft.body,
            link=draft.link,
            tags=draft.tags,
            document_file_id=draft.document_file_id,
            document_name=draft.document_name,
        )
        material_id = material.id
    await FLOW.drop_buttons(update, context)
    await reply(
        update,
        context,
        "study/saved",
        id=material_id,
        title=draft.title,
        is_admin=identity.staff_role is StaffRole.ADMIN,
    )
    return END


# --- the flow ---------------------------------------------------------------------------

_TITLE: Sequence[Answer[Draft]] = [typed(title_typed), document(document_sent)]
_TEXT: Sequence[Answer[Draft]] = [typed(text_typed), document(document_sent)]
_LINK: Sequence[Answer[Draft]] = [typed(link_typed), press(STUDY_SKIP, link_skipped)]
_TAGS: Sequence[Answer[Draft]] = [typed(tags_typed), press(STUDY_SKIP, tags_skipped)]
_REFUSED = "study/bad_input"

FLOW = Flow(
    "material",
    Draft,
    audience=Audience.STAFF,
    templates="study",
    starts=[Start(start_material, command="material")],
    steps={
        TITLE: Step("study/ask_title", _TITLE, keyboard=_cancel_only),
        TITLE_REFUSED: Step(_REFUSED, _TITLE, keyboard=_cancel_only, retry=TITLE),
        WRITE: Step("study/ask_write", _TEXT, keyboard=_cancel_only),
        WRITE_REFUSED: Step(_REFUSED, _TEXT, keyboard=_cancel_only, retry=WRITE),
        PART: Step(
            "study/part",
            [*_TEXT, press(STUDY_NEXT, text_complete)],
            keyboard=_part_keyboard,
            values=_part_values,
        ),
        LINK: Step("study/ask_link", _LINK, keyboard=_skip_or_cancel),
        LINK_REFUSED: Step(_REFUSED, _LINK, keyboard=_skip_or_cancel, retry=LINK),
        TAGS: Step("study/ask_tags", _TAGS, keyboard=_skip_or_cancel),
        TAGS_REFUSED: Step(_REFUSED, _TAGS, keyboard=_skip_or_cancel, retry=TAGS),
        PREVIEW: Step(
            "study/preview",
            [press(STUDY_SAVE, save)],
            keyboard=_preview_keyboard,
            values=_preview_values,
        ),
    },
    cancel_action=STUDY_QUIT,
    values=_values,
)
