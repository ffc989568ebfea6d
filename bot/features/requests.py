"""/request, /myrequests, /requests: members ask for help, liaisons take it to an answer.

/request (members, private chat) is a short conversation, nothing stored before "send":
1. a category of the catalogue (buttons); 2. one of its measures, or "not sure";
3. the need in their own words (up to 2,000 characters; a longer paste is refused whole);
4. a photo or document, or skip; 5. a preview, then send or cancel. The member gets the
request number and the target date. A need given during /checkin comes with a button
(FROM_CHECKIN) that opens the same conversation with that text as the description.

/myrequests lists the member's requests with their history (no internal notes).

Staff: /requests lists the open requests of members in their scope, oldest first, with age
and overdue marks; each opens a card (CARD) with take, assign, note, status and the
attachment. A note, and where a referred request went, are the next message typed.
Closing a request (resolved, cannot help, referred) asks for the answer the member gets.

The closing message to the member carries "solved?" (SOLVED) and then 1–5 (RATE). After
"not solved" or a rating of 1–2 the member may write what went wrong (or skip it); it
reaches the assignee and the group's liaisons (storage.requests.comment_on).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVarTuple

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.access import refuse, staff_only
from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.drafts import (
    DraftStore,
    PasteStep,
    StaffDraftFlow,
    draft_conversation,
    drop_buttons,
    retire_pressed_button,
    take_paste,
)
from bot.replies import inline_keyboard, label, render, replace_buttons, reply
from bot.updates import message_text
from messages.callbacks import (
    REQUEST_ASSIGN,
    REQUEST_ASSIGN_TO,
    REQUEST_CARD,
    REQUEST_CATEGORY,
    REQUEST_CLOSE,
    REQUEST_COMMENT_SKIP,
    REQUEST_FILE,
    REQUEST_FROM_CHECKIN,
    REQUEST_MEASURE,
    REQUEST_NEW,
    REQUEST_NOT_SURE,
    REQUEST_NOTE,
    REQUEST_QUIT,
    REQUEST_RATE,
    REQUEST_REFER,
    REQUEST_SEND,
    REQUEST_SET,
    REQUEST_SKIP_ATTACHMENT,
    REQUEST_SOLVED,
    REQUEST_STATUS,
    REQUEST_TAKE,
    REQUEST_TEXT,
    REQUEST_TEXT_QUIT,
    Action,
    feature_pattern,
)
from messages.requests import localized_name
from storage import audit, catalogue
from storage.identity import Identity
from storage.models import RequestStatus
from storage.requests import (
    CLOSED_STATUSES,
    FEEDBACK_WAIT,
    MAX_ANSWER_LENGTH,
    MAX_COMMENT_LENGTH,
    MAX_DESCRIPTION_LENGTH,
    MAX_NOTE_LENGTH,
    MAX_REFERRED_LENGTH,
    Attachment,
    RequestError,
    RequestView,
    add_note,
    allowed_statuses,
    answer_solved,
    assign,
    check_answer,
    check_comment,
    check_description,
    check_note,
    check_referred,
    checkin_need,
    colleagues,
    comment_on,
    create_request,
    list_requests,
    my_requests,
    rate,
    request_card,
    set_status,
    take,
    unhappy,
)

COMMANDS = (
    Command("request", Audience.MEMBERS),
    Command("myrequests", Audience.MEMBERS),
    Command("requests", Audience.STAFF),
)

# Conversation states of /request.
CATEGORY = "category"
MEASURE = "measure"
DESCRIBE = "describe"
ATTACH = "attach"
PREVIEW = "preview"
# Of the staff's typed input.
NOTE = "note"
REFER = "refer"
ANSWER = "answer"
# Of the member's comment on unhappy feedback.
COMMENTING = "commenting"
END = ConversationHandler.END
BUTTON_STEPS = frozenset({CATEGORY, MEASURE, PREVIEW})

IDLE_LIMIT = timedelta(hours=12)
# /myrequests shows the newest few; /requests this many buttons (the text counts all).
MINE_SHOWN = 10
OPEN_SHOWN = 30
# Button labels are cut to this (a measure's title may be 200 characters).
BUTTON_TEXT = 40

Ts = TypeVarTuple("Ts")


def _short(text: str) -> str:
    return text if len(text) <= BUTTON_TEXT else text[: BUTTON_TEXT - 1] + "…"


def _chat_id(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None
    return chat.id


def _named(context: LiaisonContext) -> Callable[[Any], str]:
    return lambda names: localized_name(names, context.locale)


def _status_name(context: LiaisonContext) -> Callable[[Any], str]:
    return lambda status: label(context, f"requests.status_{getattr(status, 'value', status)}")


# --- the member's draft --------------------------------------------------------------------------


@dataclass(slots=True)
class Draft:
    """The request being written; stored only when the member sends it."""

    touched_at: datetime
    step: str = CATEGORY
    question_id: int | None = None
    category_id: int | None = None
    category: dict[str, str] | None = None
    measure_id: int | None = None
    measure: dict[str, str] | None = None
    target_days: int = catalogue.DEFAULT_TARGET_DAYS
    description: str | None = None
    attachment: Attachment | None = None
    source: str = "bot"
    checkin_id: int | None = None
    parts: list[str] = field(default_factory=list)
    discard_until: datetime | None = None


_DRAFTS = DraftStore("requests.draft", Draft)

MemberStep = Callable[[Update, LiaisonContext, Draft], Awaitable[object]]


def _step(handler: MemberStep) -> Callable[[Update, LiaisonContext], Coroutine[Any, Any, object]]:
    """A state handler of /request: the live draft of a member, or the conversation ends."""

    @wraps(handler)
    async def run(update: Update, context: LiaisonContext) -> object:
        query = update.callback_query
        if query is not None:
            await query.answer()
        draft = _DRAFTS.get(context)
        now = context.now()
        identity = context.identity
        if identity is None or identity.member_id is None:
            if draft is not None:
                await drop_buttons(update, context, draft)
            _DRAFTS.set(context, None)
            await reply(update, context, "requests/not_member")
            return END
        if draft is None or now - draft.touched_at > IDLE_LIMIT:
            if draft is not None:
                await drop_buttons(update, context, draft)
            _DRAFTS.set(context, None)
            await reply(update, context, "requests/expired")
            return END
        if query is not None and (
            query.message is None or query.message.message_id != draft.question_id
        ):
            await stale_button(update, context)
            return draft.step
        draft.touched_at = now
        return await handler(update, context, draft)

    return run


def _cancel_row(context: LiaisonContext) -> list[tuple[str, str]]:
    return [(label(context, "requests.cancel"), REQUEST_QUIT.pack())]


async def _ask(
    update: Update, context: LiaisonContext, draft: Draft, step: str, lead: str | None = None
) -> str:
    """Ask the question of step (again) with its buttons and make it the current state.

    lead (why the last answer was not taken) opens the same message.
    """
    await drop_buttons(update, context, draft)
    draft.step = step
    rows: list[list[tuple[str, str]]] = []
    values: dict[str, Any] = {}
    if step == CATEGORY:
        async with context.services.db.session() as session:
            found = await catalogue.categories(session)
        rows = [
            [
                (
                    _short(localized_name({"zh": c.name_zh, "en": c.name_en}, context.locale)),
                    REQUEST_CATEGORY.pack(c.id),
                )
            ]
            for c in found
        ]
    elif step == MEASURE:
        assert draft.category_id is not None
        async with context.services.db.session() as session:
            found_measures = await catalogue.measures(session, category_id=draft.category_id)
        rows = [
            [
                (
                    _short(localized_name({"zh": m.title_zh, "en": m.title_en}, context.locale)),
                    REQUEST_MEASURE.pack(m.id),
                )
            ]
            for m in found_measures
        ]
        rows.append([(label(context, "requests.not_sure"), REQUEST_NOT_SURE.pack())])
    elif step == ATTACH:
        rows = [[(label(context, "requests.skip"), REQUEST_SKIP_ATTACHMENT.pack())]]
    elif step == PREVIEW:
        rows = [[(label(context, "requests.send"), REQUEST_SEND.pack())]]
        values = {"days": draft.target_days}
    rows.append(_cancel_row(context))
    message = await reply(
        update,
        context,
        f"requests/ask_{step}",
        markup=inline_keyboard(rows),
        lead=lead,
        draft=draft,
        category=localized_name(draft.category, context.locale),
        measure=localized_name(draft.measure, context.locale) or None,
        limit=MAX_DESCRIPTION_LENGTH,
        **values,
    )
    draft.question_id = message.message_id
    return step


async def _after_measure(update: Update, context: LiaisonContext, draft: Draft) -> str:
    # A need brought from a check-in is the description already.
    return await _ask(update, context, draft, ATTACH if draft.description else DESCRIBE)


async def start_request(update: Update, context: LiaisonContext) -> object:
    identity = context.identity
    if identity is None or identity.member_id is None:
        await reply(update, context, "requests/not_member")
        return END
    return await _begin(update, context, Draft(touched_at=context.now()))


async def _begin(update: Update, context: LiaisonContext, draft: Draft) -> object:
    previous = _DRAFTS.get(context)
    if previous is not None:
        await drop_buttons(update, context, previous)
    async with context.services.db.session() as session:
        has_categories = bool(await catalogue.categories(session))
    if not has_categories:
        _DRAFTS.set(context, None)
        await reply(update, context, "requests/no_catalogue")
        return END
    _DRAFTS.set(context, draft)
    return await _ask(update, context, draft, CATEGORY)


async def from_checkin(update: Update, context: LiaisonContext) -> object:
    """ "Make this a service request" under a check-in: the need given becomes the text."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await retire_pressed_button(update)
    identity = context.identity
    pressed = REQUEST_FROM_CHECKIN.unpack(query.data)
    if identity is None or identity.member_id is None or pressed is None:
        await reply(update, context, "requests/not_member")
        return END
    (checkin_id,) = pressed
    try:
        async with context.services.db.session() as session:
            need = await checkin_need(session, member_id=identity.member_id, checkin_id=checkin_id)
    except RequestError as error:
        await _refused(update, context, error)
        return END
    draft = Draft(
        touched_at=context.now(), description=need, source="checkin", checkin_id=checkin_id
    )
    return await _begin(update, context, draft)


async def cancel(update: Update, context: LiaisonContext) -> object:
    if update.callback_query is not None:
        await update.callback_query.answer()
    draft = _DRAFTS.get(context)
    if draft is not None:
        await drop_buttons(update, context, draft)
    _DRAFTS.set(context, None)
    await reply(update, context, "requests/cancelled")
    return END


@_step
async def cancel_pressed(update: Update, context: LiaisonContext, draft: Draft) -> object:
    return await cancel(update, context)


async def stale_button(update: Update, context: LiaisonContext) -> None:
    """A button of a /request draft that is finished or abandoned."""
    await retire_pressed_button(update)
    await reply(update, context, "requests/stale_button")


@_step
async def unexpected(update: Update, context: LiaisonContext, draft: Draft) -> object:
    """A sticker, a typed line where a button is expected …: say what to do, ask again."""
    lead = render(
        context, "requests/unexpected", step=draft.step, buttons=draft.step in BUTTON_STEPS
    )
    return await _ask(update, context, draft, draft.step, lead)


@_step
async def category_chosen(update: Update, context: LiaisonContext, draft: Draft) -> object:
    query = update.callback_query
    assert query is not None and query.data is not None
    pressed = REQUEST_CATEGORY.unpack(query.data)
    async with context.services.db.session() as session:
        found = {c.id: c for c in await catalogue.categories(session)}
        chosen = found.get(pressed[0]) if pressed else None
        has_measures = chosen is not None and bool(
            await catalogue.measures(session, category_id=chosen.id)
        )
    if chosen is None:
        # Removed from the catalogue meanwhile: the list again.
        return await _ask(update, context, draft, CATEGORY)
    draft.category_id = chosen.id
    draft.category = {"zh": chosen.name_zh, "en": chosen.name_en}
    draft.measure_id = draft.measure = None
    draft.target_days = catalogue.DEFAULT_TARGET_DAYS
    if has_measures:
        return await _ask(update, context, draft, MEASURE)
    return await _after_measure(update, context, draft)


@_step
async def measure_chosen(update: Update, context: LiaisonContext, draft: Draft) -> object:
    query = update.callback_query
    assert query is not None and query.data is not None
    if query.data in REQUEST_NOT_SURE:
        draft.measure_id = draft.measure = None
        draft.target_days = catalogue.DEFAULT_TARGET_DAYS
        return await _after_measure(update, context, draft)
    pressed = REQUEST_MEASURE.unpack(query.data)
    async with context.services.db.session() as session:
        chosen = await catalogue.measure(session, pressed[0]) if pressed else None
    if chosen is None or not chosen.active or chosen.category_id != draft.category_id:
        return await _ask(update, context, draft, MEASURE)
    draft.measure_id = chosen.id
    draft.measure = {"zh": chosen.title_zh, "en": chosen.title_en}
    draft.target_days = chosen.target_days or catalogue.DEFAULT_TARGET_DAYS
    return await _after_measure(update, context, draft)


@_step
async def description_typed(update: Update, context: LiaisonContext, draft: Draft) -> object:
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
        refused = render(
            context,
            "requests/bad_input",
            reason=paste.error.reason,
            limit=MAX_DESCRIPTION_LENGTH,
            length=len(paste.whole.strip()),
        )
        return await _ask(update, context, draft, DESCRIBE, refused)
    # Under the limit a message is never one part of a longer paste: it is the whole text.
    draft.parts.clear()
    draft.description = paste.body
    return await _ask(update, context, draft, ATTACH)


@_step
async def photo_sent(update: Update, context: LiaisonContext, draft: Draft) -> object:
    message = update.effective_message
    assert message is not None and message.photo
    draft.attachment = Attachment(message.photo[-1].file_id, "photo", None)
    return await _ask(update, context, draft, PREVIEW)


@_step
async def document_sent(update: Update, context: LiaisonContext, draft: Draft) -> object:
    message = update.effective_message
    assert message is not None and message.document is not None
    document = message.document
    draft.attachment = Attachment(document.file_id, "document", document.file_name)
    return await _ask(update, context, draft, PREVIEW)


@_step
async def attachment_skipped(update: Update, context: LiaisonContext, draft: Draft) -> object:
    draft.attachment = None
    return await _ask(update, context, draft, PREVIEW)


@_step
async def send(update: Update, context: LiaisonContext, draft: Draft) -> object:
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
        await drop_buttons(update, context, draft)
        _DRAFTS.set(context, None)
        await _refused(update, context, error)
        return END
    await drop_buttons(update, context, draft)
    _DRAFTS.set(context, None)
    await reply(
        update,
        context,
        "requests/created",
        id=request_id,
        due=due_at.astimezone(context.zone).strftime("%Y-%m-%d"),
        category=localized_name(draft.category, context.locale),
    )
    return END


# --- the member: /myrequests and the feedback buttons ---------------------------------------


async def show_mine(update: Update, context: LiaisonContext) -> None:
    identity = context.identity
    if identity is None or identity.member_id is None:
        await reply(update, context, "requests/not_member")
        return
    async with context.services.db.session() as session:
        mine = await my_requests(session, member_id=identity.member_id, limit=MINE_SHOWN)
    await reply(
        update,
        context,
        "requests/mine",
        requests=mine,
        named=_named(context),
        status_name=_status_name(context),
        zone=context.zone,
        now=context.now(),
    )


async def solved_pressed(update: Update, context: LiaisonContext) -> object:
    """ "Solved?" under the closing message: recorded once, then 1–5 is asked."""
    query = update.callback_query
    assert query is not None and query.data is not None
    pressed = REQUEST_SOLVED.unpack(query.data)
    identity = context.identity
    if pressed is None or identity is None or identity.member_id is None:
        await query.answer(text=label(context, "requests.not_yours"))
        return END
    request_id, solved = pressed
    try:
        async with context.services.db.session() as session:
            await answer_solved(
                session,
                context.now(),
                request_id,
                member_id=identity.member_id,
                solved=solved,
            )
    except RequestError as error:
        await _feedback_refused(update, context, error)
        return END
    await query.answer(text=label(context, "requests.thanks"))
    await replace_buttons(update, None)
    stars = [
        (label(context, "requests.rate", n=n), REQUEST_RATE.pack(request_id, n))
        for n in range(1, 6)
    ]
    await reply(
        update,
        context,
        "requests/ask_rating",
        markup=inline_keyboard([stars]),
        id=request_id,
        solved=solved,
    )
    return END


@dataclass(slots=True)
class CommentDraft:
    """The member's comment on unhappy feedback, asked under their rating."""

    touched_at: datetime
    request_id: int
    question_id: int | None = None
    parts: list[str] = field(default_factory=list)
    discard_until: datetime | None = None


_COMMENTS = DraftStore("requests.comment", CommentDraft)


async def rate_pressed(update: Update, context: LiaisonContext) -> object:
    """1–5 after "solved?": recorded once; after "not solved" or 1–2, what went wrong?"""
    query = update.callback_query
    assert query is not None and query.data is not None
    pressed = REQUEST_RATE.unpack(query.data)
    identity = context.identity
    if pressed is None or identity is None or identity.member_id is None:
        await query.answer(text=label(context, "requests.not_yours"))
        return END
    request_id, stars = pressed
    try:
        async with context.services.db.session() as session:
            rated = await rate(
                session, context.now(), request_id, member_id=identity.member_id, satisfaction=stars
            )
            ask_comment = unhappy(rated)
    except RequestError as error:
        await _feedback_refused(update, context, error)
        return END
    await query.answer(text=label(context, "requests.thanks"))
    await replace_buttons(update, None)
    skip = [[(label(context, "requests.skip"), REQUEST_COMMENT_SKIP.pack(request_id, "skip"))]]
    message = await reply(
        update,
        context,
        "requests/rated",
        markup=inline_keyboard(skip) if ask_comment else None,
        id=request_id,
        stars=stars,
        ask_comment=ask_comment,
        limit=MAX_COMMENT_LENGTH,
    )
    if not ask_comment:
        return END
    draft = CommentDraft(context.now(), request_id, question_id=message.message_id)
    _COMMENTS.set(context, draft)
    return COMMENTING


async def _live_comment(update: Update, context: LiaisonContext) -> CommentDraft | None:
    """The comment being asked for, or None (the conversation is over: said why)."""
    draft = _COMMENTS.get(context)
    identity = context.identity
    # After FEEDBACK_WAIT the staff alert has gone without a comment: a late line is not one.
    if (
        draft is not None
        and identity is not None
        and identity.member_id is not None
        and context.now() - draft.touched_at <= FEEDBACK_WAIT
    ):
        return draft
    if draft is not None:
        await drop_buttons(update, context, draft)
        await reply(update, context, "requests/comment_expired", id=draft.request_id)
    _COMMENTS.set(context, None)
    return None


async def _commented(
    update: Update, context: LiaisonContext, draft: CommentDraft, text: str | None
) -> object:
    identity = context.identity
    assert identity is not None and identity.member_id is not None
    await drop_buttons(update, context, draft)
    _COMMENTS.set(context, None)
    try:
        async with context.services.db.session() as session:
            await comment_on(
                session, context.now(), draft.request_id, member_id=identity.member_id, text=text
            )
    except RequestError as error:
        await _refused(update, context, error)
        return END
    await reply(
        update, context, "requests/commented", id=draft.request_id, comment=text is not None
    )
    return END


async def comment_typed(update: Update, context: LiaisonContext) -> object:
    draft = await _live_comment(update, context)
    if draft is None:
        return END
    paste = take_paste(
        draft,
        message_text(update),
        context.now(),
        check=check_comment,
        error_type=RequestError,
        too_long="comment_too_long",
    )
    if paste.step is PasteStep.IGNORED:
        return COMMENTING
    if isinstance(paste.error, RequestError):
        await reply(
            update,
            context,
            "requests/bad_input",
            reason=paste.error.reason,
            limit=MAX_COMMENT_LENGTH,
            length=len(paste.whole.strip()),
        )
        return COMMENTING
    return await _commented(update, context, draft, paste.body)


async def comment_skipped_by_cancel(update: Update, context: LiaisonContext) -> object:
    """/cancel while the comment is asked for: as "skip" (the staff are told at once)."""
    draft = await _live_comment(update, context)
    if draft is None:
        return END
    return await _commented(update, context, draft, None)


async def stale_comment_button(update: Update, context: LiaisonContext) -> None:
    await retire_pressed_button(update)


async def comment_skipped(update: Update, context: LiaisonContext) -> object:
    query = update.callback_query
    assert query is not None
    await query.answer()
    draft = await _live_comment(update, context)
    if draft is None:
        return END
    if query.message is None or query.message.message_id != draft.question_id:
        await retire_pressed_button(update)
        return COMMENTING
    return await _commented(update, context, draft, None)


async def _feedback_refused(update: Update, context: LiaisonContext, error: RequestError) -> None:
    query = update.callback_query
    assert query is not None
    key = {
        "already_answered": "requests.already_answered",
        "already_rated": "requests.already_answered",
        "not_closed": "requests.not_closed",
    }.get(error.reason, "requests.not_yours")
    await query.answer(text=label(context, key))
    if error.reason in ("already_answered", "already_rated"):
        await replace_buttons(update, None)


# --- staff: /requests and the card -----------------------------------------------------------


@staff_only
async def show_open(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    now = context.now()
    async with context.services.db.session() as session:
        shown, total = await list_requests(session, staff_id=staff_id, limit=OPEN_SHOWN)
        await audit.record(session, now, actor=identity.actor, action="request.list", count=total)
    named = _named(context)
    buttons = [
        [
            (
                _short(
                    label(
                        context,
                        "requests.item",
                        id=v.id,
                        member=v.member_name,
                        category=named(v.category),
                        late=v.overdue(now),
                    )
                ),
                REQUEST_CARD.pack(v.id),
            )
        ]
        for v in shown
    ]
    await reply(
        update,
        context,
        "requests/staff_list",
        markup=inline_keyboard(buttons) if buttons else None,
        requests=shown,
        total=total,
        named=named,
        status_name=_status_name(context),
        zone=context.services.settings.zone,
        now=now,
    )


def _card_markup(context: LiaisonContext, view: RequestView, staff_id: int) -> InlineKeyboardMarkup:
    rows: list[list[tuple[str, str]]] = []
    if view.is_open:
        if view.assignee_id != staff_id:
            rows.append([(label(context, "requests.take"), REQUEST_TAKE.pack(view.id))])
        rows.append([(label(context, "requests.status"), REQUEST_STATUS.pack(view.id))])
        rows.append([(label(context, "requests.assign"), REQUEST_ASSIGN.pack(view.id))])
    rows.append([(label(context, "requests.note"), REQUEST_NOTE.pack(view.id))])
    if view.attachment_file_id is not None:
        rows.append([(label(context, "requests.attachment"), REQUEST_FILE.pack(view.id))])
    return inline_keyboard(rows)


async def _retire(update: Update) -> None:
    """Take the buttons off a message whose button makes no sense (forged or garbled)."""
    query = update.callback_query
    assert query is not None
    await replace_buttons(update, None)


async def _staff_press(
    update: Update, context: LiaisonContext, pressed: Action[*Ts]
) -> tuple[Identity, int, tuple[*Ts]] | None:
    """A staff button: the caller's identity, staff id and the values the button carries.

    Anyone else is refused; the scope is checked again by each operation (a button may be
    old, forwarded or forged).
    """
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    staff = context.staff()
    if staff is None:
        await refuse(update, context)
        return None
    values = pressed.unpack(query.data)
    if values is None:
        await _retire(update)
        return None
    identity, staff_id = staff
    return identity, staff_id, values


async def _refused(update: Update, context: LiaisonContext, error: RequestError) -> None:
    await reply(
        update,
        context,
        "requests/refused",
        reason=error.reason,
        status_name=_status_name(context),
        **error.values,
    )


async def _show_card(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int, request_id: int
) -> None:
    now = context.now()
    async with context.services.db.session() as session:
        view = await request_card(session, request_id, staff_id=staff_id)
        if view is not None:
            await audit.record(
                session,
                now,
                actor=identity.actor,
                action="request.view",
                subject=f"request:{request_id}",
            )
    if view is None:
        await _refused(update, context, RequestError("not found", "not_found", id=request_id))
        return
    await reply(
        update,
        context,
        "requests/card",
        markup=_card_markup(context, view, staff_id),
        request=view,
        named=_named(context),
        status_name=_status_name(context),
        zone=context.services.settings.zone,
        now=now,
        age=max((now - view.created_at).days, 0),
    )


async def card_pressed(update: Update, context: LiaisonContext) -> None:
    pressed = await _staff_press(update, context, REQUEST_CARD)
    if pressed is not None:
        identity, staff_id, (request_id,) = pressed
        await _show_card(update, context, identity, staff_id, request_id)


async def take_pressed(update: Update, context: LiaisonContext) -> None:
    pressed = await _staff_press(update, context, REQUEST_TAKE)
    if pressed is None:
        return
    _, staff_id, (request_id,) = pressed
    try:
        async with context.services.db.session() as session:
            change = await take(session, context.now(), request_id, staff_id=staff_id)
    except RequestError as error:
        await _refused(update, context, error)
        return
    await reply(
        update,
        context,
        "requests/staff/taken",
        id=change.request_id,
        status=label(context, f"requests.status_{change.status.value}"),
    )


async def assign_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Assign to a colleague": the staff who may see the member, as buttons."""
    pressed = await _staff_press(update, context, REQUEST_ASSIGN)
    if pressed is None:
        return
    _, staff_id, (request_id,) = pressed
    try:
        async with context.services.db.session() as session:
            found = await colleagues(session, request_id, staff_id=staff_id)
    except RequestError as error:
        await _refused(update, context, error)
        return
    others = [(other_id, name) for other_id, name in found if other_id != staff_id]
    rows = [
        [
            (
                _short(label(context, "requests.assign_to", name=name)),
                REQUEST_ASSIGN_TO.pack(request_id, other_id),
            )
        ]
        for other_id, name in others
    ]
    await reply(
        update,
        context,
        "requests/staff/choose_colleague",
        markup=inline_keyboard(rows) if rows else None,
        id=request_id,
        count=len(others),
    )


async def assign_to_pressed(update: Update, context: LiaisonContext) -> None:
    pressed = await _staff_press(update, context, REQUEST_ASSIGN_TO)
    if pressed is None:
        return
    _, staff_id, (request_id, to_staff_id) = pressed
    try:
        async with context.services.db.session() as session:
            change = await assign(
                session,
                context.now(),
                request_id,
                staff_id=staff_id,
                to_staff_id=to_staff_id,
                zone=context.services.settings.zone,
            )
    except RequestError as error:
        await _refused(update, context, error)
        return
    await _retire(update)
    await reply(
        update, context, "requests/staff/assigned", id=change.request_id, name=change.assignee_name
    )


async def status_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Change status": the statuses the request may go to, as buttons."""
    pressed = await _staff_press(update, context, REQUEST_STATUS)
    if pressed is None:
        return
    _, staff_id, (request_id,) = pressed
    async with context.services.db.session() as session:
        view = await request_card(session, request_id, staff_id=staff_id)
    if view is None:
        await _refused(update, context, RequestError("not found", "not_found", id=request_id))
        return
    rows = []
    for status in allowed_statuses(view.status):
        # Closing asks for the answer the member gets (referred: where to, first).
        if status is RequestStatus.REFERRED:
            data = REQUEST_REFER.pack(request_id)
        elif status in CLOSED_STATUSES:
            data = REQUEST_CLOSE.pack(request_id, status)
        else:
            data = REQUEST_SET.pack(request_id, status)
        rows.append([(label(context, f"requests.set_{status.value}"), data)])
    await reply(
        update,
        context,
        "requests/staff/choose_status",
        markup=inline_keyboard(rows) if rows else None,
        id=request_id,
        status=label(context, f"requests.status_{view.status.value}"),
        closed=not rows,
    )


async def set_pressed(update: Update, context: LiaisonContext) -> None:
    """A status under "change status" (referred has a step of its own: where to)."""
    pressed = await _staff_press(update, context, REQUEST_SET)
    if pressed is None:
        return
    _, staff_id, (request_id, status) = pressed
    await _change_status(update, context, staff_id, request_id, status, None)


async def _change_status(
    update: Update,
    context: LiaisonContext,
    staff_id: int,
    request_id: int,
    status: RequestStatus,
    referred_to: str | None,
    answer: str | None = None,
) -> bool:
    try:
        async with context.services.db.session() as session:
            change = await set_status(
                session,
                context.now(),
                request_id,
                staff_id=staff_id,
                status=status,
                referred_to=referred_to,
                answer=answer,
            )
    except RequestError as error:
        await _refused(update, context, error)
        return False
    if update.callback_query is not None:
        await replace_buttons(update, None)
    await reply(
        update,
        context,
        "requests/staff/status_changed",
        id=change.request_id,
        status=label(context, f"requests.status_{change.status.value}"),
        told=change.member_told,
        referred_to=referred_to,
        answered=answer is not None,
    )
    return True


async def file_pressed(update: Update, context: LiaisonContext) -> None:
    """The member's photo or document, sent again to the staff member who asked."""
    pressed = await _staff_press(update, context, REQUEST_FILE)
    if pressed is None:
        return
    identity, staff_id, (request_id,) = pressed
    async with context.services.db.session() as session:
        view = await request_card(session, request_id, staff_id=staff_id)
        if view is not None and view.attachment_file_id is not None:
            await audit.record(
                session,
                context.now(),
                actor=identity.actor,
                action="request.attachment",
                subject=f"request:{request_id}",
            )
    if view is None or view.attachment_file_id is None:
        await _refused(update, context, RequestError("not found", "not_found", id=request_id))
        return
    caption = f"#{view.id} {view.attachment_name or ''}".strip()
    try:
        if view.attachment_kind == "photo":
            await context.bot.send_photo(_chat_id(update), view.attachment_file_id, caption=caption)
        else:
            await context.bot.send_document(
                _chat_id(update), view.attachment_file_id, caption=caption
            )
    except TelegramError:
        # A file Telegram no longer has, or one from another bot.
        await reply(update, context, "requests/staff/attachment_failed", id=request_id)


# --- staff: typed input (a note, where a request was referred to) ---------------------------------


@dataclass(slots=True)
class TextDraft:
    """A note or a referral being typed for one request."""

    touched_at: datetime
    request_id: int
    step: str
    question_id: int | None = None
    parts: list[str] = field(default_factory=list)
    discard_until: datetime | None = None
    # Closing: the status it goes to, and where to (referred, typed before the answer).
    status: RequestStatus | None = None
    referred_to: str | None = None


_LIMITS = {NOTE: MAX_NOTE_LENGTH, REFER: MAX_REFERRED_LENGTH, ANSWER: MAX_ANSWER_LENGTH}
_CHECKS = {NOTE: check_note, REFER: check_referred, ANSWER: check_answer}
_TOO_LONG = {NOTE: "note_too_long", REFER: "referred_too_long", ANSWER: "answer_too_long"}


_TEXT_DRAFTS = DraftStore("requests.text", TextDraft)
_FLOW = StaffDraftFlow(_TEXT_DRAFTS, "requests/staff", IDLE_LIMIT)


async def _ask_text(update: Update, context: LiaisonContext, draft: TextDraft) -> str:
    await drop_buttons(update, context, draft)
    message = await reply(
        update,
        context,
        f"requests/staff/ask_{draft.step}",
        markup=inline_keyboard([[(label(context, "requests.cancel"), REQUEST_TEXT_QUIT.pack())]]),
        id=draft.request_id,
        limit=_LIMITS[draft.step],
        status=_status_name(context)(draft.status) if draft.status else None,
        referred_to=draft.referred_to,
    )
    draft.question_id = message.message_id
    return draft.step


async def note_pressed(update: Update, context: LiaisonContext) -> object:
    """ "Internal note" on a card: the next message is the note."""
    pressed = await _staff_press(update, context, REQUEST_NOTE)
    if pressed is None:
        return END
    _, staff_id, (request_id,) = pressed
    return await _start_text(update, context, staff_id, request_id, NOTE, None)


async def refer_pressed(update: Update, context: LiaisonContext) -> object:
    """ "Refer elsewhere": where to is typed next, then the answer the member gets."""
    pressed = await _staff_press(update, context, REQUEST_REFER)
    if pressed is None:
        return END
    _, staff_id, (request_id,) = pressed
    return await _start_text(update, context, staff_id, request_id, REFER, RequestStatus.REFERRED)


async def close_pressed(update: Update, context: LiaisonContext) -> object:
    """A closing status: the answer the member gets is typed next."""
    pressed = await _staff_press(update, context, REQUEST_CLOSE)
    if pressed is None:
        return END
    _, staff_id, (request_id, status) = pressed
    return await _start_text(update, context, staff_id, request_id, ANSWER, status)


async def _start_text(
    update: Update,
    context: LiaisonContext,
    staff_id: int,
    request_id: int,
    step: str,
    status: RequestStatus | None,
) -> object:
    async with context.services.db.session() as session:
        view = await request_card(session, request_id, staff_id=staff_id)
    if view is None:
        await _refused(update, context, RequestError("not found", "not_found", id=request_id))
        return END
    previous = _TEXT_DRAFTS.get(context)
    if previous is not None:
        await drop_buttons(update, context, previous)
    draft = TextDraft(touched_at=context.now(), request_id=request_id, step=step, status=status)
    _TEXT_DRAFTS.set(context, draft)
    return await _ask_text(update, context, draft)


@_FLOW.step
async def text_typed(update: Update, context: LiaisonContext, draft: TextDraft) -> object:
    staff = context.staff()
    assert staff is not None
    _, staff_id = staff
    paste = take_paste(
        draft,
        message_text(update),
        context.now(),
        check=_CHECKS[draft.step],
        error_type=RequestError,
        too_long=_TOO_LONG[draft.step],
    )
    if paste.step is PasteStep.IGNORED:
        return draft.step
    if isinstance(paste.error, RequestError):
        await reply(
            update,
            context,
            "requests/bad_input",
            reason=paste.error.reason,
            limit=_LIMITS[draft.step],
            length=len(paste.whole.strip()),
        )
        return await _ask_text(update, context, draft)
    draft.parts.clear()
    if draft.step == REFER:
        # Where to is kept; the answer the member gets comes next.
        draft.referred_to = paste.body
        draft.step = ANSWER
        return await _ask_text(update, context, draft)
    await drop_buttons(update, context, draft)
    _TEXT_DRAFTS.set(context, None)
    if draft.step == ANSWER:
        assert draft.status is not None
        await _change_status(
            update,
            context,
            staff_id,
            draft.request_id,
            draft.status,
            draft.referred_to,
            answer=paste.body,
        )
        return END
    try:
        async with context.services.db.session() as session:
            await add_note(
                session, context.now(), draft.request_id, staff_id=staff_id, text=paste.body
            )
    except RequestError as error:
        await _refused(update, context, error)
        return END
    await reply(update, context, "requests/staff/noted", id=draft.request_id)
    return END


@_FLOW.step
async def text_cancel_pressed(update: Update, context: LiaisonContext, draft: TextDraft) -> object:
    return await _FLOW.cancel(update, context)


@_FLOW.step
async def text_unexpected(update: Update, context: LiaisonContext, draft: TextDraft) -> object:
    await reply(update, context, "requests/staff/unexpected")
    return await _ask_text(update, context, draft)


# --- wiring ---------------------------------------------------------------------------------------


def _member_conversation() -> ConversationHandler[LiaisonContext]:
    private = filters.ChatType.PRIVATE
    typed = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    photo = filters.UpdateType.MESSAGE & filters.PHOTO
    document = filters.UpdateType.MESSAGE & filters.Document.ALL

    def button(
        callback: Callable[..., Any], pressed: Action[*tuple[Any, ...]]
    ) -> CallbackQueryHandler[Any, Any]:
        return CallbackQueryHandler(callback, pattern=pressed.pattern)

    return draft_conversation(
        entry_points=[
            CommandHandler("request", start_request, filters=private),
            CallbackQueryHandler(from_checkin, pattern=REQUEST_FROM_CHECKIN.pattern),
        ],
        states={
            CATEGORY: [button(category_chosen, REQUEST_CATEGORY)],
            MEASURE: [
                button(measure_chosen, REQUEST_MEASURE),
                button(measure_chosen, REQUEST_NOT_SURE),
            ],
            DESCRIBE: [MessageHandler(typed, description_typed)],
            ATTACH: [
                MessageHandler(photo, photo_sent),
                MessageHandler(document, document_sent),
                button(attachment_skipped, REQUEST_SKIP_ATTACHMENT),
            ],
            PREVIEW: [button(send, REQUEST_SEND)],
        },
        fallbacks=[
            CommandHandler("cancel", cancel, filters=private),
            button(cancel_pressed, REQUEST_QUIT),
            MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND & private, unexpected),
        ],
        # /request in the middle starts again from the first question.
        allow_reentry=True,
        name="request",
    )


def _staff_conversation() -> ConversationHandler[LiaisonContext]:
    private = filters.ChatType.PRIVATE
    typed = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    return draft_conversation(
        entry_points=[
            CallbackQueryHandler(note_pressed, pattern=REQUEST_NOTE.pattern),
            CallbackQueryHandler(refer_pressed, pattern=REQUEST_REFER.pattern),
            CallbackQueryHandler(close_pressed, pattern=REQUEST_CLOSE.pattern),
        ],
        states={
            NOTE: [MessageHandler(typed, text_typed)],
            REFER: [MessageHandler(typed, text_typed)],
            ANSWER: [MessageHandler(typed, text_typed)],
        },
        fallbacks=[
            CommandHandler("cancel", _FLOW.cancel, filters=private),
            CallbackQueryHandler(text_cancel_pressed, pattern=REQUEST_TEXT_QUIT.pattern),
            MessageHandler(
                filters.UpdateType.MESSAGE & ~filters.COMMAND & private, text_unexpected
            ),
        ],
        allow_reentry=True,
        name="request_text",
    )


def _feedback_conversation() -> ConversationHandler[LiaisonContext]:
    """ "Solved?" and 1–5 under the closing message; after unhappy feedback, the comment."""
    private = filters.ChatType.PRIVATE
    typed = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND & private
    return draft_conversation(
        entry_points=[
            CallbackQueryHandler(solved_pressed, pattern=REQUEST_SOLVED.any_pattern),
            CallbackQueryHandler(rate_pressed, pattern=REQUEST_RATE.any_pattern),
        ],
        states={
            COMMENTING: [
                MessageHandler(typed, comment_typed),
                CallbackQueryHandler(comment_skipped, pattern=REQUEST_COMMENT_SKIP.pattern),
            ]
        },
        fallbacks=[CommandHandler("cancel", comment_skipped_by_cancel, filters=private)],
        allow_reentry=True,
        name="request_feedback",
    )


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    return [
        _member_conversation(),
        _staff_conversation(),
        _feedback_conversation(),
        CommandHandler("myrequests", show_mine, filters=private),
        CommandHandler("requests", show_open, filters=private),
        CallbackQueryHandler(card_pressed, pattern=REQUEST_CARD.any_pattern),
        CallbackQueryHandler(take_pressed, pattern=REQUEST_TAKE.any_pattern),
        CallbackQueryHandler(assign_pressed, pattern=REQUEST_ASSIGN.any_pattern),
        CallbackQueryHandler(assign_to_pressed, pattern=REQUEST_ASSIGN_TO.any_pattern),
        CallbackQueryHandler(status_pressed, pattern=REQUEST_STATUS.any_pattern),
        CallbackQueryHandler(set_pressed, pattern=REQUEST_SET.any_pattern),
        CallbackQueryHandler(file_pressed, pattern=REQUEST_FILE.any_pattern),
        # The skip button of a comment no longer asked for.
        CallbackQueryHandler(stale_comment_button, pattern=REQUEST_COMMENT_SKIP.any_pattern),
        # Reached only outside a draft (or by an old button within one).
        CallbackQueryHandler(stale_button, pattern=feature_pattern(REQUEST_NEW)),
        CallbackQueryHandler(_FLOW.stale_button, pattern=feature_pattern(REQUEST_TEXT)),
    ]
