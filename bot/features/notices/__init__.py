"""/notice, /notices, /deliveries, /linkgroup: liaisons tell their groups, and see who got it.

compose     the /notice flow (staff): groups, text, preview, send now or at a time
questions   the notice draft, and what each of its questions shows
views       /notices, /deliveries and "cancel #n" (staff)
receipts    the "received" button under a member's copy (members)
group_chats /linkgroup and /unlinkgroup in a group chat (staff)
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.commands import Audience, Command
from bot.features.notices import compose, group_chats, receipts, views
from messages.callbacks import NOTICE_ACK, NOTICE_STOP

COMMANDS = (
    Command("notice", Audience.STAFF),
    Command("notices", Audience.STAFF),
    Command("deliveries", Audience.STAFF),
    Command("linkgroup", Audience.STAFF, in_menu=False),
    Command("unlinkgroup", Audience.STAFF, in_menu=False),
)

FLOWS = (compose.FLOW,)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    return [
        CommandHandler("notices", views.show_notices, filters=private),
        CommandHandler("deliveries", views.deliveries, filters=private),
        CommandHandler("linkgroup", group_chats.link, filters=groups),
        CommandHandler("unlinkgroup", group_chats.unlink, filters=groups),
        CommandHandler(["linkgroup", "unlinkgroup"], group_chats.link_in_private, filters=private),
        CallbackQueryHandler(receipts.received, pattern=NOTICE_ACK.any_pattern),
        CallbackQueryHandler(views.stop_pressed, pattern=NOTICE_STOP.any_pattern),
    ]
