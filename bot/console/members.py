"""Members: search, a member's page (card and timeline), the overdue list with the phone to
call, and the changes staff make from the page (lost contact, channel order).

The same storage operations and scope as the bot's /member and /overdue: a member outside
the visitor's scope is a 404 page, the same as one that does not exist, and the refusal is
in the audit trail. Lists show phone numbers masked; the whole number is shown on its own
page after a POST, one audit event per reveal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.console.core import SECURITY_HEADERS, Console, Form
from storage.channels import ChannelOrderError, parse_channels
from storage.checkins import period_of
from storage.console import Visitor
from storage.cycles import (
    LostContactError,
    clear_lost_contact,
    confirm_lost_contact,
    mark_lost_contact,
)
from storage.members import change_channels
from storage.models import ChannelName
from storage.notices import addressable_groups
from storage.overdue import GroupNotInScope, view_overdue
from storage.scope import MAX_QUERY_LENGTH, reveal_phone, search_members
from storage.timeline import MemberPage, open_member_page

# Members on one page of search results (as many as the bot's buttons under a search).
PAGE_SIZE = 20
# Pages beyond this are not a search any more but a walk through the registry.
MAX_PAGE = 500
# The overdue list, as long as the bot's /overdue; the rest is "and N more".
OVERDUE_SHOWN = 200
# What a change from the page did (or why not), shown on the page it returns to.
OUTCOMES = frozenset(
    {"marked", "cleared", "confirmed", "channels", "already_flagged", "not_flagged", "not_admin"}
)
LOST_CONTACT_STEPS = {
    "mark": mark_lost_contact,
    "clear": clear_lost_contact,
    "confirm": confirm_lost_contact,
}
LOST_CONTACT_DONE = {"mark": "marked", "clear": "cleared", "confirm": "confirmed"}
# The words the channel field accepts, shown beside it.
CHANNELS = tuple(
    channel.value for channel in (ChannelName.TELEGRAM, ChannelName.QQ, ChannelName.SMS)
)


def _id(text: str) -> int | None:
    """A record id from a path (None: not one, like the bot's forged button)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


def _page_number(text: str | None) -> int:
    number = _id(text or "") or 1
    return min(max(number, 1), MAX_PAGE)


def routes(console: Console) -> list[Route]:
    services = console.services

    def words(visitor: Visitor) -> Mapping[str, Mapping[str, str]]:
        """Status, consent, situation, request and certificate words of the bot's catalogues."""
        locale = console.locale(visitor)
        return {
            feature: services.renderer.labels(locale, feature)
            for feature in ("staff", "requests", "certificates")
        }

    def not_found(visitor: Visitor) -> Response:
        return console.message("members.not_found", visitor, status=404)

    def back_to(member_id: int, outcome: str) -> Response:
        return RedirectResponse(
            f"/members/{member_id}?done={outcome}", status_code=303, headers=SECURITY_HEADERS
        )

    async def member_page(visitor: Visitor, requested: str) -> MemberPage | None:
        async with services.db.session() as session:
            return await open_member_page(
                session,
                services.clock.now(),
                staff_id=visitor.staff_id,
                actor=visitor.actor,
                member_id=_id(requested),
                requested=requested,
                default_zone=services.settings.zone,
            )

    def show_card(
        visitor: Visitor,
        page: MemberPage,
        *,
        outcome: str | None = None,
        channels_typed: str | None = None,
        channels_error: str | None = None,
        status: int = 200,
    ) -> Response:
        return console.render(
            "members/card",
            visitor,
            status=status,
            page=page,
            card=page.card,
            words=words(visitor),
            outcome=outcome,
            channel_words=CHANNELS,
            channels_typed=channels_typed if channels_typed is not None else page.channels or "",
            channels_error=channels_error,
        )

    # --- pages -----------------------------------------------------------------------------

    async def search(request: Request, visitor: Visitor) -> Response:
        typed = request.query_params.get("q", "")
        query = " ".join(typed.split())
        context: dict[str, Any] = {
            "typed": typed,
            "limit": MAX_QUERY_LENGTH,
            "words": words(visitor)["staff"],
        }
        if not query:
            return console.render("members/search", visitor, problem="empty", **context)
        if len(query) > MAX_QUERY_LENGTH:
            return console.render(
                "members/search", visitor, status=400, problem="too_long", **context
            )
        number = _page_number(request.query_params.get("page"))
        async with services.db.session() as session:
            found, _ = await search_members(
                session,
                services.clock.now(),
                staff_id=visitor.staff_id,
                actor=visitor.actor,
                query=query,
                default_zone=services.settings.zone,
                limit=PAGE_SIZE,
                offset=(number - 1) * PAGE_SIZE,
            )
        return console.render(
            "members/search",
            visitor,
            problem=None,
            search=found,
            query=query,
            page_number=number,
            **context,
        )

    async def card(request: Request, visitor: Visitor) -> Response:
        page = await member_page(visitor, str(request.path_params["member_id"]))
        if page is None:
            return not_found(visitor)
        outcome = request.query_params.get("done")
        return show_card(visitor, page, outcome=outcome if outcome in OUTCOMES else None)

    async def overdue(request: Request, visitor: Visitor) -> Response:
        chosen = request.query_params.get("group")
        # A group that is not a number is no group: refused like one out of scope.
        group_id = None if chosen is None else (_id(chosen) or 0)
        now = services.clock.now()
        async with services.db.session() as session:
            groups = await addressable_groups(session, visitor.staff_id)
            try:
                report = await view_overdue(
                    session,
                    now,
                    actor=visitor.actor,
                    staff_id=visitor.staff_id,
                    default_zone=services.settings.zone,
                    limit=OVERDUE_SHOWN,
                    group_id=group_id,
                )
            except GroupNotInScope:
                report = None
        if report is None:
            return not_found(visitor)
        return console.render(
            "members/overdue",
            visitor,
            report=report,
            period=period_of(now, services.settings.zone),
            groups=groups,
            group_id=group_id,
            words=words(visitor)["staff"],
        )

    # --- actions ---------------------------------------------------------------------------

    async def phone(request: Request, visitor: Visitor, form: Form) -> Response:
        requested = str(request.path_params["member_id"])
        async with services.db.session() as session:
            revealed = await reveal_phone(
                session,
                services.clock.now(),
                staff_id=visitor.staff_id,
                actor=visitor.actor,
                member_id=_id(requested),
                requested=requested,
            )
        if revealed is None:
            return not_found(visitor)
        back = "/members/overdue" if form.get("from") == "overdue" else None
        return console.render("members/phone", visitor, revealed=revealed, back=back)

    async def lost_contact(request: Request, visitor: Visitor, form: Form) -> Response:
        # A forged id: member 0, which storage answers (and audits) as not found.
        member_id = _id(str(request.path_params["member_id"])) or 0
        step = form.get("do", "")
        operation = LOST_CONTACT_STEPS.get(step)
        if operation is None:
            return console.message("members.unknown_step", visitor, status=400)
        async with services.db.session() as session:
            try:
                await operation(
                    session,
                    services.clock.now(),
                    member_id=member_id,
                    staff_id=visitor.staff_id,
                    actor=visitor.actor,
                )
            except LostContactError as error:
                refusal: str | None = error.reason
            else:
                refusal = None
        if refusal == "not_found":
            return not_found(visitor)
        return back_to(member_id, refusal or LOST_CONTACT_DONE[step])

    async def channels(request: Request, visitor: Visitor, form: Form) -> Response:
        requested = str(request.path_params["member_id"])
        typed = form.get("channels", "")
        try:
            order = parse_channels(typed)
        except ChannelOrderError as error:
            page = await member_page(visitor, requested)
            if page is None:
                return not_found(visitor)
            return show_card(
                visitor,
                page,
                channels_typed=typed,
                channels_error=error.word[:20],
                status=400,
            )
        async with services.db.session() as session:
            member = await change_channels(
                session,
                services.clock.now(),
                staff_id=visitor.staff_id,
                member_id=_id(requested),
                channels=order,
                actor=visitor.actor,
            )
        if member is None:
            return not_found(visitor)
        return back_to(member.id, "channels")

    return [
        Route("/members", console.page(search), methods=["GET"]),
        # Before /members/{member_id}: "overdue" is not a member id.
        Route("/members/overdue", console.page(overdue), methods=["GET"]),
        Route("/members/{member_id}", console.page(card), methods=["GET"]),
        Route("/members/{member_id}/phone", console.action(phone), methods=["POST"]),
        Route("/members/{member_id}/lost-contact", console.action(lost_contact), methods=["POST"]),
        Route("/members/{member_id}/channels", console.action(channels), methods=["POST"]),
    ]
