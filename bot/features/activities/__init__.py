"""Activities: forums, classes taken to companies (送课到企), volunteer service, meetings.

compose.py  "new activity" under the staff's /activities (the flow "activity")
change.py   "change time / place / places" and "cancel activity" under a card (the flow
            "activity_change")
desk.py     /activities: the staff's list and cards, the roster, marking attendance; for a
            member, their own invitations (member.py)
member.py   "I'll come / I can't" under an invitation, and a member's own list
attend.py   /attend, "I'm here" and the code typed in reply: checking in at the venue (the
            flow "attend")

The records are storage/activities.py; the invitation and reminder are messages/activities.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.commands import Audience, Command
from bot.features.activities import attend, change, compose, desk, member
from messages.callbacks import (
    ACTIVITY_ANSWER,
    ACTIVITY_CARD,
    ACTIVITY_MARK,
    ACTIVITY_MARKING,
    ACTIVITY_MINE,
    ACTIVITY_ROSTER,
    feature_pattern,
)

COMMANDS = (
    Command("activities", Audience.MEMBERS),
    Command("attend", Audience.MEMBERS),
)
FLOWS = (compose.FLOW, change.FLOW, attend.FLOW)

# A check-in code (six digits, perhaps typed with full-width digits or spaces).
CODE = r"^\s*[0-9０-９][0-9０-９ ]{3,9}\s*$"


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("activities", desk.show, filters=private),
        CallbackQueryHandler(member.answer_pressed, pattern=ACTIVITY_ANSWER.any_pattern),
        CallbackQueryHandler(desk.card_pressed, pattern=ACTIVITY_CARD.any_pattern),
        CallbackQueryHandler(desk.roster_pressed, pattern=ACTIVITY_ROSTER.any_pattern),
        CallbackQueryHandler(desk.marking_pressed, pattern=ACTIVITY_MARKING.any_pattern),
        CallbackQueryHandler(desk.mark_pressed, pattern=ACTIVITY_MARK.any_pattern),
        CallbackQueryHandler(desk.mine_pressed, pattern=ACTIVITY_MINE.pattern),
        # The code typed in reply to an invitation or reminder (or any message of the bot).
        MessageHandler(
            private
            & filters.UpdateType.MESSAGE
            & filters.REPLY
            & filters.TEXT
            & ~filters.COMMAND
            & filters.Regex(CODE),
            attend.code_in_reply,
        ),
        # A button of a draft the flow does not know (forged, or from an older bot).
        CallbackQueryHandler(compose.FLOW.stale_button, pattern=feature_pattern("act:new")),
        # A confirmation of a change already done (pressed twice), or of a finished flow.
        CallbackQueryHandler(change.FLOW.stale_button, pattern=r"^act:chg"),
    ]
