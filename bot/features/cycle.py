"""The monthly cycle in the chat: the prompt's "same as last month" button, an admin's
"confirm lost contact" button, and /schedule to see and change a group's cycle.

The prompt's other button ("check in now") opens the /checkin conversation and is wired
in bot/features/checkin/, which owns that conversation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.access import refuse, staff_only, staff_press
from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.replies import replace_buttons, reply, retire_pressed_button
from bot.updates import message_text
from messages.callbacks import CYCLE_CONFIRM_LOST, CYCLE_SAME_AS_LAST
from scheduler.jobs import JobSpec
from storage.calendar import CycleError
from storage.checkins import (
    AlreadyCheckedIn,
    CheckInError,
    place_label,
    same_as_last_month,
)
from storage.cycles import (
    CHANGE_KEYS,
    LostContactError,
    changed_rule,
    confirm_lost_contact,
    cycle_of_group,
    group_cycles,
    parse_cycle_request,
    reset_group_cycle,
    set_group_cycle,
)
from storage.identity import Identity
from storage.models import Group, StaffRole
from storage.scope import group_scope_condition

COMMANDS = (Command("schedule", Audience.STAFF),)

UPCOMING_SHOWN = 8


async def same_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Same as last month": a check-in with last month's place and situation, one tap."""
    identity = context.identity
    await retire_pressed_button(update)
    if identity is None or identity.member_id is None:
        await reply(update, context, "checkin/not_member")
        return
    now = context.now()
    async with context.services.db.session() as session:
        try:
            checkin = await same_as_last_month(
                session, now, member_id=identity.member_id, zone=context.services.settings.zone
            )
        except AlreadyCheckedIn as already:
            await reply(update, context, "cycle/same_already", period=already.period)
            return
        except CheckInError as error:
            await reply(update, context, "cycle/same_nothing", reason=error.reason)
            return
        location = checkin.location
        place = (
            place_label(location.province, location.city, location.district, location.text)
            if location is not None
            else None
        )
    await reply(
        update,
        context,
        "cycle/same_saved",
        period=checkin.period,
        place=place,
        work=context.services.renderer.label(
            context.locale, f"checkin.work_{checkin.work_situation.value}"
        ),
    )


async def lost_confirm_pressed(update: Update, context: LiaisonContext) -> None:
    """An admin confirms a member flagged lost contact: their monthly prompts stop."""
    press = await staff_press(update, context, CYCLE_CONFIRM_LOST)
    if press is None:
        return
    identity, staff_id, pressed = press
    # Forged: member 0, which storage answers as not found (as one out of scope).
    member_id = pressed[0] if pressed is not None else 0
    now = context.now()
    async with context.services.db.session() as session:
        try:
            member = await confirm_lost_contact(
                session, now, member_id=member_id, staff_id=staff_id, actor=identity.actor
            )
        except LostContactError as error:
            if error.reason == "not_flagged":
                await replace_buttons(update, None)
                await reply(update, context, "cycle/lost_not_flagged")
            elif error.reason == "not_found":
                # Out of scope looks exactly like nonexistent, as on the card.
                await reply(update, context, "staff/not_found")
            else:
                await refuse(update, context)
            return
        name = member.name
    await replace_buttons(update, None)
    await reply(update, context, "cycle/lost_confirmed", name=name)


def _in_scope(
    upcoming: list[tuple[JobSpec, datetime]], visible: set[int]
) -> list[tuple[JobSpec, datetime]]:
    """The timers of the default cycle and of the visible groups: a job names its group, so
    another unit's timers would leak the names the cycle list hides."""
    return [
        (spec, when) for spec, when in upcoming if spec.group_id is None or spec.group_id in visible
    ]


@staff_only
async def schedule(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    """/schedule: the cycles; /schedule GROUP: one; /schedule GROUP key=value …: change it."""
    parts = message_text(update).split(maxsplit=1)
    typed = parse_cycle_request(parts[1] if len(parts) > 1 else "")
    name, changes, reset = typed.group_name, typed.changes, typed.reset
    settings = context.services.settings
    now = context.now()
    async with context.services.db.session() as session:
        if not name and changes:
            await reply(update, context, "cycle/schedule_which_group")
            return
        if not name:
            cycles = await group_cycles(session, settings.default_cycle)
            visible = set(
                await session.scalars(select(Group.id).where(group_scope_condition(staff_id)))
            )
            cycles = [c for c in cycles if c.group_id is None or c.group_id in visible]
            scheduler = context.bot_data.scheduler
            upcoming = await scheduler.upcoming(within=timedelta(days=40)) if scheduler else []
            upcoming = _in_scope(upcoming, visible)
            await reply(
                update,
                context,
                "cycle/schedule_list",
                cycles=cycles,
                quiet=settings.quiet_hours,
                upcoming=upcoming[:UPCOMING_SHOWN],
                zone=context.zone,
                admin=identity.staff_role is StaffRole.ADMIN,
            )
            return
        group = await session.scalar(
            select(Group).where(Group.name == name, group_scope_condition(staff_id))
        )
        if group is None:
            # Out of scope looks exactly like nonexistent.
            await reply(update, context, "cycle/schedule_no_group", name=name)
            return
        current = await cycle_of_group(session, group.id, settings.default_cycle)
        if not changes and not reset:
            await reply(
                update,
                context,
                "cycle/schedule_group",
                cycle=current,
                own=bool(current.updated_by),
                saved=False,
            )
            return
        if identity.staff_role is not StaffRole.ADMIN:
            # A liaison may look; saying "staff only" to them would be wrong and puzzling.
            await reply(update, context, "cycle/schedule_admin_only")
            return
        if reset:
            await reset_group_cycle(session, now, group_id=group.id, actor=identity.actor)
            current = await cycle_of_group(session, group.id, settings.default_cycle)
            saved = current
        else:
            try:
                rule = changed_rule(current.rule, changes)
            except CycleError as error:
                await reply(update, context, "cycle/schedule_bad", error=error, keys=CHANGE_KEYS)
                return
            saved = await set_group_cycle(
                session, now, group_id=group.id, rule=rule, actor=identity.actor, changes=changes
            )
    scheduler = context.bot_data.scheduler
    if scheduler is not None:
        await scheduler.refresh()  # takes effect now, not at the next poll
    await reply(update, context, "cycle/schedule_group", cycle=saved, own=not reset, saved=True)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return [
        CommandHandler("schedule", schedule, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(same_pressed, pattern=CYCLE_SAME_AS_LAST.any_pattern),
        CallbackQueryHandler(lost_confirm_pressed, pattern=CYCLE_CONFIRM_LOST.any_pattern),
    ]
