"""What the monthly cycle's messages look like: prompts and reminders to members, the
day-10 list of silent members and the lost-contact alert to staff.

The scheduler stores a small payload on each delivery; the dispatcher renders it here in
the recipient's language and channel format at send time.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from messages.callbacks import (
    CYCLE_CHECKIN_NOW,
    CYCLE_CONFIRM_LOST,
    CYCLE_SAME_AS_LAST,
    STAFF_MEMBER_CARD,
)
from messages.render import Reader, Rendered
from storage.checkins import last_checkins
from storage.payloads import CheckInPrompt, Escalation, LostContact

# Telegram allows 100 buttons; a long list points to /overdue instead.
MAX_MEMBER_BUTTONS = 30


@dataclass(frozen=True, slots=True)
class LastCheckInView:
    """What "same as last month" would record, shown in the prompt."""

    period: str
    place: str | None
    work_situation: str
    # Offered to repeat: it has a place, or the member keeps none in check-ins.
    repeatable: bool = True


async def last_checkin_views(
    session: AsyncSession, member_ids: Collection[int]
) -> dict[int, LastCheckInView]:
    """The latest check-in of each member prompted (who has one), for a batch of prompts."""
    return {
        member_id: LastCheckInView(
            period=last.period,
            place=last.place,
            work_situation=last.work_situation.value,
            repeatable=last.repeatable,
        )
        for member_id, last in (await last_checkins(session, member_ids)).items()
    }


def checkin_prompt(
    reader: Reader, payload: CheckInPrompt, last: LastCheckInView | None
) -> Rendered:
    """The monthly prompt (reminder 0) or reminder n, with "check in" and "same as last"."""
    values = {
        "period": payload.period,
        "reminder": payload.reminder,
        "last": last,
        "work": reader.label(f"checkin.work_{last.work_situation}") if last else None,
    }
    text = reader.render("cycle/prompt", **values)
    if reader.sms:
        return text, ()
    buttons = [(reader.label("cycle.checkin_now"), CYCLE_CHECKIN_NOW.pack())]
    if last is not None and last.repeatable:
        buttons.insert(
            0, (reader.label("cycle.same_as_last"), CYCLE_SAME_AS_LAST.pack(payload.period))
        )
    return text, tuple(buttons)


def escalation(reader: Reader, payload: Escalation) -> Rendered:
    """A liaison's day-10 list of their group's silent members, a card button for each."""
    members = list(payload.members)
    text = reader.html(
        "cycle/escalation",
        period=payload.period,
        group=payload.group,
        members=members,
        total=payload.total,
    )
    buttons = tuple(
        (
            reader.label("cycle.card_button", name=m.name, days=m.days),
            STAFF_MEMBER_CARD.pack(m.id),
        )
        for m in members[:MAX_MEMBER_BUTTONS]
    )
    return text, buttons


def lost_contact(reader: Reader, payload: LostContact) -> Rendered:
    """A member fell silent for months: their card, and for an admin the confirm button."""
    text = reader.html(
        "cycle/lost_contact",
        name=payload.name,
        since=payload.since,
        months=payload.months,
        admin=payload.admin,
    )
    buttons = [
        (
            reader.label("cycle.open_card", name=payload.name),
            STAFF_MEMBER_CARD.pack(payload.member_id),
        )
    ]
    if payload.admin:
        buttons.append(
            (reader.label("cycle.confirm_lost"), CYCLE_CONFIRM_LOST.pack(payload.member_id))
        )
    return text, tuple(buttons)
