"""The audit log: every export and every staff action leaves a row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent


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


async def recent(session: AsyncSession, *, limit: int = 50) -> list[AuditEvent]:
    """The newest audit events first."""
    rows = await session.scalars(
        select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    )
    return list(rows)
