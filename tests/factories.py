"""Records for tests, created through the real models (no fixtures files to keep in sync)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from storage.db import Database
from storage.directory import add_group
from storage.invites import create_invite
from storage.models import (
    CheckIn,
    Consent,
    Group,
    GroupKind,
    LocationReport,
    LocationSource,
    Member,
    MemberStatus,
    Place,
    PlaceKind,
    Staff,
    StaffRole,
    Unit,
    WorkSituation,
)
from storage.notices import create_notice
from tests.conftest import INVITE_KEY


async def make_unit(db: Database, now: datetime, name: str = "江汉区委组织部") -> Unit:
    async with db.session() as session:
        existing = await session.scalar(select(Unit).where(Unit.name == name))
        if existing is not None:
            return existing
        unit = Unit(name=name, created_at=now)
        session.add(unit)
    return unit


async def make_group(
    db: Database,
    now: datetime,
    name: str = "驻深圳流动党员党小组",
    kind: GroupKind = GroupKind.DESTINATION,
    unit: Unit | None = None,
) -> Group:
    async with db.session() as session:
        existing = await session.scalar(select(Group).where(Group.name == name))
        if existing is not None:
            return existing
        group = Group(name=name, kind=kind, unit_id=unit.id if unit else None, created_at=now)
        session.add(group)
    return group


async def make_member(
    db: Database,
    now: datetime,
    *,
    name: str = "张伟",
    phone: str | None = "+8613800138000",
    status: MemberStatus = MemberStatus.OUTFLOW,
    telegram_user_id: int | None = None,
    qq_user_id: int | None = None,
    consent: Consent = Consent.PENDING,
    groups: Sequence[Group] = (),
    unit: Unit | None = None,
    locale: str | None = None,
    timezone: str | None = None,
    registered_at: datetime | None = None,
) -> Member:
    async with db.session() as session:
        # Merge first, then construct with the collections: no lazy load, no orphan cascade.
        merged_groups = [await session.merge(group) for group in groups]
        member = Member(
            name=name,
            phone=phone,
            status=status,
            home_unit_id=unit.id if unit else None,
            telegram_user_id=telegram_user_id,
            qq_user_id=qq_user_id,
            consent=consent,
            consent_at=now if consent is not Consent.PENDING else None,
            locale=locale,
            timezone=timezone,
            registered_at=registered_at or now,
            bound_at=now if telegram_user_id or qq_user_id else None,
            updated_at=now,
            groups=merged_groups,
        )
        session.add(member)
    return member


async def make_staff(
    db: Database,
    now: datetime,
    *,
    telegram_user_id: int,
    name: str = "李联络",
    role: StaffRole = StaffRole.LIAISON,
    groups: Sequence[Group] = (),
    units: Sequence[Unit] = (),
    locale: str | None = None,
    qq_user_id: int | None = None,
) -> Staff:
    async with db.session() as session:
        merged_groups = [await session.merge(group) for group in groups]
        merged_units = [await session.merge(unit) for unit in units]
        staff = Staff(
            telegram_user_id=telegram_user_id,
            qq_user_id=qq_user_id,
            name=name,
            role=role,
            locale=locale,
            created_at=now,
            groups=merged_groups,
            units=merged_units,
        )
        session.add(staff)
    return staff


async def make_checkin(
    db: Database,
    member: Member,
    at: datetime,
    *,
    situation: WorkSituation = WorkSituation.STABLE,
    city: str | None = None,
    province: str | None = None,
    needs: str | None = None,
) -> None:
    """A check-in as the check-in feature stores it (period in the member's own zone).

    Written directly so tests can also make what the bot never would, e.g. no place at all.
    """
    zone = ZoneInfo(member.timezone or "Asia/Shanghai")
    async with db.session() as session:
        report = None
        if city is not None or province is not None:
            report = LocationReport(
                member_id=member.id,
                reported_at=at,
                source=LocationSource.TYPED,
                province=province,
                city=city,
            )
            session.add(report)
            await session.flush()
        session.add(
            CheckIn(
                member_id=member.id,
                period=at.astimezone(zone).strftime("%Y-%m"),
                checked_in_at=at,
                location_report_id=report.id if report else None,
                work_situation=situation,
                needs_help=needs is not None,
                needs_text=needs,
            )
        )


async def make_place(
    db: Database,
    now: datetime,
    *,
    name: str = "民意街道党员之家",
    kind: PlaceKind = PlaceKind.MEMBERS_HOME,
    address: str = "武汉市江汉区民意四路 12 号",
    district: str = "武汉市江汉区",
    latitude: float = 30.5840,
    longitude: float = 114.2745,
    hours: str | None = "周二至周日 9:00-17:00",
    phone: str | None = "027-85000011",
) -> Place:
    """A place as `liaison place import` stores it."""
    async with db.session() as session:
        place = Place(
            name=name,
            kind=kind,
            address=address,
            district=district,
            latitude=latitude,
            longitude=longitude,
            hours=hours,
            phone=phone,
            imported_at=now,
        )
        session.add(place)
    return place


async def make_catalogue(db: Database, now: datetime) -> None:
    """The shipped service catalogue (6 categories, 11 departments, 26 measures), loaded."""
    from storage.catalogue import seed_if_empty

    async with db.session() as session:
        await seed_if_empty(session, now)


async def make_request_catalogue(
    db: Database, now: datetime, *, target_days: Sequence[int] = (14, 3)
) -> tuple[int, list[int]]:
    """A small catalogue of our own for the service-request tests (not the shipped file).

    One category, 门面续租 / Shop lease, with one measure per target time given (the first
    "门面续租协调", the second "营业执照变更"), and a second category without measures
    (其他 / Other). Returns the first category's id and its measures' ids.
    """
    from storage.models import ServiceCategory, ServiceDepartment, ServiceMeasure

    titles = (("门面续租协调", "Lease renewal help"), ("营业执照变更", "Business licence change"))
    async with db.session() as session:
        commerce = ServiceDepartment(
            code="req-commerce", name_zh="区商务局", name_en="Commerce bureau", updated_at=now
        )
        lease = ServiceCategory(
            code="req-lease", name_zh="门面续租", name_en="Shop lease", position=1, updated_at=now
        )
        other = ServiceCategory(
            code="req-other", name_zh="其他", name_en="Other", position=2, updated_at=now
        )
        session.add_all([commerce, lease, other])
        await session.flush()
        measures = [
            ServiceMeasure(
                code=f"req-m{n}",
                department_id=commerce.id,
                category_id=lease.id,
                title_zh=titles[n % 2][0] if n < 2 else f"措施{n}",
                title_en=titles[n % 2][1] if n < 2 else f"Measure {n}",
                target_days=days,
                position=n,
                updated_at=now,
            )
            for n, days in enumerate(target_days)
        ]
        session.add_all(measures)
        await session.flush()
        return lease.id, [m.id for m in measures]


async def make_broadcast(
    db: Database, now: datetime, *, members: int, first_user_id: int, author: str, body: str
) -> None:
    """A group "全体" of `members` outflow members bound to Telegram from first_user_id on,
    and a notice to it, due now: a broadcast for a service to send."""
    async with db.session() as session:
        group, _ = await add_group(session, now, "全体", kind=GroupKind.OTHER)
        for index in range(members):
            member = Member(
                name=f"党员{index}",
                phone=f"+86138{index:08d}",
                status=MemberStatus.OUTFLOW,
                telegram_user_id=first_user_id + index,
                registered_at=now,
                updated_at=now,
            )
            member.groups = [group]
            session.add(member)
        await create_notice(
            session, now, author=author, author_name="区委组织部", body=body, groups=["全体"]
        )


async def make_invite(db: Database, now: datetime, member: Member) -> str:
    """What the liaison hands over: `liaison invite create --phone …` (the code as printed)."""
    async with db.session() as session:
        code, _ = await create_invite(
            session,
            now,
            member_id=member.id,
            created_by="cli:liaison",
            valid_days=14,
            key=INVITE_KEY,
        )
    return code
