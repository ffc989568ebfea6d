"""The audit log (administrators only): who did what to whom, newest first, filtered, and
exported as CSV.

Filters travel in the address (GET), so a filtered page can be bookmarked or sent to a
colleague: who (an actor such as staff:3, or a staff member's name), action (a prefix:
"console.", "member."), subject (exact: member:12), and a range of local dates. Pages go
back in time by id (?before=…), never by offset. Reading the log, and trying to, is
itself audited (storage/audit.py view_log, export_log).
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.console.core import Console, download_headers
from storage.audit import (
    AuditFilter,
    AuditLine,
    export_log,
    staff_actors,
    view_log,
)
from storage.console import Visitor
from storage.models import MAX_ID, StaffRole
from storage.sheets import spreadsheet_safe

PAGE_SIZE = 50
FIELDS = ("who", "action", "subject", "from", "to")
# The audit_events columns' lengths: a longer filter can match nothing.
LONGEST = {"who": 100, "action": 50, "subject": 200}
EXPORT_COLUMNS = ("id", "time", "actor", "actor_name", "action", "subject", "detail")


@dataclass(frozen=True, slots=True)
class Typed:
    """The filter as typed (shown again as it was), what it means, and what is wrong."""

    fields: dict[str, str]
    wanted: AuditFilter
    errors: list[tuple[str, str]]  # (field, problem)

    @property
    def query(self) -> str:
        """The filter for links (the next page, the export): only what was typed."""
        return urlencode({k: v for k, v in self.fields.items() if v})


def _day(text: str) -> date:
    return date.fromisoformat(unicodedata.normalize("NFKC", text).strip())


def read_filter(params: Mapping[str, str], zone: tzinfo) -> Typed:
    """The filter of the address; dates are the district's local days, both included."""
    fields = {name: " ".join(params.get(name, "").split()) for name in FIELDS}
    errors: list[tuple[str, str]] = []
    for name, longest in LONGEST.items():
        if len(fields[name]) > longest:
            errors.append((name, "too_long"))
    days: dict[str, date | None] = {"from": None, "to": None}
    for name in days:
        if fields[name]:
            try:
                days[name] = _day(fields[name])
            except ValueError:
                errors.append((name, "bad_date"))
    first, last = days["from"], days["to"]
    if first is not None and last is not None and last < first:
        errors.append(("to", "to_before_from"))
    wanted = AuditFilter(
        who=fields["who"] or None,
        action=fields["action"] or None,
        subject=fields["subject"] or None,
        since=datetime.combine(first, time(0), tzinfo=zone) if first else None,
        until=datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone) if last else None,
    )
    return Typed(fields, wanted, errors)


def _before(params: Mapping[str, str]) -> int | None:
    """?before= of a "older" link; anything else is the newest page."""
    raw = params.get("before", "")
    if raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_ID)):
        return min(int(raw), MAX_ID)
    return None


def detail_text(detail: Mapping[str, object]) -> str:
    """An event's detail as one line: key=value, leaving out what is empty (the CSV keeps
    all of it)."""
    parts = []
    for key, value in detail.items():
        if value is None or value == [] or value == {}:
            continue
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={shown}")
    return " · ".join(parts)


def export_csv(lines: list[AuditLine], zone: tzinfo) -> bytes:
    """The events as CSV for a spreadsheet (UTF-8 with a BOM, as the other exports): no
    cell starts a formula, whatever someone typed into a detail."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for line in lines:
        writer.writerow(
            [
                line.id,
                line.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                spreadsheet_safe(line.actor),
                spreadsheet_safe(line.actor_name),
                spreadsheet_safe(line.action),
                spreadsheet_safe(line.subject or ""),
                spreadsheet_safe(
                    json.dumps(line.detail, ensure_ascii=False, sort_keys=True)
                    if line.detail
                    else ""
                ),
            ]
        )
    return out.getvalue().encode("utf-8-sig")


def routes(console: Console) -> list[Route]:
    services = console.services
    zone = services.settings.zone

    async def log(request: Request, visitor: Visitor) -> Response:
        typed = read_filter(request.query_params, zone)
        before = _before(request.query_params)
        now = services.clock.now()
        async with services.db.session() as session:
            staff = await staff_actors(session)
            if typed.errors and visitor.role is StaffRole.ADMIN:
                # Nothing is read, so nothing is shown or audited: the filter says why.
                return console.render(
                    "audit/log", visitor, status=400, typed=typed, page=None, staff=staff,
                    details={}, before=before, invalid={field for field, _ in typed.errors},
                )  # fmt: skip
            # A liaison's look is refused (and audited) by view_log, whatever they typed.
            page = await view_log(
                session,
                now,
                staff_id=visitor.staff_id,
                actor=visitor.actor,
                wanted=typed.wanted if not typed.errors else AuditFilter(),
                before=before,
                limit=PAGE_SIZE,
            )
        if page is None:
            return console.message("audit.admin_only", visitor, status=403)
        return console.render(
            "audit/log",
            visitor,
            typed=typed,
            page=page,
            staff=staff,
            details={line.id: detail_text(line.detail) for line in page.lines},
            before=before,
            invalid=set(),
        )

    async def export(request: Request, visitor: Visitor) -> Response:
        typed = read_filter(request.query_params, zone)
        if typed.errors and visitor.role is StaffRole.ADMIN:
            return await log(request, visitor)
        now = services.clock.now()
        async with services.db.session() as session:
            lines = await export_log(
                session,
                now,
                staff_id=visitor.staff_id,
                actor=visitor.actor,
                wanted=typed.wanted if not typed.errors else AuditFilter(),
            )
        if lines is None:
            return console.message("audit.admin_only", visitor, status=403)
        name = f"audit-{now.astimezone(zone):%Y%m%d-%H%M}.csv"
        return Response(
            export_csv(lines, zone),
            media_type="text/csv; charset=utf-8",
            headers=download_headers(name),
        )

    return [
        Route("/audit", console.page(log), methods=["GET"]),
        Route("/audit/export.csv", console.page(export), methods=["GET"]),
    ]
