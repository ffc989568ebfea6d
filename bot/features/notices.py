"""/notice, /notices, /deliveries, /linkgroup: liaisons tell their groups, and see who got it.

/notice (staff, private chat) is a short conversation: 1. tick one or more of my groups, or
"all my members"; 2. type the text; 3. the preview, exactly as members will see it, with
the recipients per channel, then send now, schedule, mark urgent, or cancel. Nothing is
sent from here: the notice is recorded and the dispatcher delivers it when it is due.

The text may be longer than one Telegram message (up to MAX_BODY_LENGTH): the Telegram app
sends a long paste as several messages of at most 4,096 characters. A message of
PART_LENGTH characters or more is therefore kept as a part and the next one is added to it
(a "preview" button ends the text); a shorter one completes it. When the text grows too
long it is refused as a whole, and the rest of that paste, arriving within PASTE_WINDOW,
is dropped too rather than taken for a new text (bot.drafts.take_paste, shared with
/material).

A scheduled time is typed in the staff member's time zone, in one of these forms:

    2026-12-01 09:00      (also 2026/12/01, 2026.12.01, 2026年12月1日, and a "T")
    12-01 09:00           (no year: this year, or next year once the day has passed)
    明天 9:00 / tomorrow 9:00   (also 今天/today, 后天)
    9:00                  (today)

The time is 24-hour, "9:00", "9：00" or "9点" / "9点30" / "9点半". A time that has passed,
or one more than a year ahead, is refused and asked again.

Members see each notice with a "received" button (NOTICE_ACK): pressing it records a
receipt for the member bound to the pressing account, once. /linkgroup NAME, run by staff
in a group chat, links one of their groups to that chat, and notices to the group are
posted there too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
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
    take_paste,
)
from bot.replies import edit, inline_keyboard, label, render, replace_buttons, reply
from bot.updates import message_text, parse_id
from messages.callbacks import (
    NOTICE,
    NOTICE_ACK,
    NOTICE_EVERYONE,
    NOTICE_LATER,
    NOTICE_NEXT,
    NOTICE_PICK,
    NOTICE_PREVIEW,
    NOTICE_QUIT,
    NOTICE_SEND,
    NOTICE_STOP,
    NOTICE_URGENT,
    Action,
    feature_pattern,
)
from messages.compose import NoticeView, notice_text
from storage import audit
from storage.calendar import WhenError, parse_when
from storage.group_chats import GroupChatError, link_group_chat, unlink_group_chat
from storage.identity import Identity
from storage.models import ChannelName, DeliveryStatus, NoticeStatus
from storage.notices import (
    MAX_BODY_LENGTH,
    Ack,
    NoticeError,
    acknowledge_notice,
    addressable_groups,
    cancel_notice,
    check_body,
    clean_body,
    create_notice,
    get_notice,
    list_notices,
)
from storage.outbox import audience_preview, delivery_report

COMMANDS = (
    Command("notice", Audience.STAFF),
    Command("notices", Audience.STAFF),
    Command("deliveries", Audience.STAFF),
    Command("linkgroup", Audience.STAFF, in_menu=False),
    Command("unlinkgroup", Audience.STAFF, in_menu=False),
)

# Conversation states.
CHOOSE = "choose"
WRITE = "write"
PREVIEW = "preview"
WHEN = "when"
END = ConversationHandler.END

# Like the check-in: an answer this long after the previous one is not taken as part of
# the notice (a text typed tomorrow is not the notice started today).
IDLE_LIMIT = timedelta(hours=12)
# Telegram allows 100 buttons under a message; beyond this the list is no longer usable.
GROUP_BUTTONS = 60
SCHEDULED_SHOWN = 20
RECENT_SHOWN = 10

_DRAFT = "notice.draft"
STATES = tuple(s.value for s in DeliveryStatus)
CHANNELS = (*(c.value for c in ChannelName), "none")


@dataclass(slots=True)
class Draft:
    """The notice being written; recorded only when the staff member sends or schedules it."""

    touched_at: datetime
    # The groups offered as buttons (id → name), in the order shown.
    groups: dict[int, str]
    more_groups: int
    chosen: list[int] = field(default_factory=list)
    everyone: bool = False
    # Parts of a long text received so far, and until when to drop the rest of a refused one.
    parts: list[str] = field(default_factory=list)
    discard_until: datetime | None = None
    body: str | None = None
    urgent: bool = False
    step: str = CHOOSE
    # The message whose buttons belong to the current step; others are stale.
    question_id: int | None = None

    @property
    def group_names(self) -> list[str]:
        return [self.groups[group_id] for group_id in self.chosen]


_DRAFTS = DraftStore(_DRAFT, Draft)
_get_draft = _DRAFTS.get
_set_draft = _DRAFTS.set


def _chat_id(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None
    return chat.id


def _argument(update: Update) -> str:
    """Everything after the command: group names may contain spaces."""
    parts = message_text(update).split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def _words(context: LiaisonContext) -> Mapping[str, str]:
    """Delivery states, channels and weekdays in the caller's language, for templates."""
    return context.services.renderer.labels(context.locale, "notices")


def _local(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _when_values(context: LiaisonContext, moment: datetime) -> dict[str, str]:
    local = moment.astimezone(context.zone)
    return {
        "when": local.strftime("%Y-%m-%d %H:%M"),
        "weekday": label(context, f"notices.weekday_{local.weekday()}"),
        "zone": str(context.zone),
    }


# --- the conversation's plumbing ----------------------------------------------------------


_FLOW = StaffDraftFlow(_DRAFTS, "notices", IDLE_LIMIT)
_step = _FLOW.step


_drop_buttons = drop_buttons


async def _answer(update: Update, text: str | None = None) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer(text=text)


def _cancel_row(context: LiaisonContext) -> list[tuple[str, str]]:
    return [(label(context, "notices.cancel"), NOTICE_QUIT.pack())]


def _choose_keyboard(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    def ticked(text: str, on: bool) -> str:
        return label(context, "notices.picked", name=text) if on else text

    rows = [
        [(ticked(name, group_id in draft.chosen), NOTICE_PICK.pack(group_id))]
        for group_id, name in draft.groups.items()
    ]
    rows.append(
        [(ticked(label(context, "notices.all_members"), draft.everyone), NOTICE_EVERYONE.pack())]
    )
    rows.append([(label(context, "notices.next"), NOTICE_NEXT.pack()), *_cancel_row(context)])
    return inline_keyboard(rows)


def _audience(context: LiaisonContext, draft: Draft) -> str:
    if draft.everyone:
        return label(context, "notices.audience_all")
    return label(context, "notices.separator").join(draft.group_names)


async def _refuse(
    update: Update, context: LiaisonContext, draft: Draft, step: str, template: str, **values: Any
) -> str:
    """Say why a typed answer cannot be taken; step stays, with only its Cancel button."""
    await _drop_buttons(update, context, draft)
    message = await reply(
        update, context, template, markup=inline_keyboard([_cancel_row(context)]), **values
    )
    draft.question_id = message.message_id
    return step


async def _ask(
    update: Update, context: LiaisonContext, draft: Draft, step: str, lead: str | None = None
) -> str:
    """Show the question of step (again) with its buttons and make it the current state.

    lead (why the last answer was not taken) opens the same message.
    """
    await _drop_buttons(update, context, draft)
    draft.step = step
    if step == CHOOSE:
        message = await reply(
            update,
            context,
            "notices/choose",
            markup=_choose_keyboard(context, draft),
            lead=lead,
            groups=len(draft.groups),
            more=draft.more_groups,
        )
    elif step == WRITE:
        message = await reply(
            update,
            context,
            "notices/ask_text",
            markup=inline_keyboard([_cancel_row(context)]),
            lead=lead,
            audience=_audience(context, draft),
            limit=MAX_BODY_LENGTH,
        )
    elif step == WHEN:
        message = await reply(
            update,
            context,
            "notices/ask_time",
            markup=inline_keyboard([_cancel_row(context)]),
            lead=lead,
            zone=str(context.zone),
        )
    else:
        return await _preview(update, context, draft, show_notice=lead is None, lead=lead)
    draft.question_id = message.message_id
    return step


async def _preview(
    update: Update,
    context: LiaisonContext,
    draft: Draft,
    *,
    show_notice: bool = True,
    lead: str | None = None,
) -> str:
    """The notice exactly as members will see it, then who gets it and the choices: one
    message (split only when the notice itself is long)."""
    staff = context.staff()
    assert staff is not None and draft.body is not None
    identity, staff_id = staff
    await _drop_buttons(update, context, draft)
    draft.step = PREVIEW
    view = NoticeView(
        id=0,
        body=draft.body,
        author_name=identity.staff_name or "",
        urgent=draft.urgent,
        sent_at=context.now(),
    )
    services = context.services
    if show_notice:
        lead = notice_text(
            services.renderer, context.locale, view, ChannelName.TELEGRAM, context.zone
        )
    async with services.db.session() as session:
        counts = await audience_preview(
            session, groups=draft.chosen, everyone=draft.everyone, staff_id=staff_id
        )
    members = sum(counts[c] for c in ("telegram", "sms", "none"))
    chats = counts[ChannelName.GROUP_CHAT.value]
    rows: list[list[tuple[str, str]]] = []
    if members or chats:
        urgent = "notices.urgent_off" if draft.urgent else "notices.urgent_on"
        rows += [
            [(label(context, "notices.send_now"), NOTICE_SEND.pack())],
            [(label(context, "notices.schedule"), NOTICE_LATER.pack())],
            [(label(context, urgent), NOTICE_URGENT.pack())],
        ]
    rows.append(_cancel_row(context))
    message = await reply(
        update,
        context,
        "notices/preview",
        markup=inline_keyboard(rows),
        lead=lead,
        audience=_audience(context, draft),
        counts=counts,
        members=members,
        chats=chats,
        urgent=draft.urgent,
        received=label(context, "notices.received"),
    )
    draft.question_id = message.message_id
    return PREVIEW


# --- entry, cancelling and the unexpected ---------------------------------------------------


async def start_notice(update: Update, context: LiaisonContext) -> object:
    staff = context.staff()
    if staff is None:
        await refuse(update, context)
        return END
    _, staff_id = staff
    previous = _get_draft(context)
    if previous is not None:
        await _drop_buttons(update, context, previous)
    async with context.services.db.session() as session:
        groups = await addressable_groups(session, staff_id)
    shown = groups[:GROUP_BUTTONS]
    draft = Draft(
        touched_at=context.now(),
        groups={g.id: g.name for g in shown},
        more_groups=len(groups) - len(shown),
    )
    _set_draft(context, draft)
    return await _ask(update, context, draft, CHOOSE)


cancel = _FLOW.cancel


@_step
async def cancel_pressed(update: Update, context: LiaisonContext, draft: Draft) -> object:
    return await cancel(update, context)


@_step
async def unexpected(update: Update, context: LiaisonContext, draft: Draft) -> object:
    """A typed line where a button is expected, or a photo where text is: say so, ask again."""
    lead = render(context, "notices/unexpected", step=draft.step)
    # At the preview the notice itself is on screen just above: only the choices again.
    return await _ask(update, context, draft, draft.step, lead)


stale_button = _FLOW.stale_button


# --- step 1: who --------------------------------------------------------------------------


@_step
async def group_toggled(update: Update, context: LiaisonContext, draft: Draft) -> object:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    pressed = NOTICE_PICK.unpack(query.data)
    if pressed is None or pressed[0] not in draft.groups:
        return CHOOSE
    (group_id,) = pressed
    if group_id in draft.chosen:
        draft.chosen.remove(group_id)
    else:
        draft.chosen.append(group_id)
        draft.everyone = False
    await query.edit_message_reply_markup(_choose_keyboard(context, draft))
    return CHOOSE


@_step
async def everyone_toggled(update: Update, context: LiaisonContext, draft: Draft) -> object:
    query = update.callback_query
    assert query is not None
    await query.answer()
    draft.everyone = not draft.everyone
    if draft.everyone:
        draft.chosen.clear()
    await query.edit_message_reply_markup(_choose_keyboard(context, draft))
    return CHOOSE


@_step
async def chosen(update: Update, context: LiaisonContext, draft: Draft) -> object:
    if not draft.chosen and not draft.everyone:
        await _answer(update, label(context, "notices.choose_first"))
        return CHOOSE
    await _answer(update)
    # One edit, no new message: the next question (it names the audience chosen), with
    # its cancel button, in place of the group buttons.
    draft.step = WRITE
    await edit(
        update,
        context,
        "notices/ask_text",
        markup=inline_keyboard([_cancel_row(context)]),
        audience=_audience(context, draft),
        limit=MAX_BODY_LENGTH,
    )
    return WRITE


# --- step 2: the text ---------------------------------------------------------------------


@_step
async def text_typed(update: Update, context: LiaisonContext, draft: Draft) -> object:
    paste = take_paste(
        draft,
        message_text(update),
        context.now(),
        check=check_body,
        error_type=NoticeError,
        too_long="too_long",
    )
    if paste.step is PasteStep.IGNORED:
        return WRITE
    if isinstance(paste.error, NoticeError):
        return await _refuse(
            update,
            context,
            draft,
            WRITE,
            "notices/bad_text",
            reason=paste.error.reason,
            length=len(clean_body(paste.whole)),
            limit=MAX_BODY_LENGTH,
        )
    if paste.step is PasteStep.PART:
        await _drop_buttons(update, context, draft)
        message = await reply(
            update,
            context,
            "notices/part",
            markup=inline_keyboard(
                [[(label(context, "notices.preview"), NOTICE_PREVIEW.pack())], _cancel_row(context)]
            ),
            length=len(paste.body),
            limit=MAX_BODY_LENGTH,
        )
        draft.question_id = message.message_id
        return WRITE
    draft.body = paste.body
    return await _preview(update, context, draft)


@_step
async def text_complete(update: Update, context: LiaisonContext, draft: Draft) -> object:
    """The "preview" button under a long text: that was all of it."""
    await _answer(update)
    if not draft.parts:
        return WRITE
    draft.body = check_body("\n".join(draft.parts))
    draft.parts.clear()
    return await _preview(update, context, draft)


# --- step 3: send, schedule, urgent -------------------------------------------------------


@_step
async def urgent_toggled(update: Update, context: LiaisonContext, draft: Draft) -> object:
    await _answer(update)
    draft.urgent = not draft.urgent
    return await _preview(update, context, draft)


@_step
async def later(update: Update, context: LiaisonContext, draft: Draft) -> object:
    await _answer(update)
    return await _ask(update, context, draft, WHEN)


@_step
async def time_typed(update: Update, context: LiaisonContext, draft: Draft) -> object:
    text = message_text(update)
    try:
        moment = parse_when(text, context.now(), context.zone)
    except WhenError as error:
        return await _refuse(
            update,
            context,
            draft,
            WHEN,
            "notices/bad_time",
            reason=error.reason,
            typed=text.strip()[:40],
            zone=str(context.zone),
        )
    return await _create(update, context, draft, moment)


@_step
async def send_now(update: Update, context: LiaisonContext, draft: Draft) -> object:
    await _answer(update)
    return await _create(update, context, draft, None)


async def _create(
    update: Update, context: LiaisonContext, draft: Draft, send_at: datetime | None
) -> object:
    staff = context.staff()
    assert staff is not None and draft.body is not None
    identity, staff_id = staff
    try:
        async with context.services.db.session() as session:
            notice = await create_notice(
                session,
                context.now(),
                author=identity.actor,
                author_name=identity.staff_name or identity.actor,
                body=draft.body,
                groups=draft.group_names,
                everyone=draft.everyone,
                staff_id=staff_id,
                send_at=send_at,
                urgent=draft.urgent,
            )
            notice_id, when = notice.id, notice.send_at
    except NoticeError as error:
        # A group taken out of the staff member's scope while the draft was written.
        await _drop_buttons(update, context, draft)
        _set_draft(context, None)
        await reply(update, context, "notices/not_created", reason=error.reason)
        return END
    await _drop_buttons(update, context, draft)
    _set_draft(context, None)
    markup = None
    if send_at is not None:
        markup = inline_keyboard(
            [[(label(context, "notices.cancel_this"), NOTICE_STOP.pack(notice_id))]]
        )
    await reply(
        update,
        context,
        "notices/created",
        markup=markup,
        id=notice_id,
        scheduled=send_at is not None,
        audience=_audience(context, draft),
        **_when_values(context, when),
    )
    return END


# --- /notices and cancelling a scheduled notice ---------------------------------------------


@staff_only
async def show_notices(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    async with context.services.db.session() as session:
        scheduled = await list_notices(
            session, staff_id=staff_id, status=NoticeStatus.SCHEDULED, limit=SCHEDULED_SHOWN
        )
        latest = await list_notices(session, staff_id=staff_id, limit=RECENT_SHOWN + len(scheduled))
    scheduled.reverse()  # the next one to go first
    recent = [n for n in latest if n.status is not NoticeStatus.SCHEDULED][:RECENT_SHOWN]
    zone = context.zone
    buttons = [
        [
            (
                label(context, "notices.cancel_one", id=n.id, when=_local(n.send_at, zone)),
                NOTICE_STOP.pack(n.id),
            )
        ]
        for n in scheduled
    ]
    await reply(
        update,
        context,
        "notices/list",
        markup=inline_keyboard(buttons) if buttons else None,
        scheduled=[(n, _local(n.send_at, zone)) for n in scheduled],
        recent=[(n, _local(n.send_at, zone)) for n in recent],
        words=_words(context),
    )


async def stop_pressed(update: Update, context: LiaisonContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    staff = context.staff()
    if staff is None:
        await refuse(update, context)
        return
    identity, staff_id = staff
    pressed = NOTICE_STOP.unpack(query.data)
    notice_id = pressed[0] if pressed is not None else None
    reason = "not_found"
    if notice_id is not None:
        try:
            # The button may be old or forged: the scope is checked again on every press.
            async with context.services.db.session() as session:
                await cancel_notice(
                    session, context.now(), notice_id, actor=identity.actor, staff_id=staff_id
                )
            reason = ""
        except NoticeError as error:
            reason = error.reason
    await _remove_button(update, query.data)
    if reason:
        await reply(update, context, "notices/cannot_cancel", id=notice_id, reason=reason)
    else:
        await reply(update, context, "notices/notice_cancelled", id=notice_id)


async def _remove_button(update: Update, data: str) -> None:
    """Take the pressed button off the message; the others stay."""
    query = update.callback_query
    assert query is not None
    message = query.message
    markup = getattr(message, "reply_markup", None)
    rows = []
    if isinstance(markup, InlineKeyboardMarkup):
        for row in markup.inline_keyboard:
            kept = [b for b in row if b.callback_data != data]
            if kept:
                rows.append(kept)
    await replace_buttons(update, InlineKeyboardMarkup(rows) if rows else None)


# --- /deliveries ------------------------------------------------------------------------------


@staff_only
async def deliveries(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    notice_id = parse_id(_argument(update))
    if notice_id is None:
        await reply(update, context, "notices/deliveries_usage")
        return
    now = context.now()
    async with context.services.db.session() as session:
        notice = await get_notice(session, notice_id, staff_id=staff_id)
        if notice is None:
            report = None
        else:
            report = await delivery_report(session, notice_id)
            await audit.record(
                session,
                now,
                actor=identity.actor,
                action="notice.deliveries.view",
                subject=f"notice:{notice_id}",
            )
    if notice is None or report is None:
        # Someone else's notice reads the same as one that does not exist.
        await reply(update, context, "notices/not_found", id=notice_id)
        return
    await reply(
        update,
        context,
        "notices/report",
        notice=notice,
        groups=sorted(g.name for g in notice.groups),
        report=report,
        send_at=_local(notice.send_at, context.zone),
        states=STATES,
        channels=[c for c in CHANNELS if c in report.by_channel],
        words=_words(context),
    )


# --- the "received" button under a member's copy ----------------------------------------


async def received(update: Update, context: LiaisonContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    pressed = NOTICE_ACK.unpack(query.data)
    identity = context.identity
    if pressed is None or identity is None or identity.member_id is None:
        # A forwarded copy, or someone else's phone: nothing is recorded.
        await query.answer(text=label(context, "notices.ack_not_yours"))
        return
    (notice_id,) = pressed
    async with context.services.db.session() as session:
        outcome = await acknowledge_notice(
            session, context.now(), notice_id=notice_id, member_id=identity.member_id
        )
    if outcome is Ack.NOT_RECIPIENT:
        await query.answer(text=label(context, "notices.ack_not_yours"))
        return
    toast = "notices.ack_thanks" if outcome is Ack.FIRST else "notices.ack_again"
    await query.answer(text=label(context, toast))
    done = inline_keyboard([[(label(context, "notices.acknowledged"), NOTICE_ACK.pack(notice_id))]])
    # Unchanged (pressed twice) or too old to edit: the receipt is recorded all the same.
    await replace_buttons(update, done)


# --- /linkgroup and /unlinkgroup in a group chat ------------------------------------------


@staff_only
async def link(update: Update, context: LiaisonContext, identity: Identity, staff_id: int) -> None:
    name = _argument(update)
    if not name:
        await reply(update, context, "notices/link_usage", username=context.bot.username)
        return
    chat = update.effective_chat
    assert chat is not None
    try:
        async with context.services.db.session() as session:
            linked = await link_group_chat(
                session,
                context.now(),
                group_name=name,
                chat_id=chat.id,
                chat_title=chat.title,
                staff_id=staff_id,
                actor=identity.actor,
            )
    except GroupChatError as error:
        await reply(update, context, "notices/link_refused", reason=error.reason, name=name[:100])
        return
    await reply(update, context, "notices/linked", link=linked)


@staff_only
async def unlink(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    try:
        async with context.services.db.session() as session:
            name = await unlink_group_chat(
                session,
                context.now(),
                chat_id=_chat_id(update),
                staff_id=staff_id,
                actor=identity.actor,
            )
    except GroupChatError as error:
        await reply(update, context, "notices/link_refused", reason=error.reason, name="")
        return
    await reply(update, context, "notices/unlinked", group=name)


async def link_in_private(update: Update, context: LiaisonContext) -> None:
    if context.staff() is None:
        await refuse(update, context)
        return
    await reply(update, context, "notices/link_usage", username=context.bot.username)


# --- wiring -----------------------------------------------------------------------------------


def _conversation() -> ConversationHandler[LiaisonContext]:
    private = filters.ChatType.PRIVATE
    typed = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND

    def button(
        callback: Callable[..., Any], pressed: Action[*tuple[Any, ...]]
    ) -> CallbackQueryHandler[Any, Any]:
        return CallbackQueryHandler(callback, pattern=pressed.pattern)

    return draft_conversation(
        entry_points=[CommandHandler("notice", start_notice, filters=private)],
        states={
            CHOOSE: [
                button(group_toggled, NOTICE_PICK),
                button(everyone_toggled, NOTICE_EVERYONE),
                button(chosen, NOTICE_NEXT),
            ],
            WRITE: [MessageHandler(typed, text_typed), button(text_complete, NOTICE_PREVIEW)],
            PREVIEW: [
                button(send_now, NOTICE_SEND),
                button(later, NOTICE_LATER),
                button(urgent_toggled, NOTICE_URGENT),
            ],
            WHEN: [MessageHandler(typed, time_typed)],
        },
        fallbacks=[
            CommandHandler("cancel", cancel, filters=private),
            button(cancel_pressed, NOTICE_QUIT),
            MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND & private, unexpected),
        ],
        # /notice in the middle starts again from the first step.
        allow_reentry=True,
        name="notice",
    )


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    return [
        _conversation(),
        CommandHandler("notices", show_notices, filters=private),
        CommandHandler("deliveries", deliveries, filters=private),
        CommandHandler("linkgroup", link, filters=groups),
        CommandHandler("unlinkgroup", unlink, filters=groups),
        CommandHandler(["linkgroup", "unlinkgroup"], link_in_private, filters=private),
        CallbackQueryHandler(received, pattern=NOTICE_ACK.any_pattern),
        CallbackQueryHandler(stop_pressed, pattern=NOTICE_STOP.any_pattern),
        # Reached only outside a draft (or by an old button within one).
        CallbackQueryHandler(stale_button, pattern=feature_pattern(NOTICE)),
    ]
