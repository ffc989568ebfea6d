"""/notice (staff, private chat): write a notice to one's groups, as a flow on bot/flow.py.

1. tick one or more of my groups, or "all my members"; 2. type the text; 3. the preview,
exactly as members will see it, with the recipients per channel, then send now, schedule,
mark urgent, or cancel. Nothing is sent from here: the notice is recorded and the
dispatcher delivers it when it is due.

The text may be longer than one Telegram message (up to MAX_BODY_LENGTH): the Telegram app
sends a long paste as several messages of at most 4,096 characters. A message of
PART_LENGTH characters or more is therefore kept as a part and the next one is added to it
(a "preview" button ends the text); a shorter one completes it. When the text grows too
long it is refused as a whole, and the rest of that paste, arriving within PASTE_WINDOW,
is dropped too rather than taken for a new text (bot.drafts.take_paste, shared with
/material).

A scheduled time is typed in the staff member's time zone and read by
storage.calendar.parse_when (the CLI's --at reads the same forms): "2026-12-01 09:00",
"12-01 09:00", "明天 9:00" / "tomorrow 9:00", "9点半" … A time that has passed, or one more
than a year ahead, is refused with its reason and asked again.
"""

from __future__ import annotations

from datetime import datetime

from telegram import Update

from bot.commands import Audience
from bot.context import LiaisonContext
from bot.drafts import PasteStep, take_paste, toggle_group
from bot.features.notices.questions import (
    Draft,
    audience,
    cancel_only,
    choose_keyboard,
    choose_values,
    part_keyboard,
    part_values,
    preview_keyboard,
    preview_values,
    text_values,
    when_values,
    zone_values,
)
from bot.flow import END, Flow, Start, Step, press, typed
from bot.replies import edit, inline_keyboard, label, reply
from bot.updates import message_text
from messages.callbacks import (
    NOTICE_EVERYONE,
    NOTICE_LATER,
    NOTICE_NEXT,
    NOTICE_PICK,
    NOTICE_PREVIEW,
    NOTICE_QUIT,
    NOTICE_SEND,
    NOTICE_STOP,
    NOTICE_URGENT,
)
from messages.compose import NoticeView, notice_text
from storage.calendar import WhenError, parse_when
from storage.models import ChannelName
from storage.notices import (
    MAX_BODY_LENGTH,
    NoticeError,
    addressable_groups,
    check_body,
    clean_body,
    create_notice,
)

# Steps, one per question; a refusal is a step of its own (it says why, in place of the
# question, and takes the same answers).
CHOOSE = "choose"
WRITE = "write"
WRITE_REFUSED = "write_refused"
PART = "part"  # a long text so far, waiting for the rest or the "preview" button
PREVIEW = "preview"
WHEN = "when"
WHEN_REFUSED = "when_refused"

# Telegram allows 100 buttons under a message; beyond this the list is no longer usable.
GROUP_BUTTONS = 60


async def _preview(update: Update, context: LiaisonContext, draft: Draft) -> str:
    """The notice exactly as members will see it, then who gets it and the choices: one
    message (split only when the notice itself is long)."""
    staff = context.staff()
    assert staff is not None and draft.body is not None
    view = NoticeView(
        id=0,
        body=draft.body,
        author_name=staff[0].staff_name or "",
        urgent=draft.urgent,
        sent_at=context.now(),
    )
    services = context.services
    shown = notice_text(services.renderer, context.locale, view, ChannelName.TELEGRAM, context.zone)
    return await FLOW.ask(update, context, draft, PREVIEW, lead=shown)


# --- the start, and the unexpected ----------------------------------------------------------


async def start_notice(update: Update, context: LiaisonContext) -> str:
    staff = context.staff()
    assert staff is not None  # the flow's guard
    async with context.services.db.session() as session:
        groups = await addressable_groups(session, staff[1])
    shown = groups[:GROUP_BUTTONS]
    draft = Draft(groups=[(g.id, g.name) for g in shown], more_groups=len(groups) - len(shown))
    return await FLOW.begin(update, context, draft, CHOOSE)


# --- step 1: who --------------------------------------------------------------------------


async def group_toggled(update: Update, context: LiaisonContext, draft: Draft) -> str:
    query = update.callback_query
    assert query is not None
    ticked = toggle_group(query.data, NOTICE_PICK, draft.groups, draft.chosen)
    if ticked is None:
        return CHOOSE
    if ticked:
        draft.everyone = False
    await query.edit_message_reply_markup(choose_keyboard(context, draft))
    return CHOOSE


async def everyone_toggled(update: Update, context: LiaisonContext, draft: Draft) -> str:
    query = update.callback_query
    assert query is not None
    draft.everyone = not draft.everyone
    if draft.everyone:
        draft.chosen.clear()
    await query.edit_message_reply_markup(choose_keyboard(context, draft))
    return CHOOSE


async def chosen(update: Update, context: LiaisonContext, draft: Draft) -> str:
    query = update.callback_query
    assert query is not None
    if not draft.chosen and not draft.everyone:
        await query.answer(text=label(context, "notices.choose_first"))
        return CHOOSE
    await query.answer()
    # One edit, no new message: the next question (it names the audience chosen), with
    # its cancel button, in place of the group buttons. The message stays the question.
    await edit(
        update,
        context,
        "notices/ask_text",
        markup=cancel_only(context, draft),
        **text_values(context, draft),
    )
    return WRITE


# --- step 2: the text ---------------------------------------------------------------------


async def text_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    paste = take_paste(
        draft,
        message_text(update),
        context.now(),
        check=check_body,
        error_type=NoticeError,
        too_long="too_long",
    )
    if paste.step is PasteStep.IGNORED:
        return FLOW.step(context)
    if isinstance(paste.error, NoticeError):
        return await FLOW.ask(
            update,
            context,
            draft,
            WRITE_REFUSED,
            reason=paste.error.reason,
            length=len(clean_body(paste.whole)),
            limit=MAX_BODY_LENGTH,
        )
    if paste.step is PasteStep.PART:
        return await FLOW.ask(update, context, draft, PART)
    draft.body = paste.body
    return await _preview(update, context, draft)


async def text_complete(update: Update, context: LiaisonContext, draft: Draft) -> str:
    """The "preview" button under a long text: that was all of it."""
    if not draft.parts:
        return FLOW.step(context)
    draft.body = check_body("\n".join(draft.parts))
    draft.parts.clear()
    return await _preview(update, context, draft)


# --- step 3: send, schedule, urgent -------------------------------------------------------


async def urgent_toggled(update: Update, context: LiaisonContext, draft: Draft) -> str:
    draft.urgent = not draft.urgent
    return await _preview(update, context, draft)


async def later(update: Update, context: LiaisonContext, draft: Draft) -> str:
    return await FLOW.ask(update, context, draft, WHEN)


async def time_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    text = message_text(update)
    try:
        moment = parse_when(text, context.now(), context.zone)
    except WhenError as error:
        return await FLOW.ask(
            update,
            context,
            draft,
            WHEN_REFUSED,
            reason=error.reason,
            typed=text.strip()[:40],
            zone=str(context.zone),
        )
    return await _create(update, context, draft, moment)


async def send_now(update: Update, context: LiaisonContext, draft: Draft) -> str:
    return await _create(update, context, draft, None)


async def _create(
    update: Update, context: LiaisonContext, draft: Draft, send_at: datetime | None
) -> str:
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
        await FLOW.drop_buttons(update, context)
        await reply(update, context, "notices/not_created", reason=error.reason)
        return END
    await FLOW.drop_buttons(update, context)
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
        audience=audience(context, draft),
        **when_values(context, when),
    )
    return END


# --- the flow ---------------------------------------------------------------------------

_TEXT = [typed(text_typed)]
_TIME = [typed(time_typed)]

FLOW = Flow(
    "notice",
    Draft,
    audience=Audience.STAFF,
    templates="notices",
    starts=[Start(start_notice, command="notice")],
    steps={
        CHOOSE: Step(
            "notices/choose",
            [
                press(NOTICE_PICK, group_toggled),
                press(NOTICE_EVERYONE, everyone_toggled),
                # Nothing chosen yet: the press is answered with a toast saying so.
                press(NOTICE_NEXT, chosen, toast=True),
            ],
            keyboard=choose_keyboard,
            values=choose_values,
        ),
        WRITE: Step("notices/ask_text", _TEXT, keyboard=cancel_only, values=text_values),
        WRITE_REFUSED: Step("notices/bad_text", _TEXT, keyboard=cancel_only, retry=WRITE),
        PART: Step(
            "notices/part",
            [*_TEXT, press(NOTICE_PREVIEW, text_complete)],
            keyboard=part_keyboard,
            values=part_values,
        ),
        PREVIEW: Step(
            "notices/preview",
            [
                press(NOTICE_SEND, send_now),
                press(NOTICE_LATER, later),
                press(NOTICE_URGENT, urgent_toggled),
            ],
            keyboard=preview_keyboard,
            values=preview_values,
        ),
        WHEN: Step("notices/ask_time", _TIME, keyboard=cancel_only, values=zone_values),
        WHEN_REFUSED: Step("notices/bad_time", _TIME, keyboard=cancel_only, retry=WHEN),
    },
    cancel_action=NOTICE_QUIT,
)
