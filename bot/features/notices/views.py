"""/notices and /deliveries: a liaison's scheduled and recent notices, who got each one,
and the button that cancels a scheduled notice before it goes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo

from telegram import Update

from bot.access import staff_only, staff_press
from bot.context import LiaisonContext
from bot.replies import inline_keyboard, label, remove_pressed_button, reply
from bot.updates import command_argument, parse_id
from messages.callbacks import NOTICE_STOP
from storage.identity import Identity
from storage.models import ChannelName, DeliveryStatus, NoticeStatus, StaffRole
from storage.notices import NoticeError, cancel_notice, list_notices, view_deliveries

SCHEDULED_SHOWN = 20
RECENT_SHOWN = 10

STATES = tuple(s.value for s in DeliveryStatus)
CHANNELS = (*(c.value for c in ChannelName), "none")


def _words(context: LiaisonContext) -> Mapping[str, str]:
    """Delivery states, channels and weekdays in the caller's language, for templates."""
    return context.services.renderer.labels(context.locale, "notices")


def _local(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


@staff_only
async def show_notices(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    async with context.services.db.session() as session:
        scheduled = await list_notices(
            session, staff_id=staff_id, status=NoticeStatus.SCHEDULED, limit=SCHEDULED_SHOWN
        )
        latest = await list_notices(session, staff_id=staff_id, limit=RECENT_SHOWN + len(scheduled))
    scheduled.reverse()  # the next one to go first
    recent = [n for n in latest if n.status is not NoticeStatus.SCHEDULED][:RECENT_SHOWN]
    zone = context.zone
    # A colleague's notice to a shared group is listed, but only its author or an
    # administrator gets a button to cancel it.
    admin = identity.staff_role is StaffRole.ADMIN
    buttons = [
        [
            (
                label(context, "notices.cancel_one", id=n.id, when=_local(n.send_at, zone)),
                NOTICE_STOP.pack(n.id),
            )
        ]
        for n in scheduled
        if admin or n.author_staff_id == staff_id
    ]
    await reply(
        update,
        context,
        "notices/list",
        markup=inline_keyboard(buttons) if buttons else None,
        scheduled=[(n, _local(n.send_at, zone)) for n in scheduled],
        recent=[(n, _local(n.send_at, zone)) for n in recent],
        words=_words(context),
    )


async def stop_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Cancel #n" under /notices or under a scheduled notice's confirmation."""
    press = await staff_press(update, context, NOTICE_STOP)
    if press is None:
        return
    identity, staff_id, pressed = press
    notice_id = pressed[0] if pressed is not None else None
    reason = "not_found"
    if notice_id is not None:
        try:
            # The button may be old or forged: the scope is checked again on every press.
            async with context.services.db.session() as session:
                await cancel_notice(
                    session, context.now(), notice_id, actor=identity.actor, staff_id=staff_id
                )
            reason = ""
        except NoticeError as error:
            reason = error.reason
    await remove_pressed_button(update)
    if reason:
        await reply(update, context, "notices/cannot_cancel", id=notice_id, reason=reason)
    else:
        await reply(update, context, "notices/notice_cancelled", id=notice_id)


@staff_only
async def deliveries(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    notice_id = parse_id(command_argument(update))
    if notice_id is None:
        await reply(update, context, "notices/deliveries_usage")
        return
    async with context.services.db.session() as session:
        found = await view_deliveries(
            session, context.now(), notice_id, staff_id=staff_id, actor=identity.actor
        )
    if found is None:
        # Someone else's notice reads the same as one that does not exist.
        await reply(update, context, "notices/not_found", id=notice_id)
        return
    notice, report = found
    await reply(
        update,
        context,
        "notices/report",
        notice=notice,
        groups=sorted(g.name for g in notice.groups),
        report=report,
        send_at=_local(notice.send_at, context.zone),
        states=STATES,
        channels=[c for c in CHANNELS if c in report.by_channel],
        words=_words(context),
    )
