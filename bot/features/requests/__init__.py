"""/request, /myrequests, /requests: members ask for help, liaisons take it to an answer.

By audience, one module each:
- member.py: /request, the member's conversation (and the offer under a check-in);
- mine.py: /myrequests, the member's requests and their history;
- feedback.py: "solved?" and 1–5 under the closing message, then the comment if unhappy;
- desk.py: /requests and a request's card, the staff's buttons;
- typed.py: what staff type for a request (an internal note, the answer that closes it).
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.commands import Audience, Command
from bot.features.requests import desk, feedback, member, mine, typed
from messages.callbacks import (
    REQUEST_ASSIGN,
    REQUEST_ASSIGN_TO,
    REQUEST_CARD,
    REQUEST_FILE,
    REQUEST_NEW,
    REQUEST_SET,
    REQUEST_SOLVED,
    REQUEST_STATUS,
    REQUEST_TAKE,
    REQUEST_TEXT,
    feature_pattern,
)

COMMANDS = (
    Command("request", Audience.MEMBERS),
    Command("myrequests", Audience.MEMBERS),
    Command("requests", Audience.STAFF),
)

FLOWS = (member.FLOW, feedback.COMMENT_FLOW, *typed.FLOWS)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("myrequests", mine.show_mine, filters=private),
        CommandHandler("requests", desk.show_open, filters=private),
        CallbackQueryHandler(feedback.solved_pressed, pattern=REQUEST_SOLVED.any_pattern),
        CallbackQueryHandler(desk.card_pressed, pattern=REQUEST_CARD.any_pattern),
        CallbackQueryHandler(desk.take_pressed, pattern=REQUEST_TAKE.any_pattern),
        CallbackQueryHandler(desk.assign_pressed, pattern=REQUEST_ASSIGN.any_pattern),
        CallbackQueryHandler(desk.assign_to_pressed, pattern=REQUEST_ASSIGN_TO.any_pattern),
        CallbackQueryHandler(desk.status_pressed, pattern=REQUEST_STATUS.any_pattern),
        CallbackQueryHandler(desk.set_pressed, pattern=REQUEST_SET.any_pattern),
        CallbackQueryHandler(desk.file_pressed, pattern=REQUEST_FILE.any_pattern),
        # Forged buttons of the conversations (the engine answers their stale ones).
        CallbackQueryHandler(member.FLOW.stale_button, pattern=feature_pattern(REQUEST_NEW)),
        CallbackQueryHandler(typed.NOTE_FLOW.stale_button, pattern=feature_pattern(REQUEST_TEXT)),
    ]
