"""The service catalogue: categories of need, departments and their service measures.

The catalogue ships as a data file (storage/data/service_catalogue.toml) and is edited by
administrators with `liaison service …`; /guide and /request read it from the database.
Every text has a Chinese and an English column; `localized` picks the reader's.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.models import ServiceCategory, ServiceDepartment, ServiceMeasure

# When a request has no measure (or its measure has none): the target time to answer.
DEFAULT_TARGET_DAYS = 7


def localized(row: object, field: str, locale: str) -> str | None:
    """row.<field>_en for English readers, row.<field>_zh otherwise (falling back to it)."""
    chinese: str | None = getattr(row, f"{field}_zh")
    if locale.startswith("en"):
        english: str | None = getattr(row, f"{field}_en")
        return english or chinese
    return chinese


async def categories(session: AsyncSession) -> Sequence[ServiceCategory]:
    """Every category of need, in menu order."""
    rows = await session.scalars(
        select(ServiceCategory).order_by(ServiceCategory.position, ServiceCategory.id)
    )
    return rows.all()


async def departments(session: AsyncSession) -> Sequence[ServiceDepartment]:
    """Every department, in guide order."""
    rows = await session.scalars(
        select(ServiceDepartment).order_by(ServiceDepartment.position, ServiceDepartment.id)
    )
    return rows.all()


async def measures(
    session: AsyncSession,
    *,
    category_id: int | None = None,
    department_id: int | None = None,
    include_inactive: bool = False,
) -> Sequence[ServiceMeasure]:
    """The measures of a category or a department (or all), with both loaded, in order."""
    query = select(ServiceMeasure).options(
        joinedload(ServiceMeasure.department), joinedload(ServiceMeasure.category)
    )
    if category_id is not None:
        query = query.where(ServiceMeasure.category_id == category_id)
    if department_id is not None:
        query = query.where(ServiceMeasure.department_id == department_id)
    if not include_inactive:
        query = query.where(ServiceMeasure.active.is_(True))
    rows = await session.scalars(query.order_by(ServiceMeasure.position, ServiceMeasure.id))
    return rows.all()


async def measure(session: AsyncSession, measure_id: int) -> ServiceMeasure | None:
    """One measure with its department and category, or None."""
    return await session.scalar(
        select(ServiceMeasure)
        .options(joinedload(ServiceMeasure.department), joinedload(ServiceMeasure.category))
        .where(ServiceMeasure.id == measure_id)
    )
