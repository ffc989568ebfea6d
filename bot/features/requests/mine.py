"""/myrequests: the member's requests with the history they may see (no internal notes)."""

from __future__ import annotations

from telegram import Update

from bot.context import LiaisonContext
from bot.features.requests.common import named, status_name
from bot.replies import reply
from storage.requests import my_requests

# The newest few; older ones are with the liaison.
MINE_SHOWN = 10


async def show_mine(update: Update, context: LiaisonContext) -> None:
    identity = context.identity
    if identity is None or identity.member_id is None:
        await reply(update, context, "requests/not_member")
        return
    async with context.services.db.session() as session:
        mine = await my_requests(session, member_id=identity.member_id, limit=MINE_SHOWN)
    await reply(
        update,
        context,
        "requests/mine",
        requests=mine,
        named=named(context),
        status_name=status_name(context),
        zone=context.zone,
        now=context.now(),
    )
