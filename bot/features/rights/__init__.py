"""Members' rights to correct and to delete their data (PIPL Arts. 46–47), by audience.

member.py     /correct (the flow "correct") and /leave (the flow "leave"), also from /privacy
desk.py       /rights: the staff list and cards, "approve", "erase"
rejection.py  "reject" on a card: the reason typed next (the flow "rights_rejection")

The records are storage/rights.py; the erasure itself is storage/erasure.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.commands import Audience, Command
from bot.features.rights import desk, member, rejection
from messages.callbacks import (
    RIGHTS_APPROVE,
    RIGHTS_CARD,
    RIGHTS_ERASE,
    RIGHTS_FIX,
    RIGHTS_LEAVE,
    RIGHTS_WIPE,
    feature_pattern,
)

COMMANDS = (
    Command("correct", Audience.MEMBERS),
    Command("leave", Audience.MEMBERS),
    Command("rights", Audience.STAFF),
)
FLOWS = (member.CORRECT, member.LEAVE, rejection.FLOW)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return [
        CommandHandler("rights", desk.desk, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(desk.card_pressed, pattern=RIGHTS_CARD.any_pattern),
        CallbackQueryHandler(desk.approve_pressed, pattern=RIGHTS_APPROVE.any_pattern),
        CallbackQueryHandler(desk.erase_pressed, pattern=RIGHTS_ERASE.any_pattern),
        CallbackQueryHandler(desk.wipe_pressed, pattern=RIGHTS_WIPE.any_pattern),
        # A button of a draft the flows do not know (forged, or from an older bot): it says
        # so, as an old one does.
        CallbackQueryHandler(member.CORRECT.stale_button, pattern=feature_pattern(RIGHTS_FIX)),
        CallbackQueryHandler(member.LEAVE.stale_button, pattern=feature_pattern(RIGHTS_LEAVE)),
    ]
