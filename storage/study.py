"""The mobile party school: study materials, push schedules, "studied" receipts."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import StudyMaterial


@dataclass(frozen=True, slots=True)
class MaterialView:
    """What a pushed material shows."""

    id: int
    title: str
    body: str
    link: str | None
    document_name: str | None


async def material_views(session: AsyncSession, ids: Collection[int]) -> dict[int, MaterialView]:
    """The materials with these ids (archived ones too: a push already queued still goes)."""
    rows = await session.scalars(select(StudyMaterial).where(StudyMaterial.id.in_(list(ids))))
    return {
        row.id: MaterialView(
            id=row.id,
            title=row.title,
            body=row.body,
            link=row.link,
            document_name=row.document_name,
        )
        for row in rows
    }
