"""QQ's rest after risk control: when it ends, remembered across restarts.

When the QQ host answers with risk control the service stops sending over QQ for hours
(messages/channels/qq.py). The rest is kept here so that a restart does not resume early,
the administrators are told once, and an administrator who has dealt with the account
(unfrozen it, passed the verification) can end it (`liaison qq resume`).
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.models import ServiceState, Staff, StaffRole
from storage.outbox import StaffMessage, enqueue_to_staff
from storage.payloads import QqRest

KEY = "qq.resting_until"


async def begin(session: AsyncSession, now: datetime, until: datetime, reason: str) -> None:
    """QQ rests until `until`: remember it, tell the administrators once, audit it."""
    state = await session.get(ServiceState, KEY)
    if state is None:
        state = ServiceState(key=KEY, value="", updated_at=now)
        session.add(state)
    state.value = until.isoformat()
    state.updated_at = now
    admins = await session.execute(
        select(Staff.id, Staff.telegram_user_id).where(Staff.role == StaffRole.ADMIN)
    )
    alert = QqRest(until=until, reason=reason[:200])
    # One alert per rest: the topic names it.
    topic = f"qq:rest:{until:%Y%m%d%H%M}"
    await enqueue_to_staff(
        session, now, [StaffMessage(staff, account, topic, alert) for staff, account in admins]
    )
    await audit.record(
        session, now, actor="system", action="qq.rest", until=until.isoformat(), reason=reason
    )


async def until(session: AsyncSession, now: datetime) -> datetime | None:
    """When the current rest ends, or None if QQ is not resting."""
    state = await session.get(ServiceState, KEY)
    if state is None:
        return None
    with contextlib.suppress(ValueError):
        ends = datetime.fromisoformat(state.value)
        return ends if ends > now else None
    return None


async def end(session: AsyncSession, now: datetime, *, actor: str) -> datetime | None:
    """End the rest now (audited); when it would have ended, or None if there was none."""
    ends = await until(session, now)
    state = await session.get(ServiceState, KEY)
    if state is not None:
        await session.delete(state)
    if ends is not None:
        await audit.record(session, now, actor=actor, action="qq.resume", until=ends.isoformat())
    return ends
