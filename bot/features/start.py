"""/start: bind this Telegram account to a member with an invite code, then ask for consent.

`/start CODE` (the deep link a liaison sends) binds at once; a bare `/start` asks for the
code and takes the next message as it (/cancel leaves). Bound members get a welcome back,
staff a list of their commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.replies import edit, inline_keyboard, label, render, reply, still_has_buttons
from bot.updates import message_text, sender_id
from messages.callbacks import START_CONSENT, feature_pattern
from storage import invites
from storage.consent import set_consent
from storage.identity import identify
from storage.invites import Outcome
from storage.models import Consent

COMMANDS = (Command("start", Audience.EVERYONE),)

ASK_CODE = 0
END = ConversationHandler.END


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


async def start(update: Update, context: LiaisonContext) -> int:
    identity = context.identity
    typed = " ".join(context.args or [])
    known = identity is not None and (identity.is_member or identity.is_staff)
    # A bound member following some other link is just saying hello.
    if typed and not (known and invites.normalize_code(typed) is None):
        return await _redeem(update, context, typed)
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
        return END
    if identity is not None and identity.is_staff:
        await reply(
            update,
            context,
            "start/staff",
            name=identity.staff_name,
            commands=_staff_commands(context),
        )
        return END
    async with context.services.db.session() as session:
        until = await invites.locked_until(session, context.now(), sender_id(update))
    if until is not None:
        await reply(update, context, "start/locked", until=until, zone=context.zone)
        return END
    await reply(update, context, "start/ask_code")
    return ASK_CODE


async def receive_code(update: Update, context: LiaisonContext) -> int:
    return await _redeem(update, context, message_text(update))


async def _redeem(update: Update, context: LiaisonContext, typed: str) -> int:
    settings = context.services.settings
    user_id = sender_id(update)
    async with context.services.db.session() as session:
        result = await invites.redeem(
            session,
            context.now(),
            telegram_user_id=user_id,
            code=typed,
            max_failures=settings.invite_max_failures,
            lockout=timedelta(minutes=settings.invite_lockout_minutes),
            locale=context.caller.locale,
        )
        if result.outcome is Outcome.BOUND:
            context.caller.identity = await identify(session, user_id)

    # Only someone not yet bound keeps being asked: a member's next message may be a check-in.
    waiting = not (context.identity is not None and context.identity.is_member)
    match result.outcome:
        case Outcome.BOUND:
            bound: dict[str, Any] = {"name": result.member_name, "took_over": result.took_over}
            if result.consent is Consent.PENDING:
                # One message: the greeting opens the consent question.
                await ask_consent(update, context, render(context, "start/bound", **bound))
            else:
                await reply(update, context, "start/bound", **bound)
            return END
        case Outcome.NOT_A_CODE:
            await reply(update, context, "start/not_a_code", waiting=waiting)
            return ASK_CODE if waiting else END
        case Outcome.WRONG_CODE:
            await reply(
                update,
                context,
                "start/wrong_code",
                attempts_left=result.attempts_left,
                waiting=waiting,
            )
            return ASK_CODE if waiting else END
        case Outcome.LOCKED:
            await reply(
                update, context, "start/locked", until=result.locked_until, zone=context.zone
            )
        case Outcome.EXPIRED:
            await reply(update, context, "start/expired", days=settings.invite_valid_days)
        case Outcome.USED:
            await reply(update, context, "start/used")
        case Outcome.ALREADY_BOUND:
            await reply(update, context, "start/already_bound", name=result.member_name)
    return END


async def cancel(update: Update, context: LiaisonContext) -> int:
    await reply(update, context, "start/cancelled")
    return END


async def answer_consent(update: Update, context: LiaisonContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
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
        context.caller.identity = await identify(session, sender_id(update))
    template = "start/consent_given" if consent is Consent.GIVEN else "start/consent_declined"
    await edit(update, context, template)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    conversation: ConversationHandler[LiaisonContext] = ConversationHandler(
        entry_points=[CommandHandler("start", start, filters=private)],
        states={
            ASK_CODE: [MessageHandler(private & filters.TEXT & ~filters.COMMAND, receive_code)]
        },
        fallbacks=[CommandHandler("cancel", cancel, filters=private)],
        # A deep link tapped while the bot waits for a typed code starts afresh.
        allow_reentry=True,
    )
    return [
        conversation,
        CallbackQueryHandler(answer_consent, pattern=feature_pattern(START_CONSENT.prefix)),
    ]
