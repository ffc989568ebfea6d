"""/material, /study, /studied, /studyplan: the mobile party school in the chat.

/material (staff, private chat) adds a material to the library in a short conversation:
1. the title; 2. the text, or a document (its caption is the text; without one the text is
asked for next); 3. a web link, or skip; 4. tags, or skip; 5. the push exactly as members
will see it, then save or cancel. Nothing is stored before "save". A long text arrives as
several messages (the Telegram app splits a paste at 4,096 characters); it is joined as
/notice does. A document sent at the title step is kept too, and its caption taken as the text.

Members get each pushed material with a "studied" button (STUDY_DONE) and, when there is more
than the excerpt or a document, "read in full" (STUDY_OPEN). /study lists the latest materials
pushed to their groups; pressing one opens the full text and sends the document.

Staff: /studied shows completion per group they look after, /studied GROUP per member.
Administrators: /studyplan lists, adds and stops the push schedules of their groups:

    /studyplan add 驻深圳流动党员党小组 mon 19:00 [TAG]      every Monday, the next material
    /studyplan add 驻深圳流动党员党小组 2026-12-05 19:00 12  material #12 once
    /studyplan stop 3

Times are in the service's time zone (LIAISON_TIMEZONE), where the scheduler pushes them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
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
from bot.updates import message_text, parse_id
from messages.callbacks import (
    STUDY_DONE,
    STUDY_NEW,
    STUDY_NEXT,
    STUDY_OPEN,
    STUDY_QUIT,
    STUDY_SAVE,
    STUDY_SKIP,
    STUDY_STOP,
    Action,
    feature_pattern,
)
from messages.study import study_message
from storage import audit
from storage.identity import Identity
from storage.models import ChannelName, StaffRole
from storage.study import (
    MAX_BODY_LENGTH,
    MAX_TAGS,
    MAX_TITLE_LENGTH,
    GroupProgress,
    MaterialView,
    MemberReport,
    ScheduleLine,
    StudyError,
    add_material,
    add_schedule,
    check_body,
    check_link,
    check_title,
    get_schedule,
    group_completion,
    list_materials,
    list_schedules,
    mark_studied,
    member_completion,
    next_occurrence,
    open_material,
    parse_at,
    parse_day,
    parse_tags,
    parse_weekday,
    recent_for_member,
    stop_schedule,
)

COMMANDS = (
    Command("study", Audience.MEMBERS),
    Command("material", Audience.STAFF),
    Command("studied", Audience.STAFF),
    Command("studyplan", Audience.STAFF),
)

# Conversation states of /material.
TITLE = "title"
WRITE = "write"
LINK = "link"
TAGS = "tags"
PREVIEW = "preview"
END = ConversationHandler.END

# As for /notice: an answer this long after the previous one does not belong to the draft.
IDLE_LIMIT = timedelta(hours=12)
# /study lists this many; Telegram shows a longer list of buttons badly on a phone.
RECENT_SHOWN = 10
# /studied shows the newest materials of each group; the CLI report has them all.
MATERIALS_SHOWN = 5
# /studyplan lists the newest materials too, for their ids.
LIBRARY_SHOWN = 10
# Button labels are cut to this (a title may be 200 characters).
BUTTON_TITLE = 40

_DRAFT = "study.draft"


@dataclass(slots=True)
class Draft:
    """The material being written; stored only when the staff member saves it."""

    touched_at: datetime
    title: str | None = None
    parts: list[str] = field(default_factory=list)
    discard_until: datetime | None = None
    body: str | None = None
    document_file_id: str | None = None
    document_name: str | None = None
    link: str | None = None
    tags: tuple[str, ...] = ()
    step: str = TITLE
    # The message whose buttons belong to the current step; others are stale.
    question_id: int | None = None


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


def _short(title: str) -> str:
    return title if len(title) <= BUTTON_TITLE else title[: BUTTON_TITLE - 1] + "…"


def _when(context: LiaisonContext, moment: datetime | None, zone: tzinfo) -> dict[str, str]:
    """A moment as templates show it: local date and time, and the weekday's name."""
    if moment is None:
        return {"when": "", "weekday": ""}
    local = moment.astimezone(zone)
    return {
        "when": local.strftime("%Y-%m-%d %H:%M"),
        "weekday": label(context, f"study.weekday_{local.weekday()}"),
    }


# --- /material: the conversation's plumbing --------------------------------------------------


_FLOW = StaffDraftFlow(_DRAFTS, "study", IDLE_LIMIT)
_step = _FLOW.step


async def _answer(update: Update) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer()


def _cancel_row(context: LiaisonContext) -> list[tuple[str, str]]:
    return [(label(context, "study.cancel"), STUDY_QUIT.pack())]


def _skip_row(context: LiaisonContext) -> list[tuple[str, str]]:
    return [(label(context, "study.skip"), STUDY_SKIP.pack())]


async def _ask(
    update: Update, context: LiaisonContext, draft: Draft, step: str, lead: str | None = None
) -> str:
    """Show the question of step (again) with its buttons and make it the current state.

    lead (what was noted, or why the last answer was not taken) opens the same message.
    """
    if step == PREVIEW:
        return await _preview(update, context, draft, show_push=lead is None, lead=lead)
    await drop_buttons(update, context, draft)
    draft.step = step
    rows = [_cancel_row(context)]
    if step in (LINK, TAGS):
        rows.insert(0, _skip_row(context))
    message = await reply(
        update,
        context,
        f"study/ask_{step}",
        markup=inline_keyboard(rows),
        lead=lead,
        draft=draft,
        title_limit=MAX_TITLE_LENGTH,
        limit=MAX_BODY_LENGTH,
        tags=MAX_TAGS,
    )
    draft.question_id = message.message_id
    return step


async def _refuse(
    update: Update, context: LiaisonContext, draft: Draft, reason: str, **values: Any
) -> str:
    """Say why a typed answer cannot be taken; the step stays, the draft keeps the rest."""
    await drop_buttons(update, context, draft)
    rows = [_cancel_row(context)]
    if draft.step in (LINK, TAGS):
        rows.insert(0, _skip_row(context))
    message = await reply(
        update,
        context,
        "study/bad_input",
        markup=inline_keyboard(rows),
        reason=reason,
        title_limit=MAX_TITLE_LENGTH,
        limit=MAX_BODY_LENGTH,
        tags=MAX_TAGS,
        **values,
    )
    draft.question_id = message.message_id
    return draft.step


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


async def _preview(
    update: Update,
    context: LiaisonContext,
    draft: Draft,
    *,
    show_push: bool = True,
    lead: str | None = None,
) -> str:
    """The push exactly as members will see it (without its buttons), then save or cancel:
    one message (split only when the push itself is long)."""
    await drop_buttons(update, context, draft)
    draft.step = PREVIEW
    if show_push:
        lead, _ = study_message(
            context.services.renderer, context.locale, ChannelName.TELEGRAM, _view(draft)
        )
    message = await reply(
        update,
        context,
        "study/preview",
        markup=inline_keyboard(
            [[(label(context, "study.save"), STUDY_SAVE.pack())], _cancel_row(context)]
        ),
        lead=lead,
        draft=draft,
        length=len(draft.body or ""),
        studied=label(context, "study.studied"),
    )
    draft.question_id = message.message_id
    return PREVIEW


# --- /material: entry, cancelling and the unexpected -----------------------------------------


async def start_material(update: Update, context: LiaisonContext) -> object:
    if context.staff() is None:
        await refuse(update, context)
        return END
    previous = _get_draft(context)
    if previous is not None:
        await drop_buttons(update, context, previous)
    draft = Draft(touched_at=context.now())
    _set_draft(context, draft)
    return await _ask(update, context, draft, TITLE)


cancel = _FLOW.cancel


@_step
async def cancel_pressed(update: Update, context: LiaisonContext, draft: Draft) -> object:
    return await cancel(update, context)


@_step
async def unexpected(update: Update, context: LiaisonContext, draft: Draft) -> object:
    """A photo where text is expected, or typing where a button is: say so, ask again."""
    lead = render(context, "study/unexpected", step=draft.step)
    # At the preview the push itself is on screen just above: only the choices again.
    return await _ask(update, context, draft, draft.step, lead)


stale_button = _FLOW.stale_button


# --- /material: the steps ---------------------------------------------------------------------


@_step
async def title_typed(update: Update, context: LiaisonContext, draft: Draft) -> object:
    try:
        draft.title = check_title(message_text(update))
    except StudyError as error:
        return await _refuse(update, context, draft, error.reason)
    # A document with its caption may have come first: then the text is there already.
    return await _ask(update, context, draft, LINK if draft.body is not None else WRITE)


@_step
async def text_typed(update: Update, context: LiaisonContext, draft: Draft) -> object:
    paste = take_paste(
        draft,
        message_text(update),
        context.now(),
        check=check_body,
        error_type=StudyError,
        too_long="body_too_long",
    )
    if paste.step is PasteStep.IGNORED:
        return WRITE
    if isinstance(paste.error, StudyError):
        return await _refuse(
            update, context, draft, paste.error.reason, length=len(paste.whole.strip())
        )
    if paste.step is PasteStep.PART:
        await drop_buttons(update, context, draft)
        message = await reply(
            update,
            context,
            "study/part",
            markup=inline_keyboard(
                [[(label(context, "study.next"), STUDY_NEXT.pack())], _cancel_row(context)]
            ),
            length=len(paste.body),
            limit=MAX_BODY_LENGTH,
        )
        draft.question_id = message.message_id
        return WRITE
    draft.body = paste.body
    return await _ask(update, context, draft, LINK)


@_step
async def text_complete(update: Update, context: LiaisonContext, draft: Draft) -> object:
    """The "next" button under a long text: that was all of it."""
    await _answer(update)
    if not draft.parts:
        return WRITE
    draft.body = check_body("\n".join(draft.parts))
    draft.parts.clear()
    return await _ask(update, context, draft, LINK)


@_step
async def document_sent(update: Update, context: LiaisonContext, draft: Draft) -> object:
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
        return await _ask(update, context, draft, TITLE, kept)
    if draft.body is None:
        kept = render(context, "study/document_kept", draft=draft, need=WRITE)
        return await _ask(update, context, draft, WRITE, kept)
    return await _ask(update, context, draft, LINK)


@_step
async def link_typed(update: Update, context: LiaisonContext, draft: Draft) -> object:
    typed = message_text(update)
    try:
        draft.link = check_link(typed)
    except StudyError as error:
        return await _refuse(update, context, draft, error.reason, typed=typed.strip()[:60])
    return await _ask(update, context, draft, TAGS)


@_step
async def link_skipped(update: Update, context: LiaisonContext, draft: Draft) -> object:
    await _answer(update)
    draft.link = None
    return await _ask(update, context, draft, TAGS)


@_step
async def tags_typed(update: Update, context: LiaisonContext, draft: Draft) -> object:
    try:
        draft.tags = parse_tags(message_text(update))
    except StudyError as error:
        return await _refuse(update, context, draft, error.reason)
    return await _preview(update, context, draft)


@_step
async def tags_skipped(update: Update, context: LiaisonContext, draft: Draft) -> object:
    await _answer(update)
    draft.tags = ()
    return await _preview(update, context, draft)


@_step
async def save(update: Update, context: LiaisonContext, draft: Draft) -> object:
    await _answer(update)
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
    await drop_buttons(update, context, draft)
    _set_draft(context, None)
    await reply(
        update,
        context,
        "study/saved",
        id=material_id,
        title=draft.title,
        is_admin=identity.staff_role is StaffRole.ADMIN,
    )
    return END


# --- members: /study, "read in full", "studied" ---------------------------------------------


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
    assert query is not None and query.data is not None
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
                _chat_id(update), material.document_file_id, caption=material.title
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


# --- staff: /studied ---------------------------------------------------------------------------


@staff_only
async def studied(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    group = _argument(update)
    now = context.now()
    report: MemberReport | None = None
    progress: list[GroupProgress] = []
    try:
        async with context.services.db.session() as session:
            if group:
                report = await member_completion(session, staff_id=staff_id, group=group)
            else:
                progress = await group_completion(
                    session, staff_id=staff_id, materials_limit=MATERIALS_SHOWN
                )
            await audit.record(
                session,
                now,
                actor=identity.actor,
                action="study.completion.view",
                group=group[:100] or None,
            )
    except StudyError as error:
        await reply(update, context, "study/refused", reason=error.reason, group=group[:100])
        return
    zone = context.zone
    if report is not None:
        await reply(
            update,
            context,
            "study/members",
            report=report,
            dates={
                m.member_id: m.last_studied_at.astimezone(zone).strftime("%Y-%m-%d")
                for m in report.members
                if m.last_studied_at is not None
            },
        )
    else:
        await reply(
            update,
            context,
            "study/completion",
            groups=progress,
            shown=MATERIALS_SHOWN,
            dates={
                (g.group_id, m.material_id): m.pushed_at.astimezone(zone).strftime("%m-%d")
                for g in progress
                for m in g.materials
            },
        )


# --- administrators: /studyplan ---------------------------------------------------------------


def _is_admin(identity: Identity) -> bool:
    return identity.staff_role is StaffRole.ADMIN


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """/studyplan add …, read: the group and either a weekday or a date with a material."""

    group: str
    at: str
    weekday: int | None = None
    on_date: date | None = None
    material_id: int | None = None
    tag: str | None = None


def parse_plan(text: str) -> PlanRequest:
    """The words after "/studyplan add"; StudyError (usage, or what is wrong) otherwise.

    The group name may contain spaces: it is everything before the last "weekday time" or
    "date time" pair.
    """
    words = text.split()
    for index in range(len(words) - 2, 0, -1):
        when, clock, rest = words[index], words[index + 1], words[index + 2 :]
        try:
            at = parse_at(clock)
        except StudyError:
            continue
        group = " ".join(words[:index])
        try:
            weekday = parse_weekday(when)
        except StudyError:
            weekday = None
        if weekday is not None:
            if len(rest) > 1:
                raise StudyError("a tag is one word", "bad_tag")
            return PlanRequest(group, at, weekday=weekday, tag=rest[0] if rest else None)
        try:
            on_date = parse_day(when)
        except StudyError:
            raise StudyError(
                f"{when[:20]!r} is neither a weekday like mon nor a date like 2026-12-05",
                "bad_day",
            ) from None
        material_id = parse_id(rest[0]) if len(rest) == 1 else None
        if material_id is None:
            raise StudyError("a one-off push needs the material's number", "no_material")
        return PlanRequest(group, at, on_date=on_date, material_id=material_id)
    raise StudyError("/studyplan add GROUP mon 19:00 [TAG] | GROUP 2026-12-05 19:00 ID", "usage")


def _schedule_values(
    context: LiaisonContext, line: ScheduleLine, now: datetime, zone: tzinfo
) -> dict[str, Any]:
    return {
        "line": line,
        "day": label(context, f"study.weekday_{line.weekday}") if line.weekday is not None else "",
        "next": _when(context, next_occurrence(line, now, zone), zone),
    }


@staff_only
async def studyplan(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    if not _is_admin(identity):
        await reply(update, context, "study/admin_only")
        return
    command, _, rest = _argument(update).partition(" ")
    command = command.lower()
    if command in ("", "list"):
        await _show_plan(update, context, identity, staff_id)
    elif command == "add":
        await _add_plan(update, context, identity, staff_id, rest)
    elif command == "stop":
        schedule_id = parse_id(rest)
        if schedule_id is None:
            await reply(update, context, "study/plan_usage")
            return
        await _stop_plan(update, context, identity, staff_id, schedule_id)
    else:
        await reply(update, context, "study/plan_usage")


async def _show_plan(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    now = context.now()
    zone = context.services.settings.zone
    async with context.services.db.session() as session:
        schedules = await list_schedules(session, staff_id=staff_id)
        library = await list_materials(session, limit=LIBRARY_SHOWN)
        await audit.record(session, now, actor=identity.actor, action="study.plan.view")
    buttons = [
        [(label(context, "study.stop_one", id=line.id), STUDY_STOP.pack(line.id))]
        for line in schedules
    ]
    await reply(
        update,
        context,
        "study/plan",
        markup=inline_keyboard(buttons) if buttons else None,
        schedules=[_schedule_values(context, line, now, zone) for line in schedules],
        library=library,
        zone=str(zone),
    )


async def _add_plan(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int, text: str
) -> None:
    now = context.now()
    zone = context.services.settings.zone
    request: PlanRequest | None = None
    try:
        request = parse_plan(text)
        async with context.services.db.session() as session:
            schedule = await add_schedule(
                session,
                now,
                actor=identity.actor,
                group=request.group,
                at=request.at,
                zone=zone,
                weekday=request.weekday,
                on_date=request.on_date,
                material_id=request.material_id,
                tag=request.tag,
                staff_id=staff_id,
            )
            line = await get_schedule(session, schedule.id, staff_id=staff_id)
            assert line is not None
    except StudyError as error:
        if error.reason == "usage":
            await reply(update, context, "study/plan_usage")
            return
        await reply(
            update,
            context,
            "study/refused",
            reason=error.reason,
            group=request.group[:100] if request else "",
            id=request.material_id if request else None,
        )
        return
    await reply(
        update,
        context,
        "study/plan_added",
        zone=str(zone),
        **_schedule_values(context, line, now, zone),
    )


async def _stop_plan(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int, schedule_id: int
) -> bool:
    try:
        # A button may be old or forged: the scope is checked again on every press.
        async with context.services.db.session() as session:
            line = await stop_schedule(
                session, context.now(), schedule_id, actor=identity.actor, staff_id=staff_id
            )
    except StudyError as error:
        await reply(update, context, "study/refused", reason=error.reason, id=schedule_id)
        return False
    await reply(
        update,
        context,
        "study/plan_stopped",
        **_schedule_values(context, line, context.now(), context.services.settings.zone),
    )
    return True


async def stop_pressed(update: Update, context: LiaisonContext) -> None:
    """The "stop #n" button under /studyplan."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    staff = context.staff()
    if staff is None:
        await refuse(update, context)
        return
    identity, staff_id = staff
    if not _is_admin(identity):
        await reply(update, context, "study/admin_only")
        return
    pressed = STUDY_STOP.unpack(query.data)
    if pressed is None:
        await retire_pressed_button(update)
        return
    (schedule_id,) = pressed
    await _stop_plan(update, context, identity, staff_id, schedule_id)
    await _remove_button(update, query.data)


async def _remove_button(update: Update, data: str) -> None:
    """Take the pressed button off the message; the others stay."""
    query = update.callback_query
    assert query is not None
    markup = getattr(query.message, "reply_markup", None)
    rows = []
    if isinstance(markup, InlineKeyboardMarkup):
        for row in markup.inline_keyboard:
            kept = [b for b in row if b.callback_data != data]
            if kept:
                rows.append(kept)
    await replace_buttons(update, InlineKeyboardMarkup(rows) if rows else None)


# --- wiring -------------------------------------------------------------------------------------


def _conversation() -> ConversationHandler[LiaisonContext]:
    private = filters.ChatType.PRIVATE
    typed = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    document = filters.UpdateType.MESSAGE & filters.Document.ALL

    def button(
        callback: Callable[..., Any], pressed: Action[*tuple[Any, ...]]
    ) -> CallbackQueryHandler[Any, Any]:
        return CallbackQueryHandler(callback, pattern=pressed.pattern)

    return draft_conversation(
        entry_points=[CommandHandler("material", start_material, filters=private)],
        states={
            TITLE: [MessageHandler(typed, title_typed), MessageHandler(document, document_sent)],
            WRITE: [
                MessageHandler(typed, text_typed),
                MessageHandler(document, document_sent),
                button(text_complete, STUDY_NEXT),
            ],
            LINK: [MessageHandler(typed, link_typed), button(link_skipped, STUDY_SKIP)],
            TAGS: [MessageHandler(typed, tags_typed), button(tags_skipped, STUDY_SKIP)],
            PREVIEW: [button(save, STUDY_SAVE)],
        },
        fallbacks=[
            CommandHandler("cancel", cancel, filters=private),
            button(cancel_pressed, STUDY_QUIT),
            MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND & private, unexpected),
        ],
        # /material in the middle starts again from the first step.
        allow_reentry=True,
        name="material",
    )


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    return [
        _conversation(),
        CommandHandler("study", show_recent, filters=private),
        CommandHandler("studied", studied, filters=private),
        CommandHandler("studyplan", studyplan, filters=private),
        CallbackQueryHandler(studied_pressed, pattern=STUDY_DONE.any_pattern),
        CallbackQueryHandler(open_pressed, pattern=STUDY_OPEN.any_pattern),
        CallbackQueryHandler(stop_pressed, pattern=STUDY_STOP.any_pattern),
        # Reached only outside a draft (or by an old button within one).
        CallbackQueryHandler(stale_button, pattern=feature_pattern(STUDY_NEW)),
    ]
