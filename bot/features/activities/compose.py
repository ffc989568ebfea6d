"""A new activity (staff, private chat): the flow "activity", begun from /activities.

1. the kind (buttons); 2. the title; 3. when, in the district's zone ("12-05 14:00-16:00";
without an end it lasts two hours); 4. where: a place of /places by name or number, or an
address typed as is (several places named: buttons, and "use what I typed"); 5. the groups
invited (those the staff member looks after); 6. how many places (a number, or 0 for
no limit); 7. the invitation exactly as members will see it, and who it reaches per channel:
"send" records the activity and the outbox invites every member of the groups. /cancel or
the cancel button at any step, and nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardMarkup, Update

from bot.commands import Audience
from bot.context import LiaisonContext
from bot.drafts import toggle_group
from bot.flow import END, Flow, Start, Step, press, typed
from bot.replies import inline_keyboard, label, render, reply
from bot.updates import message_text
from messages.activities import activity_invite
from messages.callbacks import (
    ACTIVITY_ADDRESS,
    ACTIVITY_KIND,
    ACTIVITY_NEW,
    ACTIVITY_NEXT,
    ACTIVITY_PICK,
    ACTIVITY_PLACE,
    ACTIVITY_QUIT,
    ACTIVITY_SEND,
)
from messages.render import Reader
from storage.activities import (
    DEFAULT_RADIUS_M,
    ActivityError,
    addressable_groups,
    check_address,
    check_title,
    create_activity,
    parse_capacity,
    parse_times,
)
from storage.models import ActivityKind, ChannelName
from storage.outbox import audience_preview
from storage.payloads import ActivityInvite
from storage.places import match_places, place_by_id

# Steps, one per question.
KIND = "kind"
TITLE = "title"
WHEN = "when"
PLACE = "place"
PICK_PLACE = "pick_place"
GROUPS = "groups"
CAPACITY = "capacity"
PREVIEW = "preview"

# Telegram allows 100 buttons under a message; beyond this the list is no longer usable.
GROUP_BUTTONS = 60
PLACE_BUTTONS = 8


@dataclass(slots=True)
class Draft:
    """The activity being made; recorded only when the staff member sends the invitations."""

    kind: ActivityKind | None = None
    title: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    # A place of /places (its id and name), or an address typed as is.
    place_id: int | None = None
    place_name: str | None = None
    address: str | None = None
    # What was typed for the place, and the places it named (id, label), while choosing.
    typed_place: str | None = None
    places: list[tuple[int, str]] = field(default_factory=list)
    # The groups offered (id, name), in order, and those ticked.
    groups: list[tuple[int, str]] = field(default_factory=list)
    more_groups: int = 0
    chosen: list[int] = field(default_factory=list)
    capacity: int | None = None

    @property
    def group_names(self) -> list[str]:
        names = dict(self.groups)
        return [names[group_id] for group_id in self.chosen if group_id in names]


def _zone_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"zone": str(context.services.settings.zone)}


def _local(context: LiaisonContext, moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(context.services.settings.zone).strftime("%Y-%m-%d %H:%M")


def _cancel_row(context: LiaisonContext) -> list[tuple[str, str]]:
    return [(label(context, "activities.cancel"), ACTIVITY_QUIT.pack())]


def _cancel_only(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    return inline_keyboard([_cancel_row(context)])


def _bad(context: LiaisonContext, error: ActivityError, **values: Any) -> str:
    return render(context, "activities/new/bad_input", reason=error.reason, **values)


# --- the start -------------------------------------------------------------------------------


async def start_new(update: Update, context: LiaisonContext) -> str:
    """ "New activity" under the staff's /activities."""
    staff = context.staff()
    assert staff is not None  # the flow's guard
    async with context.services.db.session() as session:
        groups = await addressable_groups(session, staff[1])
    shown = groups[:GROUP_BUTTONS]
    draft = Draft(groups=[(g.id, g.name) for g in shown], more_groups=len(groups) - len(shown))
    return await FLOW.begin(update, context, draft, KIND)


# --- 1. the kind ---------------------------------------------------------------------------


def _kind_keyboard(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    rows = [
        [(label(context, f"activities.kind_{kind.value}"), ACTIVITY_KIND.pack(kind))]
        for kind in ActivityKind
    ]
    return inline_keyboard([*rows, _cancel_row(context)])


async def kind_chosen(update: Update, context: LiaisonContext, draft: Draft) -> str:
    query = update.callback_query
    assert query is not None
    pressed = ACTIVITY_KIND.unpack(query.data)
    if pressed is None:
        return await FLOW.again(update, context, draft)
    (draft.kind,) = pressed
    return await FLOW.ask(update, context, draft, TITLE)


# --- 2. the title, 3. when -------------------------------------------------------------------


async def title_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    text = message_text(update)
    try:
        draft.title = check_title(text)
    except ActivityError as error:
        return await FLOW.again(update, context, draft, lead=_bad(context, error, length=len(text)))
    return await FLOW.ask(update, context, draft, WHEN)


async def time_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    text = message_text(update)
    zone = context.services.settings.zone
    try:
        draft.starts_at, draft.ends_at = parse_times(text, context.now(), zone)
    except ActivityError as error:
        lead = _bad(context, error, typed=text.strip()[:40], zone=str(zone))
        return await FLOW.again(update, context, draft, lead=lead)
    return await FLOW.ask(update, context, draft, PLACE)


# --- 4. where ------------------------------------------------------------------------------


async def place_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    text = message_text(update)
    async with context.services.db.session() as session:
        found = await match_places(session, text, limit=PLACE_BUTTONS)
    if len(found) == 1 and (found[0].name == text.strip() or text.strip().lstrip("#").isdigit()):
        place = found[0]
        draft.place_id, draft.place_name, draft.address = place.id, place.name, place.address
        return await _ask_groups(update, context, draft)
    try:
        typed_address = check_address(text)
    except ActivityError as error:
        return await FLOW.again(update, context, draft, lead=_bad(context, error))
    if not found:
        draft.place_id, draft.place_name, draft.address = None, None, typed_address
        return await _ask_groups(update, context, draft)
    # A part of a name, or a name several districts have: which one, or the text as is.
    draft.typed_place = typed_address
    draft.places = [
        (p.id, label(context, "activities.place", name=p.name, district=p.district)) for p in found
    ]
    return await FLOW.ask(update, context, draft, PICK_PLACE)


def _places_keyboard(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    rows = [[(text, ACTIVITY_PLACE.pack(place_id))] for place_id, text in draft.places]
    rows.append([(label(context, "activities.address"), ACTIVITY_ADDRESS.pack())])
    return inline_keyboard([*rows, _cancel_row(context)])


def _places_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"typed": draft.typed_place or "", "count": len(draft.places)}


async def place_chosen(update: Update, context: LiaisonContext, draft: Draft) -> str:
    query = update.callback_query
    assert query is not None
    pressed = ACTIVITY_PLACE.unpack(query.data)
    offered = dict(draft.places)
    if pressed is None or pressed[0] not in offered:
        return await FLOW.again(update, context, draft)
    async with context.services.db.session() as session:
        place = await place_by_id(session, pressed[0])
    if place is None:
        # Removed by an import meanwhile: the choice is asked again without it.
        draft.places = [(i, t) for i, t in draft.places if i != pressed[0]]
        return await FLOW.again(update, context, draft)
    draft.place_id, draft.place_name, draft.address = place.id, place.name, place.address
    return await _ask_groups(update, context, draft)


async def address_chosen(update: Update, context: LiaisonContext, draft: Draft) -> str:
    draft.place_id, draft.place_name, draft.address = None, None, draft.typed_place
    return await _ask_groups(update, context, draft)


# --- 5. the groups -------------------------------------------------------------------------


async def _ask_groups(update: Update, context: LiaisonContext, draft: Draft) -> str:
    draft.places, draft.typed_place = [], None
    return await FLOW.ask(update, context, draft, GROUPS)


def _groups_keyboard(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    def ticked(name: str, on: bool) -> str:
        return label(context, "activities.picked", name=name) if on else name

    rows = [
        [(ticked(name, group_id in draft.chosen), ACTIVITY_PICK.pack(group_id))]
        for group_id, name in draft.groups
    ]
    rows.append([(label(context, "activities.next"), ACTIVITY_NEXT.pack()), *_cancel_row(context)])
    return inline_keyboard(rows)


def _groups_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {
        "groups": len(draft.groups),
        "more": draft.more_groups,
        "place": draft.place_name,
        "address": draft.address,
    }


async def group_toggled(update: Update, context: LiaisonContext, draft: Draft) -> str:
    query = update.callback_query
    assert query is not None
    if toggle_group(query.data, ACTIVITY_PICK, draft.groups, draft.chosen) is None:
        return GROUPS
    await query.edit_message_reply_markup(_groups_keyboard(context, draft))
    return GROUPS


async def groups_chosen(update: Update, context: LiaisonContext, draft: Draft) -> str:
    query = update.callback_query
    assert query is not None
    if not draft.chosen:
        await query.answer(text=label(context, "activities.choose_first"))
        return GROUPS
    await query.answer()
    return await FLOW.ask(update, context, draft, CAPACITY)


# --- 6. how many ---------------------------------------------------------------------------


async def capacity_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    text = message_text(update)
    try:
        draft.capacity = parse_capacity(text)
    except ActivityError as error:
        lead = _bad(context, error, typed=text.strip()[:20])
        return await FLOW.again(update, context, draft, lead=lead)
    return await _preview(update, context, draft)


# --- 7. the preview, and send ----------------------------------------------------------------


def _preview_keyboard(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    return inline_keyboard(
        [[(label(context, "activities.send"), ACTIVITY_SEND.pack())], _cancel_row(context)]
    )


async def _preview(update: Update, context: LiaisonContext, draft: Draft) -> str:
    """The invitation exactly as members will see it, then who gets it: one message."""
    staff = context.staff()
    assert staff is not None
    assert draft.kind is not None and draft.starts_at is not None and draft.ends_at is not None
    zone = context.services.settings.zone
    invitation = ActivityInvite(
        activity_id=0,
        kind=draft.kind.value,
        title=draft.title or "",
        starts=_local(context, draft.starts_at),
        ends=draft.ends_at.astimezone(zone).strftime("%H:%M"),
        place=draft.place_name,
        address=draft.address or "",
        capacity=draft.capacity,
        organiser=staff[0].staff_name or "",
    )
    reader = Reader(context.services.renderer, context.locale, zone, ChannelName.TELEGRAM)
    shown, _ = activity_invite(reader, invitation)
    return await FLOW.ask(update, context, draft, PREVIEW, lead=shown)


async def _preview_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    staff = context.staff()
    assert staff is not None
    async with context.services.db.session() as session:
        counts = await audience_preview(
            session, groups=draft.chosen, everyone=False, staff_id=staff[1]
        )
    return {
        "groups": label(context, "activities.separator").join(draft.group_names),
        "counts": counts,
        "members": sum(counts[c] for c in ("telegram", "qq", "sms", "none")),
        "located": draft.place_id is not None,
    }


async def send(update: Update, context: LiaisonContext, draft: Draft) -> str:
    staff = context.staff()
    assert staff is not None
    identity, staff_id = staff
    assert draft.kind is not None and draft.title is not None
    assert draft.starts_at is not None and draft.ends_at is not None
    await FLOW.drop_buttons(update, context)
    try:
        async with context.services.db.session() as session:
            created = await create_activity(
                session,
                context.now(),
                kind=draft.kind,
                title=draft.title,
                starts_at=draft.starts_at,
                ends_at=draft.ends_at,
                groups=draft.group_names,
                actor=identity.actor,
                organiser=identity.staff_name or identity.actor,
                zone=context.services.settings.zone,
                staff_id=staff_id,
                place_id=draft.place_id,
                address=draft.address,
                capacity=draft.capacity,
            )
    except ActivityError as error:
        # A group taken out of their scope, a place removed, or the time passed meanwhile.
        await reply(update, context, "activities/new/not_created", reason=error.reason)
        return END
    scheduler = context.bot_data.scheduler
    if scheduler is not None:
        await scheduler.refresh()  # the reminder's timer, now rather than at the next poll
    activity = created.activity
    await reply(
        update,
        context,
        "activities/new/created",
        a=activity,
        starts=_local(context, activity.starts_at),
        counts=created.per_channel,
        invited=created.invited,
    )
    return END


# --- the flow ------------------------------------------------------------------------------


def _question_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {
        "kind": label(context, f"activities.kind_{draft.kind.value}") if draft.kind else "",
        "title": draft.title or "",
        "starts": _local(context, draft.starts_at),
        "ends": draft.ends_at.astimezone(context.services.settings.zone).strftime("%H:%M")
        if draft.ends_at
        else "",
        "radius": DEFAULT_RADIUS_M,
    }


FLOW = Flow(
    "activity",
    Draft,
    audience=Audience.STAFF,
    templates="activities/new",
    starts=[Start(start_new, action=ACTIVITY_NEW)],
    steps={
        KIND: Step("activities/new/ask_kind", [press(ACTIVITY_KIND, kind_chosen)], _kind_keyboard),
        TITLE: Step("activities/new/ask_title", [typed(title_typed)], _cancel_only),
        WHEN: Step("activities/new/ask_time", [typed(time_typed)], _cancel_only, _zone_values),
        PLACE: Step("activities/new/ask_place", [typed(place_typed)], _cancel_only),
        PICK_PLACE: Step(
            "activities/new/pick_place",
            [
                press(ACTIVITY_PLACE, place_chosen),
                press(ACTIVITY_ADDRESS, address_chosen),
                typed(place_typed),
            ],
            _places_keyboard,
            _places_values,
        ),
        GROUPS: Step(
            "activities/new/ask_groups",
            [
                press(ACTIVITY_PICK, group_toggled),
                # Nothing ticked yet: the press is answered with a toast saying so.
                press(ACTIVITY_NEXT, groups_chosen, toast=True),
            ],
            _groups_keyboard,
            _groups_values,
        ),
        # No buttons: a number typed in QQ (or the terminal) would press a numbered one.
        CAPACITY: Step("activities/new/ask_capacity", [typed(capacity_typed)]),
        PREVIEW: Step(
            "activities/new/preview",
            [press(ACTIVITY_SEND, send)],
            _preview_keyboard,
            _preview_values,
        ),
    },
    cancel_action=ACTIVITY_QUIT,
    values=_question_values,
)
