"""Retention (PIPL Art. 19): each kind of record goes once it is older than its setting; what
statistics count survives without the person; the purge runs nightly and twice is once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.context import Services
from messages.channels.base import OutboundMessage
from messages.channels.sms_log import SmsLogChannel
from scheduler.jobs import PURGE_AT, job_specs, run_due, upcoming
from storage import requests
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    AuditEvent,
    ChannelName,
    CheckIn,
    Delivery,
    DeliveryStatus,
    LocationReport,
    MessageKind,
    RequestStatus,
    ServiceRequest,
    ServiceRequestEvent,
    StaffRole,
)
from storage.notices import create_notice
from storage.outbox import delivery_report, enqueue_notice
from storage.retention import PurgeReport, Retention, months_before, purge
from tests.delivery import Deliver
from tests.factories import (
    make_checkin,
    make_group,
    make_member,
    make_request_catalogue,
    make_staff,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
MINUTE = timedelta(minutes=1)
KEEP = Retention()


async def run_purge(db: Database, now: datetime) -> PurgeReport:
    async with db.session() as session:
        return await purge(session, now, KEEP)


def test_the_defaults_are_the_documented_times() -> None:
    assert (KEEP.checkins_months, KEEP.deliveries_months, KEEP.audit_months) == (36, 12, 60)
    assert KEEP.sms_log_days == 30
    now = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)
    assert months_before(now, 36) == datetime(2023, 11, 15, 2, 0, tzinfo=UTC)
    # A shorter month clamps the day rather than failing.
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)


# --- check-ins and their places -------------------------------------------------------------


async def test_checkins_and_places_past_three_years_go_and_those_just_inside_stay(
    db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    cutoff = months_before(now, 36)
    zhang = await make_member(db, now - timedelta(days=2000))
    li = await make_member(db, now - timedelta(days=2000), name="李娜", phone="+8613800138111")
    # Zhang: one check-in just past three years, one just inside, one last month.
    await make_checkin(db, zhang, cutoff - MINUTE, city="深圳市", needs="门面续租")
    await make_checkin(db, zhang, cutoff + MINUTE, city="东莞市")
    await make_checkin(db, zhang, now - timedelta(days=30), city="广州市")
    # Li has not checked in for four years: her last check-in is all there is of her silence.
    await make_checkin(db, li, now - timedelta(days=4 * 365), city="上海市", needs="子女入学")

    report = await run_purge(db, now)

    assert report.count("checkins").deleted == 1
    assert report.count("checkins").anonymised == 1
    assert report.count("places").deleted == 2
    async with db.session() as session:
        rows = (
            await session.execute(
                select(
                    CheckIn.member_id,
                    CheckIn.checked_in_at,
                    LocationReport.city,
                    CheckIn.needs_text,
                )
                .outerjoin(LocationReport, LocationReport.id == CheckIn.location_report_id)
                .order_by(CheckIn.checked_in_at)
            )
        ).all()
        cities = set(await session.scalars(select(LocationReport.city)))
    assert [(m, at, city, needs) for m, at, city, needs in rows] == [
        # Li's latest check-in keeps its date ("silent since"), not where she was or needed.
        (li.id, now - timedelta(days=4 * 365), None, None),
        (zhang.id, cutoff + MINUTE, "东莞市", None),
        (zhang.id, now - timedelta(days=30), "广州市", None),
    ]
    assert cities == {"东莞市", "广州市"}

    # Twice is once: the second run finds nothing.
    again = await run_purge(db, now)
    assert again.total == 0


# --- deliveries and what a notice's report counts -----------------------------------------


async def test_deliveries_past_a_year_go_and_a_notices_counts_survive_without_the_members(
    db: Database, clock: FakeClock, deliver: Deliver
) -> None:
    now = clock.now()
    sent_at = months_before(now, 12) - timedelta(hours=1)
    clock.set(sent_at)
    group = await make_group(db, sent_at, "驻深圳党小组")
    for n in range(3):
        await make_member(
            db,
            sent_at,
            name=f"党员{n}",
            phone=f"+86138001380{n:02d}",
            telegram_user_id=5100 + n,
            groups=[group],
        )
    await make_member(db, sent_at, name="王芳", phone="+8613800138099", groups=[group])
    async with db.session() as session:
        notice = await create_notice(
            session,
            sent_at,
            author="cli:test",
            author_name="区委组织部",
            body="本月主题党日改到周六。",
            groups=["驻深圳党小组"],
        )
        await enqueue_notice(session, sent_at, notice.id)
    got = await deliver()
    assert len(got) == 3
    async with db.session() as session:
        before = await delivery_report(session, notice.id)
        # A check-in prompt of the same night, and one written just inside the year.
        for at, key in ((sent_at, "old"), (months_before(now, 12) + MINUTE, "recent")):
            session.add(
                Delivery(
                    dedupe_key=f"chk:{key}:m1:telegram",
                    kind=MessageKind.CHECKIN_PROMPT,
                    topic=f"chk:{key}:prompt",
                    payload={"period": "2025-11"},
                    member_id=None,
                    channel=None,
                    status=DeliveryStatus.SENT,
                    next_attempt_at=at,
                    created_at=at,
                )
            )
    clock.set(now)

    report = await run_purge(db, now)

    assert report.count("deliveries").deleted == 1
    # Three delivered by Telegram; Wang's SMS is still on its way (no SMS channel here), and
    # a delivery on its way is the dispatcher's, however old.
    assert report.count("deliveries").anonymised == 3
    async with db.session() as session:
        after = await delivery_report(session, notice.id)
        rows = list(await session.scalars(select(Delivery).where(Delivery.notice_id == notice.id)))
        prompts = list(
            await session.scalars(select(Delivery.topic).where(Delivery.notice_id.is_(None)))
        )
    # The notice's report still says how many were sent and delivered, on which channel.
    assert after.by_status == before.by_status
    assert after.by_channel == before.by_channel
    assert after.total == before.total == 4
    assert after.recipients == before.recipients == 4
    assert after.by_status["delivered"] == 3
    # Nothing says to whom any more.
    done = [r for r in rows if r.status is DeliveryStatus.DELIVERED]
    assert {(r.member_id, r.address, r.payload, r.external_id) for r in done} == {
        (None, None, None, None)
    }
    assert all(r.dedupe_key == f"purged:{r.id}" for r in done)
    [pending] = [r for r in rows if r.status is DeliveryStatus.PENDING]
    assert pending.address == "+8613800138099"
    assert prompts == ["chk:recent:prompt"]
    assert (await run_purge(db, now)).total == 0


# --- service requests -----------------------------------------------------------------------


async def test_closed_requests_past_their_time_lose_their_texts_and_keep_their_statistics(
    db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    long_ago = months_before(now, 36) - timedelta(days=1)
    category_id, [measure_id, _] = await make_request_catalogue(db, long_ago)
    member = await make_member(db, long_ago)
    liaison = await make_staff(db, long_ago, telegram_user_id=7001, role=StaffRole.ADMIN)
    ids = []
    async with db.session() as session:
        for at in (long_ago, now - timedelta(days=30)):
            request = await requests.create_request(
                session,
                at,
                member_id=member.id,
                category_id=category_id,
                measure_id=measure_id,
                description="门面租约下月到期，房东要涨价",
                zone=SHANGHAI,
            )
            await requests.add_note(session, at, request.id, staff_id=liaison.id, text="已联系房东")
            await requests.set_status(
                session,
                at,
                request.id,
                staff_id=liaison.id,
                status=RequestStatus.RESOLVED,
                answer="已协调续租三年",
            )
            await requests.rate(session, at, request.id, member_id=member.id, satisfaction=2)
            ids.append(request.id)

    report = await run_purge(db, now)

    assert report.count("requests").anonymised == 1
    async with db.session() as session:
        old, recent = [await session.get(ServiceRequest, i) for i in ids]
        old_notes = set(
            await session.scalars(
                select(ServiceRequestEvent.note).where(ServiceRequestEvent.request_id == ids[0])
            )
        )
    assert old is not None and recent is not None
    assert (old.description, old.answer) == ("", None)
    # What the service statistics count stays: category, measure, outcome, rating, dates.
    assert (old.category_id, old.measure_id, old.status, old.satisfaction) == (
        category_id,
        measure_id,
        RequestStatus.RESOLVED,
        2,
    )
    assert old_notes == {None}
    assert recent.description == "门面租约下月到期，房东要涨价"
    assert recent.answer == "已协调续租三年"
    assert (await run_purge(db, now)).total == 0


# --- the audit log --------------------------------------------------------------------------


async def test_audit_events_past_five_years_go_and_the_purge_itself_is_audited(
    db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    cutoff = months_before(now, 60)
    async with db.session() as session:
        for at, action in ((cutoff - MINUTE, "member.view.old"), (cutoff + MINUTE, "member.view")):
            session.add(AuditEvent(at=at, actor="staff:1", action=action, subject="member:1"))

    report = await run_purge(db, now)

    assert report.count("audit").deleted == 1
    async with db.session() as session:
        events = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.at)))
    assert [e.action for e in events] == ["member.view", "privacy.purge"]
    assert events[1].actor == "system"
    assert events[1].detail == {"counts": report.counts()}


# --- the nightly job ------------------------------------------------------------------------


def purge_time(clock: FakeClock, services: Services) -> datetime:
    local = clock.now().astimezone(services.settings.zone)
    return datetime.combine(local.date() + timedelta(days=1), PURGE_AT, tzinfo=local.tzinfo)


async def test_the_scheduler_purges_at_night_and_only_then(
    db: Database, clock: FakeClock, services: Services
) -> None:
    member = await make_member(db, clock.now() - timedelta(days=2000))
    night = purge_time(clock, services)
    await make_checkin(db, member, months_before(night, 36) - timedelta(hours=3), city="深圳市")
    await make_checkin(db, member, clock.now(), city="广州市")
    # The SMS demonstration log (no SMS centre here): an entry of 31 days before the night.
    sms = SmsLogChannel(services.settings.sms_log_path, now=lambda: night - timedelta(days=31))
    await sms.send(OutboundMessage(1, ChannelName.SMS, "+8613800138000", "请报到"))

    # Past its time already, but the night's run has not come: the check-in is still there.
    early = await run_due(db, night - timedelta(hours=1), services.settings)
    assert not [line for line in early.lines if line.startswith("retention")]
    clock.set(night)
    report = await run_due(db, clock.now(), services.settings)
    assert (
        "retention purge: check-ins before 2023-11-15: 1 deleted, 0 kept as a date only "
        "(each member's latest)" in report.lines
    )
    assert "retention purge: places (location reports) before 2023-11-15: 1 deleted" in report.lines
    assert "retention purge: SMS log entries before 2026-10-16: 1 deleted" in report.lines
    assert report.messages == 0
    async with db.session() as session:
        assert len(list(await session.scalars(select(CheckIn)))) == 1
    log = await asyncio.to_thread(Path(services.settings.sms_log_path).read_text, "utf-8")
    assert "delivery 1" not in log
    # A second timer, or a catch-up, within the window: nothing more.
    again = await run_due(db, clock.now() + timedelta(minutes=5), services.settings)
    assert not [line for line in again.lines if line.startswith("retention")]


async def test_the_retention_purge_is_one_of_the_daily_timers(
    db: Database, clock: FakeClock, services: Services
) -> None:
    specs = await job_specs(db, services.settings, clock.now())
    [(spec, when)] = [(s, w) for s, w in upcoming(specs, clock.now()) if s.kind == "retention"]
    assert when == purge_time(clock, services)
    assert spec.id == "privacy:purge"


async def test_shorter_settings_purge_sooner(
    db: Database, clock: FakeClock, services: Services
) -> None:
    settings = services.settings.model_copy(update={"retention_audit_months": 1})
    async with db.session() as session:
        session.add(AuditEvent(at=clock.now() - timedelta(days=40), actor="staff:1", action="x"))
    clock.set(purge_time(clock, services))
    report = await run_due(db, clock.now(), settings)
    assert [line for line in report.lines if "audit events" in line] == [
        "retention purge: audit events before 2026-10-15: 1 deleted"
    ]


@pytest.mark.parametrize("months", [0, 1201])
def test_a_retention_setting_out_of_range_is_refused(months: int) -> None:
    from storage.settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match="LIAISON_RETENTION_CHECKINS_MONTHS"):
        load_settings(retention_checkins_months=months)


async def test_a_recipient_reached_by_fallback_counts_once_after_the_purge(
    db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    old = months_before(now, 12) - timedelta(days=1)
    member = await make_member(db, old, telegram_user_id=5200)
    async with db.session() as session:
        notice = await create_notice(
            session, old, author="cli:test", author_name="区委组织部", body="通知", everyone=True
        )
        # Telegram refused (blocked), then the SMS fallback was delivered.
        for key, channel, status in (
            ("t", ChannelName.TELEGRAM, DeliveryStatus.FAILED),
            ("s", ChannelName.SMS, DeliveryStatus.DELIVERED),
        ):
            session.add(
                Delivery(
                    dedupe_key=f"n{notice.id}:m{member.id}:{key}",
                    notice_id=notice.id,
                    member_id=member.id,
                    channel=channel,
                    address="x",
                    status=status,
                    next_attempt_at=old,
                    created_at=old,
                )
            )
        await session.flush()
        assert (await delivery_report(session, notice.id)).recipients == 1

    report = await run_purge(db, now)

    assert (report.count("deliveries").deleted, report.count("deliveries").anonymised) == (1, 1)
    async with db.session() as session:
        after = await delivery_report(session, notice.id)
    assert after.recipients == 1
    assert after.by_status == {"delivered": 1}
