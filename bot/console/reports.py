"""The reports area (administrators): the exports for other offices, beginning with the
police station's monthly reconciliation (issue 15: "the console offers the same exports").

/reports lists the reports this staff member may use (REPORTS: each report's area adds
its entry there). /reports/police makes the month's inflow roster for the station, the
workbook `liaison report police` writes, with whole phones and audited the same way
(police.report); and compares the station's list, uploaded as CSV or XLSX, with our
roster: the findings on a page with phones masked (police.reconcile, and each look at the
page police.reconcile.view), and as a workbook with whole phones (police.reconcile.export).
The workbooks and the findings as shown are messages/police_report.py's, the command
line's too.

The findings stay in this process's memory only, for KEEP, for the page and its workbook
of the console session that made them: the station's list is other people's personal
data, and nothing of it is stored. After a restart the page asks for the file again.

Who may: storage/reports.py (administrators; a unit's administrator for their units and
those below). A liaison is refused and the attempt audited, as in the audit area.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path, PurePath

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.console.core import SECURITY_HEADERS, Console, Form, download_headers
from bot.console.uploads import Upload
from messages.police_report import (
    findings,
    findings_workbook,
    made_at,
    roster_workbook,
    workbook_bytes,
)
from storage.console import Visitor
from storage.models import MAX_ID, StaffRole
from storage.police import (
    PoliceListError,
    Reconciliation,
    TheirRow,
    month_bounds,
    police_roster,
    read_police_list,
    reconcile,
    record_reconciliation,
)
from storage.reports import ReportScope, refuse_unit, report_scope
from storage.sheets import RowError

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Long enough to download the workbook after reading the page, short enough that the
# station's list does not linger.
KEEP = timedelta(hours=1)
KEPT_MOST = 20  # findings of this many uploads at most, the oldest dropped first
# Of an uploaded file's name, in characters: in UTF-8 within a file name's 255 bytes, and
# within an audit subject's 200 characters.
FILE_NAME_LONGEST = 60


@dataclass(frozen=True, slots=True)
class Report:
    """An entry of the reports index: the t() keys of its name and of what it is for
    ("area.key": console_<area>.toml), and the page it opens."""

    title: str
    about: str
    path: str
    # A liaison may open it too (for the groups they look after); the others are for
    # administrators only, and a liaison's index does not list them.
    liaisons: bool = False


# The index lists these in this order. A report of another area appends its entry here
# (its labels may be in its own console_<area>.toml).
REPORTS: list[Report] = [
    Report("reports.police_title", "reports.police_about", "/reports/police"),
    Report("letters.title", "letters.about", "/reports/letters"),
    Report("year_report.title", "year_report.about", "/reports/year", liaisons=True),
]


@dataclass(frozen=True, slots=True)
class Kept:
    """One reconciliation's findings, for its page and its workbook."""

    session_id: int  # the console session that uploaded the list
    until: datetime
    filename: str  # the station's file, as it was named
    month: str
    unit: str | None
    result: Reconciliation


class KeptFindings:
    """The last few reconciliations, in memory, each for its console session only."""

    def __init__(self) -> None:
        self._kept: dict[str, Kept] = {}

    def keep(self, now: datetime, kept: Kept) -> str:
        """Keep the findings; the token that finds them again."""
        self._kept = {token: k for token, k in self._kept.items() if k.until > now}
        while len(self._kept) >= KEPT_MOST:
            del self._kept[next(iter(self._kept))]
        token = secrets.token_urlsafe(16)
        self._kept[token] = kept
        return token

    def find(self, token: str, visitor: Visitor, now: datetime) -> Kept | None:
        kept = self._kept.get(token)
        if kept is None or kept.session_id != visitor.session_id or kept.until <= now:
            return None
        return kept


@dataclass(frozen=True, slots=True)
class Picked:
    """The month and unit of a form, as typed, and what is wrong with them."""

    month: str
    unit_field: str  # the unit's id as sent ("" for all units)
    unit_id: int | None
    problems: list[str]  # label keys of console_reports.toml
    foreign: bool  # a unit that is not theirs (or none at all): refused and audited


def pick(params: Mapping[str, str], scope: ReportScope, default_month: str, zone: tzinfo) -> Picked:
    """Read month (YYYY-MM) and unit (an id; empty for every unit, a district
    administrator's choice only) from a form or an address."""
    month = unicodedata.normalize("NFKC", params.get("month", "")).strip() or default_month
    problems: list[str] = []
    try:
        month_bounds(month, zone)
    except ValueError:
        problems.append("bad_month")
    unit_field = params.get("unit", "").strip()
    unit_id = None
    foreign = False
    if not unit_field:
        if not scope.everyone:
            problems.append("choose_unit")
    elif unit_field.isascii() and unit_field.isdigit() and len(unit_field) <= len(str(MAX_ID)):
        unit_id = int(unit_field)
        foreign = scope.unit(unit_id) is None
    else:
        foreign = True
    return Picked(month, unit_field, unit_id, problems, foreign)


def file_name(upload: Upload) -> str:
    """The uploaded file's name as shown, audited and read: without control characters,
    at most FILE_NAME_LONGEST characters (its extension kept), never "." or ".."."""
    name = "".join(c for c in upload.filename if c.isprintable() and c not in "/\\")
    suffix = PurePath(name).suffix[:10] if name not in ("", ".", "..") else ""
    if name in ("", ".", "..") or not name.strip("."):
        return "police" + suffix
    if len(name) > FILE_NAME_LONGEST:
        name = name[: FILE_NAME_LONGEST - len(suffix) - 1] + "…" + suffix
    return name


def read_upload(name: str, data: bytes) -> tuple[list[TheirRow], list[RowError]]:
    """The people of the station's uploaded list (named name, from file_name), read as the
    command line reads a file."""
    with tempfile.TemporaryDirectory(prefix="liaison-police-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        return read_police_list(path)


def routes(console: Console) -> list[Route]:
    services = console.services
    zone = services.settings.zone
    kept_findings = KeptFindings()

    def this_month(now: datetime) -> str:
        return now.astimezone(zone).strftime("%Y-%m")

    def refused(visitor: Visitor) -> Response:
        return console.message("reports.admin_only", visitor, status=403)

    def police_form(
        visitor: Visitor,
        scope: ReportScope,
        *,
        month: str,
        unit_field: str,
        status: int = 200,
        problems: tuple[str, ...] = (),
        file_problem: str | None = None,
        form: str = "",
    ) -> Response:
        if not unit_field and not scope.everyone and scope.units:
            unit_field = str(scope.units[0].id)
        return console.render(
            "reports/police",
            visitor,
            status=status,
            scope=scope,
            month=month,
            unit_field=unit_field,
            problems=problems,
            file_problem=file_problem,
            form=form,
        )

    async def index(request: Request, visitor: Visitor) -> Response:
        if visitor.role is not StaffRole.ADMIN:
            mine = [report for report in REPORTS if report.liaisons]
            return console.render("reports/index", visitor, reports=mine)
        async with services.db.session() as session:
            scope = await report_scope(
                session,
                services.clock.now(),
                staff_id=visitor.staff_id,
                actor=visitor.actor,
                action="console.reports.view",
            )
        if scope is None:
            return refused(visitor)
        return console.render("reports/index", visitor, reports=REPORTS)

    async def in_scope(
        session: AsyncSession,
        now: datetime,
        visitor: Visitor,
        action: str,
        fields: Mapping[str, str],
    ) -> tuple[ReportScope, Picked] | Response:
        """The units the visitor may report on and the month and unit the fields pick; or
        the refusal to answer with (not an administrator, a unit not theirs), audited."""
        scope = await report_scope(
            session, now, staff_id=visitor.staff_id, actor=visitor.actor, action=action
        )
        if scope is None:
            return refused(visitor)
        picked = pick(fields, scope, this_month(now), zone)
        if picked.foreign:
            await refuse_unit(
                session, now, actor=visitor.actor, action=action, unit=picked.unit_field
            )
            return console.message("reports.unit_not_found", visitor, status=404)
        return scope, picked

    async def police(request: Request, visitor: Visitor) -> Response:
        now = services.clock.now()
        async with services.db.session() as session:
            scope = await report_scope(
                session, now, staff_id=visitor.staff_id, actor=visitor.actor,
                action="console.reports.view",
            )  # fmt: skip
        if scope is None:
            return refused(visitor)
        return police_form(visitor, scope, month=this_month(now), unit_field="")

    async def roster(request: Request, visitor: Visitor) -> Response:
        """The month's roster as the station's workbook (whole phones; audited)."""
        now = services.clock.now()
        locale = console.locale(visitor)
        async with services.db.session() as session:
            found = await in_scope(session, now, visitor, "police.report", request.query_params)
            if isinstance(found, Response):
                return found
            scope, picked = found
            if picked.problems:
                return police_form(
                    visitor, scope, month=picked.month, unit_field=picked.unit_field,
                    status=400, problems=tuple(picked.problems), form="roster",
                )  # fmt: skip
            unit = scope.unit(picked.unit_id) if picked.unit_id is not None else None
            name = f"police-{picked.month}" + (f"-{unit.name}" if unit else "") + ".xlsx"
            made = await police_roster(
                session,
                now,
                picked.month,
                zone=zone,
                unit=unit,
                staff_id=visitor.staff_id,
                actor=visitor.actor,
                subject=name,
                audited=True,
            )
        data = await asyncio.to_thread(
            lambda: workbook_bytes(
                roster_workbook(services.renderer, made, locale, made=made_at(now, zone))
            )
        )
        return Response(
            data, media_type=XLSX, headers=download_headers(name, f"police-{picked.month}.xlsx")
        )

    async def compare(
        request: Request, visitor: Visitor, form: Form, files: dict[str, Upload]
    ) -> Response:
        """The station's list against our roster of the month: the findings' page."""
        now = services.clock.now()
        async with services.db.session() as session:
            found = await in_scope(session, now, visitor, "police.reconcile", form)
            if isinstance(found, Response):
                return found
            scope, picked = found
        upload = files.get("file")
        problems = [*picked.problems, *([] if upload is not None else ["no_file"])]
        if problems or upload is None:
            return police_form(
                visitor, scope, month=picked.month, unit_field=picked.unit_field,
                status=400, problems=tuple(problems), form="reconcile",
            )  # fmt: skip
        name = file_name(upload)
        try:
            # Reading a workbook of thousands of rows takes a second: not in the event loop.
            theirs, bad_rows = await asyncio.to_thread(read_upload, name, upload.data)
        except PoliceListError as error:
            # Nothing was compared, so nothing is audited; the form says what is wrong.
            return police_form(
                visitor, scope, month=picked.month, unit_field=picked.unit_field,
                status=400, file_problem=str(error), form="reconcile",
            )  # fmt: skip
        async with services.db.session() as session:
            unit = scope.unit(picked.unit_id) if picked.unit_id is not None else None
            ours = await police_roster(
                session,
                now,
                picked.month,
                zone=zone,
                unit=unit,
                staff_id=visitor.staff_id,
                actor=visitor.actor,
                audited=False,
            )
            result = reconcile(ours.rows, theirs, bad_rows)
            await record_reconciliation(session, now, result, actor=visitor.actor, subject=name)
        kept = Kept(visitor.session_id, now + KEEP, name, picked.month, ours.unit, result)
        token = kept_findings.keep(now, kept)
        return RedirectResponse(
            f"/reports/police/findings/{token}", status_code=303, headers=SECURITY_HEADERS
        )

    async def findings_page(request: Request, visitor: Visitor) -> Response:
        now = services.clock.now()
        kept = kept_findings.find(str(request.path_params["token"]), visitor, now)
        if kept is None:
            return console.message("reports.findings_gone", visitor, status=404)
        # The page names people (phones masked): each look is audited, as a member's page is.
        async with services.db.session() as session:
            await record_reconciliation(
                session, now, kept.result, actor=visitor.actor, subject=kept.filename,
                action="police.reconcile.view",
            )  # fmt: skip
        return console.render(
            "reports/findings",
            visitor,
            kept=kept,
            shown=findings(kept.result, services.renderer, console.locale(visitor)),
            token=request.path_params["token"],
        )

    async def findings_book(request: Request, visitor: Visitor) -> Response:
        """The findings as a workbook, whole phones (audited)."""
        now = services.clock.now()
        kept = kept_findings.find(str(request.path_params["token"]), visitor, now)
        if kept is None:
            return console.message("reports.findings_gone", visitor, status=404)
        async with services.db.session() as session:
            scope = await report_scope(
                session, now, staff_id=visitor.staff_id, actor=visitor.actor,
                action="police.reconcile.export",
            )  # fmt: skip
            if scope is None:
                return refused(visitor)
            await record_reconciliation(
                session, now, kept.result, actor=visitor.actor, subject=kept.filename,
                action="police.reconcile.export",
            )  # fmt: skip
        locale = console.locale(visitor)
        data = await asyncio.to_thread(
            lambda: workbook_bytes(findings_workbook(services.renderer, kept.result, locale))
        )
        name = f"police-findings-{kept.month}.xlsx"
        return Response(data, media_type=XLSX, headers=download_headers(name))

    return [
        Route("/reports", console.page(index), methods=["GET"]),
        Route("/reports/police", console.page(police), methods=["GET"]),
        Route("/reports/police/roster.xlsx", console.page(roster), methods=["GET"]),
        Route("/reports/police/reconcile", console.upload(compare), methods=["POST"]),
        Route("/reports/police/findings/{token}", console.page(findings_page), methods=["GET"]),
        Route(
            "/reports/police/findings/{token}/findings.xlsx",
            console.page(findings_book),
            methods=["GET"],
        ),
    ]
