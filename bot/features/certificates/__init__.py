"""Activity certificates in the chat, by audience.

member.py     /certificate: the member's status, or an application (the flow "certificate")
desk.py       /certificates: the staff cards, their steps and the letter as a PDF
rejection.py  "reject" on a card: the reason typed next (the flow "certificate_rejection")
common.py     what the member's status and the staff card both show
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.commands import Audience, Command
from bot.features.certificates import desk, member, rejection
from messages.callbacks import (
    CERTIFICATE_LETTER,
    CERTIFICATE_NEW,
    CERTIFICATE_STEP,
    CERTIFICATE_WITHDRAW,
    feature_pattern,
)

COMMANDS = (
    Command("certificate", Audience.MEMBERS),
    Command("certificates", Audience.STAFF),
)
FLOWS = (member.FLOW, rejection.FLOW)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return [
        CommandHandler("certificates", desk.staff_list, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(desk.step_pressed, pattern=CERTIFICATE_STEP.any_pattern),
        CallbackQueryHandler(desk.letter_pressed, pattern=CERTIFICATE_LETTER.any_pattern),
        CallbackQueryHandler(member.withdraw_pressed, pattern=CERTIFICATE_WITHDRAW.any_pattern),
        # A button of the application the flow does not know (forged, or from an older
        # bot): it says so, as an old one does.
        CallbackQueryHandler(member.FLOW.stale_button, pattern=feature_pattern(CERTIFICATE_NEW)),
    ]
