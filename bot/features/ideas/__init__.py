"""Ideas ("golden ideas", 金点子) and opinions from members, by audience.

member.py  /idea: a member writes one (the flow "idea")
mine.py    /myideas: a member's own, with their status and reply
desk.py    /ideas: the staff list and cards, "adopt"
reply.py   "reply" on a card: the reply typed next (the flow "idea_reply")
common.py  times and excerpts both sides show

The records are storage/ideas.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.commands import Audience, Command
from bot.features.ideas import desk, member, mine, reply
from messages.callbacks import (
    IDEA_NEW,
    IDEA_SHOW,
    IDEAS_ADOPT,
    IDEAS_CARD,
    IDEAS_DRAFT,
    feature_pattern,
)

COMMANDS = (
    Command("idea", Audience.MEMBERS),
    Command("myideas", Audience.MEMBERS),
    Command("ideas", Audience.STAFF),
)
FLOWS = (member.FLOW, reply.FLOW)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("myideas", mine.show_mine, filters=private),
        CommandHandler("ideas", desk.ideas, filters=private),
        CallbackQueryHandler(mine.show_pressed, pattern=IDEA_SHOW.any_pattern),
        CallbackQueryHandler(desk.card_pressed, pattern=IDEAS_CARD.any_pattern),
        CallbackQueryHandler(desk.adopt_pressed, pattern=IDEAS_ADOPT.any_pattern),
        # A button of a draft the flows do not know (forged, or from an older bot): it says
        # so, as an old one does.
        CallbackQueryHandler(member.FLOW.stale_button, pattern=feature_pattern(IDEA_NEW)),
        CallbackQueryHandler(reply.FLOW.stale_button, pattern=feature_pattern(IDEAS_DRAFT)),
    ]
