"""/checkin: the monthly check-in — where are you, how is work, anything you need — and /cancel.

The conversation is in conversation.py (its questions in questions.py), what follows a
saved check-in in saved.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.commands import Audience, Command
from bot.features.checkin.conversation import FLOW
from bot.features.checkin.saved import zone_chosen
from messages.callbacks import CHECKIN_ZONE

COMMANDS = (Command("checkin", Audience.MEMBERS), Command("cancel", Audience.EVERYONE))
FLOWS = (FLOW,)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return [CallbackQueryHandler(zone_chosen, pattern=CHECKIN_ZONE.any_pattern)]
