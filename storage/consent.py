"""A member's consent to keeping their location history (DESIGN.md, Privacy).

Consent is asked right after binding and can be given or withdrawn at any time with
/privacy. Without it (DECLINED) notices still reach the member, and check-ins keep only the
city they type, never a shared location; the check-in feature reads Member.consent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.models import Consent, Member

__all__ = ["ConsentError", "ConsentStatus", "consent_status", "set_consent"]


class ConsentError(ValueError):
    """A consent change that cannot be made; the message says why."""


@dataclass(frozen=True, slots=True)
class ConsentStatus:
    """Where a member's consent stands and since when (None while still pending)."""

    member_id: int
    consent: Consent
    since: datetime | None


async def _member(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    if member is None:
        raise ConsentError(f"no member with id {member_id}")
    return member


async def consent_status(session: AsyncSession, member_id: int) -> ConsentStatus:
    """The member's current consent."""
    member = await _member(session, member_id)
    return ConsentStatus(member.id, member.consent, member.consent_at)


async def set_consent(
    session: AsyncSession,
    now: datetime,
    member_id: int,
    consent: Consent,
    *,
    actor: str | None = None,
) -> ConsentStatus:
    """Record the member's answer, GIVEN or DECLINED (withdrawn); audited when it changes.

    actor defaults to the member themself ("member:<id>").
    """
    if consent is Consent.PENDING:
        raise ConsentError("consent can be given or declined, not set back to pending")
    member = await _member(session, member_id)
    previous = member.consent
    if previous is consent:
        return ConsentStatus(member.id, member.consent, member.consent_at)
    member.consent = consent
    member.consent_at = now
    member.updated_at = now
    await audit.record(
        session,
        now,
        actor=actor or f"member:{member.id}",
        action=f"consent.{consent.value}",
        subject=f"member:{member.id}",
        previous=previous.value,
    )
    return ConsentStatus(member.id, member.consent, member.consent_at)
