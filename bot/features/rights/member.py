"""The member's side: /correct (the flow "correct") and /leave (the flow "leave").

/correct: 1. which field (a button each, with what the record holds now); 2. the new value,
typed, checked as the roster import checks it (a phone number with phonenumbers); 3. the
old and new value side by side, with send, type again or cancel. Nothing is stored before
"send"; the liaisons decide, and the member hears the decision.

/leave (or the button under /privacy): what will be erased and what is kept (the roster the
organisation must keep), sure? then sure again: it cannot be undone. The request waits for
an administrator; nothing is erased before they confirm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from telegram import Update

from bot.commands import Audience
from bot.context import LiaisonContext
from bot.flow import END, Flow, Start, Step, press, typed
from bot.replies import Markup, inline_keyboard, label, render, reply
from bot.updates import message_text
from messages.callbacks import (
    RIGHTS_FIELD,
    RIGHTS_LEAVE_QUIT,
    RIGHTS_LEAVE_SURE,
    RIGHTS_LEAVE_YES,
    RIGHTS_QUIT,
    RIGHTS_RETYPE,
    RIGHTS_SEND,
    RIGHTS_START_FIX,
    RIGHTS_START_LEAVE,
)
from storage.models import Member
from storage.rights import (
    FIELDS,
    Field,
    RightsError,
    check_value,
    current_value,
    propose_correction,
    request_deletion,
)

# Steps of /correct.
FIELD = "field"
VALUE = "value"
CONFIRM = "confirm"
# Steps of /leave.
FIRST = "first"
SURE = "sure"

# What a button quotes of the value the record holds now.
BUTTON_VALUE = 16


@dataclass(slots=True)
class Correction:
    """The correction being proposed; stored only when the member sends it."""

    field: Field | None = None
    value: str | None = None


@dataclass(slots=True)
class Leaving:
    """/leave holds nothing but the step: the question is the whole draft."""


def field_name(context: LiaisonContext, field: Field | str | None) -> str:
    return label(context, f"rights.field_{field}") if field else ""


async def _record(context: LiaisonContext) -> Member | None:
    identity = context.identity
    assert identity is not None and identity.member_id is not None  # the flow's guard
    async with context.services.db.session() as session:
        return await session.get(Member, identity.member_id)


def _short(value: str | None) -> str:
    if not value:
        return "—"
    return value if len(value) <= BUTTON_VALUE else value[: BUTTON_VALUE - 1] + "…"


# --- /correct -------------------------------------------------------------------------------


async def start_correct(update: Update, context: LiaisonContext) -> str:
    """/correct, or the button under /privacy: from the first question."""
    return await CORRECT.begin(update, context, Correction(), FIELD)


async def _field_keyboard(context: LiaisonContext, draft: Correction) -> Markup:
    member = await _record(context)
    rows = [
        [
            (
                label(
                    context,
                    "rights.field_button",
                    field=field_name(context, field),
                    value=_short(current_value(member, field) if member else None),
                ),
                RIGHTS_FIELD.pack(field),
            )
        ]
        for field in FIELDS
    ]
    return inline_keyboard([*rows, [(label(context, "rights.cancel"), RIGHTS_QUIT.pack())]])


def _cancel_keyboard(context: LiaisonContext, draft: Correction) -> Markup:
    return inline_keyboard([[(label(context, "rights.cancel"), RIGHTS_QUIT.pack())]])


def _confirm_keyboard(context: LiaisonContext, draft: Correction) -> Markup:
    return inline_keyboard(
        [
            [(label(context, "rights.send"), RIGHTS_SEND.pack())],
            [(label(context, "rights.retype"), RIGHTS_RETYPE.pack())],
            [(label(context, "rights.cancel"), RIGHTS_QUIT.pack())],
        ]
    )


async def _values(context: LiaisonContext, draft: Correction) -> Mapping[str, Any]:
    member = await _record(context)
    current = current_value(member, draft.field) if member and draft.field else None
    return {
        "field": field_name(context, draft.field),
        "phone": draft.field is Field.PHONE,
        "current": current or "",
        "value": draft.value or "",
    }


async def field_chosen(update: Update, context: LiaisonContext, draft: Correction) -> str:
    query = update.callback_query
    assert query is not None
    pressed = RIGHTS_FIELD.unpack(query.data)
    if pressed is None:
        return CORRECT.step(context)
    (draft.field,) = pressed
    return await CORRECT.ask(update, context, draft, VALUE)


def _refusal(context: LiaisonContext, error: RightsError, draft: Correction) -> str:
    return render(
        context, "rights/bad_value", reason=error.reason, field=field_name(context, draft.field)
    )


async def value_typed(update: Update, context: LiaisonContext, draft: Correction) -> str:
    assert draft.field is not None
    try:
        value = check_value(draft.field, message_text(update))
        member = await _record(context)
        if member is not None and value == current_value(member, draft.field):
            raise RightsError("no change", "unchanged")
    except RightsError as error:
        return await CORRECT.again(update, context, draft, lead=_refusal(context, error, draft))
    draft.value = value
    return await CORRECT.ask(update, context, draft, CONFIRM)


async def retype(update: Update, context: LiaisonContext, draft: Correction) -> str:
    return await CORRECT.ask(update, context, draft, VALUE)


async def send(update: Update, context: LiaisonContext, draft: Correction) -> str:
    identity = context.identity
    assert identity is not None and identity.member_id is not None  # the flow's guard
    assert draft.field is not None and draft.value is not None
    try:
        async with context.services.db.session() as session:
            row = await propose_correction(
                session,
                context.now(),
                member_id=identity.member_id,
                field=draft.field,
                text=draft.value,
            )
            number = row.id
    except RightsError as error:
        # Unchanged, or another member's phone: say why and ask for the value again.
        return await CORRECT.ask(
            update, context, draft, VALUE, lead=_refusal(context, error, draft)
        )
    await CORRECT.drop_buttons(update, context)
    await reply(
        update,
        context,
        "rights/correct_sent",
        id=number,
        field=field_name(context, draft.field),
        value=draft.value,
    )
    return END


CORRECT = Flow(
    "correct",
    Correction,
    audience=Audience.MEMBERS,
    templates="rights/correct",
    not_member="rights/not_member",
    starts=[
        Start(start_correct, command="correct"),
        Start(start_correct, action=RIGHTS_START_FIX),
    ],
    steps={
        FIELD: Step(
            "rights/ask_field", [press(RIGHTS_FIELD, field_chosen)], keyboard=_field_keyboard
        ),
        VALUE: Step("rights/ask_value", [typed(value_typed)], keyboard=_cancel_keyboard),
        CONFIRM: Step(
            "rights/ask_confirm",
            [press(RIGHTS_SEND, send), press(RIGHTS_RETYPE, retype)],
            keyboard=_confirm_keyboard,
        ),
    },
    cancel_action=RIGHTS_QUIT,
    values=_values,
)


# --- /leave ---------------------------------------------------------------------------------


async def start_leave(update: Update, context: LiaisonContext) -> str:
    """/leave, or the button under /privacy: what will happen, and the first "sure?"."""
    return await LEAVE.begin(update, context, Leaving(), FIRST)


def _first_keyboard(context: LiaisonContext, draft: Leaving) -> Markup:
    return inline_keyboard(
        [
            [(label(context, "rights.leave_yes"), RIGHTS_LEAVE_YES.pack())],
            [(label(context, "rights.leave_no"), RIGHTS_LEAVE_QUIT.pack())],
        ]
    )


def _sure_keyboard(context: LiaisonContext, draft: Leaving) -> Markup:
    return inline_keyboard(
        [
            [(label(context, "rights.leave_sure"), RIGHTS_LEAVE_SURE.pack())],
            [(label(context, "rights.leave_no"), RIGHTS_LEAVE_QUIT.pack())],
        ]
    )


async def first_yes(update: Update, context: LiaisonContext, draft: Leaving) -> str:
    return await LEAVE.ask(update, context, draft, SURE)


async def sure(update: Update, context: LiaisonContext, draft: Leaving) -> str:
    identity = context.identity
    assert identity is not None and identity.member_id is not None  # the flow's guard
    async with context.services.db.session() as session:
        row = await request_deletion(session, context.now(), member_id=identity.member_id)
        number = row.id
    await LEAVE.drop_buttons(update, context)
    await reply(update, context, "rights/leave_sent", id=number)
    return END


LEAVE = Flow(
    "leave",
    Leaving,
    audience=Audience.MEMBERS,
    templates="rights/leave",
    not_member="rights/not_member",
    starts=[Start(start_leave, command="leave"), Start(start_leave, action=RIGHTS_START_LEAVE)],
    steps={
        FIRST: Step(
            "rights/ask_leave", [press(RIGHTS_LEAVE_YES, first_yes)], keyboard=_first_keyboard
        ),
        SURE: Step(
            "rights/ask_leave_sure", [press(RIGHTS_LEAVE_SURE, sure)], keyboard=_sure_keyboard
        ),
    },
    cancel_action=RIGHTS_LEAVE_QUIT,
)
