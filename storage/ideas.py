"""Ideas ("golden ideas", 金点子) and opinions (意见建议) members send the organisation.

A member sends one with a text of up to MAX_TEXT_LENGTH characters. The liaisons of the
member's groups are told at once (IDEA_NEW through the outbox); a group without a liaison
tells the administrators over it, and so does a member in no group at all.

Staff see the ideas of the members in their scope (storage/scope.py), unanswered
first, newest first; someone else's idea reads the same as one that does not exist.
They reply and mark an idea adopted, each audited, and the member hears each
(IDEA_REPLY through the outbox, rendered in the member's language at send time).

An idea keeps one reply. A second reply replaces the first, and the member hears the
new one: each reply is a delivery of its own ("idea:<id>:reply:<n>"), and a reply still
waiting in the outbox (quiet hours) is dropped, so the member never gets an outdated one
after a newer one. Adopting happens once ("idea:<id>:adopted").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, payloads
from storage.models import (
    Delivery,
    DeliveryStatus,
    Group,
    Idea,
    IdeaKind,
    IdeaStatus,
    Member,
    MessageKind,
    member_groups,
)
from storage.notices import clean_body
from storage.outbox import StaffMessage, enqueue_to_members, enqueue_to_staff
from storage.phones import mask_phone
from storage.scope import looking_after, scope_condition

# An idea is a few paragraphs read on a phone; a longer text is a report to attach
# to a service request or bring to the symposium.
MAX_TEXT_LENGTH = 2000
# A reply is held to the same length.
MAX_REPLY_LENGTH = 2000
# How much of the idea the staff alert and the member's answer quote.
EXCERPT = 200
# A reply that replaced an earlier one before it was sent.
REPLACED = "replaced by a newer reply"


class IdeaError(ValueError):
    """An idea, reply or adoption that cannot be made; the message says why (English).

    reason is a short stable word for the front ends: empty, too_long, not_found,
    already_adopted, changed_meanwhile, already_done.
    """

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


def _check(text: str, limit: int, what: str) -> str:
    body = clean_body(text)
    if not body:
        raise IdeaError(f"the {what} is empty", "empty")
    if len(body) > limit:
        raise IdeaError(
            f"the {what} has {len(body)} characters; at most {limit} are allowed", "too_long"
        )
    return body


def check_text(text: str) -> str:
    """The idea as it will be kept: trimmed, 1 to MAX_TEXT_LENGTH characters."""
    return _check(text, MAX_TEXT_LENGTH, "suggestion")


def check_reply(text: str) -> str:
    """The reply as it will be kept: trimmed, 1 to MAX_REPLY_LENGTH characters."""
    return _check(text, MAX_REPLY_LENGTH, "reply")


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """The first limit characters of text, with "…" when there was more."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class IdeaView:
    """One idea as its member or a staff member sees it."""

    id: int
    kind: IdeaKind
    status: IdeaStatus
    body: str
    created_at: datetime
    member_id: int
    member_name: str
    phone: str | None
    reply: str | None
    replied_at: datetime | None
    # The staff member's name, or the operator's "cli:<user>".
    replied_by: str | None
    adopted_at: datetime | None
    adopted_by: str | None
    groups: tuple[str, ...] = ()

    @property
    def phone_masked(self) -> str | None:
        return mask_phone(self.phone) if self.phone else None

    @property
    def adopted(self) -> bool:
        return self.adopted_at is not None

    @property
    def version(self) -> str:
        """The reply as this view shows it (the console's reply form sends it back as
        `seen`, see reply_to)."""
        return _version(self.replied_at)


def _version(replied_at: datetime | None) -> str:
    return replied_at.isoformat() if replied_at is not None else "unanswered"


async def _views(
    session: AsyncSession, condition: ColumnElement[bool], *, limit: int | None, groups: bool
) -> list[IdeaView]:
    unanswered_first = case((Idea.status == IdeaStatus.NEW, 0), else_=1)
    query = (
        select(Idea, Member.name, Member.phone)
        .join(Member, Member.id == Idea.member_id)
        .where(condition)
        .order_by(unanswered_first, Idea.created_at.desc(), Idea.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    rows = list(await session.execute(query))
    names = await audit.actor_names(
        session, [a for row, _, _ in rows for a in (row.replied_by, row.adopted_by)]
    )
    member_groups_of: dict[int, list[str]] = {}
    if groups and rows:
        for member_id, group_name in await session.execute(
            select(member_groups.c.member_id, Group.name)
            .join(Group, Group.id == member_groups.c.group_id)
            .where(member_groups.c.member_id.in_({row.member_id for row, _, _ in rows}))
            .order_by(Group.name)
        ):
            member_groups_of.setdefault(member_id, []).append(group_name)
    return [
        IdeaView(
            id=row.id,
            kind=row.kind,
            status=row.status,
            body=row.body,
            created_at=row.created_at,
            member_id=row.member_id,
            member_name=name,
            phone=phone,
            reply=row.reply,
            replied_at=row.replied_at,
            replied_by=names.get(row.replied_by or ""),
            adopted_at=row.adopted_at,
            adopted_by=names.get(row.adopted_by or ""),
            groups=tuple(member_groups_of.get(row.member_id, ())),
        )
        for row, name, phone in rows
    ]


def _visible(staff_id: int | None) -> ColumnElement[bool]:
    """A where-clause (with Member joined): the ideas staff_id may see; None: all."""
    return scope_condition(staff_id) if staff_id is not None else true()


# --- members ------------------------------------------------------------------------------


async def submit(
    session: AsyncSession, now: datetime, *, member_id: int, kind: IdeaKind, text: str
) -> Idea:
    """A member's idea or opinion: stored, and their liaisons told (IDEA_NEW).

    IdeaError (empty, too_long) for a text check_text refuses; not_found for a
    member that does not exist.
    """
    body = check_text(text)
    member = await session.get(Member, member_id)
    if member is None:
        raise IdeaError(f"no member {member_id}", "not_found")
    idea = Idea(
        member_id=member_id,
        kind=kind,
        body=body,
        status=IdeaStatus.NEW,
        created_at=now,
    )
    session.add(idea)
    await session.flush()
    payload = payloads.IdeaNew(id=idea.id, kind=kind.value, member=member.name, body=excerpt(body))
    topic = f"idea:{idea.id}:new"
    await enqueue_to_staff(
        session,
        now,
        [
            StaffMessage(staff.id, staff.telegram_user_id, topic, payload)
            for staff in await looking_after(session, member_id)
        ],
    )
    return idea


async def my_ideas(session: AsyncSession, member_id: int, *, limit: int = 10) -> list[IdeaView]:
    """The member's own ideas, unanswered first, newest first."""
    return await _views(session, Idea.member_id == member_id, limit=limit, groups=False)


async def my_idea(session: AsyncSession, member_id: int, idea_id: int) -> IdeaView | None:
    """One of the member's own ideas (None for anyone else's)."""
    found = await _views(
        session,
        (Idea.member_id == member_id) & (Idea.id == idea_id),
        limit=1,
        groups=False,
    )
    return found[0] if found else None


# --- staff --------------------------------------------------------------------------------


async def list_ideas(
    session: AsyncSession,
    *,
    staff_id: int | None,
    status: IdeaStatus | None = None,
    kind: IdeaKind | None = None,
    limit: int | None = 20,
) -> list[IdeaView]:
    """The ideas of the members staff_id may see (all for None), unanswered first."""
    condition = _visible(staff_id)
    if status is not None:
        condition = condition & (Idea.status == status)
    if kind is not None:
        condition = condition & (Idea.kind == kind)
    return await _views(session, condition, limit=limit, groups=True)


async def count_unanswered(session: AsyncSession, *, staff_id: int | None) -> int:
    """How many ideas in staff_id's scope nobody has answered yet."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Idea)
            .join(Member, Member.id == Idea.member_id)
            .where(_visible(staff_id), Idea.status == IdeaStatus.NEW)
        )
        or 0
    )


async def get_idea(session: AsyncSession, idea_id: int, *, staff_id: int | None) -> IdeaView | None:
    """One idea of a member staff_id may see (any for None); None otherwise."""
    found = await _views(session, _visible(staff_id) & (Idea.id == idea_id), limit=1, groups=True)
    return found[0] if found else None


async def view_idea(
    session: AsyncSession, now: datetime, idea_id: int, *, staff_id: int | None, actor: str
) -> IdeaView | None:
    """One idea as get_idea finds it, for actor to look at: audited when found, and when
    refused to staff (idea.view.refused: outside their scope or not there)."""
    found = await get_idea(session, idea_id, staff_id=staff_id)
    if found is not None:
        await audit.record(session, now, actor=actor, action="idea.view", subject=f"idea:{idea_id}")
    elif staff_id is not None:
        await audit.record_refused(
            session,
            now,
            actor=actor,
            action="idea.view.refused",
            kind="idea",
            model=Idea,
            record_id=idea_id,
        )
    return found


@dataclass(frozen=True, slots=True)
class Desk:
    """What a staff member's list shows: the first ideas, and how many await a reply."""

    shown: list[IdeaView]
    unanswered: int


async def staff_desk(
    session: AsyncSession,
    now: datetime,
    *,
    staff_id: int,
    actor: str,
    limit: int,
    status: IdeaStatus | None = None,
    kind: IdeaKind | None = None,
) -> Desk:
    """The ideas in staff_id's scope (of one status, one kind, or all), unanswered first,
    and the count unanswered; audited."""
    shown = await list_ideas(session, staff_id=staff_id, status=status, kind=kind, limit=limit)
    unanswered = await count_unanswered(session, staff_id=staff_id)
    filters = {"status": status.value if status else None, "kind": kind.value if kind else None}
    await audit.record(
        session,
        now,
        actor=actor,
        action="idea.list.view",
        **{name: value for name, value in filters.items() if value},
    )
    return Desk(shown=shown, unanswered=unanswered)


async def _in_scope(
    session: AsyncSession, idea_id: int, staff_id: int | None, *, lock: bool = False
) -> Idea:
    """The idea if staff_id may see it; lock: for a reply, so that two at once are given
    one after the other (the second sees the first)."""
    query = (
        select(Idea)
        .join(Member, Member.id == Idea.member_id)
        .where(Idea.id == idea_id, _visible(staff_id))
    )
    if lock:
        query = query.with_for_update(of=Idea)
    row = await session.scalar(query)
    if row is None:
        # Someone else's idea reads the same as one that does not exist.
        raise IdeaError(f"no suggestion {idea_id}", "not_found")
    return row


async def reply_to(
    session: AsyncSession,
    now: datetime,
    idea_id: int,
    *,
    text: str,
    actor: str,
    staff_id: int | None,
    seen: str | None = None,
) -> IdeaView:
    """Answer an idea staff_id may see (any for None); the member hears it; audited.

    A second reply replaces the first: the member hears the new one, and an earlier reply
    still waiting in the outbox is dropped. An adopted idea stays adopted.

    seen: the idea's version as the console's form showed it. The same reply by the same
    actor again is already_done (the form sent twice: the member hears it once); another
    reply given since is changed_meanwhile (a colleague answered: nobody overwrites a reply
    they have not read).
    """
    body = check_reply(text)
    row = await _in_scope(session, idea_id, staff_id, lock=True)
    if seen is not None:
        if row.reply == body and row.replied_by == actor:
            raise IdeaError(f"suggestion {idea_id}: already replied so", "already_done")
        if _version(row.replied_at) != seen:
            raise IdeaError(
                f"suggestion {idea_id} was answered since it was shown", "changed_meanwhile"
            )
    prefix = f"idea:{row.id}:reply:"
    earlier = int(
        await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.kind == MessageKind.IDEA_REPLY,
                Delivery.member_id == row.member_id,
                Delivery.topic.startswith(prefix, autoescape=True),
            )
        )
        or 0
    )
    await session.execute(
        update(Delivery)
        .where(
            Delivery.kind == MessageKind.IDEA_REPLY,
            Delivery.member_id == row.member_id,
            Delivery.topic.startswith(prefix, autoescape=True),
            Delivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.SUPPRESSED, last_error=REPLACED, finished_at=now)
    )
    replaced = row.reply is not None
    row.reply = body
    row.replied_at = now
    row.replied_by = actor
    if row.status is IdeaStatus.NEW:
        row.status = IdeaStatus.REPLIED
    await enqueue_to_members(
        session,
        now,
        payload=payloads.IdeaReply(
            id=row.id,
            kind=row.kind.value,
            body=excerpt(row.body),
            event="reply",
            reply=body,
            replaced=replaced,
            adopted=row.adopted_at is not None,
        ),
        topic=f"{prefix}{earlier + 1}",
        condition=Member.id == row.member_id,
        not_before=now,
    )
    await audit.record(
        session,
        now,
        actor=actor,
        action="idea.reply",
        subject=f"idea:{row.id}",
        replaced=replaced,
        length=len(body),
    )
    await session.flush()
    view = await get_idea(session, row.id, staff_id=None)
    assert view is not None
    return view


async def adopt(
    session: AsyncSession, now: datetime, idea_id: int, *, actor: str, staff_id: int | None
) -> IdeaView:
    """Mark an idea staff_id may see (any for None) adopted; the member hears it once;
    audited. IdeaError (already_adopted) the second time."""
    row = await _in_scope(session, idea_id, staff_id)
    if row.adopted_at is not None:
        raise IdeaError(f"suggestion {idea_id} is already adopted", "already_adopted")
    row.status = IdeaStatus.ADOPTED
    row.adopted_at = now
    row.adopted_by = actor
    await enqueue_to_members(
        session,
        now,
        payload=payloads.IdeaReply(
            id=row.id, kind=row.kind.value, body=excerpt(row.body), event="adopted"
        ),
        topic=f"idea:{row.id}:adopted",
        condition=Member.id == row.member_id,
        not_before=now,
    )
    await audit.record(session, now, actor=actor, action="idea.adopt", subject=f"idea:{row.id}")
    await session.flush()
    view = await get_idea(session, row.id, staff_id=None)
    assert view is not None
    return view


__all__ = [
    "EXCERPT",
    "MAX_REPLY_LENGTH",
    "MAX_TEXT_LENGTH",
    "Desk",
    "IdeaError",
    "IdeaView",
    "adopt",
    "check_reply",
    "check_text",
    "count_unanswered",
    "excerpt",
    "get_idea",
    "list_ideas",
    "my_idea",
    "my_ideas",
    "reply_to",
    "staff_desk",
    "submit",
    "view_idea",
]
