"""Check-ins in storage: periods by the member's month, history kept, coordinates by consent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select

from storage.checkins import (
    CheckInError,
    Whereabouts,
    checked_in,
    latest_checkin,
    period_of,
    record_checkin,
    registration,
)
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    CheckIn,
    Consent,
    LocationReport,
    LocationSource,
    MemberStatus,
    WorkSituation,
    member_groups,
)
from storage.regions import default_index
from tests.factories import make_group, make_member, make_unit

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 01:00 on 1 December in Wuhan, still 18:00 on 30 November in Berlin.
MONTH_BOUNDARY = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)

NANSHAN = default_index().resolve_point(22.54, 113.93)


def typed(text: str) -> Whereabouts:
    return Whereabouts.typed(text, default_index().resolve_text(text))


async def check_in(
    db: Database,
    now: datetime,
    member_id: int,
    location: Whereabouts | None = None,
    *,
    situation: WorkSituation = WorkSituation.STABLE,
    store_coordinates: bool = False,
    **extra: object,
) -> CheckIn:
    async with db.session() as session:
        return await record_checkin(
            session,
            now,
            member_id=member_id,
            zone=SHANGHAI,
            location=location or typed("武汉市江汉区"),
            work_situation=situation,
            store_coordinates=store_coordinates,
            **extra,  # type: ignore[arg-type]
        )


async def reports(db: Database, member_id: int) -> list[LocationReport]:
    async with db.session() as session:
        rows = await session.scalars(
            select(LocationReport)
            .where(LocationReport.member_id == member_id)
            .order_by(LocationReport.id)
        )
        return list(rows)


def test_the_period_is_the_calendar_month_in_the_given_zone() -> None:
    assert period_of(MONTH_BOUNDARY, SHANGHAI) == "2026-12"
    assert period_of(MONTH_BOUNDARY, ZoneInfo("Europe/Berlin")) == "2026-11"
    assert period_of(MONTH_BOUNDARY, UTC) == "2026-11"
    with pytest.raises(ValueError, match="aware"):
        period_of(MONTH_BOUNDARY.replace(tzinfo=None), SHANGHAI)


async def test_the_period_follows_each_members_own_time_zone(db: Database) -> None:
    in_wuhan = await make_member(db, MONTH_BOUNDARY, name="王芳", phone="+8613800138001")
    in_berlin = await make_member(
        db, MONTH_BOUNDARY, name="李明", phone="+8613800138002", timezone="Europe/Berlin"
    )
    assert (await check_in(db, MONTH_BOUNDARY, in_wuhan.id)).period == "2026-12"
    assert (await check_in(db, MONTH_BOUNDARY, in_berlin.id)).period == "2026-11"
    async with db.session() as session:
        assert await checked_in(session, in_berlin.id, "2026-11")
        assert not await checked_in(session, in_berlin.id, "2026-12")
        assert await checked_in(session, in_wuhan.id, "2026-12")


async def test_every_checkin_of_a_month_is_kept_and_the_latest_counts(
    db: Database, clock: FakeClock
) -> None:
    member = await make_member(db, clock.now())
    first = await check_in(db, clock.now(), member.id)
    clock.advance(timedelta(days=3))
    second = await check_in(
        db,
        clock.now(),
        member.id,
        typed("深圳南山"),
        situation=WorkSituation.CHANGED_JOB,
        work_note="新公司",
    )
    assert first.period == second.period == "2026-11"
    async with db.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(CheckIn).where(CheckIn.member_id == member.id)
        )
        latest = await latest_checkin(session, member.id)
        assert await latest_checkin(session, member.id + 1000) is None
    assert count == 2
    assert latest is not None and latest.id == second.id
    assert latest.work_situation is WorkSituation.CHANGED_JOB
    assert latest.work_note == "新公司"
    assert latest.location is not None and latest.location.city == "深圳市"
    assert len(await reports(db, member.id)) == 2


async def test_a_typed_place_is_kept_as_typed_whether_recognised_or_not(
    db: Database, clock: FakeClock
) -> None:
    member = await make_member(db, clock.now())
    await check_in(db, clock.now(), member.id, typed(" 武汉市江汉区 "))
    await check_in(db, clock.now(), member.id, typed("火星基地三号楼"))
    known, unknown = await reports(db, member.id)
    assert (known.text, known.province, known.city, known.district) == (
        "武汉市江汉区",
        "湖北省",
        "武汉市",
        "江汉区",
    )
    assert known.source is LocationSource.TYPED
    assert (unknown.text, unknown.province, unknown.city, unknown.district) == (
        "火星基地三号楼",
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("consent", "store_coordinates", "kept"),
    [
        (Consent.GIVEN, True, True),
        (Consent.GIVEN, False, False),
    ],
)
async def test_coordinates_are_stored_only_with_consent_and_the_setting(
    db: Database, clock: FakeClock, consent: Consent, store_coordinates: bool, kept: bool
) -> None:
    member = await make_member(db, clock.now(), consent=consent)
    pin = Whereabouts.shared(22.54, 113.93, NANSHAN)
    await check_in(db, clock.now(), member.id, pin, store_coordinates=store_coordinates)
    (report,) = await reports(db, member.id)
    assert report.source is LocationSource.SHARED
    assert (report.province, report.city, report.district) == ("广东省", "深圳市", "南山区")
    assert report.text is None
    if kept:
        assert (report.latitude, report.longitude) == (22.54, 113.93)
    else:
        assert (report.latitude, report.longitude) == (None, None)


@pytest.mark.parametrize("consent", [Consent.DECLINED, Consent.PENDING])
async def test_a_pin_without_consent_is_never_stored(
    db: Database, clock: FakeClock, consent: Consent
) -> None:
    member = await make_member(db, clock.now(), consent=consent)
    pin = Whereabouts.shared(22.54, 113.93, NANSHAN)
    with pytest.raises(CheckInError, match="not agreed"):
        await check_in(db, clock.now(), member.id, pin, store_coordinates=True)
    assert await reports(db, member.id) == []
    async with db.session() as session:
        assert await latest_checkin(session, member.id) is None


async def test_refused_checkins(db: Database, clock: FakeClock) -> None:
    member = await make_member(db, clock.now())
    with pytest.raises(CheckInError, match="no member"):
        await check_in(db, clock.now(), member.id + 1000)
    with pytest.raises(CheckInError, match="at most 200"):
        await check_in(db, clock.now(), member.id, typed("长" * 201))
    with pytest.raises(CheckInError, match="no place"):
        await check_in(db, clock.now(), member.id, Whereabouts.typed("  ", None))
    assert await reports(db, member.id) == []


async def test_needs_are_kept_only_when_help_is_needed(db: Database, clock: FakeClock) -> None:
    member = await make_member(db, clock.now())
    helped = await check_in(db, clock.now(), member.id, needs_help=True, needs_text="孩子上学")
    unhelped = await check_in(db, clock.now(), member.id, needs_help=False, needs_text="忘了删")
    assert (helped.needs_help, helped.needs_text) == (True, "孩子上学")
    assert (unhelped.needs_help, unhelped.needs_text) == (False, None)


async def test_registration_shows_the_record_the_latest_checkin_and_location(
    db: Database, clock: FakeClock
) -> None:
    unit = await make_unit(db, clock.now())
    group = await make_group(db, clock.now(), unit=unit)
    member = await make_member(
        db,
        clock.now(),
        status=MemberStatus.OUTFLOW,
        consent=Consent.GIVEN,
        unit=unit,
    )
    async with db.session() as session:
        await session.execute(insert(member_groups).values(member_id=member.id, group_id=group.id))
    async with db.session() as session:
        empty = await registration(session, member.id)
        assert await registration(session, member.id + 1000) is None
    assert empty is not None
    assert empty.last_checkin is None and empty.location is None
    assert empty.phone_masked == "+86 138****8000"
    assert empty.home_unit == "江汉区委组织部"
    assert empty.groups == ("驻深圳流动党员党小组",)

    await check_in(db, clock.now(), member.id)
    clock.advance(timedelta(days=1))
    await check_in(
        db,
        clock.now(),
        member.id,
        Whereabouts.shared(22.54, 113.93, NANSHAN),
        situation=WorkSituation.LOOKING,
    )
    async with db.session() as session:
        record = await registration(session, member.id)
    assert record is not None and record.last_checkin is not None and record.location
    assert record.last_checkin.work_situation is WorkSituation.LOOKING
    assert record.last_checkin.checked_in_at == clock.now()
    assert record.location.label == "广东省 深圳市 南山区"
    assert record.location.source is LocationSource.SHARED
    assert record.consent is Consent.GIVEN
    assert "13800138000" not in repr(record)
