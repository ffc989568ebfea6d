"""The audit log: every export and every staff action leaves a row."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, Base, Staff


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
