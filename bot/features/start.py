"""/start: bind this Telegram account to a member with an invite code, then ask for consent.

`/start CODE` (the deep link a liaison sends) binds at once; a bare `/start` asks for the
code and takes the next message as it: the flow "start" on bot/flow.py, open to everyone
(whoever asks is not a member yet). /cancel leaves it. A code that is not one, or a wrong
one, is explained and the next message is tried again. Bound members get a welcome back,
staff a list of their commands.

The consent question that follows binding is a single press answered whenever it comes
(answer_consent), not a step of the flow: a member may answer it days later.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.flow import END, Flow, Start, Step, typed
from bot.replies import (
    PLATFORM_NAMES,
    edit,
    inline_keyboard,
    label,
    render,
    reply,
    send_html,
    still_has_buttons,
)
from bot.updates import command_argument, message_text, sender_id
from messages.callbacks import START_CONSENT, feature_pattern
from messages.render import normalize_locale
from storage import invites
from storage.consent import set_consent
from storage.identity import identify
from storage.invites import Outcome
from storage.models import Consent

log = logging.getLogger(__name__)

COMMANDS = (Command("start", Audience.EVERYONE),)

# Steps: the code is asked for; a refusal is a step of its own (it says why, in place of
# the question, and the next message is tried as the code again).
CODE = "code"
NOT_A_CODE = "not_a_code"
WRONG_CODE = "wrong_code"

# Time enough to find the slip or the SMS with the code; a line typed a day later is not
# taken as a code (each wrong one counts towards the lockout).
IDLE_LIMIT = timedelta(hours=24)


@dataclass(slots=True)
class Draft:
    """Nothing to keep between the question and the answer but the step itself."""


# A refusal and its values: the step to wait at, or None when nothing more is asked.
Wait = tuple[str, dict[str, Any]] | None


def _staff_commands(context: LiaisonContext) -> list[tuple[str, str]]:
    return [
        (command.name, label(context, f"commands.{command.name}"))
        for command in context.bot_data.commands
        if command.audience is Audience.STAFF
    ]


async def ask_consent(update: Update, context: LiaisonContext, lead: str | None = None) -> None:
    """What is stored, why and who sees it; accept / decline buttons, after lead."""
    keyboard = inline_keyboard(
        [
            [(label(context, "start.accept"), START_CONSENT.pack(Consent.GIVEN))],
            [(label(context, "start.decline"), START_CONSENT.pack(Consent.DECLINED))],
        ]
    )
    await reply(
        update,
        context,
        "start/consent",
        markup=keyboard,
        lead=lead,
        store_coordinates=context.services.settings.store_coordinates,
    )


def _done(context: LiaisonContext) -> str:
    """Nothing more to ask: a code question still open in this chat is answered too (the
    code came with the link); another conversation stays as it was."""
    if context.conversation is not None and context.conversation.flow is FLOW:
        context.conversation = None
    return END


async def start(update: Update, context: LiaisonContext) -> str:
    identity = context.identity
    code = " ".join(command_argument(update).split())
    known = identity is not None and (identity.is_member or identity.is_staff)
    # A bound member following some other link is just saying hello.
    if code and not (known and invites.normalize_code(code) is None):
        wait = await _redeem(update, context, code)
        if wait is None:
            return _done(context)
        step, values = wait
        return await FLOW.begin(update, context, Draft(), step, **values)
    if identity is not None and identity.is_member:
        welcome: dict[str, Any] = {
            "name": identity.member_name,
            "staff_commands": _staff_commands(context) if identity.is_staff else [],
        }
        if identity.consent is Consent.PENDING:
            # One message: the welcome opens the consent question.
            await ask_consent(update, context, render(context, "start/welcome_back", **welcome))
        else:
            await reply(update, context, "start/welcome_back", **welcome)
        return _done(context)
    if identity is not None and identity.is_staff:
        await reply(
            update,
            context,
            "start/staff",
            name=identity.staff_name,
            commands=_staff_commands(context),
        )
        return _done(context)
    async with context.services.db.session() as session:
        until = await invites.locked_until(
            session, context.now(), sender_id(update), context.platform
        )
    if until is not None:
        await reply(update, context, "start/locked", until=until, zone=context.zone)
        return _done(context)
    return await FLOW.begin(update, context, Draft(), CODE)


async def code_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    wait = await _redeem(update, context, message_text(update))
    if wait is None:
        return END
    step, values = wait
    return await FLOW.ask(update, context, draft, step, **values)


async def unexpected(update: Update, context: LiaisonContext, draft: Draft) -> str:
    """A sticker or a photo where the code is expected: say so, and ask for it again."""
    lead = render(context, "start/unexpected")
    return await FLOW.ask(update, context, draft, CODE, lead=lead)


async def _tell_replaced(
    context: LiaisonContext, old_account: int, result: invites.Redemption
) -> None:
    """The member's old account hears that a new invite moved them to another account, in
    the member's language: if the move was not theirs, they can tell their liaison."""
    locale = normalize_locale(result.previous_locale, context.services.settings.locale)
    text = context.services.renderer.render(
        locale, "start/replaced", platform=PLATFORM_NAMES[context.platform]
    )
    try:
        await send_html(context, old_account, text)
    except TelegramError as error:
        # A lost or deleted account cannot be told; the binding stands (and is audited).
        log.warning("could not tell the replaced account: %s", error)


async def _redeem(update: Update, context: LiaisonContext, code: str) -> Wait:
    """Try code; say what came of it. Returns the refusal to wait at, if the person is to
    type the code again."""
    settings = context.services.settings
    user_id = sender_id(update)
    async with context.services.db.session() as session:
        result = await invites.redeem(
            session,
            context.now(),
            user_id=user_id,
            platform=context.platform,
            code=code,
            max_failures=settings.invite_max_failures,
            lockout=timedelta(minutes=settings.invite_lockout_minutes),
            key=context.services.invite_key,
            locale=context.caller.locale,
        )
        if result.outcome is Outcome.BOUND:
            context.caller.identity = await identify(session, user_id, context.platform)

    # Only someone not yet bound keeps being asked: a member's next message may be a check-in.
    waiting = not (context.identity is not None and context.identity.is_member)
    match result.outcome:
        case Outcome.BOUND:
            if result.previous_user_id is not None:
                await _tell_replaced(context, result.previous_user_id, result)
            bound: dict[str, Any] = {"name": result.member_name, "took_over": result.took_over}
            if result.consent is Consent.PENDING:
                # One message: the greeting opens the consent question.
                await ask_consent(update, context, render(context, "start/bound", **bound))
            else:
                await reply(update, context, "start/bound", **bound)
        case Outcome.NOT_A_CODE:
            if waiting:
                return NOT_A_CODE, {"waiting": True}
            await reply(update, context, "start/not_a_code", waiting=False)
        case Outcome.WRONG_CODE:
            if waiting:
                return WRONG_CODE, {"attempts_left": result.attempts_left, "waiting": True}
            await reply(
                update,
                context,
                "start/wrong_code",
                attempts_left=result.attempts_left,
                waiting=False,
            )
        case Outcome.LOCKED:
            await reply(
                update, context, "start/locked", until=result.locked_until, zone=context.zone
            )
        case Outcome.EXPIRED:
            await reply(update, context, "start/code_expired", days=settings.invite_valid_days)
        case Outcome.USED:
            await reply(update, context, "start/used")
        case Outcome.ALREADY_BOUND:
            await reply(update, context, "start/already_bound", name=result.member_name)
    return None


async def answer_consent(update: Update, context: LiaisonContext) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    pressed = START_CONSENT.unpack(query.data)
    identity = context.identity
    if pressed is None:
        return
    (consent,) = pressed
    if identity is None or identity.member_id is None:
        # The account was unbound (the member moved to a new one) before the button was pressed.
        await edit(update, context, "start/not_member")
        return
    if identity.consent is consent and not still_has_buttons(update):
        # Pressed twice: the first press saved it and said so in place of the buttons.
        return
    async with context.services.db.session() as session:
        await set_consent(session, context.now(), identity.member_id, consent)
        context.caller.identity = await identify(session, sender_id(update), context.platform)
    template = "start/consent_given" if consent is Consent.GIVEN else "start/consent_declined"
    await edit(update, context, template)


_CODE = [typed(code_typed)]

FLOW = Flow(
    "start",
    Draft,
    audience=Audience.EVERYONE,
    templates="start",
    idle_limit=IDLE_LIMIT,
    starts=[Start(start, command="start")],
    steps={
        CODE: Step("start/ask_code", _CODE),
        NOT_A_CODE: Step("start/not_a_code", _CODE),
        WRONG_CODE: Step("start/wrong_code", _CODE),
    },
    unexpected=unexpected,
)
FLOWS = (FLOW,)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return [CallbackQueryHandler(answer_consent, pattern=feature_pattern(START_CONSENT.prefix))]
