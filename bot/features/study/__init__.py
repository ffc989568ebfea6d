"""/material, /study, /studied, /studyplan: the mobile party school in the chat.

material  the /material flow (staff): title, text or document, link, tags, preview, save
member    /study, "read in full" and "studied" under a push (members)
progress  /studied: completion per group and per member (staff)
plans     /studyplan: the push schedules (administrators)
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.commands import Audience, Command
from bot.features.study import material, member, plans, progress
from messages.callbacks import STUDY_DONE, STUDY_OPEN, STUDY_STOP

COMMANDS = (
    Command("study", Audience.MEMBERS),
    Command("material", Audience.STAFF),
    Command("studied", Audience.STAFF),
    Command("studyplan", Audience.STAFF),
)

FLOWS = (material.FLOW,)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("study", member.show_recent, filters=private),
        CommandHandler("studied", progress.studied, filters=private),
        CommandHandler("studyplan", plans.studyplan, filters=private),
        CallbackQueryHandler(member.studied_pressed, pattern=STUDY_DONE.any_pattern),
        CallbackQueryHandler(member.open_pressed, pattern=STUDY_OPEN.any_pattern),
        CallbackQueryHandler(plans.stop_pressed, pattern=STUDY_STOP.any_pattern),
    ]
