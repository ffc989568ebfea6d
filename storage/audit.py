"""The audit log: every export and every staff action leaves a row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, String, cast, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, Base, Staff, StaffRole


async def record(
    session: AsyncSession,
    now: datetime,
    *,
    actor: str,
    action: str,
    subject: str | None = None,
    **detail: object,
) -> AuditEvent:
    """Append one audit event; actor is "staff:<id>", "cli:<os user>" or "member:<id>"."""
    event = AuditEvent(at=now, actor=actor, action=action, subject=subject, detail=detail or None)
    session.add(event)
    await session.flush()
    return event


async def record_refused(
    session: AsyncSession,
    now: datetime,
    *,
    actor: str,
    action: str,
    kind: str,
    model: type[Base],
    record_id: int | None,
    **detail: object,
) -> AuditEvent:
    """A lookup refused to staff (outside their scope, or not there): the person asking got
    the same answer either way, the trail tells them apart, so probing leaves a row.

    action is the view's own with ".refused" (never counted as a look at the record);
    subject is kind:record_id as asked (None for a forged button).
    """
    there = record_id is not None and await session.get(model, record_id) is not None
    return await record(
        session,
        now,
        actor=actor,
        action=action,
        subject=f"{kind}:{record_id}" if record_id is not None else None,
        reason="out_of_scope" if there else "not_found",
        **detail,
    )


async def recent(session: AsyncSession, *, limit: int = 50) -> list[AuditEvent]:
    """The newest audit events first."""
    rows = await session.scalars(
        select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    )
    return list(rows)


async def actor_names(session: AsyncSession, actors: Iterable[str | None]) -> dict[str, str]:
    """Actors ("staff:3", "cli:root") as people read them: the staff member's name."""
    named = [actor for actor in actors if actor]
    ids = {
        int(actor.removeprefix("staff:"))
        for actor in named
        if actor.startswith("staff:") and actor.removeprefix("staff:").isdigit()
    }
    names = {actor: actor for actor in named}
    if ids:
        for staff_id, name in await session.execute(
            select(Staff.id, Staff.name).where(Staff.id.in_(ids))
        ):
            names[f"staff:{staff_id}"] = name
    return names


# --- reading the log: the console's /audit (administrators only) ---------------------------

# An export is a spreadsheet someone opens: narrower dates for more than this.
EXPORT_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which events to read; every part optional.

    who is an actor as the log writes it ("staff:3", "cli:root", "member:12") or a staff
    member's name; action a prefix ("console.", "member.view"); subject exact
    ("member:12"); since and until the instants the events fall in (until excluded).
    """

    who: str | None = None
    action: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def detail(self) -> dict[str, object]:
        """The filter as the audit of a look at the log keeps it."""
        return {
            "who": self.who,
            "action_prefix": self.action,
            "subject": self.subject,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


def _conditions(wanted: AuditFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.who:
        if ":" in wanted.who:
            conditions.append(AuditEvent.actor == wanted.who)
        else:
            # A name: every staff member of that name (namesakes are all shown).
            named = select(literal("staff:", String) + cast(Staff.id, String)).where(
                Staff.name == wanted.who
            )
            conditions.append(AuditEvent.actor.in_(named))
    if wanted.action:
        conditions.append(AuditEvent.action.startswith(wanted.action, autoescape=True))
    if wanted.subject:
        conditions.append(AuditEvent.subject == wanted.subject)
    if wanted.since is not None:
        conditions.append(AuditEvent.at >= wanted.since)
    if wanted.until is not None:
        conditions.append(AuditEvent.at < wanted.until)
    return conditions


@dataclass(frozen=True, slots=True)
class AuditLine:
    """One event as staff read it: the actor's name beside the actor."""

    id: int
    at: datetime
    actor: str
    actor_name: str
    action: str
    subject: str | None
    detail: Mapping[str, object]


async def _lines(
    session: AsyncSession, wanted: AuditFilter, *, before: int | None, limit: int
) -> list[AuditLine]:
    """Newest first (by id: the order they were written), those with an id below before."""
    query = select(AuditEvent).where(*_conditions(wanted))
    if before is not None:
        query = query.where(AuditEvent.id < before)
    events = list(await session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))
    names = await actor_names(session, {event.actor for event in events})
    return [
        AuditLine(
            id=event.id,
            at=event.at,
            actor=event.actor,
            actor_name=names.get(event.actor, event.actor),
            action=event.action,
            subject=event.subject,
            detail=event.detail or {},
        )
        for event in events
    ]


async def _refused_unless_admin(
    session: AsyncSession, now: datetime, *, staff_id: int, actor: str, action: str
) -> bool:
    """True (and the attempt audited) unless staff_id is an administrator over everyone.

    The log names whoever staff looked at, in every unit: an administrator with a scope
    (a unit's) sees members of that scope only, so not the whole district's log."""
    from storage.scope import sees_everyone  # storage.scope records through this module

    role = await session.scalar(select(Staff.role).where(Staff.id == staff_id))
    if role is StaffRole.ADMIN and await sees_everyone(session, staff_id):
        return False
    reason = "not_admin" if role is not StaffRole.ADMIN else "scoped_admin"
    await record(session, now, actor=actor, action=f"{action}.refused", reason=reason)
    return True


@dataclass(frozen=True, slots=True)
class AuditPage:
    """A page of the log; next_before continues it (None: nothing older matches)."""

    lines: list[AuditLine]
    next_before: int | None


async def view_log(
    session: AsyncSession,
    now: datetime,
    *,
    staff_id: int,
    actor: str,
    wanted: AuditFilter,
    before: int | None = None,
    limit: int = 50,
) -> AuditPage | None:
    """A page of the events wanted, for an administrator; None for anyone else. The look
    is audited, a refused one too; the row is written after the page is read."""
    if await _refused_unless_admin(
        session, now, staff_id=staff_id, actor=actor, action="console.audit.view"
    ):
        return None
    lines = await _lines(session, wanted, before=before, limit=limit + 1)
    page = AuditPage(lines[:limit], lines[limit - 1].id if len(lines) > limit else None)
    await record(
        session,
        now,
        actor=actor,
        action="console.audit.view",
        before=before,
        filter=wanted.detail(),
    )
    return page


async def export_log(
    session: AsyncSession,
    now: datetime,
    *,
    staff_id: int,
    actor: str,
    wanted: AuditFilter,
    limit: int = EXPORT_LIMIT,
) -> list[AuditLine] | None:
    """Every event wanted (at most limit, newest first), for an administrator; None for
    anyone else. Audited, a refusal too."""
    if await _refused_unless_admin(
        session, now, staff_id=staff_id, actor=actor, action="console.audit.export"
    ):
        return None
    lines = await _lines(session, wanted, before=None, limit=limit)
    await record(
        session,
        now,
        actor=actor,
        action="console.audit.export",
        rows=len(lines),
        filter=wanted.detail(),
    )
    return lines


async def staff_actors(session: AsyncSession) -> list[tuple[str, str]]:
    """Every staff member as (actor, name), by name: the choices for "who"."""
    rows = await session.execute(select(Staff.id, Staff.name).order_by(Staff.name, Staff.id))
    return [(f"staff:{staff_id}", name) for staff_id, name in rows]
