"""Ratings and commendations in the browser: what `liaison rating` offers, over the
visitor's scope.

/ratings shows a year (the current one unless ?year=) for a unit and those below it (or the
visitor's whole scope): the rules (everyone reads them; administrators change them), the
ranked list with each member's breakdown, the form to adjust a member's score (a reason
required), the year's adjustments, and the commendation list (administrators add members
from the ranked list, take them off, and send the notice). /ratings/export.xlsx downloads
the list shown (audited). Each change is the storage operation the command line calls
(scope, checks, audit); a change that worked sends the browser back to the page by GET.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.console.core import SECURITY_HEADERS, Console, Form, download_headers
from bot.console.desk import MAX_CHOICE, choice, form_id
from storage.console import Visitor
from storage.ratings import (
    CRITERIA,
    FIRST_YEAR,
    LAST_YEAR,
    MAX_REASON_LENGTH,
    RatingError,
    Refusal,
    adjust,
    change_rule,
    commend,
    commendations,
    find_member,
    notify_commended,
    ranking,
    uncommend,
    unit_choices,
    workbook,
    year_adjustments,
)

# The list shows this many ranks; the workbook has everyone.
SHOWN = 200
DONE = ("rule", "adjusted", "commended", "uncommended", "notified")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A number typed in a form: points, caps and years are all far shorter.
MAX_NUMBER = 6


def _number(text: str | None) -> int | None:
    """An integer typed in a form (a sign allowed), else None."""
    typed = (text or "").strip()
    body = typed.removeprefix("-").removeprefix("+")
    if not body.isdigit() or len(body) > MAX_NUMBER:
        return None
    return -int(body) if typed.startswith("-") else int(body)


def routes(console: Console) -> list[Route]:
    services = console.services
    settings = services.settings

    def year_of(value: str | None) -> int:
        year = _number(value)
        if year is None or not FIRST_YEAR <= year <= LAST_YEAR:
            return services.clock.now().astimezone(settings.zone).year
        return year

    def back(year: int, unit: str | None, done: str) -> RedirectResponse:
        query = {"year": str(year), **({"unit": unit} if unit else {}), "done": done}
        return RedirectResponse(
            f"/ratings?{urlencode(query)}", status_code=303, headers=SECURITY_HEADERS
        )

    async def show(
        visitor: Visitor,
        year: int,
        unit: str | None,
        *,
        status: int = 200,
        done: str | None = None,
        error: str | None = None,
        typed: Form | None = None,
    ) -> Response:
        now = services.clock.now()
        async with services.db.session() as session:
            units = await unit_choices(session, visitor.staff_id)
            try:
                found = await ranking(
                    session,
                    now,
                    year=year,
                    zone=settings.zone,
                    cycle=settings.default_cycle,
                    staff_id=visitor.staff_id,
                    actor=visitor.actor,
                    unit=unit,
                    limit=SHOWN,
                )
            except RatingError as refused:
                # An unknown unit: the whole scope instead, saying so.
                found = await ranking(
                    session,
                    now,
                    year=year,
                    zone=settings.zone,
                    cycle=settings.default_cycle,
                    staff_id=visitor.staff_id,
                    actor=visitor.actor,
                    limit=SHOWN,
                )
                error, unit, status = refused.reason, None, 404
            chosen = await commendations(session, year=year, staff_id=visitor.staff_id)
            adjusted = await year_adjustments(session, year=year, staff_id=visitor.staff_id)
        commended = {c.member_id for c in chosen}
        return console.render(
            "ratings/page",
            visitor,
            status=status,
            year=year,
            unit=unit or "",
            units=units,
            ranking=found,
            scores=found.scores,
            limit=SHOWN,
            criteria=CRITERIA,
            chosen=chosen,
            commended=commended,
            adjusted=adjusted,
            done=done,
            error=error,
            typed=typed or {},
            reason_limit=MAX_REASON_LENGTH,
        )

    async def page(request: Request, visitor: Visitor) -> Response:
        query = request.query_params
        unit = (query.get("unit") or "")[:100] or None
        return await show(
            visitor,
            year_of(query.get("year")),
            unit,
            done=choice(query.get("done"), DONE),
        )

    async def export(request: Request, visitor: Visitor) -> Response:
        query = request.query_params
        year = year_of(query.get("year"))
        unit = (query.get("unit") or "")[:100] or None
        try:
            async with services.db.session() as session:
                found = await ranking(
                    session,
                    services.clock.now(),
                    year=year,
                    zone=settings.zone,
                    cycle=settings.default_cycle,
                    staff_id=visitor.staff_id,
                    actor=visitor.actor,
                    unit=unit,
                    export=True,
                )
        except RatingError as error:
            return await show(visitor, year, None, status=404, error=error.reason)
        # Off the event loop: the bot's chats go on while a district's list is written.
        data = await asyncio.to_thread(workbook, found)
        return Response(
            data,
            media_type=XLSX,
            headers=download_headers(f"ratings-{year}.xlsx"),
        )

    async def refusal(
        visitor: Visitor, year: int, unit: str | None, why: RatingError | Refusal, form: Form
    ) -> Response:
        """The page again, saying why: bad input (400), not an administrator (403), a
        member not there or not theirs (404)."""
        reason = why.value if isinstance(why, Refusal) else why.reason
        status = {"not_admin": 403, "not_found": 404}.get(reason, 400)
        return await show(visitor, year, unit, status=status, error=reason, typed=form)

    async def after(
        visitor: Visitor,
        year: int,
        unit: str | None,
        result: object,
        done: str,
        form: Form | None = None,
    ) -> Response:
        """Back to the page saying what was done, or (refused: the refusal audited and
        committed) why not."""
        if isinstance(result, Refusal):
            return await refusal(visitor, year, unit, result, form or {})
        return back(year, unit, done)

    def context(form: Form) -> tuple[int, str | None]:
        return year_of(form.get("year")), (form.get("unit") or "")[:100] or None

    async def act(
        visitor: Visitor,
        form: Form,
        done: str,
        operation: Callable[[AsyncSession, int], Awaitable[object]],
        *,
        keep: bool = False,
    ) -> Response:
        """Run one change for the year the form was on, then back to the page saying what
        was done, or why not (keep: the form's values typed again on a refusal)."""
        year, unit = context(form)
        typed = form if keep else {}
        try:
            async with services.db.session() as session:
                result = await operation(session, year)
        except RatingError as error:
            return await refusal(visitor, year, unit, error, typed)
        return await after(visitor, year, unit, result, done, typed)

    async def change(request: Request, visitor: Visitor, form: Form) -> Response:
        criterion = str(request.path_params["criterion"])
        points = _number(form.get("points"))
        cap_text = (form.get("cap") or "").strip()
        cap = _number(cap_text) if cap_text else None

        async def operation(session: AsyncSession, year: int) -> object:
            if points is None or (cap_text and cap is None):
                raise RatingError("points and the cap are whole numbers", "points")
            return await change_rule(
                session,
                services.clock.now(),
                criterion=criterion[:MAX_CHOICE],
                points=points,
                cap=cap,
                actor=visitor.actor,
                staff_id=visitor.staff_id,
            )

        return await act(visitor, form, "rule", operation)

    async def adjust_score(request: Request, visitor: Visitor, form: Form) -> Response:
        points = _number(form.get("points"))

        async def operation(session: AsyncSession, year: int) -> object:
            if points is None:
                raise RatingError("the points are a whole number", "points")
            return await adjust(
                session,
                services.clock.now(),
                member_id=await find_member(session, (form.get("member") or "")[:MAX_CHOICE]),
                year=year,
                points=points,
                reason=form.get("reason", ""),
                actor=visitor.actor,
                staff_id=visitor.staff_id,
            )

        return await act(visitor, form, "adjusted", operation, keep=True)

    def chosen(form: Form) -> int:
        member_id = form_id(form, "member_id")
        if member_id is None:
            raise RatingError("no member", "not_found")
        return member_id

    async def commend_member(request: Request, visitor: Visitor, form: Form) -> Response:
        async def operation(session: AsyncSession, year: int) -> object:
            return await commend(
                session,
                services.clock.now(),
                year=year,
                member_ids=[chosen(form)],
                citation=form.get("citation"),
                actor=visitor.actor,
                staff_id=visitor.staff_id,
            )

        return await act(visitor, form, "commended", operation)

    async def uncommend_member(request: Request, visitor: Visitor, form: Form) -> Response:
        async def operation(session: AsyncSession, year: int) -> object:
            return await uncommend(
                session,
                services.clock.now(),
                year=year,
                member_id=chosen(form),
                actor=visitor.actor,
                staff_id=visitor.staff_id,
            )

        return await act(visitor, form, "uncommended", operation)

    async def notify(request: Request, visitor: Visitor, form: Form) -> Response:
        async def operation(session: AsyncSession, year: int) -> object:
            return await notify_commended(
                session,
                services.clock.now(),
                year=year,
                actor=visitor.actor,
                staff_id=visitor.staff_id,
            )

        return await act(visitor, form, "notified", operation)

    return [
        Route("/ratings", console.page(page), methods=["GET"]),
        Route("/ratings/export.xlsx", console.page(export), methods=["GET"]),
        Route("/ratings/rules/{criterion}", console.action(change), methods=["POST"]),
        Route("/ratings/adjust", console.action(adjust_score), methods=["POST"]),
        Route("/ratings/commend", console.action(commend_member), methods=["POST"]),
        Route("/ratings/uncommend", console.action(uncommend_member), methods=["POST"]),
        Route("/ratings/notify", console.action(notify), methods=["POST"]),
    ]


__all__ = ["routes"]
