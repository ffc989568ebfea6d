"""/idea, /myideas, /ideas: ideas ("golden ideas", 金点子) and opinions from members.

/idea (members, private chat) is a short conversation: 1. idea or opinion (two buttons);
2. the text, up to MAX_TEXT_LENGTH characters; 3. a preview with send, rewrite or cancel.
Nothing is stored before "send"; the member then gets the suggestion's number. A longer
text is refused with its length and the limit, and nothing of it is kept; the rest of the
same paste (the Telegram app splits a paste at 4,096 characters) arriving within seconds
is dropped unread, so a cut-off tail never becomes the suggestion (bot/drafts.take_paste).
/myideas lists the member's own suggestions with their status and reply; a button opens one.

Staff: /ideas lists the suggestions of the members in their scope, unanswered first and
newest first, a button for each; /ideas ID opens one. The card has "reply" (the next
message is the reply, shown as the member will get it, then send) and "adopt". Replying
again replaces the reply and the member hears the new one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from telegram import InlineKeyboardMarkup, Update
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
from bot.updates import message_text, parse_id
from messages.callbacks import (
    IDEA_KIND,
    IDEA_NEW,
    IDEA_QUIT,
    IDEA_REWRITE,
    IDEA_SEND,
    IDEA_SHOW,
    IDEAS_ADOPT,
    IDEAS_CARD,
    IDEAS_DRAFT,
    IDEAS_REPLY,
    IDEAS_REPLY_QUIT,
    IDEAS_REPLY_SEND,
    Action,
    feature_pattern,
)
from messages.ideas import idea_answer
from storage import audit
from storage.identity import Identity
from storage.models import ChannelName, SuggestionKind
from storage.suggestions import (
    MAX_REPLY_LENGTH,
    MAX_TEXT_LENGTH,
    SuggestionError,
    SuggestionView,
    adopt,
    check_reply,
    check_text,
    count_unanswered,
    excerpt,
    get_suggestion,
    list_suggestions,
    my_suggestion,
    my_suggestions,
    reply_to,
    submit,
)

COMMANDS = (
    Command("idea", Audience.MEMBERS),
    Command("myideas", Audience.MEMBERS),
    Command("ideas", Audience.STAFF),
)

# Conversation states.
KIND = "kind"
WRITE = "write"
PREVIEW = "preview"
END = ConversationHandler.END

# As for /checkin: an answer this long after the previous one does not belong to the draft.
IDLE_LIMIT = timedelta(hours=12)
# /myideas and /ideas show this many; the command line lists them all.
SHOWN = 10
STAFF_SHOWN = 20
# How much of a suggestion a list line and a button quote.
LINE_EXCERPT = 80
BUTTON_EXCERPT = 24


def _local(context: LiaisonContext, moment: datetime | None) -> str:
    return moment.astimezone(context.zone).strftime("%Y-%m-%d %H:%M") if moment else ""


async def _answer(update: Update, text: str | None = None) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer(text=text)


# --- members: /idea ---------------------------------------------------------------------------


@dataclass(slots=True)
class Draft:
    """The suggestion being written; stored only when the member sends it."""

    touched_at: datetime
    kind: SuggestionKind | None = None
    body: str | None = None
    parts: list[str] = field(default_factory=list)
    discard_until: datetime | None = None
    step: str = KIND
    # The message whose buttons belong to the current step; others are stale.
    question_id: int | None = None


_DRAFTS = DraftStore("ideas.draft", Draft)

MemberStep = Callable[[Update, LiaisonContext, Draft, int], Awaitable[object]]


def _member_step(
    handler: MemberStep,
) -> Callable[[Update, LiaisonContext], Coroutine[Any, Any, object]]:
    """A state handler: the live draft of a member (and their id), or the conversation ends."""

    @wraps(handler)
    async def run(update: Update, context: LiaisonContext) -> object:
        query = update.callback_query
        draft = _DRAFTS.get(context)
        identity = context.identity
        now = context.now()
        if identity is None or identity.member_id is None:
            await _answer(update)
            _DRAFTS.set(context, None)
            await reply(update, context, "ideas/not_member", is_staff=context.staff() is not None)
            return END
        if draft is None or now - draft.touched_at > IDLE_LIMIT:
            await _answer(update)
            if draft is not None:
                await drop_buttons(update, context, draft)
            _DRAFTS.set(context, None)
            await reply(update, context, "ideas/expired")
            return END
        if query is not None and (
            query.message is None or query.message.message_id != draft.question_id
        ):
            # A button of an earlier step whose buttons could not be removed.
            await member_stale_button(update, context)
            return draft.step
        draft.touched_at = now
        return await handler(update, context, draft, identity.member_id)

    return run


def _cancel_row(context: LiaisonContext) -> list[tuple[str, str]]:
    return [(label(context, "ideas.cancel"), IDEA_QUIT.pack())]


async def _ask(
    update: Update, context: LiaisonContext, draft: Draft, step: str, lead: str | None = None
) -> str:
    """Show the question of step (again) with its buttons and make it the current state.

    lead (why the last answer was not taken) opens the same message.
    """
    await drop_buttons(update, context, draft)
    draft.step = step
    if step == KIND:
        rows = [
            [(label(context, "ideas.kind_idea"), IDEA_KIND.pack(SuggestionKind.IDEA))],
            [(label(context, "ideas.kind_opinion"), IDEA_KIND.pack(SuggestionKind.OPINION))],
            _cancel_row(context),
        ]
    elif step == WRITE:
        rows = [_cancel_row(context)]
    else:
        rows = [
            [(label(context, "ideas.send"), IDEA_SEND.pack())],
            [(label(context, "ideas.rewrite"), IDEA_REWRITE.pack())],
            _cancel_row(context),
        ]
    message = await reply(
        update,
        context,
        f"ideas/ask_{step}",
        markup=inline_keyboard(rows),
        lead=lead,
        kind=draft.kind.value if draft.kind else "",
        body=draft.body or "",
        length=len(draft.body or ""),
        limit=MAX_TEXT_LENGTH,
    )
    draft.question_id = message.message_id
    return step


async def start_idea(update: Update, context: LiaisonContext) -> object:
    identity = context.identity
    if identity is None or identity.member_id is None:
        await reply(update, context, "ideas/not_member", is_staff=context.staff() is not None)
        return END
    previous = _DRAFTS.get(context)
    if previous is not None:
        await drop_buttons(update, context, previous)
    draft = Draft(touched_at=context.now())
    _DRAFTS.set(context, draft)
    return await _ask(update, context, draft, KIND)


async def member_cancel(update: Update, context: LiaisonContext) -> object:
    """/cancel, or the cancel button: the draft is dropped."""
    await _answer(update)
    draft = _DRAFTS.get(context)
    if draft is not None:
        await drop_buttons(update, context, draft)
    _DRAFTS.set(context, None)
    await reply(update, context, "ideas/cancelled")
    return END


@_member_step
async def cancel_pressed(
    update: Update, context: LiaisonContext, draft: Draft, member_id: int
) -> object:
    return await member_cancel(update, context)


async def member_stale_button(update: Update, context: LiaisonContext) -> None:
    """A button of a suggestion already sent or abandoned: remove it and say so."""
    await retire_pressed_button(update)
    await reply(update, context, "ideas/stale_button")


@_member_step
async def member_unexpected(
    update: Update, context: LiaisonContext, draft: Draft, member_id: int
) -> object:
    """A photo where text is expected, or typing where a button is: say so, ask again."""
    lead = render(context, "ideas/unexpected", step=draft.step)
    return await _ask(update, context, draft, draft.step, lead)


@_member_step
async def kind_chosen(
    update: Update, context: LiaisonContext, draft: Draft, member_id: int
) -> object:
    query = update.callback_query
    assert query is not None and query.data is not None
    await _answer(update)
    pressed = IDEA_KIND.unpack(query.data)
    if pressed is None:
        return draft.step
    (draft.kind,) = pressed
    return await _ask(update, context, draft, WRITE)


@_member_step
async def text_typed(
    update: Update, context: LiaisonContext, draft: Draft, member_id: int
) -> object:
    paste = take_paste(
        draft,
        message_text(update),
        context.now(),
        check=check_text,
        error_type=SuggestionError,
        too_long="too_long",
    )
    if paste.step is PasteStep.IGNORED:
        return WRITE
    if isinstance(paste.error, SuggestionError):
        refused = render(
            context,
            "ideas/bad_text",
            reason=paste.error.reason,
            length=len(paste.whole.strip()),
            limit=MAX_TEXT_LENGTH,
        )
        return await _ask(update, context, draft, WRITE, refused)
    # Shorter than a part of a split paste: always the whole text.
    draft.parts.clear()
    draft.body = paste.body
    return await _ask(update, context, draft, PREVIEW)


@_member_step
async def rewrite(update: Update, context: LiaisonContext, draft: Draft, member_id: int) -> object:
    await _answer(update)
    return await _ask(update, context, draft, WRITE)


@_member_step
async def send(update: Update, context: LiaisonContext, draft: Draft, member_id: int) -> object:
    await _answer(update)
    assert draft.kind is not None and draft.body is not None
    async with context.services.db.session() as session:
        suggestion = await submit(
            session, context.now(), member_id=member_id, kind=draft.kind, text=draft.body
        )
        number = suggestion.id
    await drop_buttons(update, context, draft)
    _DRAFTS.set(context, None)
    await reply(update, context, "ideas/sent", id=number, kind=draft.kind.value)
    return END


# --- members: /myideas and opening one ---------------------------------------------------------


def _short(text: str, limit: int) -> str:
    return " ".join(excerpt(text, limit).split())


async def my_ideas(update: Update, context: LiaisonContext) -> None:
    identity = context.identity
    if identity is None or identity.member_id is None:
        await reply(update, context, "ideas/not_member", is_staff=context.staff() is not None)
        return
    async with context.services.db.session() as session:
        mine = await my_suggestions(session, identity.member_id, limit=SHOWN)
    buttons = [
        [
            (
                label(context, "ideas.item", id=s.id, text=_short(s.body, BUTTON_EXCERPT)),
                IDEA_SHOW.pack(s.id),
            )
        ]
        for s in mine
    ]
    await reply(
        update,
        context,
        "ideas/mine",
        markup=inline_keyboard(buttons) if buttons else None,
        items=[(s, _local(context, s.created_at), _short(s.body, LINE_EXCERPT)) for s in mine],
    )


async def show_pressed(update: Update, context: LiaisonContext) -> None:
    """A suggestion's button in /myideas, or under a reply: the whole of it, and the reply."""
    query = update.callback_query
    assert query is not None and query.data is not None
    pressed = IDEA_SHOW.unpack(query.data)
    identity = context.identity
    found = None
    if pressed is not None and identity is not None and identity.member_id is not None:
        async with context.services.db.session() as session:
            found = await my_suggestion(session, identity.member_id, pressed[0])
    if found is None:
        # A forwarded copy, or someone else's phone: nothing is shown.
        await query.answer(text=label(context, "ideas.not_yours"))
        return
    await query.answer()
    await reply(
        update,
        context,
        "ideas/own",
        s=found,
        created=_local(context, found.created_at),
        replied=_local(context, found.replied_at),
        adopted=_local(context, found.adopted_at),
    )


# --- staff: /ideas and a suggestion's card -------------------------------------------------------


def _card_buttons(context: LiaisonContext, s: SuggestionView) -> InlineKeyboardMarkup:
    rows = [
        [
            (
                label(context, "ideas.reply_again" if s.reply else "ideas.reply"),
                IDEAS_REPLY.pack(s.id),
            )
        ]
    ]
    if not s.adopted:
        rows.append([(label(context, "ideas.adopt"), IDEAS_ADOPT.pack(s.id))])
    return inline_keyboard(rows)


async def _show_card(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int, suggestion_id: int
) -> None:
    async with context.services.db.session() as session:
        found = await get_suggestion(session, suggestion_id, staff_id=staff_id)
        if found is not None:
            await audit.record(
                session,
                context.now(),
                actor=identity.actor,
                action="idea.view",
                subject=f"suggestion:{suggestion_id}",
            )
    if found is None:
        await reply(update, context, "ideas/refused", reason="not_found", id=suggestion_id)
        return
    await reply(
        update,
        context,
        "ideas/card",
        markup=_card_buttons(context, found),
        s=found,
        created=_local(context, found.created_at),
        replied=_local(context, found.replied_at),
        adopted=_local(context, found.adopted_at),
    )


@staff_only
async def ideas(update: Update, context: LiaisonContext, identity: Identity, staff_id: int) -> None:
    words = message_text(update).split()
    argument = words[1] if len(words) > 1 else ""
    if argument:
        suggestion_id = parse_id(argument)
        if suggestion_id is None or len(words) > 2:
            await reply(update, context, "ideas/usage")
            return
        await _show_card(update, context, identity, staff_id, suggestion_id)
        return
    async with context.services.db.session() as session:
        found = await list_suggestions(session, staff_id=staff_id, limit=STAFF_SHOWN)
        unanswered = await count_unanswered(session, staff_id=staff_id)
        await audit.record(session, context.now(), actor=identity.actor, action="idea.list.view")
    buttons = [
        [
            (
                label(
                    context,
                    f"ideas.line_{s.status.value}",
                    id=s.id,
                    name=s.member_name,
                    text=_short(s.body, BUTTON_EXCERPT),
                ),
                IDEAS_CARD.pack(s.id),
            )
        ]
        for s in found
    ]
    await reply(
        update,
        context,
        "ideas/list",
        markup=inline_keyboard(buttons) if buttons else None,
        items=[(s, _local(context, s.created_at), _short(s.body, LINE_EXCERPT)) for s in found],
        unanswered=unanswered,
        shown=STAFF_SHOWN,
    )


async def card_pressed(update: Update, context: LiaisonContext) -> None:
    """A suggestion's button in /ideas or under the alert of a new one."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    staff = context.staff()
    if staff is None:
        await refuse(update, context)
        return
    pressed = IDEAS_CARD.unpack(query.data)
    if pressed is None:
        await retire_pressed_button(update)
        return
    (suggestion_id,) = pressed
    identity, staff_id = staff
    await _show_card(update, context, identity, staff_id, suggestion_id)


async def adopt_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Adopt" on a card: the member hears it; the button goes."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    staff = context.staff()
    if staff is None:
        await refuse(update, context)
        return
    identity, staff_id = staff
    pressed = IDEAS_ADOPT.unpack(query.data)
    if pressed is None:
        await retire_pressed_button(update)
        return
    (suggestion_id,) = pressed
    try:
        # A button may be old or forged: the scope is checked again on every press.
        async with context.services.db.session() as session:
            found = await adopt(
                session, context.now(), suggestion_id, actor=identity.actor, staff_id=staff_id
            )
    except SuggestionError as error:
        await reply(update, context, "ideas/refused", reason=error.reason, id=suggestion_id)
        return
    # The card's buttons as they now stand: "reply" stays, "adopt" goes.
    await replace_buttons(update, _card_buttons(context, found))
    await reply(update, context, "ideas/adopted", s=found)


# --- staff: the reply, a draft of its own ---------------------------------------------------------


@dataclass(slots=True)
class ReplyDraft:
    """A reply being written; sent only when the staff member presses "send"."""

    suggestion_id: int
    touched_at: datetime
    body: str | None = None
    parts: list[str] = field(default_factory=list)
    discard_until: datetime | None = None
    step: str = WRITE
    question_id: int | None = None


_REPLIES = DraftStore("ideas.reply", ReplyDraft)
_FLOW = StaffDraftFlow(_REPLIES, "ideas/staff", IDLE_LIMIT)
_step = _FLOW.step


def _reply_cancel_row(context: LiaisonContext) -> list[tuple[str, str]]:
    return [(label(context, "ideas.cancel"), IDEAS_REPLY_QUIT.pack())]


async def _ask_reply(
    update: Update,
    context: LiaisonContext,
    draft: ReplyDraft,
    s: SuggestionView | None = None,
    lead: str | None = None,
) -> str:
    await drop_buttons(update, context, draft)
    draft.step = WRITE
    message = await reply(
        update,
        context,
        "ideas/ask_reply",
        markup=inline_keyboard([_reply_cancel_row(context)]),
        lead=lead,
        id=draft.suggestion_id,
        s=s,
        body=_short(s.body, LINE_EXCERPT * 2) if s else "",
        limit=MAX_REPLY_LENGTH,
    )
    draft.question_id = message.message_id
    return WRITE


async def start_reply(update: Update, context: LiaisonContext) -> object:
    """ "Reply" on a card: the next message is the reply."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    staff = context.staff()
    if staff is None:
        await refuse(update, context)
        return END
    _, staff_id = staff
    pressed = IDEAS_REPLY.unpack(query.data)
    found = None
    if pressed is not None:
        async with context.services.db.session() as session:
            found = await get_suggestion(session, pressed[0], staff_id=staff_id)
    if found is None:
        await reply(
            update, context, "ideas/refused", reason="not_found", id=pressed[0] if pressed else 0
        )
        return END
    previous = _REPLIES.get(context)
    if previous is not None:
        await drop_buttons(update, context, previous)
    draft = ReplyDraft(suggestion_id=found.id, touched_at=context.now())
    _REPLIES.set(context, draft)
    return await _ask_reply(update, context, draft, found)


staff_cancel = _FLOW.cancel
staff_stale_button = _FLOW.stale_button


@_step
async def reply_cancel_pressed(
    update: Update, context: LiaisonContext, draft: ReplyDraft
) -> object:
    return await staff_cancel(update, context)


@_step
async def reply_unexpected(update: Update, context: LiaisonContext, draft: ReplyDraft) -> object:
    lead = render(context, "ideas/unexpected", step=draft.step)
    if draft.step == PREVIEW:
        return await _reply_preview(update, context, draft, show_message=False, lead=lead)
    return await _ask_reply(update, context, draft, lead=lead)


async def _reply_preview(
    update: Update,
    context: LiaisonContext,
    draft: ReplyDraft,
    *,
    show_message: bool = True,
    lead: str | None = None,
) -> str:
    """The reply exactly as the member will get it (in the staff member's language), and
    the choices under it: one message."""
    assert draft.body is not None
    await drop_buttons(update, context, draft)
    draft.step = PREVIEW
    if show_message:
        async with context.services.db.session() as session:
            found = await get_suggestion(session, draft.suggestion_id, staff_id=None)
        if found is not None:
            text, _ = idea_answer(
                context.services.renderer,
                context.locale,
                ChannelName.TELEGRAM,
                {
                    "id": found.id,
                    "kind": found.kind.value,
                    "body": excerpt(found.body),
                    "event": "reply",
                    "reply": draft.body,
                    "replaced": found.reply is not None,
                    "adopted": found.adopted,
                },
            )
            lead = text
    message = await reply(
        update,
        context,
        "ideas/reply_preview",
        markup=inline_keyboard(
            [
                [(label(context, "ideas.send"), IDEAS_REPLY_SEND.pack())],
                _reply_cancel_row(context),
            ]
        ),
        lead=lead,
        id=draft.suggestion_id,
        length=len(draft.body),
    )
    draft.question_id = message.message_id
    return PREVIEW


@_step
async def reply_typed(update: Update, context: LiaisonContext, draft: ReplyDraft) -> object:
    paste = take_paste(
        draft,
        message_text(update),
        context.now(),
        check=check_reply,
        error_type=SuggestionError,
        too_long="too_long",
    )
    if paste.step is PasteStep.IGNORED:
        return WRITE
    if isinstance(paste.error, SuggestionError):
        refused = render(
            context,
            "ideas/bad_text",
            reason=paste.error.reason,
            length=len(paste.whole.strip()),
            limit=MAX_REPLY_LENGTH,
        )
        return await _ask_reply(update, context, draft, lead=refused)
    draft.parts.clear()
    draft.body = paste.body
    return await _reply_preview(update, context, draft)


@_step
async def reply_send(update: Update, context: LiaisonContext, draft: ReplyDraft) -> object:
    await _answer(update)
    staff = context.staff()
    assert staff is not None and draft.body is not None
    identity, staff_id = staff
    try:
        async with context.services.db.session() as session:
            found = await reply_to(
                session,
                context.now(),
                draft.suggestion_id,
                text=draft.body,
                actor=identity.actor,
                staff_id=staff_id,
            )
    except SuggestionError as error:
        # Out of scope since the draft began (a member moved to another group).
        await drop_buttons(update, context, draft)
        _REPLIES.set(context, None)
        await reply(update, context, "ideas/refused", reason=error.reason, id=draft.suggestion_id)
        return END
    await drop_buttons(update, context, draft)
    _REPLIES.set(context, None)
    await reply(update, context, "ideas/replied", s=found)
    return END


# --- wiring -------------------------------------------------------------------------------------


def _member_conversation() -> ConversationHandler[LiaisonContext]:
    private = filters.ChatType.PRIVATE
    typed = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND

    def button(
        callback: Callable[..., Any], pressed: Action[*tuple[Any, ...]]
    ) -> CallbackQueryHandler[Any, Any]:
        return CallbackQueryHandler(callback, pattern=pressed.pattern)

    return draft_conversation(
        entry_points=[CommandHandler("idea", start_idea, filters=private)],
        states={
            KIND: [button(kind_chosen, IDEA_KIND)],
            WRITE: [MessageHandler(typed, text_typed)],
            PREVIEW: [button(send, IDEA_SEND), button(rewrite, IDEA_REWRITE)],
        },
        fallbacks=[
            CommandHandler("cancel", member_cancel, filters=private),
            button(cancel_pressed, IDEA_QUIT),
            MessageHandler(
                filters.UpdateType.MESSAGE & ~filters.COMMAND & private, member_unexpected
            ),
        ],
        # /idea in the middle starts again from the first step.
        allow_reentry=True,
        name="idea",
    )


def _reply_conversation() -> ConversationHandler[LiaisonContext]:
    private = filters.ChatType.PRIVATE
    typed = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND

    def button(
        callback: Callable[..., Any], pressed: Action[*tuple[Any, ...]]
    ) -> CallbackQueryHandler[Any, Any]:
        return CallbackQueryHandler(callback, pattern=pressed.pattern)

    return draft_conversation(
        entry_points=[CallbackQueryHandler(start_reply, pattern=IDEAS_REPLY.any_pattern)],
        states={
            WRITE: [MessageHandler(typed, reply_typed)],
            PREVIEW: [button(reply_send, IDEAS_REPLY_SEND)],
        },
        fallbacks=[
            CommandHandler("cancel", staff_cancel, filters=private),
            button(reply_cancel_pressed, IDEAS_REPLY_QUIT),
            MessageHandler(
                filters.UpdateType.MESSAGE & ~filters.COMMAND & private, reply_unexpected
            ),
        ],
        # "Reply" on another card starts a reply to that one.
        allow_reentry=True,
        name="idea_reply",
    )


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    return [
        _member_conversation(),
        _reply_conversation(),
        CommandHandler("myideas", my_ideas, filters=private),
        CommandHandler("ideas", ideas, filters=private),
        CallbackQueryHandler(show_pressed, pattern=IDEA_SHOW.any_pattern),
        CallbackQueryHandler(card_pressed, pattern=IDEAS_CARD.any_pattern),
        CallbackQueryHandler(adopt_pressed, pattern=IDEAS_ADOPT.any_pattern),
        # Reached only outside a draft (or by an old button within one).
        CallbackQueryHandler(member_stale_button, pattern=feature_pattern(IDEA_NEW)),
        CallbackQueryHandler(staff_stale_button, pattern=feature_pattern(IDEAS_DRAFT)),
    ]
