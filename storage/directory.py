"""The organisation's structure: units, groups and staff."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Group, GroupKind, ServiceState, Staff, StaffRole, Unit


class DirectoryError(ValueError):
    """A unit, group or staff change that cannot be made; the message says why."""


async def unit_by_name(session: AsyncSession, name: str) -> Unit | None:
    return await session.scalar(select(Unit).where(Unit.name == name))


async def group_by_name(session: AsyncSession, name: str) -> Group | None:
    return await session.scalar(select(Group).where(Group.name == name))


async def add_unit(
    session: AsyncSession, now: datetime, name: str, *, parent: str | None = None
) -> tuple[Unit, bool]:
    """Create a unit (or return the existing one of that name); True when created."""
    name = name.strip()
    if not name or len(name) > 100:
        raise DirectoryError("a unit name must be 1–100 characters")
    existing = await unit_by_name(session, name)
    parent_unit = None
    if parent is not None:
        parent_unit = await unit_by_name(session, parent.strip())
        if parent_unit is None:
            raise DirectoryError(f"no unit named {parent!r}")
    if existing is not None:
        if parent_unit is not None and existing.parent_id != parent_unit.id:
            raise DirectoryError(f"unit {name!r} exists under a different parent")
        return existing, False
    unit = Unit(name=name, parent_id=parent_unit.id if parent_unit else None, created_at=now)
    session.add(unit)
    await session.flush()
    return unit, True


async def add_group(
    session: AsyncSession,
    now: datetime,
    name: str,
    *,
    kind: GroupKind,
    unit: str | None = None,
) -> tuple[Group, bool]:
    """Create a group (or return the existing one of that name); True when created."""
    name = name.strip()
    if not name or len(name) > 100:
        raise DirectoryError("a group name must be 1–100 characters")
    unit_row = None
    if unit is not None:
        unit_row = await unit_by_name(session, unit.strip())
        if unit_row is None:
            raise DirectoryError(f"no unit named {unit!r}")
    existing = await group_by_name(session, name)
    if existing is not None:
        if existing.kind != kind:
            raise DirectoryError(f"group {name!r} exists with kind {existing.kind.value}")
        return existing, False
    group = Group(name=name, kind=kind, unit_id=unit_row.id if unit_row else None, created_at=now)
    session.add(group)
    await session.flush()
    return group, True


async def add_staff(
    session: AsyncSession,
    now: datetime,
    *,
    telegram_user_id: int,
    name: str,
    role: StaffRole,
    groups: Sequence[str] = (),
    units: Sequence[str] = (),
    qq_user_id: int | None = None,
) -> tuple[Staff, bool]:
    """Create or update a staff member and set their scope (and QQ account, if given);
    True when created."""
    name = name.strip()
    if not name or len(name) > 64:
        raise DirectoryError("a staff name must be 1–64 characters")
    group_rows = []
    for group_name in groups:
        group = await group_by_name(session, group_name.strip())
        if group is None:
            raise DirectoryError(f"no group named {group_name!r}")
        group_rows.append(group)
    unit_rows = []
    for unit_name in units:
        unit = await unit_by_name(session, unit_name.strip())
        if unit is None:
            raise DirectoryError(f"no unit named {unit_name!r}")
        unit_rows.append(unit)
    staff = await session.scalar(
        select(Staff)
        .where(Staff.telegram_user_id == telegram_user_id)
        .options(selectinload(Staff.groups), selectinload(Staff.units))
    )
    created = staff is None
    if staff is None:
        staff = Staff(telegram_user_id=telegram_user_id, name=name, role=role, created_at=now)
        staff.groups = []
        staff.units = []
        session.add(staff)
    if qq_user_id is not None:
        holder = await session.scalar(select(Staff).where(Staff.qq_user_id == qq_user_id))
        if holder is not None and holder is not staff:
            raise DirectoryError(f"QQ account {qq_user_id} belongs to {holder.name}")
        staff.qq_user_id = qq_user_id
    staff.name = name
    staff.role = role
    staff.groups = group_rows
    staff.units = unit_rows
    await session.flush()
    return staff, created


async def list_staff(session: AsyncSession) -> list[Staff]:
    """Every staff member with their groups and units."""
    rows = await session.scalars(
        select(Staff)
        .options(selectinload(Staff.groups), selectinload(Staff.units))
        .order_by(Staff.id)
    )
    return list(rows)


async def list_units(session: AsyncSession) -> list[Unit]:
    return list(await session.scalars(select(Unit).order_by(Unit.name)))


async def list_groups(session: AsyncSession) -> list[Group]:
    return list(await session.scalars(select(Group).order_by(Group.name)))


BOT_USERNAME = "bot_username"


async def remember_bot_username(session: AsyncSession, username: str, now: datetime) -> None:
    """Keep the bot's @username (learnt from getMe) for invite links made on the CLI."""
    state = await session.get(ServiceState, BOT_USERNAME)
    if state is None:
        session.add(ServiceState(key=BOT_USERNAME, value=username, updated_at=now))
    elif state.value != username:
        state.value = username
        state.updated_at = now


async def bot_username(session: AsyncSession) -> str | None:
    state = await session.get(ServiceState, BOT_USERNAME)
    return state.value if state else None
