"""/studied (staff): completion per group they look after, /studied GROUP per member."""

from __future__ import annotations

from telegram import Update

from bot.access import staff_only
from bot.context import LiaisonContext
from bot.replies import reply
from bot.updates import command_argument
from storage.identity import Identity
from storage.study import StudyError, view_completion

# /studied shows the newest materials of each group; the CLI report has them all.
MATERIALS_SHOWN = 5


@staff_only
async def studied(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    group = command_argument(update)
    try:
        async with context.services.db.session() as session:
            completion = await view_completion(
                session,
                context.now(),
                actor=identity.actor,
                staff_id=staff_id,
                group=group or None,
                materials_limit=MATERIALS_SHOWN,
            )
    except StudyError as error:
        await reply(update, context, "study/refused", reason=error.reason, group=group[:100])
        return
    zone = context.zone
    report = completion.members
    if report is not None:
        await reply(
            update,
            context,
            "study/members",
            report=report,
            dates={
                m.member_id: m.last_studied_at.astimezone(zone).strftime("%Y-%m-%d")
                for m in report.members
                if m.last_studied_at is not None
            },
        )
        return
    await reply(
        update,
        context,
        "study/completion",
        groups=completion.groups,
        shown=MATERIALS_SHOWN,
        dates={
            (g.group_id, m.material_id): m.pushed_at.astimezone(zone).strftime("%m-%d")
            for g in completion.groups
            for m in g.materials
        },
    )
