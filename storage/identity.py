"""Who is talking to the bot: the member and/or staff record behind a Telegram account."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Consent, LocationPrecision, Member, Staff, StaffRole


@dataclass(frozen=True, slots=True)
class Identity:
    """The records bound to one Telegram account (either, both or neither)."""

    telegram_user_id: int
    member_id: int | None
    member_name: str | None
    consent: Consent | None
    staff_id: int | None
    staff_name: str | None
    staff_role: StaffRole | None
    locale: str | None
    timezone: str | None
    # Telegram said 403 to a notice earlier; a message from them proves it works again.
    telegram_unreachable: bool = False
    # What check-ins keep after consent to location was withdrawn (None: as consent allows).
    location_precision: LocationPrecision | None = None

    @property
    def is_member(self) -> bool:
        return self.member_id is not None

    @property
    def is_staff(self) -> bool:
        return self.staff_id is not None

    @property
    def actor(self) -> str:
        """How this person appears in the audit log."""
        if self.staff_id is not None:
            return f"staff:{self.staff_id}"
        if self.member_id is not None:
            return f"member:{self.member_id}"
        return f"telegram:{self.telegram_user_id}"


async def identify(session: AsyncSession, telegram_user_id: int) -> Identity:
    """Look up the member and staff records bound to telegram_user_id."""
    member = await session.scalar(select(Member).where(Member.telegram_user_id == telegram_user_id))
    staff = await session.scalar(select(Staff).where(Staff.telegram_user_id == telegram_user_id))
    # A member's own choice of language wins; staff who are not members keep theirs.
    locale = (member.locale if member else None) or (staff.locale if staff else None)
    return Identity(
        telegram_user_id=telegram_user_id,
        member_id=member.id if member else None,
        member_name=member.name if member else None,
        consent=member.consent if member else None,
        staff_id=staff.id if staff else None,
        staff_name=staff.name if staff else None,
        staff_role=staff.role if staff else None,
        locale=locale,
        timezone=member.timezone if member else None,
        telegram_unreachable=bool(member and member.telegram_unreachable_at),
        location_precision=member.location_precision if member else None,
    )


async def set_locale(session: AsyncSession, telegram_user_id: int, locale: str) -> bool:
    """Store the language chosen with /lang on the member and staff records; False if neither."""
    member = await session.scalar(select(Member).where(Member.telegram_user_id == telegram_user_id))
    staff = await session.scalar(select(Staff).where(Staff.telegram_user_id == telegram_user_id))
    if member is not None:
        member.locale = locale
    if staff is not None:
        staff.locale = locale
    return member is not None or staff is not None
