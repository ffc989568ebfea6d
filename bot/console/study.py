"""Schedules and study: the check-in cycle of each group, the library, the push plans, and
who studied what.

The same storage operations and the same rules as the bot: every staff member sees the
groups they look after and may add to the library (/material); only administrators change
a cycle (/schedule), plan or stop pushes (/studyplan) and archive a material (the command
line's `material archive`). Another liaison's group or plan is "not found" (404); a
liaison trying an administrator's change is refused (403); both leave a row in the audit
log, as every look and every change does.

A change that worked answers with a redirect to the page it was made on (the page then
says what was done: ?done=…); one that cannot work shows the form again, as typed, saying
why (400).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.console.core import SECURITY_HEADERS, Console, Form
from storage import audit
from storage.calendar import CycleError, CycleRule
from storage.console import Visitor
from storage.cycles import (
    CHANGE_KEYS,
    GroupCycle,
    changed_rule,
    cycles_in_scope,
    group_cycle_in_scope,
    reset_group_cycle,
    rule_settings,
    set_group_cycle,
)
from storage.models import MAX_ID, Base, Group, StaffRole, StudyMaterial, StudySchedule
from storage.study import (
    MAX_BODY_LENGTH,
    MAX_LINK_LENGTH,
    MAX_TAGS,
    MAX_TITLE_LENGTH,
    STUDY_WINDOW,
    WEEKDAY_NAMES,
    ScheduleLine,
    StudyError,
    add_material,
    add_schedule,
    archive_material,
    get_schedule,
    next_occurrence,
    parse_day,
    parse_tags,
    parse_weekday,
    stop_schedule,
    view_group_study,
    view_library,
    view_material,
    view_plans,
    view_schedule,
    view_study_completion,
)

# The plans page offers the newest materials of the library for a one-off push.
LIBRARY_OFFERED = 100
LIBRARY_SHOWN = 100

# Which field of the cycle form a CycleError is about (not_number names its own).
CYCLE_FIELDS = {
    "bad_time": "time",
    "bad_days": "reminders",
    "late_reminder": "reminders",
    "prompt_day": "day",
    "escalation_day": "escalation",
    "lost_months": "lost",
    "bad_flag": "enabled",
}
# The CycleErrors the page has words for (the others say "cannot work" with the English).
CYCLE_ERRORS = frozenset(
    {"bad_time", "bad_days", "late_reminder", "prompt_day", "escalation_day", "lost_months",
     "not_number", "bad_flag"}
)  # fmt: skip
MATERIAL_FIELDS = {
    "title_empty": "title",
    "title_too_long": "title",
    "body_empty": "body",
    "body_too_long": "body",
    "bad_link": "link",
    "link_too_long": "link",
    "bad_tag": "tags",
    "too_many_tags": "tags",
}
PLAN_FIELDS = {
    "no_when": "kind",
    "bad_weekday": "weekday",
    "bad_date": "date",
    "past": "date",
    "too_far": "date",
    "bad_time": "at",
    "bad_tag": "tag",
    "tag_on_one_off": "tag",
    "no_material": "material",
    "unknown_material": "material",
    "archived": "material",
}
# The StudyErrors the forms have words for; any other says "cannot be saved".
STUDY_ERRORS = frozenset({*MATERIAL_FIELDS, *PLAN_FIELDS, "duplicate"})
# What a page says after a change (?done=…): only these words, never text from the address.
DONE = frozenset(
    {"cycle_saved", "cycle_unchanged", "cycle_reset", "cycle_was_default", "material_added",
     "material_archived", "plan_added", "plan_stopped"}
)  # fmt: skip


def _record_id(request: Request, name: str) -> int:
    """A record's number from the path; one no table can hold reads as 0 (found nowhere)."""
    number = int(request.path_params[name])
    return number if number <= MAX_ID else 0


def _done(request: Request) -> str | None:
    done = request.query_params.get("done")
    return done if done in DONE else None


def _redirect(url: str, done: str) -> Response:
    return RedirectResponse(f"{url}?done={done}", status_code=303, headers=SECURITY_HEADERS)


def _reason(error: StudyError | None) -> str | None:
    if error is None:
        return None
    return error.reason if error.reason in STUDY_ERRORS else "invalid"


def _is_admin(visitor: Visitor) -> bool:
    return visitor.role is StaffRole.ADMIN


async def _refuse_not_admin(
    console: Console,
    session: AsyncSession,
    visitor: Visitor,
    *,
    action: str,
    subject: str,
) -> Response:
    """A liaison tried an administrator's change: said so (403), and kept in the trail."""
    await audit.record(
        session,
        console.services.clock.now(),
        actor=visitor.actor,
        action=f"{action}.refused",
        subject=subject,
        reason="not_admin",
    )
    return console.message("study.admin_only", visitor, status=403)


async def _refused_change(
    console: Console,
    session: AsyncSession,
    visitor: Visitor,
    *,
    found: bool,
    action: str,
    kind: str,
    model: type[Base],
    record_id: int,
) -> Response | None:
    """The refusal of an administrator's change to a record, audited; None when the visitor
    may make it. Another's record is not found (404) before a liaison is told the change is
    not theirs to make (403)."""
    if not found:
        await audit.record_refused(
            session, console.services.clock.now(), actor=visitor.actor,
            action=f"{action}.refused", kind=kind, model=model, record_id=record_id,
        )  # fmt: skip
        return _not_found(console, visitor)
    if not _is_admin(visitor):
        return await _refuse_not_admin(
            console, session, visitor, action=action, subject=f"{kind}:{record_id}"
        )
    return None


def _not_found(console: Console, visitor: Visitor) -> Response:
    return console.message("study.not_found", visitor, status=404)


def _weekday(line: ScheduleLine) -> str | None:
    return WEEKDAY_NAMES[line.weekday] if line.weekday is not None else None


def routes(console: Console) -> list[Route]:
    services = console.services
    settings = services.settings

    def default_cycle() -> CycleRule:
        return settings.default_cycle

    # --- /study: the cycles and completion of one's groups ---------------------------------

    async def overview(request: Request, visitor: Visitor) -> Response:
        now = services.clock.now()
        async with services.db.session() as session:
            cycles = await cycles_in_scope(session, default_cycle(), staff_id=visitor.staff_id)
            completion = await view_study_completion(
                session, now, actor=visitor.actor, staff_id=visitor.staff_id
            )
        return console.render(
            "study/overview",
            visitor,
            default=default_cycle(),
            cycles=cycles,
            completion=completion,
            window_days=STUDY_WINDOW.days,
            quiet=settings.quiet_hours,
        )

    # --- one group: its cycle (changed by administrators) and who studied -------------------

    async def group_page(
        visitor: Visitor,
        group_id: int,
        *,
        status: int = 200,
        typed: Mapping[str, str] | None = None,
        error: CycleError | None = None,
        done: str | None = None,
    ) -> Response:
        now = services.clock.now()
        async with services.db.session() as session:
            report = await view_group_study(
                session, now, actor=visitor.actor, staff_id=visitor.staff_id, group_id=group_id
            )
            cycle = None
            if report is not None:
                cycle = await group_cycle_in_scope(
                    session, group_id, default_cycle(), staff_id=visitor.staff_id
                )
        if report is None or cycle is None:
            return _not_found(console, visitor)
        invalid = None
        if error is not None:
            invalid = CYCLE_FIELDS.get(error.code) or str(error.values.get("key", "")) or None
        return console.render(
            "study/group",
            visitor,
            status=status,
            report=report,
            cycle=cycle,
            own=cycle.updated_by is not None,
            fields=typed if typed is not None else rule_settings(cycle.rule),
            keys=CHANGE_KEYS,
            error_code=(error.code if error.code in CYCLE_ERRORS else "invalid") if error else None,
            # "key" is the setting's name: the page names the field in the reader's words.
            error_values={k: v for k, v in error.values.items() if k != "key"} if error else {},
            invalid=invalid if invalid in CHANGE_KEYS else None,
            done=done,
            poll_seconds=round(settings.schedule_poll_seconds),
        )

    async def group(request: Request, visitor: Visitor) -> Response:
        return await group_page(visitor, _record_id(request, "group_id"), done=_done(request))

    async def _cycle_for_change(
        session: AsyncSession, visitor: Visitor, group_id: int, action: str
    ) -> GroupCycle | Response:
        """The group's cycle if this visitor may change it, else the refusal (audited):
        another's group is not found (404) before a liaison is told it is not theirs to do."""
        current = await group_cycle_in_scope(
            session, group_id, default_cycle(), staff_id=visitor.staff_id
        )
        refused = await _refused_change(
            console, session, visitor, found=current is not None, action=action, kind="group",
            model=Group, record_id=group_id,
        )  # fmt: skip
        if refused is not None:
            return refused
        assert current is not None  # found, or refused above
        return current

    async def save_cycle(request: Request, visitor: Visitor, form: Form) -> Response:
        group_id = _record_id(request, "group_id")
        async with services.db.session() as session:
            current = await _cycle_for_change(session, visitor, group_id, "schedule.set")
            if isinstance(current, Response):
                return current
            # Only what differs from the cycle the form showed: the trail says what changed.
            shown = rule_settings(current.rule)
            typed = shown | {key: form[key].strip() for key in CHANGE_KEYS if key in form}
            changes = {key: value for key, value in typed.items() if value != shown[key]}
            if not changes:
                return _redirect(f"/study/groups/{group_id}", "cycle_unchanged")
            try:
                rule = changed_rule(current.rule, changes)
            except CycleError as error:
                failed = error
            else:
                await set_group_cycle(
                    session,
                    services.clock.now(),
                    group_id=group_id,
                    rule=rule,
                    actor=visitor.actor,
                    changes=changes,
                )
                return _redirect(f"/study/groups/{group_id}", "cycle_saved")
        return await group_page(visitor, group_id, status=400, typed=typed, error=failed)

    async def reset_cycle(request: Request, visitor: Visitor, form: Form) -> Response:
        group_id = _record_id(request, "group_id")
        async with services.db.session() as session:
            current = await _cycle_for_change(session, visitor, group_id, "schedule.reset")
            if isinstance(current, Response):
                return current
            removed = await reset_group_cycle(
                session, services.clock.now(), group_id=group_id, actor=visitor.actor
            )
        return _redirect(
            f"/study/groups/{group_id}", "cycle_reset" if removed else "cycle_was_default"
        )

    # --- the library --------------------------------------------------------------------------

    async def library_page(
        request: Request,
        visitor: Visitor,
        *,
        status: int = 200,
        typed: Mapping[str, str] | None = None,
        error: StudyError | None = None,
        length: int = 0,
    ) -> Response:
        archived = request.query_params.get("archived") == "1"
        async with services.db.session() as session:
            library = await view_library(
                session,
                services.clock.now(),
                actor=visitor.actor,
                include_archived=archived,
                limit=LIBRARY_SHOWN,
            )
        return console.render(
            "study/materials",
            visitor,
            status=status,
            library=library,
            archived=archived,
            shown=LIBRARY_SHOWN,
            fields=typed or {"title": "", "body": "", "link": "", "tags": ""},
            error_reason=_reason(error),
            invalid=MATERIAL_FIELDS.get(error.reason) if error else None,
            limits={
                "title": MAX_TITLE_LENGTH, "body": MAX_BODY_LENGTH, "tags": MAX_TAGS,
                "link": MAX_LINK_LENGTH,
                "length": length,
            },
            done=_done(request),
        )  # fmt: skip

    async def materials(request: Request, visitor: Visitor) -> Response:
        return await library_page(request, visitor)

    async def add(request: Request, visitor: Visitor, form: Form) -> Response:
        typed = {key: form.get(key, "") for key in ("title", "body", "link", "tags")}
        try:
            tags = parse_tags(typed["tags"])
            async with services.db.session() as session:
                material = await add_material(
                    session,
                    services.clock.now(),
                    actor=visitor.actor,
                    title=typed["title"],
                    body=typed["body"],
                    link=typed["link"] or None,
                    tags=tags,
                )
                material_id = material.id
        except StudyError as error:
            return await library_page(
                request,
                visitor,
                status=400,
                typed=typed,
                error=error,
                length=len(typed["body"].strip()),
            )
        return _redirect(f"/study/materials/{material_id}", "material_added")

    async def material(request: Request, visitor: Visitor) -> Response:
        async with services.db.session() as session:
            report = await view_material(
                session,
                services.clock.now(),
                actor=visitor.actor,
                staff_id=visitor.staff_id,
                material_id=_record_id(request, "material_id"),
            )
        if report is None:
            return _not_found(console, visitor)
        return console.render("study/material", visitor, report=report, done=_done(request))

    async def archive(request: Request, visitor: Visitor, form: Form) -> Response:
        material_id = _record_id(request, "material_id")
        now = services.clock.now()
        async with services.db.session() as session:
            refused = await _refused_change(
                console, session, visitor,
                found=await session.get(StudyMaterial, material_id) is not None,
                action="study.material.archive", kind="material", model=StudyMaterial,
                record_id=material_id,
            )  # fmt: skip
            if refused is not None:
                return refused
            try:
                await archive_material(session, now, material_id, actor=visitor.actor)
            except StudyError:
                # Archived meanwhile (another tab): nothing to do, the page says so.
                return console.message("study.already_archived", visitor, status=409)
        return _redirect(f"/study/materials/{material_id}", "material_archived")

    # --- push plans ---------------------------------------------------------------------------

    async def plans_page(
        request: Request,
        visitor: Visitor,
        *,
        status: int = 200,
        typed: Mapping[str, str] | None = None,
        error: StudyError | None = None,
    ) -> Response:
        now = services.clock.now()
        stopped = request.query_params.get("stopped") == "1"
        async with services.db.session() as session:
            page = await view_plans(
                session,
                now,
                actor=visitor.actor,
                staff_id=visitor.staff_id,
                include_stopped=stopped,
                library_limit=LIBRARY_OFFERED,
            )
        zone = settings.zone
        return console.render(
            "study/plans",
            visitor,
            status=status,
            page=page,
            stopped=stopped,
            next_push={line.id: next_occurrence(line, now, zone) for line in page.schedules},
            weekdays=WEEKDAY_NAMES,
            weekday_of={line.id: _weekday(line) for line in page.schedules},
            zone=str(zone),
            fields=typed
            or {"group": "", "kind": "weekly", "weekday": "mon", "date": "", "at": "19:00",
                "tag": "", "material": ""},
            error_reason=_reason(error),
            invalid=PLAN_FIELDS.get(error.reason) if error else None,
            done=_done(request),
        )  # fmt: skip

    async def plans(request: Request, visitor: Visitor) -> Response:
        return await plans_page(request, visitor)

    def _plan_when(typed: Mapping[str, str]) -> tuple[int | None, date | None, int | None]:
        """The weekday (weekly) or the date and material (one-off) as the form gives them."""
        if typed["kind"] == "weekly":
            return parse_weekday(typed["weekday"]), None, None
        if typed["kind"] != "once":
            raise StudyError("weekly or once?", "no_when")
        on_date = parse_day(typed["date"])
        chosen = typed["material"].strip()
        if not (chosen.isascii() and chosen.isdigit() and len(chosen) <= len(str(MAX_ID))):
            raise StudyError("a one-off push needs the material to send", "no_material")
        material_id = int(chosen)
        return None, on_date, material_id if material_id <= MAX_ID else 0

    async def add_plan(request: Request, visitor: Visitor, form: Form) -> Response:
        keys = ("group", "kind", "weekday", "date", "at", "tag", "material")
        typed = {key: form.get(key, "") for key in keys}
        now = services.clock.now()
        async with services.db.session() as session:
            if not _is_admin(visitor):
                return await _refuse_not_admin(
                    console,
                    session,
                    visitor,
                    action="study.schedule.add",
                    subject=f"group:{typed['group'][:100]}",
                )
            try:
                weekday, on_date, material_id = _plan_when(typed)
                schedule = await add_schedule(
                    session,
                    now,
                    actor=visitor.actor,
                    group=typed["group"],
                    at=typed["at"],
                    zone=settings.zone,
                    weekday=weekday,
                    on_date=on_date,
                    material_id=material_id,
                    tag=typed["tag"] or None,
                    staff_id=visitor.staff_id,
                )
                schedule_id = schedule.id
            except StudyError as error:
                if error.reason != "unknown_group":
                    failed = error
                else:
                    # Another's group (the form offers only one's own): not found, in the trail.
                    await audit.record(
                        session, now, actor=visitor.actor,
                        action="study.schedule.add.refused", group=typed["group"][:100],
                        reason="unknown_group",
                    )  # fmt: skip
                    return _not_found(console, visitor)
            else:
                return _redirect(f"/study/plans/{schedule_id}", "plan_added")
        return await plans_page(request, visitor, status=400, typed=typed, error=failed)

    async def plan(request: Request, visitor: Visitor) -> Response:
        now = services.clock.now()
        async with services.db.session() as session:
            report = await view_schedule(
                session,
                now,
                actor=visitor.actor,
                staff_id=visitor.staff_id,
                schedule_id=_record_id(request, "schedule_id"),
            )
        if report is None:
            return _not_found(console, visitor)
        return console.render(
            "study/plan",
            visitor,
            report=report,
            weekday=_weekday(report.line),
            next_push=next_occurrence(report.line, now, settings.zone),
            zone=str(settings.zone),
            done=_done(request),
        )

    async def stop(request: Request, visitor: Visitor, form: Form) -> Response:
        schedule_id = _record_id(request, "schedule_id")
        now = services.clock.now()
        async with services.db.session() as session:
            line = await get_schedule(session, schedule_id, staff_id=visitor.staff_id)
            refused = await _refused_change(
                console, session, visitor, found=line is not None, action="study.schedule.stop",
                kind="study_schedule", model=StudySchedule, record_id=schedule_id,
            )  # fmt: skip
            if refused is not None:
                return refused
            try:
                await stop_schedule(
                    session, now, schedule_id, actor=visitor.actor, staff_id=visitor.staff_id
                )
            except StudyError:
                return console.message("study.already_stopped", visitor, status=409)
        return _redirect(f"/study/plans/{schedule_id}", "plan_stopped")

    page, action = console.page, console.action
    return [
        Route("/study", page(overview), methods=["GET"]),
        Route("/study/groups/{group_id:int}", page(group), methods=["GET"]),
        Route("/study/groups/{group_id:int}/cycle", action(save_cycle), methods=["POST"]),
        Route("/study/groups/{group_id:int}/cycle/reset", action(reset_cycle), methods=["POST"]),
        Route("/study/materials", page(materials), methods=["GET"]),
        Route("/study/materials", action(add), methods=["POST"]),
        Route("/study/materials/{material_id:int}", page(material), methods=["GET"]),
        Route("/study/materials/{material_id:int}/archive", action(archive), methods=["POST"]),
        Route("/study/plans", page(plans), methods=["GET"]),
        Route("/study/plans", action(add_plan), methods=["POST"]),
        Route("/study/plans/{schedule_id:int}", page(plan), methods=["GET"]),
        Route("/study/plans/{schedule_id:int}/stop", action(stop), methods=["POST"]),
    ]


__all__ = ["routes"]
