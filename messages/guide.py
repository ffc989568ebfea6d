"""The service guide as a reader sees it: catalogue rows in the reader's language.

The catalogue keeps every text in Chinese and English; these views pick one, and fill in
what a measure leaves to its department (where to go, the phone), so the templates only
lay the values out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage.catalogue import localized
from storage.models import ServiceCategory, ServiceDepartment, ServiceMeasure


@dataclass(frozen=True, slots=True)
class DepartmentView:
    id: int
    name: str
    address: str | None
    hours: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class MeasureView:
    id: int
    title: str
    summary: str | None
    handler: str | None
    documents: Sequence[str]
    where: str | None
    hours: str | None
    contact: str | None
    target_days: int
    department: str
    category: str


def _text(row: object, field: str, locale: str) -> str:
    return localized(row, field, locale) or ""


def category_name(row: ServiceCategory, locale: str) -> str:
    """A category of need in the reader's language."""
    return _text(row, "name", locale)


def department_view(row: ServiceDepartment, locale: str) -> DepartmentView:
    """A department in the reader's language."""
    return DepartmentView(
        id=row.id,
        name=_text(row, "name", locale),
        address=localized(row, "address", locale),
        hours=localized(row, "hours", locale),
        phone=row.phone,
    )


def measure_view(row: ServiceMeasure, locale: str) -> MeasureView:
    """A measure in the reader's language (department and category loaded with it)."""
    department = row.department
    documents = localized(row, "documents", locale)
    return MeasureView(
        id=row.id,
        title=_text(row, "title", locale),
        summary=localized(row, "summary", locale),
        handler=localized(row, "handler", locale),
        documents=documents.split("\n") if documents else (),
        # Where to go and whom to call: the measure's own, else its department's.
        where=localized(row, "where", locale) or localized(department, "address", locale),
        hours=localized(department, "hours", locale),
        contact=row.contact or department.phone,
        target_days=row.target_days,
        department=_text(department, "name", locale),
        category=category_name(row.category, locale),
    )
