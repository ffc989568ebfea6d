"""/myscore: the member's own rating this year — the points of each criterion, the
adjustments with their reasons, the total, and the commendation once they were told of it
(not their rank: that is the organisation's to announce). Private chats only, like /mydata."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.replies import reply
from storage.ratings import adjustments, my_score, rules, told_commended

COMMANDS = (Command("myscore", Audience.MEMBERS),)


async def show_score(update: Update, context: LiaisonContext) -> None:
    identity = context.identity
    if identity is None or identity.member_id is None:
        await reply(update, context, "ratings/not_member")
        return
    settings = context.services.settings
    # The year of the district, as the ranked list counts it.
    year = context.now().astimezone(settings.zone).year
    async with context.services.db.session() as session:
        score = await my_score(
            session,
            member_id=identity.member_id,
            year=year,
            zone=settings.zone,
            cycle=settings.default_cycle,
        )
        made = await adjustments(session, member_id=identity.member_id, year=year)
        rated = await rules(session)
        commended = await told_commended(session, member_id=identity.member_id, year=year)
    if score is None:
        await reply(update, context, "ratings/not_member")
        return
    await reply(
        update,
        context,
        "ratings/mine",
        year=year,
        score=score,
        rules=rated,
        made=made,
        commended=commended,
    )


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return [CommandHandler("myscore", show_score, filters=filters.ChatType.PRIVATE)]
