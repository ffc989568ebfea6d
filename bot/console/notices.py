"""Notices in the console: the list, writing one with a preview per channel, its deliveries
updating while they go out, and cancelling one before it goes.

The same storage operations and scope as the bot's /notice, /notices and /deliveries
(storage/notices.py): a liaison addresses, sees and cancels only what the bot would let
them; anyone else's notice is "not found". The preview is what the dispatcher will send
(messages/compose.py), per channel. The form carries a key made when it was first shown:
sent twice (a double click, a page resubmitted), it makes one notice.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.botapi import Button
from bot.console.core import SECURITY_HEADERS, Console, Form
from bot.qq import numbered_choices
from bot.terminal import html_to_text
from messages.compose import NoticeView, notice_buttons, notice_text
from messages.render import Renderer
from messages.sms_text import SmsEncoding, choose_encoding, split_text
from messages.split import split_html
from storage.calendar import WhenError, parse_when
from storage.console import Visitor
from storage.models import ChannelName, DeliveryStatus, Group, Notice, NoticeStatus
from storage.notices import (
    MAX_BODY_LENGTH,
    NoticeError,
    addressable_groups,
    cancel_notice,
    check_body,
    clean_body,
    create_notice,
    get_notice,
    list_progress,
    may_cancel,
    notice_by_request_key,
    stage_of,
    view_deliveries,
)
from storage.outbox import DeliveryReport, audience_preview, delivery_report

LISTED = 100
# The delivery page asks for fresh counts this often while deliveries are going out, and
# from this long before a scheduled notice's time. (Each poll keeps the session alive: a
# page left open on a notice due next week must not keep it open all week.)
POLL_MILLISECONDS = 3000
WATCH_AHEAD = timedelta(minutes=10)
STATES = tuple(state.value for state in DeliveryStatus)
CHANNELS = ("telegram", "qq", "sms", "group_chat", "qq_group", "none")
UNDERWAY = (DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value)

# The form's key as the console makes it (secrets.token_urlsafe(24)); anything else was not.
_KEY = re.compile(r"[A-Za-z0-9_-]{32}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"(\d{2}):(\d{2})")
_GROUP_FIELD = re.compile(r"group-(\d{1,9})")
_TAG = re.compile(r"(<[^>]*>)")
_TAG_NAME = re.compile(r"</?\s*([a-zA-Z]+)")
# Notice ids are 32-bit: a larger one in the address names nothing (and reaches no query).
MAX_ID = 2**31 - 1


# --- the form --------------------------------------------------------------------------


@dataclass(slots=True)
class Composed:
    """The compose form as typed: shown again as it was whenever something is wrong."""

    key: str
    groups: list[int] = field(default_factory=list)
    everyone: bool = False
    body: str = ""
    urgent: bool = False
    later: bool = False
    day: str = ""
    clock: str = ""

    @classmethod
    def read(cls, form: Form) -> Composed:
        chosen = [int(m[1]) for name in form if (m := _GROUP_FIELD.fullmatch(name))]
        return cls(
            key=form.get("key", ""),
            groups=sorted(set(chosen)),
            everyone=form.get("everyone") == "on",
            body=form.get("body", ""),
            urgent=form.get("urgent") == "on",
            later=form.get("when") == "later",
            day=form.get("date", "").strip(),
            clock=form.get("time", "").strip(),
        )


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with the form: a label key (console_notices.error_<reason>) and its values."""

    reason: str
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Checked:
    """A form with nothing wrong: what create_notice takes."""

    body: str
    groups: list[Group]
    everyone: bool
    send_at: datetime | None


def check(
    composed: Composed, allowed: Sequence[Group], now: datetime, zone: tzinfo
) -> Checked | list[Problem]:
    """Every problem of the form at once (so one round trip fixes them all)."""
    problems: list[Problem] = []
    by_id = {group.id: group for group in allowed}
    chosen = [by_id[group_id] for group_id in composed.groups if group_id in by_id]
    if composed.everyone:
        chosen = []  # "all my members" includes every group, as in the bot
    elif len(chosen) < len(composed.groups):
        # Outside one's scope reads the same as nonexistent.
        problems.append(Problem("unknown_group"))
    elif not chosen:
        problems.append(Problem("no_audience"))
    body = ""
    try:
        body = check_body(composed.body)
    except NoticeError as error:
        length = len(clean_body(composed.body))
        problems.append(Problem(error.reason, {"length": length, "limit": MAX_BODY_LENGTH}))
    send_at = None
    if composed.later:
        when = _moment(composed, now, zone)
        if isinstance(when, Problem):
            problems.append(when)
        else:
            send_at = when
    if problems:
        return problems
    return Checked(body, chosen, composed.everyone, send_at)


def _moment(composed: Composed, now: datetime, zone: tzinfo) -> datetime | Problem:
    """The date and time fields (what <input type=date/time> send) as a moment in zone."""
    try:
        if not _DATE.fullmatch(composed.day):
            raise ValueError(composed.day)
        day = date.fromisoformat(composed.day)
    except ValueError:
        return Problem("bad_date", {"typed": composed.day[:40]})
    clock = _TIME.fullmatch(composed.clock)
    if clock is None or int(clock[1]) > 23 or int(clock[2]) > 59:
        return Problem("bad_time", {"typed": composed.clock[:40]})
    typed = f"{day.isoformat()} {clock[0]}"
    try:
        # The bot's rules for a scheduled time: in the future, at most a year ahead.
        return parse_when(typed, now, zone)
    except WhenError as error:
        return Problem(error.reason, {"typed": typed})


# --- the preview -----------------------------------------------------------------------

Runs = list[tuple[str, bool]]


def runs_of(telegram_html: str) -> Runs:
    """Telegram HTML as (text, bold) runs, for a page to show as Telegram does without
    trusting any markup: every run is escaped again when the page is rendered."""
    runs: Runs = []
    bold = 0
    for token in _TAG.split(telegram_html):
        if not token:
            continue
        if token.startswith("<"):
            name = _TAG_NAME.match(token)
            if name is not None and name[1].lower() in ("b", "strong"):
                bold += -1 if token.startswith("</") else 1
            continue
        runs.append((html.unescape(token), bold > 0))
    return runs


@dataclass(frozen=True, slots=True)
class ChannelPreview:
    """How the notice reads on one channel, and how many it goes to there."""

    channel: str
    recipients: int
    # Each message the channel shows, as runs of text; the buttons under the last one.
    messages: list[Runs]
    buttons: list[str] = field(default_factory=list)
    sms_parts: int = 0
    sms_unicode: bool = False


def previews(
    renderer: Renderer,
    locale: str,
    view: NoticeView,
    counts: Mapping[str, int],
    zone: tzinfo,
) -> list[ChannelPreview]:
    """The notice on Telegram, QQ, SMS and in group chats, as the dispatcher will send it
    (bot/background.py wires the same conversions: QQ reads plain text, buttons numbered)."""
    telegram = notice_text(renderer, locale, view, ChannelName.TELEGRAM, zone)
    buttons = [text for text, _ in notice_buttons(renderer, locale, view, ChannelName.TELEGRAM)]
    qq = html_to_text(notice_text(renderer, locale, view, ChannelName.QQ, zone))
    qq_buttons = notice_buttons(renderer, locale, view, ChannelName.QQ)
    if qq_buttons:
        shown = [Button(text=text, callback_data=data) for text, data in qq_buttons]
        qq = f"{qq}\n{numbered_choices(renderer, locale, shown)}"
    sms = notice_text(renderer, locale, view, ChannelName.SMS, zone)
    group = notice_text(renderer, locale, view, ChannelName.GROUP_CHAT, zone)
    chats = counts.get(ChannelName.GROUP_CHAT.value, 0) + counts.get(ChannelName.QQ_GROUP.value, 0)
    return [
        ChannelPreview(
            "telegram",
            counts.get("telegram", 0),
            [runs_of(part) for part in split_html(telegram)],
            buttons,
        ),
        ChannelPreview("qq", counts.get("qq", 0), [[(qq, False)]]),
        ChannelPreview(
            "sms",
            counts.get("sms", 0),
            [[(sms, False)]],
            sms_parts=len(split_text(sms)),
            sms_unicode=choose_encoding(sms) is SmsEncoding.UCS2,
        ),
        ChannelPreview("group_chat", chats, [runs_of(part) for part in split_html(group)]),
    ]


# --- the pages -------------------------------------------------------------------------


def _request_key(visitor: Visitor, key: str) -> str:
    """The stored key: the form's, under its author (another's key finds nothing)."""
    return f"console:{visitor.staff_id}:{key}"


def _see_notice(notice_id: int) -> RedirectResponse:
    return RedirectResponse(f"/notices/{notice_id}", status_code=303, headers=SECURITY_HEADERS)


def _notice_id(request: Request) -> int | None:
    notice_id = int(request.path_params["notice_id"])
    return notice_id if notice_id <= MAX_ID else None


def _audience(notice: Notice) -> list[str]:
    return sorted(group.name for group in notice.groups)


def routes(console: Console) -> list[Route]:
    services = console.services

    def compose_page(
        visitor: Visitor,
        groups: Sequence[Group],
        composed: Composed,
        problems: Sequence[Problem] = (),
    ) -> Response:
        return console.render(
            "notices/compose",
            visitor,
            status=400 if problems else 200,
            groups=groups,
            form=composed,
            problems=problems,
            limit=MAX_BODY_LENGTH,
            zone=str(services.settings.zone),
        )

    async def listing(request: Request, visitor: Visitor) -> Response:
        async with services.db.session() as session:
            notices = await list_progress(session, staff_id=visitor.staff_id, limit=LISTED)
        return console.render("notices/list", visitor, notices=notices, states=STATES)

    async def new(request: Request, visitor: Visitor) -> Response:
        async with services.db.session() as session:
            groups = await addressable_groups(session, visitor.staff_id)
        return compose_page(visitor, groups, Composed(key=secrets.token_urlsafe(24)))

    def _held_until(moment: datetime, urgent: bool) -> datetime | None:
        """When quiet hours (in the district's zone) will let a notice sent at moment go:
        None when they do not hold it (urgent notices go at night too)."""
        if urgent:
            return None
        quiet, zone = services.settings.quiet_hours, services.settings.zone
        return quiet.next_open(moment, zone) if quiet.contains(moment, zone) else None

    async def preview(request: Request, visitor: Visitor, form: Form) -> Response:
        composed = Composed.read(form)
        if not _KEY.fullmatch(composed.key):
            composed.key = secrets.token_urlsafe(24)
        now = services.clock.now()
        async with services.db.session() as session:
            groups = await addressable_groups(session, visitor.staff_id)
            checked = check(composed, groups, now, services.settings.zone)
            if form.get("step") == "edit" or not isinstance(checked, Checked):
                problems = [] if isinstance(checked, Checked) else checked
                return compose_page(visitor, groups, composed, problems)
            counts = await audience_preview(
                session,
                groups=[group.id for group in checked.groups],
                everyone=checked.everyone,
                staff_id=visitor.staff_id,
            )
        view = NoticeView(
            id=0,
            body=checked.body,
            author_name=visitor.name,
            urgent=composed.urgent,
            sent_at=checked.send_at or now,
        )
        members = sum(counts[channel] for channel in ("telegram", "qq", "sms", "none"))
        shown = previews(
            services.renderer, console.locale(visitor), view, counts, services.settings.zone
        )
        return console.render(
            "notices/preview",
            visitor,
            form=composed,
            checked=checked,
            previews=shown,
            members=members,
            chats=counts[ChannelName.GROUP_CHAT.value] + counts[ChannelName.QQ_GROUP.value],
            unreachable=counts["none"],
            held_until=_held_until(checked.send_at or now, composed.urgent),
        )

    async def send(request: Request, visitor: Visitor, form: Form) -> Response:
        composed = Composed.read(form)
        if not _KEY.fullmatch(composed.key):
            # Not a form the console showed: nothing to recognise a second sending by.
            composed.key = secrets.token_urlsafe(24)
            async with services.db.session() as session:
                groups = await addressable_groups(session, visitor.staff_id)
            return compose_page(visitor, groups, composed, [Problem("no_key")])
        key = _request_key(visitor, composed.key)
        try:
            async with services.db.session() as session:
                made = await notice_by_request_key(session, key)
                if made is not None:
                    return _see_notice(made.id)
                groups = await addressable_groups(session, visitor.staff_id)
                checked = check(composed, groups, services.clock.now(), services.settings.zone)
                if not isinstance(checked, Checked):
                    return compose_page(visitor, groups, composed, checked)
                try:
                    notice = await create_notice(
                        session,
                        services.clock.now(),
                        author=visitor.actor,
                        author_name=visitor.name,
                        body=checked.body,
                        groups=[group.name for group in checked.groups],
                        everyone=checked.everyone,
                        staff_id=visitor.staff_id,
                        send_at=checked.send_at,
                        urgent=composed.urgent,
                        request_key=key,
                    )
                except NoticeError as error:
                    return compose_page(visitor, groups, composed, [Problem(error.reason)])
                notice_id = notice.id
        except IntegrityError:
            # The twin of this form got there first (two clicks at once): its notice it is.
            async with services.db.session() as session:
                made = await notice_by_request_key(session, key)
            if made is None:
                raise
            return _see_notice(made.id)
        return _see_notice(notice_id)

    def not_found(visitor: Visitor, notice_id: int | None) -> Response:
        return console.render("notices/not_found", visitor, status=404, id=notice_id)

    def progress_context(
        notice: Notice, report: DeliveryReport, cancellable: bool
    ) -> dict[str, Any]:
        underway = sum(report.by_status[state] for state in UNDERWAY)
        stage = stage_of(notice.status, underway)
        # A notice about to go (send now: until the dispatcher takes it) changes soon too.
        due = notice.send_at - services.clock.now() <= WATCH_AHEAD
        return {
            "notice": notice,
            "report": report,
            "stage": stage,
            "live": underway > 0 or (notice.status is NoticeStatus.SCHEDULED and due),
            "states": STATES,
            "channels": [channel for channel in CHANNELS if channel in report.by_channel],
            "cancellable": cancellable,
            "every": POLL_MILLISECONDS,
        }

    async def notice_page(request: Request, visitor: Visitor) -> Response:
        notice_id = _notice_id(request)
        if notice_id is None:
            return not_found(visitor, None)
        async with services.db.session() as session:
            found = await view_deliveries(
                session,
                services.clock.now(),
                notice_id,
                staff_id=visitor.staff_id,
                actor=visitor.actor,
            )
            if found is None:
                return not_found(visitor, notice_id)
            notice, report = found
            cancellable = notice.status is NoticeStatus.SCHEDULED and await may_cancel(
                session, notice, visitor.staff_id
            )
        return console.render(
            "notices/notice",
            visitor,
            groups=_audience(notice),
            problem=None,
            **progress_context(notice, report, cancellable),
        )

    async def progress(request: Request, visitor: Visitor) -> Response:
        """The live part of the delivery page: counts only, no member named (so polling it
        is not a look at anyone's data; the page itself is audited when opened)."""
        notice_id = _notice_id(request)
        if notice_id is None:
            return not_found(visitor, None)
        async with services.db.session() as session:
            notice = await get_notice(session, notice_id, staff_id=visitor.staff_id)
            if notice is None:
                return not_found(visitor, notice_id)
            report = await delivery_report(session, notice_id, names=0)
            cancellable = notice.status is NoticeStatus.SCHEDULED and await may_cancel(
                session, notice, visitor.staff_id
            )
        return console.render(
            "notices/progress", visitor, **progress_context(notice, report, cancellable)
        )

    async def cancel(request: Request, visitor: Visitor, form: Form) -> Response:
        notice_id = _notice_id(request)
        if notice_id is None:
            return not_found(visitor, None)
        try:
            async with services.db.session() as session:
                await cancel_notice(
                    session,
                    services.clock.now(),
                    notice_id,
                    actor=visitor.actor,
                    staff_id=visitor.staff_id,
                )
        except NoticeError as error:
            if error.reason == "not_found":
                return not_found(visitor, notice_id)
            async with services.db.session() as session:
                found = await view_deliveries(
                    session,
                    services.clock.now(),
                    notice_id,
                    staff_id=visitor.staff_id,
                    actor=visitor.actor,
                )
            assert found is not None  # cancel_notice found it a moment ago
            notice, report = found
            return console.render(
                "notices/notice",
                visitor,
                status=409,
                groups=_audience(notice),
                problem=error.reason,
                **progress_context(notice, report, False),
            )
        return _see_notice(notice_id)

    return [
        Route("/notices", console.page(listing), methods=["GET"]),
        Route("/notices/new", console.page(new), methods=["GET"]),
        Route("/notices/new", console.action(preview), methods=["POST"]),
        Route("/notices/send", console.action(send), methods=["POST"]),
        Route("/notices/{notice_id:int}", console.page(notice_page), methods=["GET"]),
        Route("/notices/{notice_id:int}/progress", console.page(progress), methods=["GET"]),
        Route("/notices/{notice_id:int}/cancel", console.action(cancel), methods=["POST"]),
    ]
