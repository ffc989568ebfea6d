"""/studyplan (administrators): list, add and stop the push schedules of their groups.

    /studyplan add 驻深圳流动党员党小组 mon 19:00 [TAG]      every Monday, the next material
    /studyplan add 驻深圳流动党员党小组 2026-12-05 19:00 12  material #12 once
    /studyplan stop 3

The arguments are read by storage.study.parse_plan_command. Times are in the service's time
zone (LIAISON_TIMEZONE), where the scheduler pushes them.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from telegram import Update

from bot.access import staff_only, staff_press
from bot.context import LiaisonContext
from bot.replies import inline_keyboard, label, remove_pressed_button, replace_buttons, reply
from bot.updates import command_argument
from messages.callbacks import STUDY_STOP
from storage.identity import Identity
from storage.models import StaffRole
from storage.study import (
    PlanAdd,
    PlanStop,
    ScheduleLine,
    StudyError,
    add_schedule,
    get_schedule,
    next_occurrence,
    parse_plan_command,
    stop_schedule,
    view_plan,
)

# /studyplan lists the newest materials too, for their ids.
LIBRARY_SHOWN = 10


def _is_admin(identity: Identity) -> bool:
    return identity.staff_role is StaffRole.ADMIN


def _when(context: LiaisonContext, moment: datetime | None, zone: tzinfo) -> dict[str, str]:
    """A moment as templates show it: local date and time, and the weekday's name."""
    if moment is None:
        return {"when": "", "weekday": ""}
    local = moment.astimezone(zone)
    return {
        "when": local.strftime("%Y-%m-%d %H:%M"),
        "weekday": label(context, f"study.weekday_{local.weekday()}"),
    }


def _schedule_values(
    context: LiaisonContext, line: ScheduleLine, now: datetime, zone: tzinfo
) -> dict[str, Any]:
    return {
        "line": line,
        "day": label(context, f"study.weekday_{line.weekday}") if line.weekday is not None else "",
        "next": _when(context, next_occurrence(line, now, zone), zone),
    }


@staff_only
async def studyplan(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    if not _is_admin(identity):
        await reply(update, context, "study/admin_only")
        return
    try:
        command = parse_plan_command(command_argument(update))
    except StudyError as error:
        if error.reason == "usage":
            await reply(update, context, "study/plan_usage")
        else:
            await reply(update, context, "study/refused", reason=error.reason, group="", id=None)
        return
    if isinstance(command, PlanAdd):
        await _add_plan(update, context, identity, staff_id, command)
    elif isinstance(command, PlanStop):
        await _stop_plan(update, context, identity, staff_id, command.schedule_id)
    else:
        await _show_plan(update, context, identity, staff_id)


async def _show_plan(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    now = context.now()
    zone = context.services.settings.zone
    async with context.services.db.session() as session:
        schedules, library = await view_plan(
            session, now, actor=identity.actor, staff_id=staff_id, library_limit=LIBRARY_SHOWN
        )
    buttons = [
        [(label(context, "study.stop_one", id=line.id), STUDY_STOP.pack(line.id))]
        for line in schedules
    ]
    await reply(
        update,
        context,
        "study/plan",
        markup=inline_keyboard(buttons) if buttons else None,
        schedules=[_schedule_values(context, line, now, zone) for line in schedules],
        library=library,
        zone=str(zone),
    )


async def _add_plan(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int, plan: PlanAdd
) -> None:
    now = context.now()
    zone = context.services.settings.zone
    try:
        async with context.services.db.session() as session:
            schedule = await add_schedule(
                session,
                now,
                actor=identity.actor,
                group=plan.group,
                at=plan.at,
                zone=zone,
                weekday=plan.weekday,
                on_date=plan.on_date,
                material_id=plan.material_id,
                tag=plan.tag,
                staff_id=staff_id,
            )
            line = await get_schedule(session, schedule.id, staff_id=staff_id)
            assert line is not None
    except StudyError as error:
        await reply(
            update,
            context,
            "study/refused",
            reason=error.reason,
            group=plan.group[:100],
            id=plan.material_id,
        )
        return
    await reply(
        update,
        context,
        "study/plan_added",
        zone=str(zone),
        **_schedule_values(context, line, now, zone),
    )


async def _stop_plan(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int, schedule_id: int
) -> None:
    try:
        # A button may be old or forged: the scope is checked again on every press.
        async with context.services.db.session() as session:
            line = await stop_schedule(
                session, context.now(), schedule_id, actor=identity.actor, staff_id=staff_id
            )
    except StudyError as error:
        await reply(update, context, "study/refused", reason=error.reason, id=schedule_id)
        return
    await reply(
        update,
        context,
        "study/plan_stopped",
        **_schedule_values(context, line, context.now(), context.services.settings.zone),
    )


async def stop_pressed(update: Update, context: LiaisonContext) -> None:
    """The "stop #n" button under /studyplan."""
    press = await staff_press(update, context, STUDY_STOP)
    if press is None:
        return
    identity, staff_id, pressed = press
    if not _is_admin(identity):
        await reply(update, context, "study/admin_only")
        return
    if pressed is None:
        await replace_buttons(update, None)  # forged or stale: answered already, buttons go
        return
    (schedule_id,) = pressed
    await _stop_plan(update, context, identity, staff_id, schedule_id)
    await remove_pressed_button(update)
