"""What the monthly cycle's messages look like: prompts and reminders to members, the
day-10 list of silent members and the lost-contact alert to staff.

The scheduler stores a small payload on each delivery; the dispatcher renders it here in
the recipient's language and channel format at send time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from messages.callbacks import (
    CYCLE_CHECKIN_NOW,
    CYCLE_CONFIRM_LOST,
    CYCLE_SAME_AS_LAST,
    STAFF_MEMBER_CARD,
)
from messages.render import Rendered, Renderer
from storage.models import ChannelName, MessageKind

# Telegram allows 100 buttons; a long list points to /overdue instead.
MAX_MEMBER_BUTTONS = 30


@dataclass(frozen=True, slots=True)
class LastCheckInView:
    """What "same as last month" would record, shown in the prompt."""

    period: str
    place: str | None
    work_situation: str


def checkin_prompt(
    renderer: Renderer,
    locale: str,
    channel: ChannelName,
    payload: Mapping[str, Any],
    last: LastCheckInView | None,
) -> Rendered:
    """The monthly prompt (reminder 0) or reminder n, with "check in" and "same as last"."""
    values = {
        "period": str(payload.get("period", "")),
        "reminder": int(payload.get("reminder", 0)),
        "last": last,
        "work": renderer.label(locale, f"checkin.work_{last.work_situation}") if last else None,
    }
    if channel is ChannelName.SMS:
        return renderer.render_text(locale, "cycle/prompt_sms", **values), ()
    buttons = [(renderer.label(locale, "cycle.checkin_now"), CYCLE_CHECKIN_NOW.pack())]
    if last is not None and last.place:
        buttons.insert(
            0,
            (
                renderer.label(locale, "cycle.same_as_last"),
                CYCLE_SAME_AS_LAST.pack(str(values["period"])),
            ),
        )
    return renderer.render(locale, "cycle/prompt", **values), tuple(buttons)


def escalation(renderer: Renderer, locale: str, payload: Mapping[str, Any]) -> Rendered:
    """A liaison's day-10 list of their group's silent members, a card button for each."""
    members = list(payload.get("members", []))
    shown = members[:MAX_MEMBER_BUTTONS]
    text = renderer.render(
        locale,
        "cycle/escalation",
        period=payload.get("period", ""),
        group=payload.get("group", ""),
        members=members,
        total=int(payload.get("total", len(members))),
    )
    buttons = tuple(
        (
            renderer.label(locale, "cycle.card_button", name=m["name"], days=m["days"]),
            STAFF_MEMBER_CARD.pack(m["id"]),
        )
        for m in shown
    )
    return text, buttons


def lost_contact(renderer: Renderer, locale: str, payload: Mapping[str, Any]) -> Rendered:
    """A member fell silent for months: their card, and for an admin the confirm button."""
    member_id = payload["member_id"]
    text = renderer.render(
        locale,
        "cycle/lost_contact",
        name=payload.get("name", ""),
        since=payload.get("since"),
        months=payload.get("months"),
        admin=bool(payload.get("admin")),
    )
    buttons = [
        (
            renderer.label(locale, "cycle.open_card", name=payload.get("name", "")),
            STAFF_MEMBER_CARD.pack(member_id),
        )
    ]
    if payload.get("admin"):
        buttons.append(
            (renderer.label(locale, "cycle.confirm_lost"), CYCLE_CONFIRM_LOST.pack(member_id))
        )
    return text, tuple(buttons)


STAFF_KINDS = frozenset({MessageKind.ESCALATION, MessageKind.LOST_CONTACT})
CHECKIN_KINDS = frozenset({MessageKind.CHECKIN_PROMPT, MessageKind.CHECKIN_REMINDER})
