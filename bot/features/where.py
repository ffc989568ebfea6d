"""/where: a member's own registration, last check-in and current location (phone masked)."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.replies import reply
from storage.checkins import period_of, registration

COMMANDS = (Command("where", Audience.MEMBERS),)


async def show_registration(update: Update, context: LiaisonContext) -> None:
    identity = context.identity
    if identity is None or identity.member_id is None:
        await reply(update, context, "where/not_member")
        return
    async with context.services.db.session() as session:
        record = await registration(session, identity.member_id)
    if record is None:  # unbound between loading the identity and now
        await reply(update, context, "where/not_member")
        return
    renderer, locale = context.services.renderer, context.locale
    last = record.last_checkin
    await reply(
        update,
        context,
        "where/registration",
        r=record,
        zone=context.zone,
        # A zone of their own (abroad): said, with the time there, as reminders follow it.
        own_zone=identity.timezone
        if identity.timezone and identity.timezone != context.services.settings.timezone
        else None,
        local_time=context.now().astimezone(context.zone).strftime("%H:%M"),
        this_month=last is not None and last.period == period_of(context.now(), context.zone),
        # Status, consent and work-situation words, for the template to pick from.
        words=renderer.labels(locale, "where"),
        situations=renderer.labels(locale, "checkin"),
    )


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return [CommandHandler("where", show_registration, filters=filters.ChatType.PRIVATE)]
