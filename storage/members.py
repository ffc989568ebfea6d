"""The member registry: roster import and listing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import audit
from storage.models import Group, Member, MemberStatus, Unit
from storage.roster import ParsedRoster, RosterRow, RowError
from storage.scope import member_in_scope

# Keeps IN (...) lists well under every backend's parameter limit.
_CHUNK = 500


@dataclass(slots=True)
class ImportReport:
    """What a roster import did, or why it did nothing."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _changes(member: Member, row: RosterRow, unit: Unit | None, groups: list[Group]) -> bool:
    wanted = {
        "name": row.name,
        "status": MemberStatus(row.status),
        "home_unit_id": unit.id if unit else None,
        "origin": row.origin,
        "destination": row.destination,
        "workplace": row.workplace,
        "trade": row.trade,
    }
    if row.channels is not None:
        wanted["channels"] = row.channels
    if row.timezone is not None:
        wanted["timezone"] = row.timezone
    changed = False
    for attribute, value in wanted.items():
        if getattr(member, attribute) != value:
            setattr(member, attribute, value)
            changed = True
    if sorted(g.id for g in member.groups) != sorted(g.id for g in groups):
        member.groups = groups
        changed = True
    return changed


async def import_roster(
    session: AsyncSession,
    now: datetime,
    roster: ParsedRoster,
    *,
    actor: str,
    source: str,
    audit_no_change: bool = True,
) -> ImportReport:
    """Create or update members from a parsed roster, all or nothing; found by phone.

    Any row error (from parsing, or an unknown group or home unit) means nothing is written:
    the report lists every problem with its row number.
    """
    report = ImportReport(errors=list(roster.errors))
    units = {u.name: u for u in await session.scalars(select(Unit))}
    groups = {g.name: g for g in await session.scalars(select(Group))}
    for row in roster.rows:
        if row.home_unit is not None and row.home_unit not in units:
            report.errors.append(
                RowError(row.row_number, "home_unit", f"unknown home unit {row.home_unit!r}")
            )
        for name in row.groups:
            if name not in groups:
                report.errors.append(RowError(row.row_number, "groups", f"unknown group {name!r}"))
    if report.errors:
        report.errors.sort(key=lambda error: error.row_number)
        return report

    existing: dict[str, Member] = {}
    status_changes: list[tuple[Member, MemberStatus]] = []
    phones = [row.phone for row in roster.rows]
    for start in range(0, len(phones), _CHUNK):
        chunk = phones[start : start + _CHUNK]
        found = await session.scalars(
            select(Member).where(Member.phone.in_(chunk)).options(selectinload(Member.groups))
        )
        existing.update((m.phone, m) for m in found if m.phone is not None)

    for row in roster.rows:
        unit = units.get(row.home_unit) if row.home_unit else None
        row_groups = [groups[name] for name in row.groups]
        member = existing.get(row.phone)
        if member is None:
            member = Member(
                name=row.name,
                phone=row.phone,
                status=MemberStatus(row.status),
                home_unit_id=unit.id if unit else None,
                origin=row.origin,
                destination=row.destination,
                workplace=row.workplace,
                trade=row.trade,
                channels=row.channels,
                timezone=row.timezone,
                registered_at=now,
                updated_at=now,
            )
            member.groups = row_groups
            session.add(member)
            report.created += 1
        else:
            was = member.status
            if _changes(member, row, unit, row_groups):
                member.updated_at = now
                report.updated += 1
                if member.status is not was:
                    status_changes.append((member, was))
            else:
                report.unchanged += 1
    await session.flush()
    # The status's history (the police reconciliation's "left" reads it): one event each.
    for member, was in status_changes:
        await audit.record(
            session,
            now,
            actor=actor,
            action="member.status",
            subject=f"member:{member.id}",
            previous=was.value,
            status=member.status.value,
        )
    if not audit_no_change and not (report.created or report.updated):
        return report
    await audit.record(
        session,
        now,
        actor=actor,
        action="member.import",
        subject=source,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
    )
    return report


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One line of `liaison member list`."""

    id: int
    name: str
    phone: str | None
    status: MemberStatus
    home_unit: str | None
    groups: tuple[str, ...]
    bound: bool


async def list_members(
    session: AsyncSession, *, group: str | None = None, member_ids: Sequence[int] | None = None
) -> list[MemberRow]:
    """Members (optionally of one group, or of the given ids) ordered by name."""
    query = (
        select(Member)
        .options(selectinload(Member.groups), selectinload(Member.home_unit))
        .order_by(Member.name, Member.id)
    )
    if group is not None:
        query = query.where(Member.groups.any(Group.name == group))
    if member_ids is not None:
        query = query.where(Member.id.in_(member_ids))
    members = await session.scalars(query)
    return [
        MemberRow(
            id=m.id,
            name=m.name,
            phone=m.phone,
            status=m.status,
            home_unit=m.home_unit.name if m.home_unit else None,
            groups=tuple(sorted(g.name for g in m.groups)),
            bound=m.telegram_user_id is not None or m.qq_user_id is not None,
        )
        for m in members
    ]


async def count_members(session: AsyncSession) -> int:
    """How many members the registry holds."""
    return int(await session.scalar(select(func.count()).select_from(Member)) or 0)


async def member_by_phone(session: AsyncSession, phone: str) -> Member | None:
    return await session.scalar(select(Member).where(Member.phone == phone))


async def set_channels(
    session: AsyncSession, now: datetime, *, phone: str, channels: str | None, actor: str
) -> Member:
    """Set a member's channel order (None: the default); audited."""
    member = await member_by_phone(session, phone)
    if member is None:
        raise LookupError(f"no member with phone {phone}")
    await _set_channels(session, now, member, channels=channels, actor=actor)
    return member


async def change_channels(
    session: AsyncSession,
    now: datetime,
    *,
    staff_id: int,
    member_id: int | None,
    channels: str | None,
    actor: str,
) -> Member | None:
    """Staff set the channel order of a member of their scope (the console); audited.

    None for a member outside the scope or not there (a forged id: None), the refusal
    audited as member.channels.refused, as a card is.
    """
    member = await member_in_scope(
        session, now, staff_id=staff_id, member_id=member_id, actor=actor, action="member.channels"
    )
    if member is not None:
        await _set_channels(session, now, member, channels=channels, actor=actor)
    return member


async def _set_channels(
    session: AsyncSession, now: datetime, member: Member, *, channels: str | None, actor: str
) -> None:
    previous = member.channels
    member.channels = channels
    member.updated_at = now
    await audit.record(
        session,
        now,
        actor=actor,
        action="member.channels",
        subject=f"member:{member.id}",
        channels=channels or "default",
        previous=previous or "default",
    )


async def set_timezone(
    session: AsyncSession, now: datetime, *, member: Member, timezone: str, actor: str
) -> bool:
    """Set a member's own time zone (an IANA name, already checked); audited.

    False, and nothing written, when it is already theirs (a button pressed twice).
    """
    if member.timezone == timezone:
        return False
    previous = member.timezone
    member.timezone = timezone
    member.updated_at = now
    await audit.record(
        session,
        now,
        actor=actor,
        action="member.timezone",
        subject=f"member:{member.id}",
        timezone=timezone,
        previous=previous or "default",
    )
    return True
