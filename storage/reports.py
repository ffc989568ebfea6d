"""Who may make the reports for other offices, and for which units.

The reports (the police station's monthly roster, and those to come: the year's figures,
the letters to partner units) hold whole records of many members, so they are for
administrators: a district administrator (no units or groups of their own) for any unit
or all of them at once, a unit's administrator for their units and those below. A
liaison's attempt is refused and audited, as a look at the audit log is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.models import Staff, StaffRole, Unit
from storage.scope import scope_units, sees_everyone

__all__ = ["ReportScope", "refuse_unit", "report_scope"]


@dataclass(frozen=True, slots=True)
class ReportScope:
    """The units an administrator may report on (by name)."""

    everyone: bool  # a district administrator: any unit, and all of them at once
    units: list[Unit]

    def unit(self, unit_id: int) -> Unit | None:
        """The unit of that id if it is one of these, else None."""
        return next((unit for unit in self.units if unit.id == unit_id), None)


async def report_scope(
    session: AsyncSession, now: datetime, *, staff_id: int, actor: str, action: str
) -> ReportScope | None:
    """The units staff_id may report on; None (and "<action>.refused" audited) for anyone
    but an administrator."""
    role = await session.scalar(select(Staff.role).where(Staff.id == staff_id))
    if role is not StaffRole.ADMIN:
        await audit.record(
            session, now, actor=actor, action=f"{action}.refused", reason="not_admin"
        )
        return None
    everyone = await sees_everyone(session, staff_id)
    query = select(Unit).order_by(Unit.name, Unit.id)
    if not everyone:
        query = query.where(Unit.id.in_(scope_units(staff_id)))
    return ReportScope(everyone, list(await session.scalars(query)))


async def refuse_unit(
    session: AsyncSession, now: datetime, *, actor: str, action: str, unit: str
) -> None:
    """Audit an attempt at a unit outside the staff member's, or at none that exists (unit:
    what was asked for, as sent)."""
    await audit.record(
        session, now, actor=actor, action=f"{action}.refused", reason="unit", unit=unit[:40]
    )
