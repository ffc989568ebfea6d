"""Who is talking to the bot: the member and/or staff record behind a chat account.

An account is a user id on one platform (Telegram or QQ); the same number on the other
platform is somebody else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import Consent, LocationPrecision, Member, Platform, Staff, StaffRole


def member_account(platform: Platform) -> InstrumentedAttribute[int | None]:
    """The members column that holds accounts of platform."""
    return Member.qq_user_id if platform is Platform.QQ else Member.telegram_user_id


def staff_account(platform: Platform) -> InstrumentedAttribute[int | None]:
    """The staff column that holds accounts of platform."""
    if platform is Platform.QQ:
        return Staff.qq_user_id
    return Staff.telegram_user_id


def member_accounts(member: Member) -> list[tuple[Platform, int]]:
    """The member's bound accounts, one per platform: (platform, user id)."""
    bound = ((Platform.TELEGRAM, member.telegram_user_id), (Platform.QQ, member.qq_user_id))
    return [(platform, user_id) for platform, user_id in bound if user_id is not None]


def account_actor(platform: Platform, user_id: int) -> str:
    """How an account that is nobody yet appears in the audit log ("telegram:42", "qq:42")."""
    return f"{platform.value}:{user_id}"


@dataclass(frozen=True, slots=True)
class Identity:
    """The records bound to one account (either, both or neither)."""

    user_id: int
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
    platform: Platform = Platform.TELEGRAM
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
        return account_actor(self.platform, self.user_id)


async def identify(
    session: AsyncSession, user_id: int, platform: Platform = Platform.TELEGRAM
) -> Identity:
    """Look up the member and staff records bound to the account user_id on platform."""
    member = await session.scalar(select(Member).where(member_account(platform) == user_id))
    staff = await session.scalar(select(Staff).where(staff_account(platform) == user_id))
    # A member's own choice of language wins; staff who are not members keep theirs.
    locale = (member.locale if member else None) or (staff.locale if staff else None)
    return Identity(
        user_id=user_id,
        platform=platform,
        member_id=member.id if member else None,
        member_name=member.name if member else None,
        consent=member.consent if member else None,
        staff_id=staff.id if staff else None,
        staff_name=staff.name if staff else None,
        staff_role=staff.role if staff else None,
        locale=locale,
        timezone=member.timezone if member else None,
        telegram_unreachable=bool(
            platform is Platform.TELEGRAM and member and member.telegram_unreachable_at
        ),
        location_precision=member.location_precision if member else None,
    )


async def set_locale(
    session: AsyncSession, user_id: int, locale: str, platform: Platform = Platform.TELEGRAM
) -> bool:
    """Store the language chosen with /lang on the member and staff records; False if neither."""
    member = await session.scalar(select(Member).where(member_account(platform) == user_id))
    staff = await session.scalar(select(Staff).where(staff_account(platform) == user_id))
    if member is not None:
        member.locale = locale
    if staff is not None:
        staff.locale = locale
    return member is not None or staff is not None
