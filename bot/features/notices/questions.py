"""The notice draft and what each question of /notice shows: its buttons and its values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardMarkup

from bot.context import LiaisonContext
from bot.replies import inline_keyboard, label
from messages.callbacks import (
    NOTICE_EVERYONE,
    NOTICE_LATER,
    NOTICE_NEXT,
    NOTICE_PICK,
    NOTICE_PREVIEW,
    NOTICE_QUIT,
    NOTICE_SEND,
    NOTICE_URGENT,
)
from storage.models import ChannelName
from storage.notices import MAX_BODY_LENGTH, clean_body
from storage.outbox import audience_preview


@dataclass(slots=True)
class Draft:
    """The notice being written; recorded only when the staff member sends or schedules it."""

    # The groups offered as buttons (id, name), in the order shown.
    groups: list[tuple[int, str]]
    more_groups: int
    chosen: list[int] = field(default_factory=list)
    everyone: bool = False
    # Parts of a long text received so far, and until when to drop the rest of a refused one.
    parts: list[str] = field(default_factory=list)
    discard_until: datetime | None = None
    body: str | None = None
    urgent: bool = False

    @property
    def group_names(self) -> list[str]:
        names = dict(self.groups)
        return [names[group_id] for group_id in self.chosen]


def audience(context: LiaisonContext, draft: Draft) -> str:
    if draft.everyone:
        return label(context, "notices.audience_all")
    return label(context, "notices.separator").join(draft.group_names)


def when_values(context: LiaisonContext, moment: datetime) -> dict[str, str]:
    """A moment as the templates show it: local time, its weekday and the zone."""
    local = moment.astimezone(context.zone)
    return {
        "when": local.strftime("%Y-%m-%d %H:%M"),
        "weekday": label(context, f"notices.weekday_{local.weekday()}"),
        "zone": str(context.zone),
    }


# --- what each question shows -----------------------------------------------------------


def _cancel_row(context: LiaisonContext) -> list[tuple[str, str]]:
    return [(label(context, "notices.cancel"), NOTICE_QUIT.pack())]


def cancel_only(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    return inline_keyboard([_cancel_row(context)])


def choose_keyboard(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    def ticked(text: str, on: bool) -> str:
        return label(context, "notices.picked", name=text) if on else text

    rows = [
        [(ticked(name, group_id in draft.chosen), NOTICE_PICK.pack(group_id))]
        for group_id, name in draft.groups
    ]
    rows.append(
        [(ticked(label(context, "notices.all_members"), draft.everyone), NOTICE_EVERYONE.pack())]
    )
    rows.append([(label(context, "notices.next"), NOTICE_NEXT.pack()), *_cancel_row(context)])
    return inline_keyboard(rows)


def choose_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"groups": len(draft.groups), "more": draft.more_groups}


def text_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"audience": audience(context, draft), "limit": MAX_BODY_LENGTH}


def part_keyboard(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    return inline_keyboard(
        [[(label(context, "notices.preview"), NOTICE_PREVIEW.pack())], _cancel_row(context)]
    )


def part_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"length": len(clean_body("\n".join(draft.parts))), "limit": MAX_BODY_LENGTH}


async def _counts(context: LiaisonContext, draft: Draft) -> dict[str, int]:
    staff = context.staff()
    assert staff is not None
    async with context.services.db.session() as session:
        return await audience_preview(
            session, groups=draft.chosen, everyone=draft.everyone, staff_id=staff[1]
        )


def _reaches(counts: Mapping[str, int]) -> tuple[int, int]:
    """Members and group chats (Telegram group chats and QQ groups) the notice would reach."""
    members = sum(counts[c] for c in ("telegram", "qq", "sms", "none"))
    return members, counts[ChannelName.GROUP_CHAT.value] + counts[ChannelName.QQ_GROUP.value]


async def preview_keyboard(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    rows: list[list[tuple[str, str]]] = []
    if any(_reaches(await _counts(context, draft))):
        urgent = "notices.urgent_off" if draft.urgent else "notices.urgent_on"
        rows += [
            [(label(context, "notices.send_now"), NOTICE_SEND.pack())],
            [(label(context, "notices.schedule"), NOTICE_LATER.pack())],
            [(label(context, urgent), NOTICE_URGENT.pack())],
        ]
    rows.append(_cancel_row(context))
    return inline_keyboard(rows)


async def preview_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    counts = await _counts(context, draft)
    members, chats = _reaches(counts)
    return {
        "audience": audience(context, draft),
        "counts": counts,
        "members": members,
        "chats": chats,
        "urgent": draft.urgent,
        "received": label(context, "notices.received"),
    }


def zone_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"zone": str(context.zone)}
