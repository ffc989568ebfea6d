"""Yearly ratings and commendations (五星级党员评选, 先进个人): a score per member from rules
staff can read, staff adjustments with a reason, a ranked list per unit, and the
commendation list an administrator chooses, with a notice to those commended.

The score of a year is the sum over the criteria of (times met × points each), each capped
at its rule's yearly cap, plus the year's adjustments. The year is the calendar year in the
district's zone, except for check-ins, which belong to the month of the member's own zone
(a member abroad checks in for their own month, as /overdue counts it):

- on_time_checkin: a month of the year with a check-in made before that month's deadline,
  the moment liaisons are told who is still silent (the escalation day of the member's
  cycle — their group's own or the default — at its prompt time, in the member's zone; a
  cycle switched off prompts nobody, so any check-in of the month counts). A month without
  one earns nothing and costs nothing, so a month a member was exempt (not yet registered,
  abroad without a way to answer) does not count against them;
- study_completed: a study material marked studied in the year;
- attendance: an activity of the year attended, other than volunteer service;
- service_given: a volunteer-service activity of the year attended;
- idea_adopted: an idea adopted in the year.

Every count is one GROUP BY over the members in view, never a loop over members. Rules are
changed by administrators only; adjustments by staff for members in their scope; the
commendation list by administrators, of members in their scope, each member once a year.
Everything staff do or export here is audited. staff_id None is the command line: no scope,
an administrator's rights.
"""

from __future__ import annotations

import enum
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from typing import Any, Final

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import ColumnElement, Select, and_, case, func, literal, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage import audit, payloads
from storage.calendar import CycleRule, add_months, at_local, year_bounds
from storage.checkins import member_zone
from storage.cycles import follows, group_cycles, in_zone, shared_cycles, zones_in_use
from storage.models import (
    MAX_ID,
    Activity,
    ActivityInvitation,
    ActivityKind,
    CheckIn,
    Commendation,
    Idea,
    IdeaStatus,
    Member,
    RatingAdjustment,
    RatingRule,
    Staff,
    StaffRole,
    StudyReceipt,
    Unit,
    UTCDateTime,
)
from storage.notices import clean_body
from storage.outbox import enqueue_to_members
from storage.phones import InvalidPhone, mask_phone, normalize_phone
from storage.scope import member_in_scope, scope_condition, sees_everyone, units_below
from storage.sheets import spreadsheet_safe

CRITERIA: Final = (
    "on_time_checkin",
    "study_completed",
    "attendance",
    "service_given",
    "idea_adopted",
)
# criterion: (points each, yearly cap in points or None). Migration 0020 seeds the same; a
# criterion without its row (a database emptied by hand) reads as its default.
DEFAULT_RULES: Final[dict[str, tuple[int, int | None]]] = {
    "on_time_checkin": (2, None),
    "study_completed": (1, 20),
    "attendance": (3, None),
    "service_given": (4, None),
    "idea_adopted": (5, None),
}
MAX_POINTS = 100
MAX_CAP = 10_000
# One adjustment moves a score this far at most: more is a typo.
MAX_ADJUSTMENT = 100
MAX_REASON_LENGTH = 500
MAX_CITATION_LENGTH = 500
FIRST_YEAR, LAST_YEAR = 2000, 2100


class RatingError(ValueError):
    """A rule change, adjustment or commendation that cannot be made; the message says why
    (English). reason is a short stable word for the front ends: unknown_criterion, points,
    cap, year, not_admin, not_found, no_reason, too_long, already_commended,
    not_commended, unknown_unit."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


class Refusal(enum.StrEnum):
    """Why staff were refused a change, audited as "<action>.refused" and returned (not
    raised, so that the caller's session commits the audit row): not an administrator, or
    a member who is not there or not theirs to see (the same answer to them)."""

    NOT_ADMIN = "not_admin"
    NOT_FOUND = "not_found"


# --- the rules ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    criterion: str
    points: int
    cap: int | None
    updated_by: str | None = None
    updated_at: datetime | None = None

    def earned(self, times: int) -> int:
        """The points for meeting the criterion times in a year, capped."""
        points = times * self.points
        return points if self.cap is None else min(points, self.cap)


async def rules(session: AsyncSession) -> list[Rule]:
    """Every criterion's rule, in the order of CRITERIA."""
    rows = {row.criterion: row for row in await session.scalars(select(RatingRule))}
    found = []
    for criterion in CRITERIA:
        row = rows.get(criterion)
        if row is None:
            points, cap = DEFAULT_RULES[criterion]
            found.append(Rule(criterion, points, cap))
        else:
            found.append(
                Rule(criterion, row.points, row.yearly_cap, row.updated_by, row.updated_at)
            )
    return found


async def _is_admin(session: AsyncSession, staff_id: int | None) -> bool:
    if staff_id is None:
        return True
    role = await session.scalar(select(Staff.role).where(Staff.id == staff_id))
    return role is StaffRole.ADMIN


async def _refused_unless_admin(
    session: AsyncSession, now: datetime, *, staff_id: int | None, actor: str, action: str
) -> bool:
    """True (and the attempt audited) unless staff_id is an administrator."""
    if await _is_admin(session, staff_id):
        return False
    await audit.record(session, now, actor=actor, action=f"{action}.refused", reason="not_admin")
    return True


def check_year(year: int) -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise RatingError(f"the year must be from {FIRST_YEAR} to {LAST_YEAR}", "year")
    return year


async def change_rule(
    session: AsyncSession,
    now: datetime,
    *,
    criterion: str,
    points: int,
    cap: int | None,
    change_cap: bool = True,
    actor: str,
    staff_id: int | None,
) -> Rule | Refusal:
    """Set a criterion's points (and its yearly cap, None for none, unless change_cap is
    False); administrators only. Audited with the rule before and after; a refusal too."""
    if await _refused_unless_admin(
        session, now, staff_id=staff_id, actor=actor, action="rating.rule.change"
    ):
        return Refusal.NOT_ADMIN
    if criterion not in CRITERIA:
        raise RatingError(
            f"unknown criterion {criterion!r} (one of {', '.join(CRITERIA)})", "unknown_criterion"
        )
    if not 0 <= points <= MAX_POINTS:
        raise RatingError(f"points must be from 0 to {MAX_POINTS}", "points")
    before = next(rule for rule in await rules(session) if rule.criterion == criterion)
    if not change_cap:
        cap = before.cap
    if cap is not None and not 0 <= cap <= MAX_CAP:
        raise RatingError(f"the yearly cap must be from 0 to {MAX_CAP} points", "cap")
    row = await session.get(RatingRule, criterion)
    if row is None:
        row = RatingRule(criterion=criterion)
        session.add(row)
    row.points = points
    row.yearly_cap = cap
    row.updated_by = actor
    row.updated_at = now
    await audit.record(
        session,
        now,
        actor=actor,
        action="rating.rule.change",
        subject=f"rating_rule:{criterion}",
        old={"points": before.points, "cap": before.cap},
        new={"points": points, "cap": cap},
    )
    await session.flush()
    return Rule(criterion, points, cap, actor, now)


# --- scores ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Score:
    """A member's year: how often each criterion was met, the points it earned (capped),
    the adjustments' sum, the total, and the rank in the list it came from."""

    member_id: int
    name: str
    phone: str | None
    home_unit: str | None
    times: dict[str, int]
    points: dict[str, int]
    adjustments: int
    total: int
    rank: int = 0

    @property
    def phone_masked(self) -> str | None:
        return mask_phone(self.phone) if self.phone else None


async def _on_time(
    session: AsyncSession, year: int, zone: tzinfo, cycle: CycleRule, only: int | None
) -> Select[Any, Any]:
    """Per member, the months of year with a check-in before the month's deadline.

    The deadline is the member's cycle's escalation (its day, at its prompt time) in the
    member's zone: a CASE over the zones in use, the cycles (the default and groups' own)
    and the twelve months — a few dozen branches — so the count stays one GROUP BY. A
    cycle that is switched off prompts nobody: any check-in of the month counts."""
    shares = shared_cycles(await group_cycles(session, cycle))
    whens: list[tuple[ColumnElement[bool], ColumnElement[datetime]]] = []
    for names in (await zones_in_use(session, zone)).values():
        own = member_zone(names[0], zone)
        for share in shares:
            rule = share.rule
            # One cycle for everyone: no need to ask whose it is.
            whose = follows(share.group_ids) if len(shares) > 1 else true()
            for month in range(1, 13):
                if rule.enabled:
                    day = date(year, month, rule.escalation_day)
                    deadline = at_local(day, rule.prompt_time, own)
                else:
                    deadline = at_local(add_months(date(year, month, 1), 1), time(0, 0), own)
                whens.append(
                    (
                        and_(in_zone(names), whose, CheckIn.period == f"{year}-{month:02d}"),
                        literal(deadline, UTCDateTime()),
                    )
                )
    deadline_of = case(*whens, else_=None) if whens else literal(None, UTCDateTime())
    return (
        select(CheckIn.member_id, func.count(func.distinct(CheckIn.period)))
        .join(Member, Member.id == CheckIn.member_id)
        .where(CheckIn.period.like(f"{year}-%"), CheckIn.checked_in_at < deadline_of)
        .where(true() if only is None else CheckIn.member_id == only)
        .group_by(CheckIn.member_id)
    )


async def _times(
    session: AsyncSession, year: int, zone: tzinfo, cycle: CycleRule, only: int | None
) -> dict[str, Select[Any, Any]]:
    """Per criterion, a count per member (of one member only, for only: the indexes on
    member_id answer it, not a count over everyone)."""
    start, end = year_bounds(year, zone)

    def of(column: InstrumentedAttribute[Any]) -> ColumnElement[bool]:
        return true() if only is None else column == only

    def attended(service: bool) -> Select[Any, Any]:
        kind = Activity.kind == ActivityKind.SERVICE
        return (
            select(ActivityInvitation.member_id, func.count())
            .join(Activity, Activity.id == ActivityInvitation.activity_id)
            .where(
                ActivityInvitation.attended_at.is_not(None),
                Activity.starts_at >= start,
                Activity.starts_at < end,
                kind if service else ~kind,
                of(ActivityInvitation.member_id),
            )
            .group_by(ActivityInvitation.member_id)
        )

    study: Select[Any, Any] = (
        select(StudyReceipt.member_id, func.count())
        .where(StudyReceipt.studied_at >= start, StudyReceipt.studied_at < end)
        .where(of(StudyReceipt.member_id))
        .group_by(StudyReceipt.member_id)
    )
    ideas: Select[Any, Any] = (
        select(Idea.member_id, func.count())
        .where(Idea.status == IdeaStatus.ADOPTED, Idea.adopted_at >= start, Idea.adopted_at < end)
        .where(of(Idea.member_id))
        .group_by(Idea.member_id)
    )
    return {
        "on_time_checkin": await _on_time(session, year, zone, cycle, only),
        "study_completed": study,
        "attendance": attended(service=False),
        "service_given": attended(service=True),
        "idea_adopted": ideas,
    }


def _ranked(scores: list[Score]) -> list[Score]:
    """Highest total first; equal totals share a rank (1, 2, 2, 4), then by name."""
    ordered = sorted(scores, key=lambda s: (-s.total, s.name, s.member_id))
    ranked: list[Score] = []
    for index, score in enumerate(ordered):
        tied = ranked and ranked[-1].total == score.total
        rank = ranked[-1].rank if tied else index + 1
        ranked.append(
            Score(
                score.member_id,
                score.name,
                score.phone,
                score.home_unit,
                score.times,
                score.points,
                score.adjustments,
                score.total,
                rank,
            )
        )
    return ranked


async def _scores(
    session: AsyncSession,
    *,
    year: int,
    zone: tzinfo,
    cycle: CycleRule,
    condition: ColumnElement[bool],
    only: int | None = None,
) -> list[Score]:
    """The year's scores of the members matching condition (and only that member, if
    given), ranked."""
    counts = {
        criterion: query.subquery(criterion)
        for criterion, query in (await _times(session, year, zone, cycle, only)).items()
    }
    adjusted = (
        select(RatingAdjustment.member_id, func.sum(RatingAdjustment.points).label("points"))
        .where(RatingAdjustment.year == year)
        .group_by(RatingAdjustment.member_id)
        .subquery("adjusted")
    )
    query = (
        select(
            Member.id,
            Member.name,
            Member.phone,
            Unit.name,
            func.coalesce(adjusted.c.points, 0),
            *(func.coalesce(sub.c[1], 0) for sub in counts.values()),
        )
        .outerjoin(Unit, Unit.id == Member.home_unit_id)
        .outerjoin(adjusted, adjusted.c.member_id == Member.id)
        .where(condition)
    )
    for sub in counts.values():
        query = query.outerjoin(sub, sub.c[0] == Member.id)
    by_criterion = {rule.criterion: rule for rule in await rules(session)}
    scores = []
    for member_id, name, phone, unit, adjustment, *times in await session.execute(query):
        counted = dict(zip(counts, (int(n) for n in times), strict=True))
        points = {c: by_criterion[c].earned(n) for c, n in counted.items()}
        scores.append(
            Score(
                member_id=member_id,
                name=name,
                phone=phone,
                home_unit=unit,
                times=counted,
                points=points,
                adjustments=int(adjustment),
                total=sum(points.values()) + int(adjustment),
            )
        )
    return _ranked(scores)


@dataclass(frozen=True, slots=True)
class Ranking:
    """A year's ranked list over a scope (one unit and those below it, or all in view)."""

    year: int
    unit: str | None
    scores: list[Score]
    # Members in the list before --top cut it.
    total: int
    rules: list[Rule] = field(default_factory=list)


async def _unit_id(session: AsyncSession, unit: str) -> int:
    found = await session.scalar(select(Unit.id).where(Unit.name == " ".join(unit.split())))
    if found is None:
        raise RatingError(f"no unit named {unit!r}", "unknown_unit")
    return found


def _in_view(staff_id: int | None) -> ColumnElement[bool]:
    return true() if staff_id is None else scope_condition(staff_id)


async def ranking(
    session: AsyncSession,
    now: datetime,
    *,
    year: int,
    zone: tzinfo,
    cycle: CycleRule,
    staff_id: int | None,
    actor: str,
    unit: str | None = None,
    top: int | None = None,
    limit: int | None = None,
    export: bool = False,
) -> Ranking:
    """The year's ranked list of the members staff_id may see whose home unit is unit or
    below it (all of them for None); top keeps the first top ranks (ties at the cut
    included), limit at most that many rows (a page). Audited as a view or, for export,
    an export, with the members it showed (so that /mydata tells each who listed them)."""
    check_year(year)
    condition = _in_view(staff_id)
    if unit is not None:
        condition = and_(
            condition, Member.home_unit_id.in_(units_below(await _unit_id(session, unit)))
        )
    scores = await _scores(session, year=year, zone=zone, cycle=cycle, condition=condition)
    shown = [s for s in scores if top is None or s.rank <= top][:limit]
    await audit.record(
        session,
        now,
        actor=actor,
        action="rating.rank.export" if export else "rating.rank.view",
        year=year,
        unit=unit,
        top=top,
        rows=len(shown),
        members=[s.member_id for s in shown],
    )
    return Ranking(year, unit, shown, len(scores), await rules(session))


async def my_score(
    session: AsyncSession, *, member_id: int, year: int, zone: tzinfo, cycle: CycleRule
) -> Score | None:
    """A member's own score of year and its breakdown (their rank is not shown: 0)."""
    found = await _scores(
        session,
        year=year,
        zone=zone,
        cycle=cycle,
        condition=Member.id == member_id,
        only=member_id,
    )
    if not found:
        return None
    only = found[0]
    return Score(
        only.member_id,
        only.name,
        only.phone,
        only.home_unit,
        only.times,
        only.points,
        only.adjustments,
        only.total,
        0,
    )


# --- members by what staff type -------------------------------------------------------------


async def find_member(session: AsyncSession, text: str) -> int:
    """The member a phone number or a member id names; RatingError not_found if nobody.
    Whether the staff asking may see them is the operation's to decide (and audit)."""
    typed = "".join(text.split())
    member_id: int | None = None
    if typed.isdigit() and len(typed) <= 9 and 1 <= int(typed) <= MAX_ID:
        member_id = await session.scalar(select(Member.id).where(Member.id == int(typed)))
    if member_id is None:
        try:
            phone = normalize_phone(typed)
        except InvalidPhone:
            phone = None
        if phone is not None:
            member_id = await session.scalar(select(Member.id).where(Member.phone == phone))
    if member_id is None:
        raise RatingError(f"no member {text!r}", "not_found")
    return member_id


# --- adjustments ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdjustmentView:
    id: int
    member_id: int
    year: int
    points: int
    reason: str
    made_by: str
    made_at: datetime


def check_reason(text: str) -> str:
    reason = clean_body(text)
    if not reason:
        raise RatingError("an adjustment needs a reason", "no_reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise RatingError(
            f"the reason has {len(reason)} characters; at most {MAX_REASON_LENGTH}", "too_long"
        )
    return reason


async def adjust(
    session: AsyncSession,
    now: datetime,
    *,
    member_id: int,
    year: int,
    points: int,
    reason: str,
    actor: str,
    staff_id: int | None,
) -> AdjustmentView | Refusal:
    """Add points (negative: take them) to a member's year, with the reason; staff for
    members in their scope. Audited, a refusal too."""
    check_year(year)
    if points == 0 or abs(points) > MAX_ADJUSTMENT:
        raise RatingError(
            f"an adjustment is from -{MAX_ADJUSTMENT} to {MAX_ADJUSTMENT} points, not 0", "points"
        )
    text = check_reason(reason)
    if not await member_in_scope(
        session,
        now,
        staff_id=staff_id,
        member_id=member_id,
        actor=actor,
        action="rating.adjust",
    ):
        return Refusal.NOT_FOUND
    row = RatingAdjustment(
        member_id=member_id, year=year, points=points, reason=text, made_by=actor, made_at=now
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        now,
        actor=actor,
        action="rating.adjust",
        subject=f"member:{member_id}",
        year=year,
        points=points,
        reason=text,
    )
    return AdjustmentView(row.id, member_id, year, points, text, actor, now)


async def adjustments(session: AsyncSession, *, member_id: int, year: int) -> list[AdjustmentView]:
    """A member's adjustments of year, oldest first."""
    rows = await session.scalars(
        select(RatingAdjustment)
        .where(RatingAdjustment.member_id == member_id, RatingAdjustment.year == year)
        .order_by(RatingAdjustment.made_at, RatingAdjustment.id)
    )
    return [
        AdjustmentView(r.id, r.member_id, r.year, r.points, r.reason, r.made_by, r.made_at)
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class AdjustmentLine:
    """An adjustment in a list of the year's: the member's name beside it."""

    adjustment: AdjustmentView
    name: str


async def year_adjustments(
    session: AsyncSession, *, year: int, staff_id: int | None, limit: int = 100
) -> list[AdjustmentLine]:
    """The year's adjustments of the members staff_id may see, newest first."""
    check_year(year)
    rows = await session.execute(
        select(RatingAdjustment, Member.name)
        .join(Member, Member.id == RatingAdjustment.member_id)
        .where(RatingAdjustment.year == year, _in_view(staff_id))
        .order_by(RatingAdjustment.made_at.desc(), RatingAdjustment.id.desc())
        .limit(limit)
    )
    return [
        AdjustmentLine(
            AdjustmentView(r.id, r.member_id, r.year, r.points, r.reason, r.made_by, r.made_at),
            name,
        )
        for r, name in rows
    ]


# --- the workbook ---------------------------------------------------------------------------


def export_columns() -> list[str]:
    """The workbook's header: rank, who, each criterion's times and points, the total."""
    columns = ["rank", "name", "phone", "home unit"]
    for criterion in CRITERIA:
        columns += [f"{criterion} (times)", f"{criterion} (points)"]
    return [*columns, "adjustments", "total"]


def export_row(score: Score) -> list[object]:
    """A member's row of the workbook; what people typed (names) made inert."""
    row: list[object] = [
        score.rank,
        spreadsheet_safe(score.name),
        score.phone or "",
        spreadsheet_safe(score.home_unit or ""),
    ]
    for criterion in CRITERIA:
        row += [score.times[criterion], score.points[criterion]]
    return [*row, score.adjustments, score.total]


def workbook(found: Ranking) -> bytes:
    """The ranked list as an .xlsx file (one sheet named after the year, a bold frozen
    header). Written row by row (openpyxl's write-only mode): a district of 10,000 takes
    about a second, not five. Text cells cannot start a formula: names and units went
    through spreadsheet_safe, phones start with "+"."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(str(found.year))
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for title in export_columns():
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for score in found.scores:
        sheet.append(export_row(score))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- commendations --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommendationView:
    id: int
    year: int
    member_id: int
    name: str
    phone: str | None
    chosen_by: str
    chosen_at: datetime
    citation: str | None
    notified_at: datetime | None

    @property
    def phone_masked(self) -> str | None:
        return mask_phone(self.phone) if self.phone else None


def check_citation(text: str | None) -> str | None:
    citation = clean_body(text or "")
    if len(citation) > MAX_CITATION_LENGTH:
        raise RatingError(
            f"the citation has {len(citation)} characters; at most {MAX_CITATION_LENGTH}",
            "too_long",
        )
    return citation or None


async def commend(
    session: AsyncSession,
    now: datetime,
    *,
    year: int,
    member_ids: Sequence[int],
    citation: str | None,
    actor: str,
    staff_id: int | None,
) -> list[int] | Refusal:
    """Put members on year's commendation list: an administrator, members in their scope,
    each member once a year. All or nothing; each one audited."""
    check_year(year)
    if await _refused_unless_admin(
        session, now, staff_id=staff_id, actor=actor, action="rating.commend"
    ):
        return Refusal.NOT_ADMIN
    text = check_citation(citation)
    wanted = list(dict.fromkeys(member_ids))
    if not wanted:
        raise RatingError("no member to commend", "not_found")
    for member_id in wanted:
        if not await member_in_scope(
            session,
            now,
            staff_id=staff_id,
            member_id=member_id,
            actor=actor,
            action="rating.commend",
        ):
            return Refusal.NOT_FOUND
    already = list(
        await session.scalars(
            select(Commendation.member_id).where(
                Commendation.year == year, Commendation.member_id.in_(wanted)
            )
        )
    )
    if already:
        raise RatingError(
            f"already on the {year} list: member {', '.join(map(str, sorted(already)))}",
            "already_commended",
        )
    ids = []
    for member_id in wanted:
        row = Commendation(
            year=year, member_id=member_id, chosen_by=actor, chosen_at=now, citation=text
        )
        session.add(row)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError:
            # Another administrator chose the same member meanwhile.
            raise RatingError(
                f"already on the {year} list: member {member_id}", "already_commended"
            ) from None
        ids.append(row.id)
        await audit.record(
            session,
            now,
            actor=actor,
            action="rating.commend",
            subject=f"member:{member_id}",
            year=year,
            citation=text,
        )
    return ids


async def uncommend(
    session: AsyncSession,
    now: datetime,
    *,
    year: int,
    member_id: int,
    actor: str,
    staff_id: int | None,
) -> Refusal | None:
    """Take a member off year's list (an administrator; audited). One already notified
    was told: the audit keeps that it was withdrawn after."""
    check_year(year)
    if await _refused_unless_admin(
        session, now, staff_id=staff_id, actor=actor, action="rating.uncommend"
    ):
        return Refusal.NOT_ADMIN
    if not await member_in_scope(
        session,
        now,
        staff_id=staff_id,
        member_id=member_id,
        actor=actor,
        action="rating.uncommend",
    ):
        return Refusal.NOT_FOUND
    row = await session.scalar(
        select(Commendation).where(Commendation.year == year, Commendation.member_id == member_id)
    )
    if row is None:
        raise RatingError(f"member {member_id} is not on the {year} list", "not_commended")
    await session.delete(row)
    await audit.record(
        session,
        now,
        actor=actor,
        action="rating.uncommend",
        subject=f"member:{member_id}",
        year=year,
        notified=row.notified_at is not None,
    )
    await session.flush()
    return None


async def commendations(
    session: AsyncSession, *, year: int, staff_id: int | None
) -> list[CommendationView]:
    """Year's commendation list, of the members staff_id may see, by name."""
    check_year(year)
    rows = await session.execute(
        select(Commendation, Member.name, Member.phone)
        .join(Member, Member.id == Commendation.member_id)
        .where(Commendation.year == year, _in_view(staff_id))
        .order_by(Member.name, Member.id)
    )
    return [
        CommendationView(
            c.id,
            c.year,
            c.member_id,
            name,
            phone,
            c.chosen_by,
            c.chosen_at,
            c.citation,
            c.notified_at,
        )
        for c, name, phone in rows
    ]


async def told_commended(session: AsyncSession, *, member_id: int, year: int) -> bool:
    """Whether the member is on year's list and was told so (not before the notice)."""
    found = await session.scalar(
        select(Commendation.id).where(
            Commendation.member_id == member_id,
            Commendation.year == year,
            Commendation.notified_at.is_not(None),
        )
    )
    return found is not None


async def notify_commended(
    session: AsyncSession, now: datetime, *, year: int, actor: str, staff_id: int | None
) -> int | Refusal:
    """The commendation notice to each member of year's list not yet told (in their
    language, on their channel, through the outbox); an administrator. Twice is once: the
    told are marked, and the outbox's dedupe key holds should two run at once. Returns how
    many were told now; audited."""
    check_year(year)
    if await _refused_unless_admin(
        session, now, staff_id=staff_id, actor=actor, action="rating.notify"
    ):
        return Refusal.NOT_ADMIN
    pending = list(
        await session.scalars(
            select(Commendation)
            .join(Member, Member.id == Commendation.member_id)
            .where(
                Commendation.year == year,
                Commendation.notified_at.is_(None),
                _in_view(staff_id),
            )
            .order_by(Commendation.id)
        )
    )
    for row in pending:
        await enqueue_to_members(
            session,
            now,
            payload=payloads.Commended(year=year, citation=row.citation),
            topic=f"commend:{year}",
            condition=Member.id == row.member_id,
            not_before=now,
        )
        row.notified_at = now
    await audit.record(
        session, now, actor=actor, action="rating.notify", year=year, members=len(pending)
    )
    await session.flush()
    return len(pending)


__all__ = [
    "CRITERIA",
    "DEFAULT_RULES",
    "AdjustmentLine",
    "AdjustmentView",
    "CommendationView",
    "Ranking",
    "RatingError",
    "Refusal",
    "Rule",
    "Score",
    "adjust",
    "adjustments",
    "change_rule",
    "check_reason",
    "commend",
    "commendations",
    "export_columns",
    "export_row",
    "find_member",
    "my_score",
    "notify_commended",
    "ranking",
    "rules",
    "told_commended",
    "uncommend",
    "workbook",
    "year_adjustments",
]


async def unit_choices(session: AsyncSession, staff_id: int) -> list[str]:
    """The units offered to narrow the list: every unit to whoever sees everyone; to the
    others only the home units of the members they look after (no other unit's name)."""
    query = select(Unit.name).order_by(Unit.name)
    if not await sees_everyone(session, staff_id):
        homes = select(Member.home_unit_id).where(scope_condition(staff_id))
        query = query.where(Unit.id.in_(homes))
    return list(await session.scalars(query))
