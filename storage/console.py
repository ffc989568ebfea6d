"""The web console's way in: one-time login links and the sessions they open.

A staff member asks the bot (/console) or an operator the command line for a link; opening
it once starts a session. Only SHA-256 hashes of the links' and sessions' tokens are
stored, so a copy of the database lets nobody in. Tokens are 256 random bits: a plain hash
is enough, nothing is guessable to try against it.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.models import ConsoleLink, ConsoleSession, Staff, StaffRole

LINK_VALID = timedelta(minutes=10)
LOGIN_PATH = "/login/"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def staff_actor(staff: Staff) -> str:
    """How the audit log names a staff member (as the bot's identity does)."""
    return f"staff:{staff.id}"


async def create_link(session: AsyncSession, now: datetime, *, staff_id: int, actor: str) -> str:
    """A new login link's token for staff_id (valid LINK_VALID, once); audited."""
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleLink(
            staff_id=staff_id, token_hash=_hash(token), created_at=now, expires_at=now + LINK_VALID
        )
    )
    await audit.record(
        session, now, actor=actor, action="console.link", subject=f"staff:{staff_id}"
    )
    return token


def login_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{LOGIN_PATH}{token}"


class LinkRefusal(enum.StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


@dataclass(frozen=True, slots=True)
class Opened:
    """A session just opened: the cookie's token (shown once, never stored)."""

    token: str
    staff_id: int


async def open_link(session: AsyncSession, now: datetime, token: str) -> Opened | LinkRefusal:
    """Spend a login link and open a session; or why not (audited either way)."""
    link = await session.scalar(
        select(ConsoleLink).where(ConsoleLink.token_hash == _hash(token)).with_for_update()
    )
    if link is None:
        await audit.record(
            session, now, actor="console:anonymous", action="console.login.refused",
            reason=LinkRefusal.UNKNOWN.value,
        )  # fmt: skip
        return LinkRefusal.UNKNOWN
    staff = await session.get(Staff, link.staff_id)
    assert staff is not None  # the link goes with its staff member (ON DELETE CASCADE)
    refusal = None
    if link.used_at is not None:
        refusal = LinkRefusal.USED
    elif now >= link.expires_at:
        refusal = LinkRefusal.EXPIRED
    if refusal is not None:
        await audit.record(
            session, now, actor=staff_actor(staff), action="console.login.refused",
            reason=refusal.value,
        )  # fmt: skip
        return refusal
    # Conditional, so two tabs opening the same link at once get one session between them.
    spent = await session.execute(
        update(ConsoleLink)
        .where(ConsoleLink.id == link.id, ConsoleLink.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return LinkRefusal.USED
    cookie = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            staff_id=staff.id,
            token_hash=_hash(cookie),
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
        )
    )
    await audit.record(session, now, actor=staff_actor(staff), action="console.login")
    return Opened(cookie, staff.id)


@dataclass(frozen=True, slots=True)
class Visitor:
    """The staff member behind a live console session."""

    session_id: int
    staff_id: int
    name: str
    role: StaffRole
    locale: str | None
    actor: str
    csrf_token: str


async def resume(
    session: AsyncSession, now: datetime, token: str, *, idle: timedelta
) -> Visitor | None:
    """The session a cookie names, kept alive; None when unknown, ended or idle too long."""
    row = await session.execute(
        select(ConsoleSession, Staff)
        .join(Staff, Staff.id == ConsoleSession.staff_id)
        .where(ConsoleSession.token_hash == _hash(token), ConsoleSession.ended_at.is_(None))
    )
    found = row.one_or_none()
    if found is None:
        return None
    console_session, staff = found
    if now - console_session.last_seen_at >= idle:
        console_session.ended_at = console_session.last_seen_at + idle
        return None
    console_session.last_seen_at = now
    return Visitor(
        session_id=console_session.id,
        staff_id=staff.id,
        name=staff.name,
        role=staff.role,
        locale=staff.locale,
        actor=staff_actor(staff),
        csrf_token=console_session.csrf_token,
    )


async def end(session: AsyncSession, now: datetime, visitor: Visitor) -> None:
    """Log out: the session's cookie opens nothing any more."""
    console_session = await session.get(ConsoleSession, visitor.session_id)
    if console_session is not None and console_session.ended_at is None:
        console_session.ended_at = now
    await audit.record(session, now, actor=visitor.actor, action="console.logout")


def same_token(given: str | None, expected: str) -> bool:
    """A CSRF token check in constant time."""
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


async def choose_locale(
    session: AsyncSession, now: datetime, visitor: Visitor, locale: str
) -> None:
    """The staff member's language, for the console and the bot alike (as /lang sets it)."""
    await session.execute(update(Staff).where(Staff.id == visitor.staff_id).values(locale=locale))
    await audit.record(session, now, actor=visitor.actor, action="console.lang", locale=locale)
